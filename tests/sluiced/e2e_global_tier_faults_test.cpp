// A global kernel tier across five real sluiced when things go wrong
// (tests/support/global_tier_fleet.h; docs/kernel-global.md, "Measured"):
// one source floods every node without pause while a node's daemon is
// killed, and while the bridge is cut between two and three nodes and healed. What each node admits
// is counted on the far side of its veth, over windows of the running flood; what each node
// enforces is read from its own log and `sluicectl peers --json`.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <thread>

#include "global_tier_fleet.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kOffered = 2500;  // packets/s to each node, above the whole limit
constexpr auto kWindow = 3s;         // one measurement
const std::vector<int> kAll = {1, 2, 3, 4, 5};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// What a window admitted, as a fraction of `rate` packets/s.
double ratio(const Window& w, double rate) {
  return static_cast<double>(w.packets) / (rate * w.seconds);
}

TEST(GlobalTierFaults, SurvivorsNoticeAKilledNodeAndKeepTheLimit) {
  // A dead member stops counting towards the burst and the shares 3 s after
  // it is declared dead (60 s by default), so the test sees both phases.
  GlobalTierFleet fleet({.nodes = 5, .cluster_extra = "  forget_dead_after: 3s\n"});
  fleet.start(/*global=*/true);
  const double rate = static_cast<double>(fleet.options().rate);
  const std::vector<int> survivors = {1, 2, 3, 4};
  FleetFlood flood(fleet, kOffered);
  std::this_thread::sleep_for(1s);
  const Window five = measure(flood, {kAll}, 2s)[0];
  std::printf("[kill] five nodes: %.0f packets/s, %.3f of R\n", five.rate(), ratio(five, rate));

  const uint64_t n5_before = flood.admitted(5);
  const auto killed_at = Clock::now();
  fleet.node(5).kill9();
  // Out of sync after 300 ms: the four keep R x 4/5 for the five counted members.
  fleet.wait_localised(survivors, 5, 0.8, 5s);
  std::printf("[kill] survivors at share 0.80 after %.2f s\n", seconds_since(killed_at));
  // n5's program, orphaned, falls back to R/5 when its daemon's beat is 300 ms
  // old (the sync timeout): about when the four leave it out of their share.
  const uint64_t n5_until_share = flood.admitted(5) - n5_before;
  const auto held = measure(flood, {survivors, {5}}, 2s);
  const Window held_back = held[0];

  // Each survivor declares n5 dead; when, by its own record: state_ms, how
  // long ago, read at the midpoint of the `peers` call (whose own latency
  // is not the daemon's). Every survivor is asked each round, so that none
  // is first asked after it has forgotten n5.
  std::map<int, double> noticed;
  while (noticed.size() < survivors.size()) {
    for (int n : survivors) {
      if (noticed.count(n)) continue;
      const double asked = seconds_since(killed_at);
      const auto record = fleet.member(n, "n5");
      const double answered = seconds_since(killed_at);
      if (record.value("state", "") != "dead") continue;
      const double state_s = std::max(0.0, record.value("state_ms", -1.0) / 1000);
      noticed[n] = (asked + answered) / 2 - state_s;
      std::printf("[kill] node %d declared n5 dead %.2f s after the kill\n", n, noticed[n]);
    }
    ASSERT_LT(seconds_since(killed_at), 15.0) << "n5 not declared dead by every survivor";
    std::this_thread::sleep_for(100ms);
  }
  // The aim is 5 s; the design gives 3-4 s (the shared probe schedule:
  // Membership.DeathsAreNoticedWithinFourSeconds..., 600 simulated kills).
  double slowest = 0;
  for (auto [n, seconds] : noticed) {
    EXPECT_LE(seconds, 5.0) << "node " << n;
    slowest = std::max(slowest, seconds);
  }
  // n5 forgotten: the four share the whole limit, each with burst B/4.
  fleet.wait_localised(survivors, 4, 1.0, 10s);
  std::printf("[kill] survivors localised for 4 members at share 1.00 after %.2f s\n",
              seconds_since(killed_at));
  // A second for the switch to the new local part (burst B/4 each) to settle.
  std::this_thread::sleep_for(1s);
  const auto after = measure(flood, {survivors, {5}}, kWindow);
  std::printf(
      "[kill] four survivors: %.3f of R while n5 counted (expect 0.80), %.3f of R after it "
      "was forgotten; slowest notice %.2f s\n",
      ratio(held_back, rate), ratio(after[0], rate), slowest);
  std::printf(
      "[kill] n5's orphaned program: %.3f of R while n5 counted (the fleet %.3f), %.3f after "
      "(expect 0.20); %lu packets from the kill to the four's share 0.80\n",
      ratio(held[1], rate), ratio(held[0], rate) + ratio(held[1], rate), ratio(after[1], rate),
      static_cast<unsigned long>(n5_until_share));
  // The orphan's fallback, R/N with its burst B/N shrunk by the factor 5
  // (12 packets): 0.20 of R once settled; the window while n5 counted may
  // start within a sync interval of its fallback, up to 0.1 s of R more.
  EXPECT_NEAR(ratio(after[1], rate), 0.2, 0.02);
  EXPECT_GE(ratio(held[1], rate), 0.18);
  EXPECT_LE(ratio(held[1], rate), 0.27);
  // Not above its share but for what the four buckets' bursts can add over
  // the 2 s window (4 x B/5 = 240 packets, 0.12 of R; 0.734-0.854 measured
  // in 13 runs); below it by up to 0.07 of R (the share dips further for a
  // moment while the suspicion spreads).
  EXPECT_LE(ratio(held_back, rate), 0.92);
  EXPECT_GE(ratio(held_back, rate), 0.65);
  // The four keep R: 0.940-1.049 over 15 runs. Below it by up to 6%: the
  // buckets' TATs, set at the 4/5 rate, still run ahead for a moment after
  // the switch. Above it by up to 8% here, well inside the stated bound
  // ((N - 1)(R D_k + b + 1) = 678 packets, 0.23 of R over the 3 s window).
  EXPECT_GE(ratio(after[0], rate), 0.92);
  EXPECT_LE(ratio(after[0], rate), 1.08);
}

// A graceful stop (SIGTERM) leaves the program attached for the next daemon;
// the peers stop counting the node at once (it left), and so the program
// falls back to R/N at once. The restarted daemon adopts it and beats at
// once: the fallback ends. Only n5 is flooded, so that its admissions show
// which it enforces: its local part is all of R (share 1), the fallback R/5.
TEST(GlobalTierFaults, AStoppedNodesProgramFallsBackAtOnceUntilItsDaemonIsBack) {
  GlobalTierFleet fleet({.nodes = 5});
  fleet.start(/*global=*/true);
  const double rate = static_cast<double>(fleet.options().rate);
  FleetFlood flood(fleet, kOffered, {5});
  std::this_thread::sleep_for(1s);
  const Window before = measure(flood, {{5}}, 2s)[0];

  EXPECT_EQ(fleet.node(5).stop(SIGTERM), 0);
  EXPECT_NE(fleet.node(5).log().find("holds each source to 1/5 of the limit"), std::string::npos);
  const Window stopped = measure(flood, {{5}}, kWindow)[0];

  const auto restarted_at = Clock::now();
  fleet.node(5).start();
  fleet.wait_localised({5}, 5, 1.0, 15s);
  std::printf("[stop] n5 back and localised for five members after %.2f s\n",
              seconds_since(restarted_at));
  std::this_thread::sleep_for(500ms);
  const Window restarted = measure(flood, {{5}}, kWindow)[0];
  std::printf("[stop] n5 alone: %.3f of R running, %.3f stopped (expect 0.20), %.3f restarted\n",
              ratio(before, rate), ratio(stopped, rate), ratio(restarted, rate));
  EXPECT_NEAR(ratio(before, rate), 1.0, 0.05);
  EXPECT_NEAR(ratio(stopped, rate), 0.2, 0.02);
  EXPECT_NEAR(ratio(restarted, rate), 1.0, 0.05);
}

TEST(GlobalTierFaults, EachSideOfAPartitionAdmitsItsShareAndTheHealedFleetTheLimit) {
  GlobalTierFleet fleet({.nodes = 5});
  fleet.start(/*global=*/true);
  const double rate = static_cast<double>(fleet.options().rate);
  const std::vector<int> two = {1, 2}, three = {3, 4, 5};
  FleetFlood flood(fleet, kOffered);
  std::this_thread::sleep_for(1s);
  const Window whole = measure(flood, {kAll}, 2s)[0];
  std::printf("[partition] before: %.3f of R\n", ratio(whole, rate));

  const auto cut_at = Clock::now();
  fleet.partition(two, three);
  fleet.wait_localised(two, 5, 0.4, 5s);
  fleet.wait_localised(three, 5, 0.6, 5s);
  std::printf("[partition] both sides at their share after %.2f s\n", seconds_since(cut_at));
  std::this_thread::sleep_for(500ms);
  const auto sides = measure(flood, {two, three}, kWindow);
  std::printf("[partition] two nodes: %.3f of R (share 0.40), three nodes: %.3f of R (0.60)\n",
              ratio(sides[0], rate), ratio(sides[1], rate));
  EXPECT_NEAR(ratio(sides[0], rate), 0.4, 0.04);
  EXPECT_NEAR(ratio(sides[1], rate), 0.6, 0.06);

  const auto healed_at = Clock::now();
  fleet.heal();
  fleet.wait_localised(kAll, 5, 1.0, 15s);
  std::printf("[partition] all five at share 1.00 after %.2f s\n", seconds_since(healed_at));
  const auto first = measure(flood, {kAll}, kWindow)[0];
  const auto second = measure(flood, {kAll}, kWindow)[0];
  std::printf("[partition] healed fleet: %.3f of R in the first %.0f s, %.3f in the next\n",
              ratio(first, rate), first.seconds, ratio(second, rate));
  EXPECT_LE(ratio(first, rate), 1.05);
  EXPECT_GE(ratio(second, rate), 0.95);
  EXPECT_LE(ratio(second, rate), 1.05);

  // Every node was charged what the others admitted, except what the other
  // side admitted during the partition: its share already left room for
  // that, so it is rebased when the heal brings the totals, not charged
  // (docs/cluster.md, "Partitions"). Charged and rebased together are all of
  // it, once: nothing is counted twice, nothing lost.
  const std::vector<uint64_t> admitted = flood.stop();
  std::this_thread::sleep_for(500ms);
  uint64_t total = 0;
  for (uint64_t a : admitted) total += a;
  for (int n : kAll) {
    const double reported =
        fleet.metric(n, R"(sluice_cluster_kernel_packets_total\{direction="reported"\})");
    const double charged =
        fleet.metric(n, R"(sluice_cluster_kernel_packets_total\{direction="charged"\})");
    const double rebased = fleet.metric(n, R"(sluice_cluster_rebased_total)");
    const double own = static_cast<double>(admitted[n - 1]);
    const double others = static_cast<double>(total) - own;
    std::printf(
        "[partition] node %d: admitted %.0f, reported %.0f; others admitted %.0f, charged %.0f, "
        "rebased %.0f\n",
        n, own, reported, others, charged, rebased);
    EXPECT_NEAR(reported, own, own * 0.02 + 5) << "node " << n;
    EXPECT_GT(rebased, 0) << "node " << n << ": the other side's partition-era totals";
    EXPECT_LE(charged + rebased, others * 1.02 + 5) << "node " << n;
    EXPECT_GE(charged + rebased, others * 0.9) << "node " << n;
  }
}

}  // namespace
}  // namespace sluice::testing
