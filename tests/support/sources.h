// Builds bucket-map keys from text, for assertions on per-source state.
#pragma once

#include <cstring>

#include "cidr.h"
#include "sluice_layout.h"

namespace sluice::testing {

// The key of an (already aggregated) source address, e.g. "2001:db8::" for a /64.
inline struct sluice_source source_key(const char* address) {
  struct sluice_source src {};
  Cidr c = Cidr::parse(address);
  src.family = c.family;
  std::memcpy(src.addr, c.addr.data(), 16);
  return src;
}

}  // namespace sluice::testing
