// A peer's UDP address as it travels in gossip messages and sockets: IPv4 or
// IPv6 (16 bytes, v4-mapped for IPv4) and a port. Plain data, comparable.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace sluice::cluster {

struct PeerAddress {
  std::array<uint8_t, 16> ip{};  // IPv6, or IPv4 mapped (::ffff:a.b.c.d)
  uint16_t port = 0;
  auto operator<=>(const PeerAddress&) const = default;

  // "198.18.0.1:7946" or "[2001:db8::1]:7946"; throws std::invalid_argument.
  static PeerAddress parse(const std::string& text);
  static PeerAddress from_sockaddr(const sockaddr_storage& address);
  // An AF_INET6 socket address (dual-stack sockets accept v4-mapped ones), or
  // AF_INET when `v4_socket` is true and the address is v4-mapped.
  socklen_t to_sockaddr(sockaddr_storage& out, bool v4_socket) const;
  bool is_v4() const;
  std::string to_string() const;
};

}  // namespace sluice::cluster
