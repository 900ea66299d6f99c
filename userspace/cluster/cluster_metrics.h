// Prometheus text for a cluster node: members by state, each peer's last
// contact and sync lag, datagrams by outcome (replays and forgeries
// included), and the overshoot bound of each global limit.
#pragma once

#include <string>
#include <vector>

#include "global_sync.h"

namespace sluice::cluster {

struct OvershootBound {
  std::string limit;    // the policy name, e.g. "pro-minute"
  double requests = 0;  // the bound, in requests (docs/cluster.md)
};

std::string render_cluster_metrics(const GlobalSync& node,
                                   const std::vector<OvershootBound>& bounds);

// (N - 1) * (R * D + ceil(B / N) + 1): what the fleet can admit beyond
// R * t + B over any busy period, with N counted members, rate R per second,
// burst B and sync delay D seconds (docs/cluster.md).
double overshoot_bound(size_t members, double rate_per_s, double burst, double delay_s);

}  // namespace sluice::cluster
