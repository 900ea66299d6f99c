// Consumption sync for global limits: a grow-only counter (CRDT G-counter)
// per key and node. Each node counts what it admitted for each global key
// (client + limit) and sends its absolute totals, never increments; a
// receiver keeps the highest total seen per (node, key) and charges only the
// difference into its own bucket. A lost datagram is repaired by the next
// one (which carries a higher total), a duplicate or reordered one charges
// nothing, so no consumption is ever counted twice. docs/cluster.md has the
// overshoot bound.
//
// A counter lives as long as its key is used: a key idle for `retention` is
// dropped by its owner, and a later use starts a new generation (its start
// time), which receivers tell from the old one. Receivers keep a key
// `retention + resend_window` after they last heard of it, so they never
// forget a generation its owner may still send.
//
// While this node's share leaves an origin out (its totals are older than the
// sync timeout, it is dead, or the sync itself is down: share.h), this node
// enforces only its own side's part of a global limit, which already leaves
// room for what the origin admits. So when its totals resume (a healed
// partition, Redis reachable again), what it admitted meanwhile is taken as a
// baseline, not charged: charging it too would count it twice, once by the
// share and once in the buckets. Each of its counters is rebased the first
// time it is heard after the origin came back (a counter is sent only while
// its key is in use, so that may be minutes later); from then on its growth
// is charged as usual. So is a counter first heard after the origin came
// back whose generation says its owner started it while the origin was out
// (a client first seen during the partition): generations are stamped on the
// owner's wall clock, which the receiver's own wall clock can judge.
// docs/cluster.md bounds what the rebase can swallow that was admitted while
// the origin still counted in the share.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "wire.h"

namespace sluice::cluster {

struct ConsumptionDelta {
  std::string key;
  uint64_t count = 0;
  // The consumption happened within the last span_ns (since we last heard
  // of this key, or of its origin): after a partition, what the other side
  // admitted long ago is charged at its time, not now (docs/cluster.md).
  uint64_t span_ns = 0;
};

class ConsumptionLedger {
 public:
  struct Limits {
    uint64_t resend_window_ns = 1'000'000'000;  // a change is sent for this long
    uint64_t retention_ns = 300'000'000'000;    // an idle key is forgotten after
    size_t max_keys = 100'000;                  // per node, local or remote
  };
  explicit ConsumptionLedger(Limits limits) : limits_(limits) {}
  ConsumptionLedger() : ConsumptionLedger(Limits{}) {}

  // One admission (or `count`) of a global key here. False when the table is full.
  bool record_local(const std::string& key, uint64_t now_ns, uint64_t count = 1);
  // Our totals changed within the resend window, to send to every peer.
  std::vector<ConsumptionEntry> recent_totals(uint64_t now_ns) const;
  // Merges a peer's totals from its run `boot_epoch`; returns what to charge.
  std::vector<ConsumptionDelta> merge(const std::string& origin, uint64_t boot_epoch,
                                      const std::vector<ConsumptionEntry>& entries,
                                      uint64_t now_ns);
  void expire(uint64_t now_ns);
  // This node's share has left `origin` out: its growth until its next
  // totals is rebased, not charged. No effect on an origin never heard of.
  void leave_share(const std::string& origin);
  // CLOCK_REALTIME minus the monotonic clock the times above are read on
  // (0 by default: tests on one simulated clock). Generations are stamped
  // with it, and the receiver judges them with its own; refresh it as NTP
  // moves the wall clock.
  void set_wall_clock_offset(int64_t offset_ns);

  uint64_t dropped_keys() const;  // keys refused because a table was full
  // Growth taken as a baseline when an origin came back, never charged.
  uint64_t absorbed() const;
  // When a peer's totals last arrived (0: never).
  uint64_t last_heard_ns(const std::string& origin) const;

 private:
  struct Counter {
    uint64_t generation = 0;  // start of this counter's life (owner's wall clock, ns)
    uint64_t total = 0;
    uint64_t touched_ns = 0;  // last change (local) or last heard (remote)
  };
  struct Origin {
    uint64_t boot_epoch = 0;
    uint64_t last_heard_ns = 0;
    bool out_of_share = false;
    // When its totals resumed after it was out of the share: a counter last
    // heard before this is rebased at its next total.
    uint64_t rejoined_ns = 0;
    // On the wall clock: a counter first heard after the return and started
    // in [out_since, rejoined) was started while the origin was out.
    uint64_t out_since_wall_ns = 0;
    uint64_t rejoined_wall_ns = 0;
    std::unordered_map<std::string, Counter> counters;
  };

  uint64_t wall_ns(uint64_t monotonic_ns) const;  // under mutex_

  Limits limits_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Counter> local_;
  std::map<std::string, Origin> remote_;
  uint64_t generation_clock_ = 0;
  int64_t wall_clock_offset_ns_ = 0;
  uint64_t dropped_keys_ = 0;
  uint64_t absorbed_ = 0;
};

}  // namespace sluice::cluster
