// IPv4/IPv6 prefixes as operators write them ("198.18.0.0/15", "2001:db8::/32").
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice_layout.h"

namespace sluice {

struct Cidr {
  uint32_t family = SLUICE_FAMILY_V4;  // SLUICE_FAMILY_V4 or SLUICE_FAMILY_V6
  std::array<uint8_t, 16> addr{};      // network order; IPv4 in the first 4 bytes
  uint32_t prefix_len = 0;

  // Parses "a.b.c.d[/n]" or "x:y::z[/n]"; a bare address is a host prefix.
  // Throws std::invalid_argument with a message naming the text and the
  // problem (bad address, prefix out of range, host bits set).
  static Cidr parse(std::string_view text);

  std::string to_string() const;
  uint32_t max_prefix_len() const { return family == SLUICE_FAMILY_V4 ? 32 : 128; }
  bool is_v4() const { return family == SLUICE_FAMILY_V4; }

  // The key of this prefix in the shared LPM tries (IPv4 in IPv4-mapped form).
  struct sluice_lpm_key lpm_key() const;

  auto operator<=>(const Cidr&) const = default;
};

}  // namespace sluice
