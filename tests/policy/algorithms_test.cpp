// The four algorithms of bpf/sluice_algorithms.h against their reference
// models on random arrivals, the boundary-burst property, and what the
// header reports for headers (wait, remaining, reset).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "reference_algorithms.h"
#include "sluice_algorithms.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kMs = kSec / 1000;
constexpr uint64_t kEpoch = 5'000 * kSec;

// One limit and its state word, as a BPF map value would hold it.
struct Limiter {
  struct sluice_algo algo {};
  uint64_t state = 0;

  Limiter(uint32_t algorithm, uint64_t tokens, uint64_t period_ns, uint64_t burst = 0) {
    EXPECT_EQ(sluice_algo_make(&algo, algorithm, tokens, period_ns, burst, SLUICE_SPEND_UNIT), 0);
  }
  bool spend(uint64_t now, uint64_t n = 1) {
    __u64 next = state;
    if (!sluice_algo_spend(&algo, state, now, n, &next)) return false;
    state = next;
    return true;
  }
};

// The model of each algorithm behind one interface.
struct Model {
  virtual ~Model() = default;
  virtual bool spend(uint64_t now, uint64_t n) = 0;
};
template <typename Reference>
struct ModelOf : Model {
  template <typename... Args>
  explicit ModelOf(Args... args) : reference(args...) {}
  bool spend(uint64_t now, uint64_t n) override { return reference.spend(now, n); }
  Reference reference;
};

std::unique_ptr<Model> model_for(uint32_t algorithm, uint64_t tokens, uint64_t period,
                                 uint64_t burst) {
  switch (algorithm) {
    case SLUICE_ALGO_FIXED_WINDOW:
      return std::make_unique<ModelOf<ReferenceFixedWindow>>(tokens, period);
    case SLUICE_ALGO_SLIDING_WINDOW:
      return std::make_unique<ModelOf<ReferenceSlidingWindow>>(tokens, period);
    case SLUICE_ALGO_LEAKY_BUCKET:
      return std::make_unique<ModelOf<ReferenceLeakyBucket>>(tokens, period, burst ? burst : 1);
    default:
      return std::make_unique<ModelOf<ReferenceBucket>>(tokens, period, burst ? burst : tokens);
  }
}

const char* name_of(uint32_t algorithm) {
  static const char* names[] = {"token_bucket", "fixed_window", "sliding_window", "leaky_bucket"};
  return names[algorithm];
}

class Algorithm : public ::testing::TestWithParam<uint32_t> {};

// Random arrivals around the rate (gaps from 0 to three intervals), random
// costs of 1-3, many limits: every verdict equals the model's.
TEST_P(Algorithm, MatchesTheReferenceModelOnRandomArrivals) {
  const uint32_t algorithm = GetParam();
  std::mt19937_64 rng(20261128 + algorithm);
  const uint64_t tokens_choices[] = {1, 10, 100, 1000, 50'000, 1'000'000};
  const uint64_t periods[] = {kSec, 60 * kSec, 3600 * kSec};
  int trials = 0;
  for (int trial = 0; trial < 80; ++trial) {
    uint64_t tokens = tokens_choices[rng() % 6];
    uint64_t period = periods[rng() % 3];
    if (period % tokens != 0) continue;  // GCRA is exact for whole-ns intervals
    uint64_t burst = rng() % 2 ? 0 : 1 + rng() % 200;
    Limiter limiter(algorithm, tokens, period, burst);
    auto model = model_for(algorithm, tokens, period, burst);
    uint64_t now = kEpoch + rng() % period;
    uint64_t interval = period / tokens;
    int admitted = 0;
    for (int i = 0; i < 4000; ++i) {
      now += rng() % (3 * interval + 1);
      uint64_t n = 1 + rng() % 3;
      bool ours = limiter.spend(now, n);
      ASSERT_EQ(ours, model->spend(now, n))
          << name_of(algorithm) << " tokens=" << tokens << " period=" << period
          << " burst=" << burst << " step=" << i;
      admitted += ours;
    }
    EXPECT_GT(admitted, 0);
    ++trials;
  }
  EXPECT_GE(trials, 40);
}

// After any history, wait_ns is exact: refused 1 ns before, allowed at it;
// `remaining` single requests pass now and one more does not; after reset_ns
// the state is as good as empty.
TEST_P(Algorithm, WaitRemainingAndResetDescribeTheState) {
  const uint32_t algorithm = GetParam();
  std::mt19937_64 rng(99 + algorithm);
  for (uint64_t tokens : {7ULL, 10ULL, 100ULL, 70'000ULL}) {
    Limiter limiter(algorithm, tokens, kSec);
    uint64_t now = kEpoch;
    for (int i = 0; i < 600; ++i) {
      now += rng() % (2 * kSec / tokens + 1);
      limiter.spend(now);
      if (i % 7) continue;
      const uint64_t probe = now + rng() % (kSec / tokens + 1);
      uint64_t wait = sluice_algo_wait_ns(&limiter.algo, limiter.state, probe, 1);
      ASSERT_LT(wait, 3 * kSec) << name_of(algorithm) << " tokens=" << tokens;
      __u64 next = 0;
      if (wait > 0) {
        ASSERT_FALSE(sluice_algo_spend(&limiter.algo, limiter.state, probe + wait - 1, 1, &next))
            << name_of(algorithm) << " tokens=" << tokens << " wait=" << wait;
      }
      ASSERT_TRUE(sluice_algo_spend(&limiter.algo, limiter.state, probe + wait, 1, &next))
          << name_of(algorithm) << " tokens=" << tokens << " wait=" << wait;

      Limiter copy = limiter;
      uint64_t remaining = sluice_algo_remaining(&copy.algo, copy.state, probe);
      for (uint64_t r = 0; r < remaining; ++r)
        ASSERT_TRUE(copy.spend(probe)) << name_of(algorithm) << " remaining=" << remaining;
      ASSERT_FALSE(copy.spend(probe)) << name_of(algorithm) << " remaining=" << remaining;

      uint64_t reset = sluice_algo_reset_ns(&limiter.algo, limiter.state, probe);
      Limiter fresh(algorithm, tokens, kSec);
      ASSERT_EQ(sluice_algo_remaining(&limiter.algo, limiter.state, probe + reset),
                sluice_algo_remaining(&fresh.algo, 0, probe + reset))
          << name_of(algorithm) << " reset=" << reset;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, Algorithm,
                         ::testing::Values(SLUICE_ALGO_TOKEN_BUCKET, SLUICE_ALGO_FIXED_WINDOW,
                                           SLUICE_ALGO_SLIDING_WINDOW, SLUICE_ALGO_LEAKY_BUCKET),
                         [](const auto& info) { return std::string(name_of(info.param)); });

// The classic picture: 10/s, a burst of 10 just before a window boundary and
// 10 more just after. The fixed window admits all 20 within 2 ms; the sliding
// window still counts the previous window's 10 and admits none of the second.
TEST(Algorithms, FixedWindowAdmitsTwiceTheLimitAcrossABoundarySlidingWindowDoesNot) {
  const uint64_t boundary = kEpoch + 10 * kSec;
  Limiter fixed(SLUICE_ALGO_FIXED_WINDOW, 10, kSec);
  Limiter sliding(SLUICE_ALGO_SLIDING_WINDOW, 10, kSec);
  int fixed_admitted = 0, sliding_admitted = 0;
  for (int i = 0; i < 10; ++i) {
    fixed_admitted += fixed.spend(boundary - kMs);
    sliding_admitted += sliding.spend(boundary - kMs);
  }
  for (int i = 0; i < 10; ++i) {
    fixed_admitted += fixed.spend(boundary + kMs);
    sliding_admitted += sliding.spend(boundary + kMs);
  }
  EXPECT_EQ(fixed_admitted, 20) << "2x the limit within 2 ms";
  EXPECT_EQ(sliding_admitted, 10) << "previous 10 x 999/1000 + 0 leaves no room";
}

// The same property on random traffic: within any span of 2d straddling a
// boundary, the fixed window can admit up to 2 x limit (and does, somewhere),
// the sliding window at most limit + ceil(limit x d / window).
TEST(Algorithms, BoundaryBurstBoundsOnRandomTraffic) {
  const uint64_t limit = 50, d = 50 * kMs;
  std::mt19937_64 rng(4242);
  Limiter fixed(SLUICE_ALGO_FIXED_WINDOW, limit, kSec);
  Limiter sliding(SLUICE_ALGO_SLIDING_WINDOW, limit, kSec);
  std::vector<uint64_t> fixed_times, sliding_times;
  uint64_t now = kEpoch;
  // Bursts of 120 arrivals 0.5 ms apart (60 ms), starting at random phases
  // 1-3 s apart: some straddle a boundary with both windows still empty.
  for (int burst = 0; burst < 3000; ++burst) {
    now += kSec + rng() % (2 * kSec);
    for (int i = 0; i < 120; ++i) {
      now += kMs / 2;
      if (fixed.spend(now)) fixed_times.push_back(now);
      if (sliding.spend(now)) sliding_times.push_back(now);
    }
  }
  auto worst_straddle = [&](const std::vector<uint64_t>& times) {
    uint64_t worst = 0;
    for (uint64_t b = (kEpoch / kSec + 1) * kSec; b < now; b += kSec) {
      auto lo = std::lower_bound(times.begin(), times.end(), b - d);
      auto hi = std::upper_bound(times.begin(), times.end(), b + d);
      worst = std::max<uint64_t>(worst, hi - lo);
    }
    return worst;
  };
  EXPECT_LE(worst_straddle(fixed_times), 2 * limit);
  EXPECT_EQ(worst_straddle(fixed_times), 2 * limit) << "the boundary burst happens";
  EXPECT_LE(worst_straddle(sliding_times), limit + (limit * d + kSec - 1) / kSec);
}

// Twenty requests in one second (every 50 ms) against 10/s: what each admits.
TEST(Algorithms, TwentyRequestsInOneSecondAgainstTenPerSecond) {
  const uint64_t start = kEpoch + 3 * kSec;  // a window boundary
  std::vector<int> admitted;
  for (uint32_t algorithm = 0; algorithm < SLUICE_ALGO_COUNT; ++algorithm) {
    Limiter limiter(algorithm, 10, kSec);
    int count = 0;
    for (int i = 0; i < 20; ++i) count += limiter.spend(start + i * 50 * kMs);
    admitted.push_back(count);
  }
  // Token bucket: the burst of 10, plus one token every 100 ms (0.5 per request).
  EXPECT_EQ(admitted[SLUICE_ALGO_TOKEN_BUCKET], 19);
  EXPECT_EQ(admitted[SLUICE_ALGO_FIXED_WINDOW], 10) << "the first 10, then the window is full";
  EXPECT_EQ(admitted[SLUICE_ALGO_SLIDING_WINDOW], 10) << "no previous window: as fixed";
  EXPECT_EQ(admitted[SLUICE_ALGO_LEAKY_BUCKET], 10) << "every other one: 100 ms apart";
}

TEST(Algorithms, UnknownAlgorithmAndOutOfRangeLimitsAreRejected) {
  struct sluice_algo algo {};
  EXPECT_EQ(sluice_algo_make(&algo, SLUICE_ALGO_COUNT, 10, kSec, 0, SLUICE_SPEND_UNIT), -1);
  EXPECT_EQ(
      sluice_algo_make(&algo, SLUICE_ALGO_FIXED_WINDOW, 1ULL << 32, kSec, 0, SLUICE_SPEND_UNIT),
      -1);
  EXPECT_EQ(
      sluice_algo_make(&algo, SLUICE_ALGO_SLIDING_WINDOW, 1ULL << 24, kSec, 0, SLUICE_SPEND_UNIT),
      -1);
  EXPECT_EQ(sluice_algo_make(&algo, SLUICE_ALGO_SLIDING_WINDOW, 10, SLUICE_PERIOD_MAX_NS + 1, 0,
                             SLUICE_SPEND_UNIT),
            -1);
  EXPECT_EQ(sluice_algo_make(&algo, SLUICE_ALGO_SLIDING_WINDOW, (1ULL << 24) - 1, kSec, 0,
                             SLUICE_SPEND_UNIT),
            0);
  EXPECT_EQ(algo.count_bits, 24u);
}

TEST(Algorithms, ZeroTokensIsUnlimitedForEveryAlgorithm) {
  for (uint32_t algorithm = 0; algorithm < SLUICE_ALGO_COUNT; ++algorithm) {
    Limiter limiter(algorithm, 0, kSec);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.spend(kEpoch, 5)) << name_of(algorithm);
    EXPECT_EQ(sluice_algo_wait_ns(&limiter.algo, limiter.state, kEpoch, 5), 0u);
  }
}

// The largest window (a day) and counts: the mul-div stays exact.
TEST(Algorithms, SlidingWindowIsExactAtTheLargestWindowAndCount) {
  const uint64_t limit = (1ULL << 24) - 1, window = SLUICE_PERIOD_MAX_NS;
  Limiter limiter(SLUICE_ALGO_SLIDING_WINDOW, limit, window);
  ReferenceSlidingWindow reference(limit, window);
  const uint64_t start = 1000 * window;
  ASSERT_TRUE(limiter.spend(start + window - 1, limit));
  ASSERT_TRUE(reference.spend(start + window - 1, limit));
  std::mt19937_64 rng(5);
  uint64_t now = start + window;
  for (int i = 0; i < 2000; ++i) {
    now += rng() % (window / 1000);
    uint64_t n = 1 + rng() % 20'000;
    ASSERT_EQ(limiter.spend(now, n), reference.spend(now, n)) << "step " << i;
  }
}

// The lock-free form on real threads: 4 threads x 20,000 spends at one frozen
// instant admit exactly the limit, for every algorithm.
TEST(Algorithms, CompareAndSwapNeverAdmitsMoreThanTheLimitAcrossThreads) {
  for (uint32_t algorithm = 0; algorithm < SLUICE_ALGO_COUNT; ++algorithm) {
    struct sluice_algo algo {};
    ASSERT_EQ(sluice_algo_make(&algo, algorithm, 1000, kSec, 0, SLUICE_SPEND_UNIT), 0);
    __u64 state = 0;
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 20'000; ++i)
          while (true) {
            int verdict = sluice_algo_spend_atomic(&algo, &state, kEpoch, 1);
            if (verdict < 0) continue;  // lost every race: try again
            admitted += verdict;
            break;
          }
      });
    for (auto& thread : threads) thread.join();
    uint64_t expected = algorithm == SLUICE_ALGO_LEAKY_BUCKET ? 1 : 1000;
    EXPECT_EQ(admitted.load(), static_cast<int>(expected)) << name_of(algorithm);
  }
}

}  // namespace
}  // namespace sluice::testing
