// A tier's rate changed under a flood: the bucket's debt is rescaled to the
// new rate when it first sees the new policy, so a change grants no burst and
// costs no stall (docs/policy-switch.md), in both directions and also for a
// bucket that sat out a generation.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include "packet_builder.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kGap = kSec / 10'000;  // the flood: 10,000 packets/s

struct FloodResult {
  int passed = 0;
  int passed_first_10ms = 0;
};

// Sends `frame` every kGap over [start, start + duration).
FloodResult flood(XdpHarness& h, const std::vector<uint8_t>& frame, uint64_t start,
                  uint64_t duration_ns) {
  FloodResult r;
  for (uint64_t t = 0; t < duration_ns; t += kGap) {
    bool passed = h.run(frame, start + t) == XDP_PASS;
    r.passed += passed;
    if (t < millis(10)) r.passed_first_10ms += passed;
  }
  return r;
}

Policy packets_per_second(uint64_t rate, uint64_t burst) {
  return single_tier_policy({rate, kSec, burst});
}

class RateChange : public ::testing::Test {
 protected:
  XdpHarness h;
  std::vector<uint8_t> frame = PacketBuilder().ipv4("198.18.0.1").udp().build();
};

TEST_F(RateChange, RaisingTheRateGrantsNoBurstAndNoStall) {
  h.apply(packets_per_second(1000, 1000));
  flood(h, frame, kEpoch, 2 * kSec);  // the burst is spent: the bucket is a full second in debt
  h.apply(packets_per_second(2000, 1000));
  FloodResult after = flood(h, frame, kEpoch + 2 * kSec, kSec);
  // Debt of 1000 tokens at 2000/s: the bucket is exactly empty, so it passes
  // at the new rate from the first moment, with no burst on top.
  EXPECT_LE(after.passed, 2001);
  EXPECT_GE(after.passed, 1990);
  EXPECT_GE(after.passed_first_10ms, 19) << "2000/s from the first moment: no stall";
}

TEST_F(RateChange, LoweringTheRateGrantsNoBurst) {
  h.apply(packets_per_second(2000, 1000));
  flood(h, frame, kEpoch, 2 * kSec);
  h.apply(packets_per_second(1000, 1000));
  FloodResult after = flood(h, frame, kEpoch + 2 * kSec, kSec);
  EXPECT_LE(after.passed, 1001) << "at most 1000/s x 1 s are due; kept debt would pass ~1500";
  EXPECT_GE(after.passed, 990);
  EXPECT_GE(after.passed_first_10ms, 9);
}

TEST_F(RateChange, ABucketThatSatOutAGenerationIsRescaledFromTheRateItLastSaw) {
  Policy p = packets_per_second(1000, 1000);
  p.tiers.push_back(TierSpec{.name = "other", .packets = {5, kSec, 5}});
  h.apply(p);
  flood(h, frame, kEpoch, 2 * kSec);
  p.tiers[1].packets = {7, kSec, 7};  // an unrelated change: a generation the bucket misses
  h.apply(p);
  p.tiers[0].packets = {250, kSec, 1000};  // then the source's tier: 4x slower
  h.apply(p);
  // Debt of 1000 tokens at 250/s: 4 s. Kept as 1 s of debt, 750 would pass at once.
  FloodResult after = flood(h, frame, kEpoch + 2 * kSec, kSec);
  EXPECT_LE(after.passed, 251);
  EXPECT_GE(after.passed, 245);
}

TEST_F(RateChange, TwoChangesUnseenByTheBucketLeaveItEmptyNeverFull) {
  h.apply(packets_per_second(1000, 1000));
  flood(h, frame, kEpoch, 2 * kSec);
  h.apply(packets_per_second(4000, 1000));
  h.apply(packets_per_second(500, 1000));  // the rate the bucket last saw is gone from both slots
  FloodResult after = flood(h, frame, kEpoch + 2 * kSec, kSec);
  EXPECT_LE(after.passed, 501) << "judged as an empty bucket: no burst";
  EXPECT_GE(after.passed_first_10ms, 4) << "and no stall";
}

TEST_F(RateChange, MovingToAnotherTierCarriesTheDebtInTokens) {
  Policy p = packets_per_second(1000, 1000);
  p.tiers.push_back(TierSpec{.name = "slow", .packets = {100, kSec, 1000}});
  h.apply(p);
  flood(h, frame, kEpoch, 2 * kSec);
  p.prefixes = {{Cidr::parse("198.18.0.0/24"), "slow"}};
  h.apply(p);
  FloodResult after = flood(h, frame, kEpoch + 2 * kSec, kSec);
  EXPECT_LE(after.passed, 101) << "1000 tokens of debt move along: the slow tier's burst is spent";
}

TEST_F(RateChange, AnIdleSourceKeepsItsFullBurst) {
  h.apply(packets_per_second(1000, 1000));
  EXPECT_EQ(h.run_passed(frame, kEpoch, 10), 10);
  h.apply(packets_per_second(2000, 1000));
  EXPECT_EQ(h.run_passed(frame, kEpoch + 10 * kSec, 1500), 1000) << "no debt, nothing to rescale";
}

}  // namespace
}  // namespace sluice::testing
