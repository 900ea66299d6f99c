// RequestBuckets::check_and_spend_all, the multi-client charge behind Envoy's
// multi-descriptor requests: all or nothing, costs that add up, and no
// deadlock or over-admission when callers lock the same shards in any order.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "request_buckets.h"

namespace sluice {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ULL;

CompiledLimit per_second(uint64_t tokens, bool shadow = false) {
  CompiledLimit limit;
  limit.bucket = "b";
  limit.quota = tokens;
  limit.window_s = 1;
  limit.shadow = shadow;
  sluice_rate_make(&limit.rate, tokens, kSecond, tokens, SLUICE_SPEND_UNIT);
  return limit;
}

TEST(CheckAndSpendAll, ARefusalAnywhereSpendsNothingAnywhere) {
  RequestBuckets buckets;
  const CompiledLimit ten = per_second(10), two = per_second(2);
  const uint64_t now = 100 * kSecond;
  std::vector<RequestBuckets::Charge> charges = {{"a", &ten, 1}, {"b", &two, 3}};
  auto states = buckets.check_and_spend_all(charges, now);
  EXPECT_TRUE(states[0].allowed);
  EXPECT_FALSE(states[1].allowed);
  EXPECT_EQ(states[0].remaining, 10u);
  EXPECT_EQ(buckets.size(), 0u);
  charges[1].hits = 2;
  states = buckets.check_and_spend_all(charges, now);
  EXPECT_TRUE(states[0].allowed && states[1].allowed);
  EXPECT_EQ(states[0].remaining, 9u);
  EXPECT_EQ(states[1].remaining, 0u);
}

TEST(CheckAndSpendAll, ShadowRefusalsDoNotBlockTheOthers) {
  RequestBuckets buckets;
  const CompiledLimit ten = per_second(10), shadow_one = per_second(1, true);
  std::vector<RequestBuckets::Charge> charges = {{"a", &ten, 1}, {"b", &shadow_one, 2}};
  auto states = buckets.check_and_spend_all(charges, kSecond);
  EXPECT_FALSE(states[1].allowed);
  EXPECT_EQ(states[0].remaining, 9u);  // spent
}

TEST(CheckAndSpendAll, ChargesOnOneBucketAddUp) {
  RequestBuckets buckets;
  const CompiledLimit five = per_second(5);
  std::vector<RequestBuckets::Charge> charges = {{"a", &five, 3}, {"a", &five, 3}};
  auto states = buckets.check_and_spend_all(charges, kSecond);
  EXPECT_TRUE(states[0].allowed);
  EXPECT_FALSE(states[1].allowed);  // 3 + 3 > 5: the whole request is refused
  EXPECT_EQ(buckets.size(), 0u);
  charges[1].hits = 2;
  states = buckets.check_and_spend_all(charges, kSecond);
  EXPECT_TRUE(states[0].allowed && states[1].allowed);
  EXPECT_EQ(states[1].remaining, 0u);
}

TEST(CheckAndSpendAll, ConcurrentCallersInOppositeOrdersNeitherDeadlockNorOverAdmit) {
  RequestBuckets buckets;
  const CompiledLimit hundred = per_second(100);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      // Clients spread over many shards, in opposite orders on odd threads.
      std::vector<RequestBuckets::Charge> charges;
      for (int c = 0; c < 16; ++c) charges.push_back({"client-" + std::to_string(c), &hundred, 1});
      if (t % 2) std::reverse(charges.begin(), charges.end());
      for (int i = 0; i < 100; ++i) {
        auto states = buckets.check_and_spend_all(charges, kSecond);
        admitted += std::all_of(states.begin(), states.end(), [](auto& s) { return s.allowed; });
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted, 100);  // each client's bucket holds exactly 100
}

}  // namespace
}  // namespace sluice
