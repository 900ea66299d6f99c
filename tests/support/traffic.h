// Real traffic for namespace labs: paced UDP senders, a counting UDP
// receiver, and TCP connection attempts counted by a listener. Sockets are
// created inside their namespace and then used from ordinary threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "fd.h"

namespace sluice::testing {

using Clock = std::chrono::steady_clock;

struct SendReport {
  uint64_t sent = 0;
  double seconds = 0;  // from the first send to the last
};

// Sends `rate` UDP datagrams per second of `payload` bytes from `src` to
// `dst`:`port` for `duration` (or until `*stop` is set), paced in 1 ms
// slices, inside namespace `netns`.
SendReport send_udp(const std::string& netns, const std::string& src, const std::string& dst,
                    uint16_t port, uint64_t rate, std::chrono::milliseconds duration,
                    size_t payload = 64, const std::atomic<bool>* stop = nullptr);

// Counts UDP datagrams per source address on `port`, in namespace `netns`,
// until stopped.
class UdpCounter {
 public:
  UdpCounter(const std::string& netns, bool ipv6, uint16_t port);
  ~UdpCounter();
  // Stops after the socket stayed quiet for `quiet`, and returns the counts.
  std::map<std::string, uint64_t> stop(
      std::chrono::milliseconds quiet = std::chrono::milliseconds(300));
  // Datagrams from `src` received so far (while counting).
  uint64_t received_from(const std::string& src) const;

 private:
  void loop();
  Fd socket_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> counts_;
  std::thread thread_;
};

// Accepts TCP connections on `port` in namespace `netns` and counts them.
class TcpAcceptCounter {
 public:
  TcpAcceptCounter(const std::string& netns, bool ipv6, uint16_t port);
  ~TcpAcceptCounter();
  uint64_t stop();

 private:
  void loop();
  Fd socket_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0};
  std::thread thread_;
};

// Opens `rate` TCP connections per second from `src` to `dst`:`port` for
// `duration`; an attempt not connected within 200 ms is abandoned (closed
// before the kernel's first SYN retransmission, so each attempt is one SYN).
SendReport connect_tcp(const std::string& netns, const std::string& src, const std::string& dst,
                       uint16_t port, uint64_t rate, std::chrono::milliseconds duration);

}  // namespace sluice::testing
