#include "tcp_bulk.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

#include "fd.h"
#include "lab.h"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in v4(const std::string& text, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, text.c_str(), &a.sin_addr) != 1)
    throw std::invalid_argument("bad IPv4 address " + text);
  return a;
}

Fd tcp_socket(const std::string& netns) {
  Fd fd;
  in_netns(netns, [&] { fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  if (!fd) throw std::system_error(errno, std::generic_category(), "TCP socket in " + netns);
  return fd;
}

void check(int rc, const std::string& what) {
  if (rc != 0) throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

BulkReport tcp_bulk(const std::string& tx_ns, const std::string& src, const std::string& rx_ns,
                    const std::string& dst, uint16_t port, std::chrono::milliseconds duration) {
  Fd listener = tcp_socket(rx_ns);
  int one = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in to = v4(dst, port), from = v4(src, 0);
  check(::bind(listener.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), "bind " + dst);
  check(::listen(listener.get(), 1), "listen");

  Fd sender = tcp_socket(tx_ns);
  check(::bind(sender.get(), reinterpret_cast<sockaddr*>(&from), sizeof(from)), "bind " + src);
  check(::connect(sender.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), "connect " + dst);
  Fd receiver(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!receiver) throw std::system_error(errno, std::generic_category(), "accept");

  BulkReport report;
  socklen_t len = sizeof(report.mss);
  getsockopt(sender.get(), IPPROTO_TCP, TCP_MAXSEG, &report.mss, &len);

  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::vector<char> chunk(256 * 1024, 'x');
    timeval timeout{0, 100'000};
    setsockopt(sender.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    while (!stop.load()) ::send(sender.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
  });
  std::vector<char> buffer(1 << 20);
  const auto start = Clock::now(), end = start + duration;
  while (Clock::now() < end) {
    pollfd p{receiver.get(), POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    ssize_t n = ::recv(receiver.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) report.bytes += static_cast<uint64_t>(n);
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  ::shutdown(sender.get(), SHUT_RDWR);
  writer.join();
  return report;
}

}  // namespace sluice::testing
