// One node of a gossip cluster: the UDP socket, the thread that runs SWIM
// membership and the consumption sync, and the counters operators see. The
// request layer hands it the admissions of global keys (record) and gets
// every peer's new consumption back through the Charge callback, on the
// cluster thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster_settings.h"
#include "consumption.h"
#include "fd.h"
#include "global_sync.h"
#include "membership.h"
#include "replay_window.h"
#include "wire.h"

namespace sluice::cluster {

// Reads the secret from `path` (trailing newline dropped); throws
// std::runtime_error when unreadable or shorter than 16 bytes.
std::string read_cluster_secret(const std::string& path);

class ClusterNode : public GlobalSync {
 public:
  // Binds the socket (throws std::system_error naming the address).
  ClusterNode(ClusterSettings settings, const ClusterKey& key, Charge charge);
  ~ClusterNode() override;  // announces a leave, stops the thread
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  void start() override;  // joins through the seeds, starts the thread

  // An admission of a global key (client '\x1f' limit) on this node.
  void record(const std::string& key, uint64_t count = 1) override;
  // The fraction of a global limit this node's side enforces: members whose
  // consumption totals still arrive over members that count (1 when
  // fail-open; share.h).
  double share() const override;
  size_t counted_members() const override;
  std::vector<PeerStatus> peers() const override;
  ClusterCounters counters() const override;
  const ClusterSettings& settings() const override { return settings_; }

 private:
  void run();
  void receive_all(uint64_t now_ns);
  void handle(std::span<const uint8_t> datagram, const PeerAddress& from, uint64_t now_ns);
  void send(const PeerAddress& to, const Body& body);
  void send_consumption(uint64_t now_ns);
  // Recomputes share() and counted_members() (share.h) on the cluster
  // thread, so a check reads two atomics instead of taking mutex_.
  void update_share(uint64_t now_ns);

  ClusterSettings settings_;
  ClusterKey key_;
  Charge charge_;
  Fd socket_;
  bool v4_socket_ = true;
  uint64_t boot_epoch_ = 0;
  std::atomic<uint64_t> seq_{0};
  std::vector<PeerAddress> seeds_;

  mutable std::mutex mutex_;  // membership_, replay_
  Membership membership_;
  ReplayGuard replay_;
  ConsumptionLedger ledger_;

  std::atomic<uint64_t> sent_{0}, received_{0}, malformed_{0}, forged_{0}, replayed_{0},
      send_errors_{0}, charged_{0};
  std::atomic<double> share_{1.0};
  std::atomic<size_t> counted_{1};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sluice::cluster
