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

namespace sluice::cluster {
namespace {

constexpr uint64_t kMsR = 1'000'000;

TEST(ConsumptionLedgerRejoin, GrowthWhileLeftOutIsABaselineAndLaterGrowthIsCharged) {
  ConsumptionLedger receiver;
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 10}, {"j", 1, 3}}, 1000 * kMsR)), 13U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 12}}, 1100 * kMsR)), 2U);
  // A partition: the share leaves "a" out, which admits on meanwhile.
  receiver.leave_share("a");
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 500}}, 20000 * kMsR)), 0U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 505}}, 20100 * kMsR)), 5U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 505}}, 20200 * kMsR)), 0U);  // duplicate
  // "j" comes back into use later: rebased at its first total too...
  receiver.merge("a", 1, {}, 20300 * kMsR);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"j", 1, 90}}, 80000 * kMsR)), 0U);
  // ... and charged from then on.
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"j", 1, 91}}, 80100 * kMsR)), 1U);
  EXPECT_EQ(receiver.absorbed(), (500U - 12U) + (90U - 3U));
}

TEST(ConsumptionLedgerRejoin, ASilenceTheShareDidNotNoticeIsCharged) {
  // Totals late by 19 s but never left out (this node's own thread stalled,
  // or fail-open): charged, as before.
  ConsumptionLedger receiver;
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 10}}, 1000 * kMsR)), 10U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 500}}, 20000 * kMsR)), 490U);
  EXPECT_EQ(receiver.absorbed(), 0U);
}

TEST(ConsumptionLedgerRejoin, ARestartedPeerIsChargedFromZeroNotRebased) {
  ConsumptionLedger receiver;
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 40}}, 1000 * kMsR)), 40U);
  receiver.leave_share("a");  // killed
  // Restarted: a new run, whose admissions all happened after it joined again.
  EXPECT_EQ(charged(receiver.merge("a", 2, {{"k", 5, 7}}, 11000 * kMsR)), 7U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 90}}, 11100 * kMsR)), 0U);  // old run
  EXPECT_EQ(receiver.absorbed(), 0U);
}

TEST(ConsumptionLedgerRejoin, AKeyFirstHeardAfterTheSilenceIsCharged) {
  // A key the receiver never heard of: charged whole, with the span since
  // the origin was last heard (a client that first appeared during the
  // partition is charged as before; docs/cluster.md, "Not done").
  ConsumptionLedger receiver;
  receiver.merge("a", 1, {{"k", 1, 10}}, 1000 * kMsR);
  receiver.leave_share("a");
  const auto deltas = receiver.merge("a", 1, {{"new", 1, 4}}, 20000 * kMsR);
  ASSERT_EQ(deltas.size(), 1U);
  EXPECT_EQ(deltas[0].count, 4U);
}

TEST(ConsumptionLedgerRejoin, KernelKeysAreRebasedLikeRequestKeys) {
  // The kernel's global tiers share the ledger (docs/kernel-global.md).
  ConsumptionLedger receiver;
  const std::string key = "\x1ekernel 198.19.190.1";
  EXPECT_EQ(charged(receiver.merge("a", 1, {{key, 1, 1000}}, 1000 * kMsR)), 1000U);
  receiver.leave_share("a");
  EXPECT_EQ(charged(receiver.merge("a", 1, {{key, 1, 7000}}, 9000 * kMsR)), 0U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{key, 1, 7100}}, 9100 * kMsR)), 100U);
}

TEST(ConsumptionLedgerRejoin, LeavingOutAnOriginNeverHeardOfChangesNothing) {
  ConsumptionLedger receiver;
  receiver.leave_share("a");
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 10}}, 1000 * kMsR)), 10U);
  EXPECT_EQ(charged(receiver.merge("a", 1, {{"k", 1, 12}}, 1100 * kMsR)), 2U);
}

}  // namespace
}  // namespace sluice::cluster

#include <map>

#include "share.h"

namespace sluice::cluster {
namespace {

TEST(PartitionShareLeftOut, OnlyMembersWhoseTotalsStoppedAreLeftOut) {
  constexpr uint64_t kMs = 1'000'000;
  const uint64_t now = 10'000 * kMs, timeout = 300 * kMs;
  auto member = [](std::string name, MemberState state, uint64_t since, bool self = false) {
    MemberInfo info;
    info.name = std::move(name);
    info.state = state;
    info.state_since_ns = since;
    info.self = self;
    return info;
  };
  const std::vector<MemberInfo> members{
      member("me", MemberState::kAlive, 0, true),
      member("fresh", MemberState::kAlive, 0),
      member("cut-off", MemberState::kSuspect, 0),
      member("dead", MemberState::kDead, 0),
      member("dead-but-syncing", MemberState::kDead, now - 10 * kMs),  // SWIM lags behind
      member("just-joined", MemberState::kAlive, now - 100 * kMs),     // totals on their way
  };
  const std::map<std::string, uint64_t> synced{{"fresh", now - 100 * kMs},
                                               {"cut-off", now - 2000 * kMs},
                                               {"dead", now - 9000 * kMs},
                                               {"dead-but-syncing", now - 50 * kMs}};
  auto last = [&](const std::string& name) {
    auto it = synced.find(name);
    return it == synced.end() ? uint64_t{0} : it->second;
  };
  std::vector<std::string> left_out;
  EXPECT_EQ(members_in_sync(members, last, now, timeout, &left_out), 3U);
  EXPECT_EQ(left_out, (std::vector<std::string>{"cut-off", "dead"}));
}

}  // namespace
}  // namespace sluice::cluster
