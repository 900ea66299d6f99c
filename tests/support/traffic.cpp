#include "traffic.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <deque>
#include <stdexcept>
#include <system_error>

#include "lab.h"

namespace sluice::testing {
namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_INET;
};

Address make_address(const std::string& text, uint16_t port) {
  Address a;
  if (text.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) != 1)
      throw std::invalid_argument("bad address " + text);
    a.len = sizeof(sockaddr_in6);
    a.family = AF_INET6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) != 1)
      throw std::invalid_argument("bad address " + text);
    a.len = sizeof(sockaddr_in);
  }
  return a;
}

Fd open_socket(const std::string& netns, int family, int type) {
  Fd fd;
  in_netns(netns, [&] { fd.reset(::socket(family, type | SOCK_CLOEXEC, 0)); });
  if (!fd) throw std::system_error(errno, std::generic_category(), "socket in " + netns);
  return fd;
}

void bind_to(const Fd& fd, const Address& a, const std::string& what) {
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a.storage), a.len) != 0)
    throw std::system_error(errno, std::generic_category(), "bind " + what);
}

std::string address_text(const sockaddr_storage& s) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (s.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&s)->sin6_addr, buffer,
              sizeof(buffer));
  else
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&s)->sin_addr, buffer, sizeof(buffer));
  return buffer;
}

// Calls `step(i)` for i = 0.. at `rate` per second for `duration`, in 1 ms
// slices, or until `stop` is set.
template <typename Step>
SendReport paced(uint64_t rate, std::chrono::milliseconds duration, Step step,
                 const std::atomic<bool>* stop = nullptr) {
  SendReport report;
  const auto start = Clock::now();
  Clock::time_point last = start;
  const uint64_t slices = static_cast<uint64_t>(duration.count());
  for (uint64_t slice = 0; slice < slices; ++slice) {
    if (stop && stop->load(std::memory_order_relaxed)) break;
    std::this_thread::sleep_until(start + std::chrono::milliseconds(slice));
    uint64_t due = rate * (slice + 1) / 1000;
    while (report.sent < due) {
      step(report.sent);
      ++report.sent;
      last = Clock::now();
    }
  }
  report.seconds = std::chrono::duration<double>(last - start).count();
  return report;
}

}  // namespace

SendReport send_udp(const std::string& netns, const std::string& src, const std::string& dst,
                    uint16_t port, uint64_t rate, std::chrono::milliseconds duration,
                    size_t payload, const std::atomic<bool>* stop) {
  Address to = make_address(dst, port);
  Fd fd = open_socket(netns, to.family, SOCK_DGRAM);
  bind_to(fd, make_address(src, 0), src);
  std::vector<char> data(payload, 'x');
  return paced(
      rate, duration,
      [&](uint64_t) {
        // A full socket buffer only delays us; the datagram counts as offered either way.
        ::sendto(fd.get(), data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&to.storage),
                 to.len);
      },
      stop);
}

UdpCounter::UdpCounter(const std::string& netns, bool ipv6, uint16_t port) {
  Address any = make_address(ipv6 ? "::" : "0.0.0.0", port);
  socket_ = open_socket(netns, any.family, SOCK_DGRAM);
  int size = 8 << 20;
  setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  bind_to(socket_, any, "udp counter");
  thread_ = std::thread([this] { loop(); });
}

UdpCounter::~UdpCounter() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void UdpCounter::loop() {
  char buffer[2048];
  auto last_packet = Clock::now();
  for (;;) {
    pollfd p{socket_.get(), POLLIN, 0};
    if (::poll(&p, 1, 20) > 0) {
      sockaddr_storage from{};
      socklen_t len = sizeof(from);
      if (::recvfrom(socket_.get(), buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from),
                     &len) > 0) {
        std::lock_guard lock(mutex_);
        ++counts_[address_text(from)];
        last_packet = Clock::now();
      }
      continue;
    }
    if (stopping_ && Clock::now() - last_packet > std::chrono::milliseconds(300)) return;
  }
}

std::map<std::string, uint64_t> UdpCounter::stop(std::chrono::milliseconds) {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  return counts_;
}

uint64_t UdpCounter::received_from(const std::string& src) const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(src);
  return it == counts_.end() ? 0 : it->second;
}

TcpAcceptCounter::TcpAcceptCounter(const std::string& netns, bool ipv6, uint16_t port) {
  Address any = make_address(ipv6 ? "::" : "0.0.0.0", port);
  socket_ = open_socket(netns, any.family, SOCK_STREAM);
  bind_to(socket_, any, "tcp listener");
  if (::listen(socket_.get(), 4096) != 0)
    throw std::system_error(errno, std::generic_category(), "listen");
  thread_ = std::thread([this] { loop(); });
}

TcpAcceptCounter::~TcpAcceptCounter() {
  stop();
}

void TcpAcceptCounter::loop() {
  while (!stopping_) {
    pollfd p{socket_.get(), POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int conn = ::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (conn >= 0) {
      ++accepted_;
      ::close(conn);
    }
  }
}

uint64_t TcpAcceptCounter::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  return accepted_;
}

SendReport connect_tcp(const std::string& netns, const std::string& src, const std::string& dst,
                       uint16_t port, uint64_t rate, std::chrono::milliseconds duration) {
  Address to = make_address(dst, port);
  Address from = make_address(src, 0);
  std::deque<std::pair<Clock::time_point, Fd>> pending;
  auto reap = [&](Clock::time_point now) {
    while (!pending.empty() && now - pending.front().first > std::chrono::milliseconds(200))
      pending.pop_front();
  };
  auto report = paced(rate, duration, [&](uint64_t) {
    Fd fd = open_socket(netns, to.family, SOCK_STREAM | SOCK_NONBLOCK);
    bind_to(fd, from, src);
    ::connect(fd.get(), reinterpret_cast<sockaddr*>(&to.storage), to.len);
    auto now = Clock::now();
    reap(now);
    pending.emplace_back(now, std::move(fd));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  return report;
}

}  // namespace sluice::testing
