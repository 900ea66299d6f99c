// Limits marked `global: true` hold for the whole cluster: each node's bucket
// is charged with what every node admitted (userspace/cluster), so each node
// enforces the fleet's rate on the fleet's consumption. What differs per node
// is computed here: the burst is divided among the members (so that N full
// buckets cannot each let a burst through before they hear of each other),
// and during a partition the rate is this side's share of the global rate.
// docs/cluster.md derives the overshoot bound from these two choices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "check_policy.h"

namespace sluice {

struct GlobalView {
  double share = 1.0;  // visible members / counted members (1 when fail-open)
  size_t members = 1;  // counted members, among whom the burst is divided
};

// How the checker talks to the cluster (set once, before serving).
struct GlobalHooks {
  std::function<void(const std::string& key)> admitted;  // key: client '\x1f' bucket
  std::function<GlobalView()> view;
};

// The part of a global limit one node enforces; other limits unchanged.
CompiledLimit local_part(const CompiledLimit& limit, const GlobalView& view);

// Bucket key of a client's limit, as RequestBuckets and the gossip use it.
inline std::string bucket_key(const std::string& client, const CompiledLimit& limit) {
  return client + '\x1f' + limit.bucket;
}

}  // namespace sluice
