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

TEST(ConsumptionLedger, DeltasSayHowLongAgoTheyMayHaveHappened) {
  ConsumptionLedger receiver;
  auto first = receiver.merge("a", 1, {{"k", 1, 5}}, 1000 * kMs);
  ASSERT_EQ(first.size(), 1U);
  EXPECT_EQ(first[0].span_ns, 0U);  // never heard of the origin before
  // A partition: nothing heard for 20 s, then the other side's totals.
  auto healed = receiver.merge("a", 1, {{"k", 1, 905}, {"new", 1, 7}}, 21000 * kMs);
  ASSERT_EQ(healed.size(), 2U);
  for (const auto& delta : healed) EXPECT_EQ(delta.span_ns, 20000 * kMs) << delta.key;
}

TEST(ConsumptionLedgerRejoin, GrowthWhileLeftOutIsABaselineAndLaterGrowthIsCharged) {
  ConsumptionLedger receiver;
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 10}, {"j", 1, 3}}, 1000 * kMs)), 13U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 12}}, 1100 * kMs)), 2U);
  // A partition: the share leaves "a" out, which admits on meanwhile.
  receiver.leave_share("a");
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 500}}, 20000 * kMs)), 0U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 505}}, 20100 * kMs)), 5U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 505}}, 20200 * kMs)), 0U);  // duplicate
  // "j" comes back into use later: rebased at its first total too...
  receiver.merge("a", 1, {}, 20300 * kMs);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"j", 1, 90}}, 80000 * kMs)), 0U);
  // ... and charged from then on.
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"j", 1, 91}}, 80100 * kMs)), 1U);
  EXPECT_EQ(receiver.absorbed(), (500U - 12U) + (90U - 3U));
}

TEST(ConsumptionLedgerRejoin, ASilenceTheShareDidNotNoticeIsCharged) {
  // Totals late by 19 s but never left out (this node's own thread stalled,
  // or fail-open): charged, as before.
  ConsumptionLedger receiver;
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 10}}, 1000 * kMs)), 10U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 500}}, 20000 * kMs)), 490U);
  EXPECT_EQ(receiver.absorbed(), 0U);
}

TEST(ConsumptionLedgerRejoin, ARestartedPeerIsChargedFromZeroNotRebased) {
  ConsumptionLedger receiver;
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 40}}, 1000 * kMs)), 40U);
  receiver.leave_share("a");  // killed
  // Restarted: a new run, whose admissions all happened after it joined again.
  EXPECT_EQ(charged(receiver.merge("a", 2, {{"k", 5, 7}}, 11000 * kMs)), 7U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 90}}, 11100 * kMs)), 0U);  // old run
  EXPECT_EQ(receiver.absorbed(), 0U);
}

TEST(ConsumptionLedgerRejoin, AKeyFirstUsedWhileLeftOutIsRebasedAtItsFirstTotal) {
  // A client that first appeared during the partition: the receiver has no
  // counter for it, but its generation (when its owner started counting it)
  // falls between the origin's last totals and its return.
  ConsumptionLedger receiver;
  receiver.merge("a", 1, {{"k", 1000 * kMs, 10}}, 3000 * kMs);
  receiver.leave_share("a");
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"new", 9000 * kMs, 400}}, 20000 * kMs)), 0U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"new", 9000 * kMs, 410}}, 20100 * kMs)), 10U);
  EXPECT_EQ(receiver.absorbed(), 400U);
}

TEST(ConsumptionLedgerRejoin, AKeyStartedAfterTheOriginCameBackIsCharged) {
  ConsumptionLedger receiver;
  receiver.merge("a", 1, {{"k", 1000 * kMs, 10}}, 3000 * kMs);
  receiver.leave_share("a");
  receiver.merge("a", 1, {{"k", 1000 * kMs, 50}}, 20000 * kMs);  // back: rebased
  const auto deltas = receiver.merge("a", 1, {{"later", 20050 * kMs, 4}}, 20100 * kMs);
  ASSERT_EQ(deltas.size(), 1U);
  EXPECT_EQ(deltas[0].count, 4U);
}

TEST(ConsumptionLedgerRejoin, AKeyStartedLongBeforeTheSilenceIsCharged) {
  // Older than the origin's last totals by more than the resend window, it
  // would have been heard before the silence had it been in use: a key this
  // receiver dropped (full table), or a peer whose generations are not on
  // the wall clock (an older build): charged, with its span, as before.
  ConsumptionLedger receiver;
  receiver.merge("a", 1, {{"k", 1000 * kMs, 10}}, 3000 * kMs);
  receiver.leave_share("a");
  const auto deltas = receiver.merge("a", 1, {{"old", 1500 * kMs, 4}}, 20000 * kMs);
  ASSERT_EQ(deltas.size(), 1U);
  EXPECT_EQ(deltas[0].count, 4U);
  EXPECT_EQ(deltas[0].span_ns, 17000 * kMs);
}

TEST(ConsumptionLedgerRejoin, GenerationsAreStampedOnTheWallClockOfTheirOwner) {
  // Two hosts whose monotonic clocks started an hour apart: the sender's
  // generations and the receiver's view of the partition meet on the wall clock.
  constexpr uint64_t kHour = 3'600'000 * kMs;
  constexpr int64_t kWall = 1'800'000'000'000'000'000;  // a wall clock instant
  ConsumptionLedger sender, receiver;
  sender.set_wall_clock_offset(kWall);            // sender's monotonic: 0 at kWall
  receiver.set_wall_clock_offset(kWall + kHour);  // receiver's: 0 an hour later
  sender.record_local("k", kHour + 1000 * kMs, 10);
  receiver.merge("a", 1, sender.recent_totals(kHour + 1000 * kMs), 1000 * kMs);
  receiver.leave_share("a");
  sender.record_local("during", kHour + 9000 * kMs, 400);  // in the partition
  sender.record_local("during", kHour + 19990 * kMs, 1);
  EXPECT_EQ(charged(receiver.merge("a", 1, sender.recent_totals(kHour + 20000 * kMs), 20000 * kMs)),
            0U);  // the heal: "during" started while "a" was left out
  sender.record_local("after", kHour + 20050 * kMs, 3);
  const auto deltas =
      receiver.merge("a", 1, sender.recent_totals(kHour + 20100 * kMs), 20100 * kMs);
  ASSERT_EQ(deltas.size(), 1U);
  EXPECT_EQ(deltas[0].key, "after");
  EXPECT_EQ(deltas[0].count, 3U);
  EXPECT_EQ(receiver.absorbed(), 401U);
}

TEST(ConsumptionLedgerRejoin, KernelKeysAreRebasedLikeRequestKeys) {
  // The kernel's global tiers share the ledger (docs/kernel-global.md).
  ConsumptionLedger receiver;
  const std::string key = "\x1ekernel 198.19.190.1";
  EXPECT_EQ(charged(receiver.merge("a", 1, {{key, 1, 1000}}, 1000 * kMs)), 1000U);
  receiver.leave_share("a");
  EXPECT_EQ(charged(receiver.merge("a", 1, {{key, 1, 7000}}, 9000 * kMs)), 0U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{key, 1, 7100}}, 9100 * kMs)), 100U);
}

TEST(ConsumptionLedgerRejoin, LeavingOutAnOriginNeverHeardOfChangesNothing) {
  ConsumptionLedger receiver;
  receiver.leave_share("a");
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 10}}, 1000 * kMs)), 10U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 12}}, 1100 * kMs)), 2U);
}

}  // namespace
}  // namespace sluice::cluster
