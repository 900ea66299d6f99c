// Runs the Sluice program (its XDP or TC entry) through BPF_PROG_TEST_RUN with crafted frames and
// a clock the test sets. Loaded fresh per harness, never attached or pinned.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane.h"
#include "policy.h"

namespace sluice::testing {

class XdpHarness {
 public:
  explicit XdpHarness(uint32_t bucket_entries = 4096);

  // Compiles and applies a policy (throws PolicyError when invalid). `cpus`
  // splits the per-host admission rates; 0 means the machine's CPUs.
  void apply(const Policy& policy, uint32_t cpus = 0);
  // Runs one frame at time `now_ns`; returns the XDP action (XDP_PASS, XDP_DROP).
  int run(const std::vector<uint8_t>& frame, uint64_t now_ns);
  // Runs one frame through the TC entry as a GRO super-packet of `gso_segs`
  // segments (0: not GSO); returns the TC action (TC_ACT_OK, TC_ACT_SHOT).
  int run_tc(const std::vector<uint8_t>& frame, uint64_t now_ns, uint32_t gso_segs = 0);
  // Runs the frame `count` times at the same instant; returns how many passed.
  int run_passed(const std::vector<uint8_t>& frame, uint64_t now_ns, int count);

  Dataplane& dataplane() { return dataplane_; }
  Counters counters() const { return dataplane_.counters(); }
  uint32_t tier_index(const std::string& name) const { return slots_.current().at(name); }

 private:
  Dataplane dataplane_;
  TierSlots slots_;
};

// A policy with one tier "t" as the default, the given limits, and no lists.
Policy single_tier_policy(RateLimit packets, RateLimit bytes = {}, RateLimit syns = {});

// Whole seconds in nanoseconds, for readable test clocks.
constexpr uint64_t seconds(uint64_t s) {
  return s * 1'000'000'000ULL;
}
constexpr uint64_t millis(uint64_t ms) {
  return ms * 1'000'000ULL;
}
// The test clock starts well after zero, as a real monotonic clock does.
inline constexpr uint64_t kEpoch = 1'000'000'000'000ULL;

}  // namespace sluice::testing
