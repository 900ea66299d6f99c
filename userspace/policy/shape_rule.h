// Egress shaping as the configuration states it (`shape:`): per interface,
// destination prefixes and the rate their packets leave at (docs/tc.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cidr.h"
#include "sluice_shaper.h"

namespace sluice {

struct ShapeRule {
  Cidr to;                  // destination prefix
  uint64_t rate_bytes = 0;  // bytes per second, counted as skb->len (Ethernet frame)
  uint64_t horizon_ns = SLUICE_SHAPE_DEFAULT_HORIZON_NS;  // drop what would leave later
  bool operator==(const ShapeRule&) const = default;
};

struct ShapeSpec {
  std::string iface;
  std::vector<ShapeRule> rules;
  bool operator==(const ShapeSpec&) const = default;
};

// At least one rule, at most SLUICE_SHAPE_MAX_CLASSES, positive rates and
// horizons, no prefix twice; throws std::invalid_argument.
void validate_shape_rules(const std::vector<ShapeRule>& rules);

}  // namespace sluice
