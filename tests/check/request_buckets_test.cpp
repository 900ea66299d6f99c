// Request buckets: check all then spend, refusals that cost nothing, debts
// carried across a rate change, and no over-admission under 8 threads.
#include "request_buckets.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "request_state.h"

namespace sluice {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kT0 = 1'000 * kSec;

CompiledLimit limit(const std::string& name, uint64_t tokens, uint64_t period_s, uint64_t burst = 0,
                    bool shadow = false) {
  CompiledLimit out;
  out.bucket = "w:" + name;
  out.policy = name;
  out.rate = compile_rate(RateLimit{tokens, period_s * kSec, burst}, SLUICE_SPEND_UNIT, name);
  out.quota = tokens;
  out.window_s = period_s;
  out.shadow = shadow;
  return out;
}

TEST(RequestBuckets, ARefusalSpendsFromNoLimit) {
  RequestBuckets buckets;
  std::vector<CompiledLimit> limits = {limit("minute", 10, 60), limit("second", 2, 1)};
  for (int i = 0; i < 2; ++i) {
    auto states = buckets.check_and_spend("c", limits, kT0);
    ASSERT_TRUE(states[0].allowed && states[1].allowed) << i;
  }
  for (int i = 0; i < 5; ++i) {
    auto states = buckets.check_and_spend("c", limits, kT0);
    EXPECT_TRUE(states[0].allowed);   // the minute would allow...
    EXPECT_FALSE(states[1].allowed);  // ...but the second refuses
    EXPECT_EQ(states[0].remaining, 8u) << "a refused request consumed from the minute window";
  }
  auto later = buckets.check_and_spend("c", limits, kT0 + kSec);
  EXPECT_TRUE(later[1].allowed);
  EXPECT_EQ(later[0].remaining, 7u);
}

TEST(RequestBuckets, RetryAfterIsHonest) {
  RequestBuckets buckets;
  std::vector<CompiledLimit> limits = {limit("minute", 5, 60)};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(buckets.check_and_spend("c", limits, kT0)[0].allowed);
  auto refused = buckets.check_and_spend("c", limits, kT0);
  ASSERT_FALSE(refused[0].allowed);
  EXPECT_EQ(refused[0].retry_after_ns, 12 * kSec);
  // Spamming while refused does not push the wait out.
  for (int i = 0; i < 100; ++i) buckets.check_and_spend("c", limits, kT0 + 11 * kSec);
  EXPECT_FALSE(buckets.check_and_spend("c", limits, kT0 + 12 * kSec - 1)[0].allowed);
  EXPECT_TRUE(buckets.check_and_spend("c", limits, kT0 + 12 * kSec)[0].allowed);
}

TEST(RequestBuckets, ShadowLimitsRefuseNothing) {
  RequestBuckets buckets;
  std::vector<CompiledLimit> limits = {limit("minute", 100, 60), limit("strict", 1, 60, 0, true)};
  auto first = buckets.check_and_spend("c", limits, kT0);
  EXPECT_TRUE(first[1].allowed);
  auto second = buckets.check_and_spend("c", limits, kT0);
  EXPECT_FALSE(second[1].allowed);      // would refuse
  EXPECT_EQ(second[0].remaining, 98u);  // but the request went through and was counted
}

TEST(RequestBuckets, ARateChangeKeepsWhatWasConsumed) {
  RequestBuckets buckets;
  std::vector<CompiledLimit> free_tier = {limit("minute", 10, 60)};
  std::vector<CompiledLimit> pro_tier = {limit("minute", 1000, 60)};
  for (int i = 0; i < 4; ++i) buckets.check_and_spend("c", free_tier, kT0);
  // Upgrade: the 4 requests stay consumed, of the larger quota.
  auto up = buckets.check_and_spend("c", pro_tier, kT0);
  EXPECT_EQ(up[0].remaining, 995u);
  // Heavy use, then a downgrade: the smaller window is full, not in arrears
  // for hours; its next request comes after one interval (6 s).
  for (int i = 0; i < 500; ++i) buckets.check_and_spend("c", pro_tier, kT0);
  auto down = buckets.check_and_spend("c", free_tier, kT0);
  EXPECT_FALSE(down[0].allowed);
  EXPECT_EQ(down[0].retry_after_ns, 6 * kSec);
  EXPECT_TRUE(buckets.check_and_spend("c", free_tier, kT0 + 6 * kSec)[0].allowed);
}

TEST(RequestBuckets, CarryTatConvertsRequestsNotTime) {
  auto free_rate = limit("m", 10, 60).rate;   // 6 s per request
  auto pro_rate = limit("m", 1000, 60).rate;  // 60 ms per request
  // 3 requests of debt at 6 s each = 18 s; at 60 ms each = 180 ms.
  EXPECT_EQ(carry_tat(kT0 + 18 * kSec, free_rate.interval_fp, pro_rate, kT0), kT0 + 180'000'000);
  EXPECT_EQ(carry_tat(kT0 - 1, free_rate.interval_fp, pro_rate, kT0), kT0 - 1);
}

TEST(RequestBuckets, PeekCreatesNoState) {
  RequestBuckets buckets;
  std::vector<CompiledLimit> limits = {limit("minute", 10, 60)};
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(buckets.peek("client-" + std::to_string(i), limits, kT0)[0].remaining, 10u);
  EXPECT_EQ(buckets.size(), 0u);
}

TEST(RequestBuckets, FullBucketsAreSweptWhenTheTableFills) {
  RequestBuckets buckets(64 * 4);  // 4 per shard
  std::vector<CompiledLimit> limits = {limit("second", 10, 1)};
  for (int i = 0; i < 2000; ++i)
    buckets.check_and_spend("client-" + std::to_string(i), limits, kT0 + i * kSec);
  EXPECT_LE(buckets.size(), 256u);
  EXPECT_EQ(buckets.overflows(), 0u) << "every old bucket was full again and could go";
}

TEST(RequestBuckets, EightThreadsNeverAdmitMoreThanTheLimit) {
  RequestBuckets buckets;
  // A frozen clock: exactly the burst may pass, however the threads interleave.
  std::vector<CompiledLimit> limits = {limit("minute", 1000, 60), limit("second", 50, 1, 200)};
  std::atomic<uint64_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        auto states = buckets.check_and_spend("shared", limits, kT0);
        if (states[0].allowed && states[1].allowed) ++admitted;
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 200u);
  EXPECT_EQ(buckets.peek("shared", limits, kT0)[0].remaining, 800u);
}

TEST(RequestBuckets, EightThreadsOnARealClockStayWithinRateTimesTime) {
  RequestBuckets buckets;
  std::vector<CompiledLimit> limits = {limit("second", 1000, 1, 100)};
  std::atomic<uint64_t> admitted{0};
  auto now = [] {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * kSec + static_cast<uint64_t>(ts.tv_nsec);
  };
  const uint64_t start = now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i)
        if (buckets.check_and_spend("shared", limits, now())[0].allowed) ++admitted;
    });
  for (auto& thread : threads) thread.join();
  const double elapsed_s = static_cast<double>(now() - start) / 1e9;
  const double ceiling = 100 + 1000 * elapsed_s;
  EXPECT_LE(static_cast<double>(admitted.load()), ceiling)
      << "admitted " << admitted.load() << " in " << elapsed_s << " s";
  const double rate = 160'000 / elapsed_s;
  std::printf("8 threads: %.0f checks/s, admitted %lu of ceiling %.0f\n", rate,
              static_cast<unsigned long>(admitted.load()), ceiling);
}

TEST(RequestState, SurvivesASaveAndLoadWithinOneBoot) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("sluice-request-state-" + std::to_string(::getpid()));
  std::vector<CompiledLimit> limits = {limit("minute", 10, 60)};
  RequestBuckets before;
  for (int i = 0; i < 4; ++i) before.check_and_spend("key:k_1", limits, kT0);
  before.check_and_spend("addr:198.18.0.1", limits, kT0 - 100 * kSec);  // full again by kT0
  EXPECT_EQ(save_request_state(path, before, kT0, "boot-a-000000000000000000000000000000"), 1u);

  RequestBuckets after;
  EXPECT_EQ(load_request_state(path, after, "boot-a-000000000000000000000000000000"), 1u);
  EXPECT_EQ(after.peek("key:k_1", limits, kT0)[0].remaining, 6u);
  // Another boot's monotonic times mean nothing here: ignored.
  RequestBuckets rebooted;
  EXPECT_EQ(load_request_state(path, rebooted, "boot-b-000000000000000000000000000000"), 0u);
  EXPECT_EQ(rebooted.size(), 0u);
  // No file: nothing to restore; a damaged file: a clear error.
  std::filesystem::remove(path);
  EXPECT_EQ(load_request_state(path, rebooted, "boot-a-000000000000000000000000000000"), 0u);
  std::ofstream(path) << "garbage";
  EXPECT_THROW(load_request_state(path, rebooted, "boot-a-000000000000000000000000000000"),
               std::runtime_error);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sluice
