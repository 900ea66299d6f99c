#include "global_tiers.h"

#include <algorithm>
#include <cmath>

namespace sluice {

RateLimit local_part(const RateLimit& global, const GlobalTierView& view) {
  if (global.unlimited()) return global;
  RateLimit out = global;
  const uint64_t burst = global.burst ? global.burst : global.tokens;  // 0: one period's worth
  const uint64_t members = std::max<size_t>(1, view.members);
  out.burst = std::max<uint64_t>(1, (burst + members - 1) / members);
  if (view.share > 0 && view.share < 1) {
    // The same tokens over a longer period; a period past a day (the longest
    // a rate may have) takes fewer tokens instead.
    const double period = std::ceil(static_cast<double>(global.period_ns) / view.share);
    if (period <= static_cast<double>(SLUICE_PERIOD_MAX_NS)) {
      out.period_ns = static_cast<uint64_t>(period);
    } else {
      out.tokens = std::max<uint64_t>(
          1, static_cast<uint64_t>(std::floor(static_cast<double>(global.tokens) * view.share)));
    }
  }
  return out;
}

uint32_t orphan_factor(const GlobalTierView& view) {
  const double visible = std::round(view.share * static_cast<double>(view.members));
  return visible > 1 ? static_cast<uint32_t>(visible) : 1;
}

Policy localise_global_tiers(const Policy& policy, const GlobalTierView& view) {
  Policy out = policy;
  for (auto& tier : out.tiers)
    if (tier.global) {
      tier.packets = local_part(tier.packets, view);
      tier.bytes = local_part(tier.bytes, view);
      tier.syns = local_part(tier.syns, view);
    }
  return out;
}

}  // namespace sluice
