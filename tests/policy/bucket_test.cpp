// The GCRA meter of sluice_bucket.h against the reference token bucket.
#include <gtest/gtest.h>

#include <random>

#include "reference_meter.h"
#include "sluice_bucket.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

// A GCRA meter as the data path keeps it: one TAT word.
struct Meter {
  struct sluice_rate rate {};
  uint64_t tat = 0;

  Meter(uint64_t tokens, uint64_t period_ns, uint64_t burst, uint32_t spend = SLUICE_SPEND_UNIT) {
    EXPECT_EQ(sluice_rate_make(&rate, tokens, period_ns, burst, spend), 0);
  }
  bool spend(uint64_t now, uint64_t n) {
    if (rate.interval_fp == 0) return true;
    __u64 next = 0;
    if (!sluice_gcra_spend(tat, now, sluice_cost_ns(rate.interval_fp, n), rate.tau_ns, &next))
      return false;
    tat = next;
    return true;
  }
};

constexpr uint64_t kEpoch = 5'000 * kSec;

TEST(Bucket, BurstThenRefillAtExactRate) {
  Meter meter(10, kSec, 5);  // 10/s, burst 5: one token every 100 ms
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(meter.spend(kEpoch, 1)) << "burst token " << i;
  EXPECT_FALSE(meter.spend(kEpoch, 1)) << "the sixth at the same instant is over the burst";
  EXPECT_FALSE(meter.spend(kEpoch + 99'999'999, 1)) << "1 ns before the next token";
  EXPECT_TRUE(meter.spend(kEpoch + 100'000'000, 1)) << "exactly one interval later";
  EXPECT_FALSE(meter.spend(kEpoch + 100'000'000, 1));
}

TEST(Bucket, ClockNotMovingAdmitsExactlyTheBurst) {
  Meter meter(1000, kSec, 250);
  int admitted = 0;
  for (int i = 0; i < 10'000; ++i) admitted += meter.spend(kEpoch, 1);
  EXPECT_EQ(admitted, 250);
}

TEST(Bucket, HugeGapRefillsOnlyToTheBurst) {
  Meter meter(100, kSec, 10);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(meter.spend(kEpoch, 1));
  uint64_t later = kEpoch + 1'000'000 * kSec;  // 11.5 days of silence
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += meter.spend(later, 1);
  EXPECT_EQ(admitted, 10);
}

TEST(Bucket, ZeroTokensIsUnlimited) {
  struct sluice_rate rate {};
  ASSERT_EQ(sluice_rate_make(&rate, 0, kSec, 0, SLUICE_SPEND_UNIT), 0);
  EXPECT_EQ(rate.interval_fp, 0u);
  EXPECT_EQ(sluice_cost_ns(rate.interval_fp, 1'000'000), 0u);
  Meter meter(0, kSec, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(meter.spend(kEpoch, 1500));
}

TEST(Bucket, ZeroCostAlwaysPasses) {
  Meter meter(1, kSec, 1);
  EXPECT_TRUE(meter.spend(kEpoch, 1));
  EXPECT_TRUE(meter.spend(kEpoch, 0));
}

TEST(Bucket, CostLargerThanBurstNeverPasses) {
  Meter meter(1000, kSec, 100, SLUICE_SPEND_BULK);  // 1000 B/s, burst 100 B
  EXPECT_FALSE(meter.spend(kEpoch, 101));
  EXPECT_EQ(sluice_gcra_wait_ns(0, kEpoch, sluice_cost_ns(meter.rate.interval_fp, 101),
                                meter.rate.tau_ns),
            SLUICE_TIME_MAX);
}

TEST(Bucket, RateOutOfRangeIsRejected) {
  struct sluice_rate rate {};
  EXPECT_EQ(sluice_rate_make(&rate, 1, 0, 1, SLUICE_SPEND_UNIT), -1) << "zero period";
  EXPECT_EQ(sluice_rate_make(&rate, 1, SLUICE_PERIOD_MAX_NS + 1, 1, SLUICE_SPEND_UNIT), -1)
      << "over a day";
  EXPECT_EQ(sluice_rate_make(&rate, 1ULL << 62, 1, 1, SLUICE_SPEND_UNIT), -1)
      << "interval rounds to zero";
}

TEST(Bucket, OnePerHourWithMaximalBurstSaturatesInsteadOfOverflowing) {
  struct sluice_rate rate {};
  ASSERT_EQ(sluice_rate_make(&rate, 1, 3600 * kSec, 1ULL << 32, SLUICE_SPEND_UNIT), 0);
  EXPECT_EQ(rate.interval_fp >> SLUICE_INTERVAL_FRAC_BITS, 3600 * kSec);
  EXPECT_EQ(rate.tau_ns, SLUICE_TIME_MAX) << "2^32 hours do not fit: clamped, not wrapped";
  __u64 tat = 0, next = 0;
  ASSERT_TRUE(
      sluice_gcra_spend(tat, kEpoch, sluice_cost_ns(rate.interval_fp, 1), rate.tau_ns, &next));
  EXPECT_EQ(next, kEpoch + 3600 * kSec);
}

TEST(Bucket, HundredMillionPerSecondIsExact) {
  Meter meter(100'000'000, kSec, 1ULL << 32, SLUICE_SPEND_BULK);
  EXPECT_EQ(meter.rate.interval_fp, 10ULL << SLUICE_INTERVAL_FRAC_BITS);
  EXPECT_EQ(meter.rate.tau_ns, (1ULL << 32) * 10);
  // Drain the burst in one huge spend, then 1 s admits exactly 10^8 more.
  EXPECT_TRUE(meter.spend(kEpoch, 1ULL << 32));
  EXPECT_FALSE(meter.spend(kEpoch, 1));
  EXPECT_TRUE(meter.spend(kEpoch + kSec, 100'000'000));
  EXPECT_FALSE(meter.spend(kEpoch + kSec, 1));
}

TEST(Bucket, CostNeverOverflows) {
  uint64_t max_interval = (SLUICE_PERIOD_MAX_NS << SLUICE_INTERVAL_FRAC_BITS);
  EXPECT_EQ(sluice_cost_ns(max_interval, 0xffffffffULL), SLUICE_TIME_MAX);
  EXPECT_EQ(sluice_cost_ns(1, 0xffffffffULL), (0xffffffffULL + 65535) >> 16);
  EXPECT_EQ(sluice_cost_ns(12345, (1ULL << 32) + 1), SLUICE_TIME_MAX) << "more than 2^32 tokens";
  EXPECT_EQ(sluice_sat_add(SLUICE_TIME_MAX - 1, SLUICE_TIME_MAX), SLUICE_TIME_MAX);
  EXPECT_EQ(sluice_sat_add(~0ULL, 2), SLUICE_TIME_MAX);
}

TEST(Bucket, FractionalIntervalNeverAdmitsMoreThanTheRate) {
  // 3/s: the interval 333,333,333.33 ns is not whole; costs round up. A burst
  // of 10 keeps the arrival grid (1 ms) from wasting refill time.
  Meter meter(3, kSec, 10);
  int admitted = 0;
  for (uint64_t t = 0; t <= 600 * kSec; t += kSec / 1000) admitted += meter.spend(kEpoch + t, 1);
  EXPECT_LE(admitted, 3 * 600 + 10);
  EXPECT_GE(admitted, 3 * 600 + 10 - 1);
}

TEST(Bucket, MulDivCeilMatches128BitArithmetic) {
  std::mt19937_64 rng(8);
  auto reference = [](uint64_t a, uint64_t b, uint64_t c) {
    unsigned __int128 q = (static_cast<unsigned __int128>(a) * b + c - 1) / c;
    return q > SLUICE_TIME_MAX ? SLUICE_TIME_MAX : static_cast<uint64_t>(q);
  };
  for (int i = 0; i < 200'000; ++i) {
    // Operands of every magnitude: shift random words right by random amounts.
    uint64_t a = rng() >> (rng() % 64), b = rng() >> (rng() % 64), c = (rng() >> (rng() % 64)) | 1;
    ASSERT_EQ(sluice_mul_div_ceil(a, b, c), reference(a, b, c)) << a << " * " << b << " / " << c;
  }
  EXPECT_EQ(sluice_mul_div_ceil(SLUICE_TIME_MAX, ~0ULL, ~0ULL), SLUICE_TIME_MAX);
}

TEST(Bucket, RescaledDebtKeepsTheTokensAndStaysWithinTheNewBurst) {
  struct sluice_rate per_second_1000 {
  }, per_second_2000{}, per_second_250{};
  ASSERT_EQ(sluice_rate_make(&per_second_1000, 1000, SLUICE_NSEC_PER_SEC, 1000, SLUICE_SPEND_UNIT),
            0);
  ASSERT_EQ(sluice_rate_make(&per_second_2000, 2000, SLUICE_NSEC_PER_SEC, 1000, SLUICE_SPEND_UNIT),
            0);
  ASSERT_EQ(sluice_rate_make(&per_second_250, 250, SLUICE_NSEC_PER_SEC, 100, SLUICE_SPEND_UNIT), 0);
  // 300 tokens of debt at 1000/s (0.3 s) are 300 tokens at 2000/s (0.15 s).
  EXPECT_EQ(sluice_rescale_debt(300'000'000, per_second_1000.interval_fp, &per_second_2000),
            150'000'000u);
  // At 250/s they would be 1.2 s, but the new burst (100 tokens) caps the debt: no stall.
  EXPECT_EQ(sluice_rescale_debt(300'000'000, per_second_1000.interval_fp, &per_second_250),
            per_second_250.tau_ns);
  EXPECT_EQ(sluice_rescale_debt(300'000'000, 0, &per_second_2000), 0u) << "was unlimited: no debt";
}

TEST(Bucket, WaitAndRemainingDescribeTheState) {
  Meter meter(10, kSec, 5);
  uint64_t cost = sluice_cost_ns(meter.rate.interval_fp, 1);
  EXPECT_EQ(sluice_gcra_remaining(meter.tat, kEpoch, meter.rate.interval_fp, meter.rate.tau_ns),
            5u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(meter.spend(kEpoch, 1));
  EXPECT_EQ(sluice_gcra_remaining(meter.tat, kEpoch, meter.rate.interval_fp, meter.rate.tau_ns),
            0u);
  EXPECT_EQ(sluice_gcra_wait_ns(meter.tat, kEpoch, cost, meter.rate.tau_ns), 100'000'000u);
  EXPECT_EQ(sluice_gcra_remaining(meter.tat, kEpoch + 250'000'000, meter.rate.interval_fp,
                                  meter.rate.tau_ns),
            2u);
  EXPECT_EQ(sluice_gcra_wait_ns(meter.tat, kEpoch + 250'000'000, cost, meter.rate.tau_ns), 0u);
}

// Exact agreement with the reference bucket for whole-nanosecond intervals, at
// random arrival times and random costs.
TEST(Bucket, MatchesReferenceModelExactly) {
  std::mt19937_64 rng(20261128);
  const uint64_t rates[] = {1, 10, 1000, 1'000'000, 100'000'000};
  const uint64_t periods[] = {kSec, 60 * kSec, 3600 * kSec};
  for (int trial = 0; trial < 60; ++trial) {
    uint64_t tokens = rates[rng() % 5];
    uint64_t period = periods[rng() % 3];
    if ((period % tokens) != 0) continue;
    uint64_t burst = 1 + rng() % 1000;
    Meter meter(tokens, period, burst);
    ReferenceBucket reference(tokens, period, burst);
    uint64_t now = kEpoch;
    uint64_t interval = period / tokens;
    for (int i = 0; i < 5000; ++i) {
      now += rng() % (3 * interval + 1);
      uint64_t n = 1 + rng() % 4;
      ASSERT_EQ(meter.spend(now, n), reference.spend(now, n))
          << "tokens=" << tokens << " period=" << period << " burst=" << burst << " step=" << i;
    }
  }
}

TEST(Bucket, FractionalIntervalStillAdmitsTheWholeBurst) {
  for (uint64_t tokens : {3ULL, 7ULL, 999ULL, 3'000'000ULL}) {
    Meter meter(tokens, kSec, 100);
    int admitted = 0;
    for (int i = 0; i < 200; ++i) admitted += meter.spend(kEpoch, 1);
    EXPECT_EQ(admitted, 100) << "tokens=" << tokens;
  }
}

TEST(Bucket, BulkSpendsDrainTheByteBurst) {
  Meter meter(3'000'000'000ULL, kSec, 15'000, SLUICE_SPEND_BULK);  // 3 GB/s, 0.33 ns/byte
  int admitted = 0;
  for (int i = 0; i < 20; ++i) admitted += meter.spend(kEpoch, 1500);
  EXPECT_EQ(admitted, 9) << "rounding costs each packet under 1 ns: 9 of 10 fit the burst";
}

// Long-run admitted count matches rate x time + burst for awkward rates too.
TEST(Bucket, LongRunMatchesReferenceWithinOneToken) {
  std::mt19937_64 rng(7);
  for (uint64_t tokens : {3ULL, 7ULL, 999ULL, 12345ULL, 1'000'000ULL}) {
    Meter meter(tokens, kSec, 100);
    ReferenceBucket reference(tokens, kSec, 100);
    uint64_t now = kEpoch;
    int64_t ours = 0, theirs = 0;
    uint64_t step = kSec / tokens / 2 + 1;
    for (int i = 0; i < 200'000; ++i) {
      now += rng() % (2 * step);
      ours += meter.spend(now, 1);
      theirs += reference.spend(now, 1);
    }
    EXPECT_LE(ours, theirs) << "never more than the exact model, tokens=" << tokens;
    EXPECT_GE(ours, theirs - theirs / 1000 - 2) << "within 0.1%, tokens=" << tokens;
  }
}

}  // namespace
}  // namespace sluice::testing
