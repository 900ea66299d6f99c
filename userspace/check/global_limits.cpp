#include "global_limits.h"

#include <algorithm>
#include <cmath>

namespace sluice {

CompiledLimit local_part(const CompiledLimit& limit, const GlobalView& view) {
  if (!limit.global || limit.rate.interval_fp == 0) return limit;
  CompiledLimit out = limit;
  const uint64_t unit = std::max<uint64_t>(1, sluice_cost_ns(limit.rate.interval_fp, 1));
  const uint64_t burst = std::max<uint64_t>(1, limit.rate.tau_ns / unit);
  if (view.share > 0 && view.share < 1) {
    // share in (0, 1): the interval grows by 1/share (the rate shrinks).
    double interval = std::ceil(static_cast<double>(limit.rate.interval_fp) / view.share);
    out.rate.interval_fp =
        interval >= 9e18 ? limit.rate.interval_fp : static_cast<uint64_t>(interval);
  }
  const uint64_t members = std::max<size_t>(1, view.members);
  const uint64_t local_burst = std::max<uint64_t>(1, (burst + members - 1) / members);
  out.rate.tau_ns = local_burst * sluice_cost_ns(out.rate.interval_fp, 1);
  return out;
}

}  // namespace sluice
