#include "cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace sluice {
namespace {

[[noreturn]] void reject(std::string_view text, const std::string& why) {
  throw std::invalid_argument("'" + std::string(text) + "' is not a valid CIDR: " + why);
}

}  // namespace

Cidr Cidr::parse(std::string_view text) {
  Cidr cidr;
  auto slash = text.find('/');
  std::string address(text.substr(0, slash));
  if (address.empty()) reject(text, "the address is missing");

  if (address.find(':') != std::string::npos) {
    cidr.family = SLUICE_FAMILY_V6;
    if (inet_pton(AF_INET6, address.c_str(), cidr.addr.data()) != 1)
      reject(text, "'" + address + "' is not an IPv6 address");
  } else {
    cidr.family = SLUICE_FAMILY_V4;
    if (inet_pton(AF_INET, address.c_str(), cidr.addr.data()) != 1)
      reject(text, "'" + address + "' is not an IPv4 address");
  }

  cidr.prefix_len = cidr.max_prefix_len();
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    uint32_t len = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
      reject(text, "the prefix length must be a number");
    if (len > cidr.max_prefix_len())
      reject(text, "the prefix length must be 0.." + std::to_string(cidr.max_prefix_len()));
    cidr.prefix_len = len;
  }

  for (uint32_t bit = cidr.prefix_len; bit < cidr.max_prefix_len(); ++bit) {
    if (cidr.addr[bit / 8] & (0x80 >> (bit % 8))) {
      Cidr network = cidr;
      for (uint32_t b = cidr.prefix_len; b < cidr.max_prefix_len(); ++b)
        network.addr[b / 8] &= static_cast<uint8_t>(~(0x80 >> (b % 8)));
      reject(text, "host bits are set (did you mean " + network.to_string() + "?)");
    }
  }
  return cidr;
}

std::string Cidr::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, addr.data(), buffer, sizeof(buffer));
  return std::string(buffer) + "/" + std::to_string(prefix_len);
}

struct sluice_lpm_key Cidr::lpm_key() const {
  struct sluice_lpm_key key {};
  key.prefixlen = SLUICE_LPM_FAMILY_BITS + prefix_len;
  key.family = is_v4() ? SLUICE_LPM_FAMILY_V4 : SLUICE_LPM_FAMILY_V6;
  std::memcpy(key.addr, addr.data(), is_v4() ? 4 : 16);
  return key;
}

}  // namespace sluice
