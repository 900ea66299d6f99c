#include "membership.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "simulated_cluster.h"

namespace sluice::cluster {
namespace {

using testing::SimulatedCluster;
constexpr uint64_t kMs = SimulatedCluster::kMs;
constexpr uint64_t kSecond = 1000 * kMs;

void expect_everyone_sees(SimulatedCluster& cluster, size_t nodes, size_t subject,
                          MemberState state, const std::set<size_t>& observers = {}) {
  for (size_t i = 0; i < nodes; ++i) {
    if (i == subject || (!observers.empty() && !observers.count(i))) continue;
    EXPECT_EQ(cluster.state_seen(i, subject), state)
        << "node " << i << " about node " << subject << ": "
        << to_string(cluster.state_seen(i, subject));
  }
}

TEST(Membership, NodesJoiningThroughOneSeedLearnEveryone) {
  SimulatedCluster cluster(5);
  cluster.run_for(3 * kSecond);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(cluster.node(i).members().size(), 5U) << "node " << i;
    EXPECT_EQ(cluster.node(i).visible_count(), 5U) << "node " << i;
  }
}

TEST(Membership, ADeadNodeIsNoticedWithinFiveSecondsByEveryone) {
  SimulatedCluster cluster(5);
  cluster.run_for(5 * kSecond);
  cluster.kill(3);
  // Not declared dead too early: suspicion comes first.
  cluster.run_for(1 * kSecond);
  for (size_t i : {0, 1, 2, 4}) EXPECT_NE(cluster.state_seen(i, 3), MemberState::kDead) << i;
  cluster.run_for(4 * kSecond);
  expect_everyone_sees(cluster, 5, 3, MemberState::kDead, {0, 1, 2, 4});
  EXPECT_EQ(cluster.node(0).visible_count(), 4U);
  EXPECT_EQ(cluster.node(0).counted_count(), 5U);  // dead, not yet forgotten
}

// How long a death takes to notice, over 600 kills (60 probe orders x 10
// kill instants within a probe period), five nodes, the default timing. The
// aim is 5 s; what the design gives is T + 1 s + 2 s: T until a survivor
// first probes the dead node, one probe interval for the direct and indirect
// probes, and the 2 s suspicion. With memberlist's shuffled round-robin T
// reached 3 s (p50 3.7 s, p90 4.8 s, p99 5.8 s, max 6.0 s: the aim held for 9
// kills in 10); with the shared schedule (Membership::start_probe) T is at
// most a period: p50 3.4 s, p90 3.8 s, max 3.9 s.
TEST(Membership, DeathsAreNoticedWithinFourSecondsOverEveryKillInstant) {
  std::vector<double> noticed;
  for (uint64_t order = 0; order < 60; ++order)
    for (uint64_t offset = 0; offset < 1000 * kMs; offset += 100 * kMs) {
      SimulatedCluster cluster(5, 1 * kMs, [&](MembershipConfig& config) {
        config.seed = config.seed * 7919 + order * 104729 + 1;
      });
      cluster.run_for(5 * kSecond + offset);
      cluster.kill(2);
      double seconds = 0;
      for (bool dead = false; !dead && seconds < 12;) {
        cluster.run_for(10 * kMs);
        seconds += 0.01;
        for (size_t i : {0, 1, 3, 4}) dead = dead || cluster.state_seen(i, 2) == MemberState::kDead;
      }
      noticed.push_back(seconds);
    }
  std::sort(noticed.begin(), noticed.end());
  auto quantile = [&](double q) { return noticed[static_cast<size_t>(q * (noticed.size() - 1))]; };
  std::printf("death noticed after: p50 %.2f s, p90 %.2f s, p99 %.2f s, max %.2f s\n",
              quantile(0.5), quantile(0.9), quantile(0.99), noticed.back());
  EXPECT_LE(noticed.back(), 4.05);
  EXPECT_GE(noticed.front(), 2.9);  // suspicion first: never declared at the first failed probe
}

TEST(Membership, IndirectProbesKeepANodeAliveWhenOneLinkFails) {
  // Node 0 cannot reach node 1 directly, everything else works: the indirect
  // probes through 2, 3, 4 answer for node 1, so nobody suspects it for long.
  SimulatedCluster cluster(5);
  cluster.run_for(3 * kSecond);
  cluster.cut(0, 1);
  cluster.run_for(10 * kSecond);
  expect_everyone_sees(cluster, 5, 1, MemberState::kAlive);
}

TEST(Membership, ASuspectedNodeRefutesWithAHigherIncarnation) {
  SimulatedCluster cluster(3);
  cluster.run_for(3 * kSecond);
  // Cut node 2 off long enough to be suspected, not long enough to die.
  cluster.partition({2});
  cluster.run_for(1500 * kMs);
  cluster.heal();
  cluster.run_for(5 * kSecond);
  expect_everyone_sees(cluster, 3, 2, MemberState::kAlive);
  EXPECT_GT(cluster.node(2).incarnation(), 0U);
}

TEST(Membership, ARestartedNodeRejoins) {
  SimulatedCluster cluster(5);
  cluster.run_for(3 * kSecond);
  cluster.kill(4);
  cluster.run_for(8 * kSecond);
  expect_everyone_sees(cluster, 5, 4, MemberState::kDead, {0, 1, 2, 3});
  cluster.restart(4);
  cluster.run_for(5 * kSecond);
  expect_everyone_sees(cluster, 5, 4, MemberState::kAlive);
  EXPECT_EQ(cluster.node(4).visible_count(), 5U);
}

TEST(Membership, APartitionGivesEachSideItsShareAndHealingRestoresAll) {
  SimulatedCluster cluster(5);
  cluster.run_for(3 * kSecond);
  cluster.partition({0, 1});
  // SWIM sees the partition member by member, each failed probe slowing the
  // prober (Lifeguard): 6.8-8.0 s at p50, 12-15 s at worst over 240 probe
  // orders and cut instants. (The shares do not wait for it: they follow the
  // consumption sync's timeout, PartitionShare.*.)
  cluster.run_for(16 * kSecond);
  EXPECT_EQ(cluster.node(0).visible_count(), 2U);
  EXPECT_EQ(cluster.node(4).visible_count(), 3U);
  EXPECT_EQ(cluster.node(0).counted_count(), 5U);
  cluster.heal();
  cluster.run_for(8 * kSecond);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(cluster.node(i).visible_count(), 5U) << "node " << i;
}

TEST(Membership, AGracefulLeaveIsNotCountedAtAll) {
  SimulatedCluster cluster(3);
  cluster.run_for(3 * kSecond);
  cluster.node(2).leave();
  cluster.run_for(100 * kMs);
  cluster.kill(2);
  cluster.run_for(1 * kSecond);
  EXPECT_EQ(cluster.state_seen(0, 2), MemberState::kLeft);
  EXPECT_EQ(cluster.node(0).counted_count(), 2U);
}

// Lifeguard's local health multiplier. Node 0 reads its datagrams 1.2 s late
// (a starved process): its acks come back after the probe interval, so
// without the multiplier it suspects a healthy member at almost every probe
// and the healthy members keep refuting (raising their incarnations).
uint64_t refutations_with_a_slow_node(unsigned awareness_max, unsigned* slow_health = nullptr) {
  SimulatedCluster cluster(5, 1 * kMs,
                           [&](MembershipConfig& config) { config.awareness_max = awareness_max; });
  cluster.run_for(3 * kSecond);
  cluster.slow(0, 1200 * kMs);
  cluster.run_for(60 * kSecond);
  if (slow_health) *slow_health = cluster.node(0).local_health();
  uint64_t refutations = 0;
  for (size_t i = 1; i < 5; ++i) refutations += cluster.node(i).incarnation();
  return refutations;
}

TEST(Lifeguard, ASlowNodeBacksOffInsteadOfAccusingHealthyMembers) {
  const uint64_t without = refutations_with_a_slow_node(1);
  unsigned health = 0;
  const uint64_t with = refutations_with_a_slow_node(8, &health);
  EXPECT_GE(without, 20U) << "the scenario should make false suspicions without Lifeguard";
  EXPECT_LE(with * 4, without) << "with the multiplier: " << with << ", without: " << without;
  EXPECT_GE(health, 2U);
}

TEST(Lifeguard, HealthyNodesKeepTheBaseProbeTimingAndRecover) {
  SimulatedCluster cluster(5);
  cluster.run_for(30 * kSecond);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(cluster.node(i).local_health(), 0U) << "node " << i;
  cluster.slow(0, 1200 * kMs);
  cluster.run_for(20 * kSecond);
  EXPECT_GT(cluster.node(0).local_health(), 0U);
  cluster.slow(0, 0);  // the node is no longer starved: acked probes bring it back
  cluster.run_for(30 * kSecond);
  EXPECT_EQ(cluster.node(0).local_health(), 0U);
}

TEST(Lifeguard, ADeadNodeIsStillNoticedWithinFiveSeconds) {
  // Probing the dead node raises the survivors' scores; it must not slow
  // the detection past the aim. Every kill instant over one probe period.
  for (uint64_t offset = 0; offset < 1000 * kMs; offset += 100 * kMs) {
    SimulatedCluster cluster(5);
    cluster.run_for(5 * kSecond + offset);
    cluster.kill(2);
    cluster.run_for(5 * kSecond);
    expect_everyone_sees(cluster, 5, 2, MemberState::kDead, {0, 1, 3, 4});
  }
}

}  // namespace
}  // namespace sluice::cluster
