// The part of a global tier's limits (packets/s, bytes/s, SYN/s) one host enforces
// (docs/kernel-global.md), as the request layer's global rules do it
// (userspace/check/global_limits.h): the burst divided among the counted
// members (so that N full buckets cannot each let a burst through before they
// hear of each other), the rate times this side's share during a partition.
#pragma once

#include <cstddef>
#include <cstdint>

#include "policy.h"

namespace sluice {

// `share`: visible members / counted members (1 when fail-open or alone);
// `members`: counted members, among whom the burst is divided.
struct GlobalTierView {
  double share = 1.0;
  size_t members = 1;
  bool operator==(const GlobalTierView&) const = default;
};

// The policy with every global tier's three limits localised; other tiers
// unchanged.
Policy localise_global_tiers(const Policy& policy, const GlobalTierView& view);

// One global limit localised: burst ceil(B / members), rate x share.
RateLimit local_part(const RateLimit& global, const GlobalTierView& view);

// How many times the local part's rate exceeds the host's fallback share R /
// members: share x members (the visible members; all of them with fail-open,
// whose share is 1), at least 1. A program whose daemon stopped beating
// charges every admitted packet this many times (struct sluice_global_beat).
uint32_t orphan_factor(const GlobalTierView& view);

}  // namespace sluice
