#include "peer_address.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace sluice::cluster {
namespace {

constexpr std::array<uint8_t, 12> kV4Prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

uint16_t parse_port(const std::string& text, const std::string& whole) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("'" + whole + "': expected host:port with a port 1..65535");
  unsigned long port = std::stoul(text);
  if (port == 0 || port > 65535)
    throw std::invalid_argument("'" + whole + "': the port must be 1..65535");
  return static_cast<uint16_t>(port);
}

}  // namespace

PeerAddress PeerAddress::parse(const std::string& text) {
  PeerAddress out;
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument("'" + text + "': expected [IPv6]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (inet_pton(AF_INET6, host.c_str(), out.ip.data()) != 1)
      throw std::invalid_argument("'" + text + "': '" + host + "' is not an IPv6 address");
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("'" + text + "': expected host:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) != 1)
      throw std::invalid_argument("'" + text + "': '" + host +
                                  "' is not an IPv4 address (IPv6 goes in brackets)");
    std::memcpy(out.ip.data(), kV4Prefix.data(), kV4Prefix.size());
    std::memcpy(out.ip.data() + 12, &v4, 4);
  }
  out.port = parse_port(port, text);
  return out;
}

bool PeerAddress::is_v4() const {
  return std::memcmp(ip.data(), kV4Prefix.data(), kV4Prefix.size()) == 0;
}

PeerAddress PeerAddress::from_sockaddr(const sockaddr_storage& address) {
  PeerAddress out;
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    std::memcpy(out.ip.data(), kV4Prefix.data(), kV4Prefix.size());
    std::memcpy(out.ip.data() + 12, &v4.sin_addr, 4);
    out.port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    std::memcpy(out.ip.data(), &v6.sin6_addr, 16);
    out.port = ntohs(v6.sin6_port);
  }
  return out;
}

socklen_t PeerAddress::to_sockaddr(sockaddr_storage& out, bool v4_socket) const {
  std::memset(&out, 0, sizeof(out));
  if (v4_socket && is_v4()) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(out);
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, ip.data() + 12, 4);
    v4.sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto& v6 = reinterpret_cast<sockaddr_in6&>(out);
  v6.sin6_family = AF_INET6;
  std::memcpy(&v6.sin6_addr, ip.data(), 16);
  v6.sin6_port = htons(port);
  return sizeof(sockaddr_in6);
}

std::string PeerAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    inet_ntop(AF_INET, ip.data() + 12, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(port);
  }
  inet_ntop(AF_INET6, ip.data(), text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(port);
}

}  // namespace sluice::cluster
