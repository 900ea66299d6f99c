#include "consumption.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

constexpr uint64_t kMs = 1'000'000;

uint64_t charged(const std::vector<ConsumptionDelta>& deltas) {
  uint64_t total = 0;
  for (const auto& delta : deltas) total += delta.count;
  return total;
}

TEST(ConsumptionLedger, LossesAndDuplicatesNeverCountTwice) {
  ConsumptionLedger sender, receiver;
  for (int i = 0; i < 10; ++i) sender.record_local("k\x1fw:s", 1000 * kMs);
  auto first = sender.recent_totals(1000 * kMs);
  for (int i = 0; i < 5; ++i) sender.record_local("k\x1fw:s", 1050 * kMs);
  auto second = sender.recent_totals(1050 * kMs);

  EXPECT_EQ(charged(receiver.merge("a", 1, second, 1100 * kMs)), 15U);  // `first` was lost
  EXPECT_EQ(charged(receiver.merge("a", 1, second, 1101 * kMs)), 0U);   // duplicate
  EXPECT_EQ(charged(receiver.merge("a", 1, first, 1102 * kMs)), 0U);    // late, reordered
}

TEST(ConsumptionLedger, OnlyRecentChangesAreResent) {
  ConsumptionLedger ledger;
  ledger.record_local("old", 0);
  ledger.record_local("new", 5000 * kMs);
  auto totals = ledger.recent_totals(5500 * kMs);
  ASSERT_EQ(totals.size(), 1U);
  EXPECT_EQ(totals[0].key, "new");
}

TEST(ConsumptionLedger, ARestartedPeerCountsFromZeroWithoutRecharging) {
  ConsumptionLedger receiver;
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 40}}, 0)), 40U);
  EXPECT_EQ(charged(receiver.merge("a", 2, {{"k", 1, 3}}, 1)), 3U);   // new run
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 90}}, 2)), 0U);  // the old run, replayed
}

TEST(ConsumptionLedger, AnExpiredKeysNewGenerationStartsAgain) {
  ConsumptionLedger::Limits limits;
  limits.retention_ns = 10 * kMs;
  ConsumptionLedger sender(limits), receiver(limits);
  sender.record_local("k", 1 * kMs, 7);
  EXPECT_EQ(charged(receiver.merge("a", 1, sender.recent_totals(1 * kMs), 1 * kMs)), 7U);
  sender.expire(20 * kMs);
  sender.record_local("k", 21 * kMs, 2);  // total 2, a new generation
  EXPECT_EQ(charged(receiver.merge("a", 1, sender.recent_totals(21 * kMs), 21 * kMs)), 2U);
}

TEST(ConsumptionLedger, FullTablesRefuseNewKeysAndCountThem) {
  ConsumptionLedger::Limits limits;
  limits.max_keys = 2;
  ConsumptionLedger ledger(limits);
  EXPECT_TRUE(ledger.record_local("a", 1));
  EXPECT_TRUE(ledger.record_local("b", 1));
  EXPECT_FALSE(ledger.record_local("c", 1));
  EXPECT_TRUE(ledger.record_local("a", 2));
  EXPECT_EQ(ledger.dropped_keys(), 1U);
}

}  // namespace
}  // namespace sluice::cluster

namespace sluice::cluster {
namespace {

TEST(ConsumptionLedger, DeltasSayHowLongAgoTheyMayHaveHappened) {
  constexpr uint64_t kMs = 1'000'000;
  ConsumptionLedger receiver;
  auto first = receiver.merge("a", 1, {{"k", 1, 5}}, 1000 * kMs);
  ASSERT_EQ(first.size(), 1U);
  EXPECT_EQ(first[0].span_ns, 0U);  // never heard of the origin before
  // A partition: nothing heard for 20 s, then the other side's totals.
  auto healed = receiver.merge("a", 1, {{"k", 1, 905}, {"new", 1, 7}}, 21000 * kMs);
  ASSERT_EQ(healed.size(), 2U);
  for (const auto& delta : healed) EXPECT_EQ(delta.span_ns, 20000 * kMs) << delta.key;
}

}  // namespace
}  // namespace sluice::cluster
