// The fraction of a global limit this node's side of a partition enforces:
// the members it can see over the members that count (docs/cluster.md,
// "Partitions"). "Can see" is stricter than SWIM's alive or suspect: a peer
// counts only while its consumption totals keep arriving. Every node sends
// them every sync interval, an empty message when it admitted nothing, so an
// idle peer stays visible; a peer cut off by a partition (or killed) drops out
// after `sync_timeout`, a few sync intervals, instead of after SWIM's probe,
// indirect probes and suspicion (~4 s), during which each side would otherwise
// keep the whole limit. The peer still counts towards the cluster's size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "membership.h"

namespace sluice::cluster {

// A peer whose totals have not arrived for this many sync intervals (and at
// least kMinSyncTimeoutNs, for scheduling jitter) stops counting as visible.
inline constexpr uint64_t kSyncTimeoutIntervals = 3;
inline constexpr uint64_t kMinSyncTimeoutNs = 250'000'000;
uint64_t sync_timeout_ns(uint64_t sync_interval_ns);

// Self plus every alive or suspect peer whose totals arrived within
// `timeout_ns` of `now_ns`. `last_sync_ns(name)` is when its totals last
// arrived (0: never). A peer that became alive within the timeout (it just
// joined, or refuted a suspicion) counts too: its first totals are on the way.
// `left_out`, when given, receives every other member that does not count
// and whose totals are older than the timeout: what it admits until they
// resume is rebased, not charged (consumption.h). Not a member SWIM has
// declared dead while its totals still arrive: it is out for an instant only.
size_t members_in_sync(const std::vector<MemberInfo>& members,
                       const std::function<uint64_t(const std::string&)>& last_sync_ns,
                       uint64_t now_ns, uint64_t timeout_ns,
                       std::vector<std::string>* left_out = nullptr);

// members_in_sync over `counted` (at least 1), at most 1.
double partition_share(size_t in_sync, size_t counted);

}  // namespace sluice::cluster
