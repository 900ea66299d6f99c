// A kernel tier's `algorithm:` (docs/algorithms.md) through the real Sluice
// XDP program (BPF_PROG_TEST_RUN, test clock): crafted packets from one source
// get the reference model's verdicts on random arrivals, the boundary burst
// holds (fixed_window admits 2x the limit across a boundary, sliding_window
// does not), and a policy switch that changes the algorithm starts the state
// fresh instead of misreading a window state as a TAT.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <random>
#include <string>

#include "packet_builder.h"
#include "reference_algorithms.h"
#include "reference_meter.h"
#include "sluice_algorithms.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

const char* name_of(uint32_t algorithm) {
  static const char* names[] = {"token_bucket", "fixed_window", "sliding_window", "leaky_bucket"};
  return names[algorithm];
}

Policy tier_with(uint32_t algorithm, RateLimit packets) {
  Policy p = single_tier_policy(packets);
  p.tiers[0].algorithm = algorithm;
  return p;
}

std::vector<uint8_t> frame_from(uint32_t source) {
  std::string addr =
      "198.18." + std::to_string((source >> 8) & 0xff) + "." + std::to_string(source & 0xff);
  return PacketBuilder().ipv4(addr).udp().build();
}

// The model of a tier's packets/s meter: one packet per frame.
struct Model {
  Model(uint32_t algorithm, uint64_t tokens, uint64_t period)
      : algorithm(algorithm),
        bucket(tokens, period, tokens),
        leaky(tokens, period, 1),
        fixed(tokens, period),
        sliding(tokens, period) {}
  bool spend(uint64_t now) {
    switch (algorithm) {
      case SLUICE_ALGO_FIXED_WINDOW:
        return fixed.spend(now, 1);
      case SLUICE_ALGO_SLIDING_WINDOW:
        return sliding.spend(now, 1);
      case SLUICE_ALGO_LEAKY_BUCKET:
        return leaky.spend(now, 1);
      default:
        return bucket.spend(now, 1);
    }
  }
  uint32_t algorithm;
  ReferenceBucket bucket;
  ReferenceLeakyBucket leaky;
  ReferenceFixedWindow fixed;
  ReferenceSlidingWindow sliding;
};

// Random arrivals from one source per trial: every verdict of the XDP program
// is the model's. Rates whose interval is a whole number of ns, so that the
// GCRA meter's rounding (costs round up) is not a difference, and limits small
// enough that 300 arrivals (about 225 intervals) cross several windows.
TEST(TierAlgorithm, EachAlgorithmMatchesTheReferenceModelOnRandomArrivals) {
  std::mt19937_64 rng(1311);
  const uint64_t tokens_choices[] = {1, 2, 4, 10, 25, 50};
  uint32_t source = 0;
  for (uint32_t algorithm = 0; algorithm < SLUICE_ALGO_COUNT; ++algorithm) {
    for (int trial = 0; trial < 6; ++trial) {
      XdpHarness h;
      uint64_t tokens = tokens_choices[rng() % 6];
      uint64_t period = rng() % 2 ? kSec : kSec / 10;
      h.apply(tier_with(algorithm, {tokens, period, 0}));
      Model model(algorithm, tokens, period);
      auto frame = frame_from(++source);
      uint64_t interval = period / tokens;
      uint64_t now = kEpoch + rng() % period;
      int admitted = 0;
      for (int i = 0; i < 300; ++i) {
        // Gaps averaging 0.75 interval: some over the limit, some under.
        now += rng() % (interval + interval / 2 + 1);
        bool expected = model.spend(now);
        bool passed = h.run(frame, now) == XDP_PASS;
        admitted += passed;
        ASSERT_EQ(passed, expected) << name_of(algorithm) << " " << tokens << " per " << period
                                    << " ns, arrival " << i << " at " << now;
      }
      EXPECT_GT(admitted, 0) << name_of(algorithm);
      EXPECT_LT(admitted, 300) << name_of(algorithm) << ": the trial must reach the limit";
    }
  }
}

// 10 packets at 999 ms and 10 at 1001 ms against 10/s.
int boundary_burst(uint32_t algorithm) {
  XdpHarness h;
  h.apply(tier_with(algorithm, {10, kSec, 0}));
  auto frame = frame_from(7);
  uint64_t boundary = kEpoch + 10 * kSec;  // kEpoch is a whole number of seconds
  return h.run_passed(frame, boundary - millis(1), 10) +
         h.run_passed(frame, boundary + millis(1), 10);
}

TEST(TierAlgorithm, FixedWindowAdmitsTwiceTheLimitAcrossABoundarySlidingWindowDoesNot) {
  EXPECT_EQ(boundary_burst(SLUICE_ALGO_FIXED_WINDOW), 20);
  EXPECT_EQ(boundary_burst(SLUICE_ALGO_SLIDING_WINDOW), 10);
  EXPECT_EQ(boundary_burst(SLUICE_ALGO_TOKEN_BUCKET), 10);
  EXPECT_EQ(boundary_burst(SLUICE_ALGO_LEAKY_BUCKET), 1);
}

TEST(TierAlgorithm, AWindowTierCountsItsDropsAsPacketRate) {
  XdpHarness h;
  h.apply(tier_with(SLUICE_ALGO_FIXED_WINDOW, {5, kSec, 0}));
  auto frame = frame_from(9);
  EXPECT_EQ(h.run_passed(frame, kEpoch + millis(100), 8), 5);
  Counters c = h.counters();
  uint32_t row = h.tier_index("t");
  EXPECT_EQ(c.at(row, SLUICE_CNT_PASSED).packets, 5u);
  EXPECT_EQ(c.at(row, SLUICE_CNT_DROP_PKT_RATE).packets, 3u);
}

// fixed_window spends its limit; the tier switches to another algorithm of
// the same limit 1 ms later. Whatever the state meant, the new algorithm
// starts fresh: its full limit passes at once. (Read as a TAT, a fixed
// window's state word, tag << 32, is hours in the future: nothing would pass.)
TEST(TierAlgorithm, ChangingTheAlgorithmStartsTheStateFresh) {
  for (uint32_t next :
       {SLUICE_ALGO_TOKEN_BUCKET, SLUICE_ALGO_SLIDING_WINDOW, SLUICE_ALGO_LEAKY_BUCKET}) {
    XdpHarness h;
    auto frame = frame_from(11);
    uint64_t t = kEpoch + millis(500);
    h.apply(tier_with(SLUICE_ALGO_FIXED_WINDOW, {10, kSec, 0}));
    EXPECT_EQ(h.run_passed(frame, t, 15), 10);
    h.apply(tier_with(next, {10, kSec, 0}));
    int expected = next == SLUICE_ALGO_LEAKY_BUCKET ? 1 : 10;
    EXPECT_EQ(h.run_passed(frame, t + millis(1), 15), expected) << name_of(next);
  }
  // And from a token bucket in debt to a window: fresh, not the debt.
  XdpHarness h;
  auto frame = frame_from(12);
  uint64_t t = kEpoch + millis(500);
  h.apply(tier_with(SLUICE_ALGO_TOKEN_BUCKET, {10, kSec, 0}));
  EXPECT_EQ(h.run_passed(frame, t, 15), 10);
  h.apply(tier_with(SLUICE_ALGO_FIXED_WINDOW, {10, kSec, 0}));
  EXPECT_EQ(h.run_passed(frame, t + millis(1), 15), 10);
}

// A new generation that leaves the tier's window as it was (another tier
// changed) keeps the window's count: the spent limit stays spent.
TEST(TierAlgorithm, AnUnchangedWindowKeepsItsCountAcrossAPolicySwitch) {
  for (uint32_t algorithm : {SLUICE_ALGO_FIXED_WINDOW, SLUICE_ALGO_SLIDING_WINDOW}) {
    XdpHarness h;
    auto frame = frame_from(13);
    uint64_t t = kEpoch + millis(200);
    Policy p = tier_with(algorithm, {10, kSec, 0});
    p.tiers.push_back(TierSpec{.name = "other", .packets = {5, kSec, 5}});
    h.apply(p);
    EXPECT_EQ(h.run_passed(frame, t, 15), 10);
    p.tiers[1].packets = {7, kSec, 7};
    h.apply(p);
    EXPECT_EQ(h.run_passed(frame, t + millis(1), 5), 0) << name_of(algorithm);
    // The next window: fixed admits its limit again; sliding still weighs the
    // previous window (10 x 0.799 -> 8), so 2 pass at 1.201 s.
    EXPECT_EQ(h.run_passed(frame, t + kSec + millis(1), 15),
              algorithm == SLUICE_ALGO_FIXED_WINDOW ? 10 : 2)
        << name_of(algorithm);
  }
}

// Only packets/s follows the algorithm: bytes/s stays a token bucket.
TEST(TierAlgorithm, BytesPerSecondStaysATokenBucketInAWindowTier) {
  XdpHarness h;
  auto frame = frame_from(14);
  Policy p = tier_with(SLUICE_ALGO_FIXED_WINDOW, {1000, kSec, 0});
  // A burst of 4.5 frames: 4 pass whatever the costs' rounding.
  p.tiers[0].bytes = {frame.size() * 10, kSec, frame.size() * 4 + frame.size() / 2};
  h.apply(p);
  EXPECT_EQ(h.run_passed(frame, kEpoch + millis(300), 10), 4) << "the byte burst: 4 frames";
  Counters c = h.counters();
  EXPECT_EQ(c.at(h.tier_index("t"), SLUICE_CNT_DROP_BYTE_RATE).packets, 6u);
}

}  // namespace
}  // namespace sluice::testing
