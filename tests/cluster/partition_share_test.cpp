// A global request limit on a simulated five-node cluster: real Checkers
// (buckets, burst division, shares) joined by the real membership and
// consumption sync on a simulated network and clock. Each node is offered
// 100 requests/s of one client against a global 50/s (burst 50), so the fleet
// is offered ten times the limit and admits what the limit and the overshoot
// let through.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <set>

#include "checker.h"
#include "global_limits.h"
#include "share.h"
#include "simulated_cluster.h"

namespace sluice::cluster {
namespace {

using testing::SimulatedCluster;
constexpr uint64_t kMs = SimulatedCluster::kMs;
constexpr uint64_t kSecond = 1000 * kMs;
constexpr double kRate = 50;  // the global limit, per second

class Fleet {
 public:
  explicit Fleet(size_t nodes, bool rebase_on_rejoin = true) : cluster(nodes) {
    EXPECT_GE(sodium_init(), 0);
    for (size_t i = 0; i < nodes; ++i) checkers_.push_back(make_checker(i));
    cluster.enable_consumption(
        100 * kMs,
        [this](size_t node, const auto& deltas) {
          for (const auto& delta : deltas)
            checkers_[node]->charge_global(delta.key, delta.count, delta.span_ns);
        },
        rebase_on_rejoin);
    cluster.run_for(3 * kSecond);  // everyone joins
  }

  // Runs for `duration_ns`; every 10 ms each live node in `loaded` checks one
  // request. Returns what each node admitted.
  std::vector<int> load(uint64_t duration_ns, const std::set<size_t>& loaded) {
    std::vector<int> admitted(cluster.size(), 0);
    for (uint64_t t = 0; t < duration_ns; t += 10 * kMs) {
      cluster.run_for(10 * kMs);
      for (size_t i : loaded)
        if (!dead_.count(i)) admitted[i] += allowed(i) ? 1 : 0;
    }
    return admitted;
  }
  std::vector<int> load(uint64_t duration_ns) { return load(duration_ns, {0, 1, 2, 3, 4}); }
  void kill(size_t i) {
    dead_.insert(i);
    cluster.kill(i);
  }
  // Runs until node i's share is `expected`; returns how long that took.
  uint64_t time_until_share(size_t i, double expected, uint64_t limit_ns) {
    uint64_t waited = 0;
    while (std::abs(cluster.share(i) - expected) > 1e-9 && waited < limit_ns) {
      load(10 * kMs);
      waited += 10 * kMs;
    }
    return waited;
  }

  // Runs with no load until every node's share is 1; returns how long that took.
  uint64_t idle_until_whole(uint64_t limit_ns) {
    uint64_t waited = 0;
    auto whole = [&] {
      for (size_t i = 0; i < cluster.size(); ++i)
        if (std::abs(cluster.share(i) - 1.0) > 1e-9) return false;
      return true;
    };
    while (!whole() && waited < limit_ns) {
      cluster.run_for(10 * kMs);
      waited += 10 * kMs;
    }
    return waited;
  }

  SimulatedCluster cluster;
  std::string client = "198.18.0.7";  // the one client every node is offered

 private:
  std::unique_ptr<Checker> make_checker(size_t i) {
    auto checker = std::make_unique<Checker>(
        std::make_shared<ApiKeyStore>(std::string(kPepperBytes, 'p')), 1 << 10,
        [this] { return cluster.now(); }, [] { return uint64_t{1'800'000'000}; });
    CheckerConfig config;
    RequestWindow second{"second", RateLimit{50, kSecond, 50}, false};
    second.global = true;
    config.policy.anonymous = {second};
    config.trusted_proxies = {Cidr::parse("127.0.0.0/8")};
    checker->configure(config);
    checker->set_global_hooks(
        {[this, i](const std::string& key) { cluster.record(i, key); },
         [this, i] {
           return GlobalView{cluster.share(i), cluster.node(i).counted_count()};
         }});
    return checker;
  }
  bool allowed(size_t i) {
    CheckRequest request{"GET", "/", std::nullopt, std::nullopt, client, "", "127.0.0.1"};
    return checkers_[i]->check(request).verdict == Verdict::kAllowed;
  }

  std::vector<std::unique_ptr<Checker>> checkers_;
  std::set<size_t> dead_;
};

int sum(const std::vector<int>& admitted, const std::set<size_t>& nodes = {0, 1, 2, 3, 4}) {
  int total = 0;
  for (size_t i : nodes) total += admitted[i];
  return total;
}

TEST(PartitionShare, TheConnectedFleetHoldsTheGlobalLimit) {
  Fleet fleet(5);
  fleet.load(2 * kSecond);
  const int admitted = sum(fleet.load(10 * kSecond));
  // 500 over 10 s; the stated bound (docs/cluster.md) allows 4 x (5 + 10 + 1).
  EXPECT_GE(admitted, 475);
  EXPECT_LE(admitted, 525);
}

TEST(PartitionShare, EachSideFallsBackToItsShareWithinAFewSyncIntervals) {
  Fleet fleet(5);
  fleet.load(2 * kSecond);
  fleet.cluster.partition({0, 1});
  // Before the fix each side kept the whole limit until SWIM declared the
  // other side dead (~4 s): 1.65x the limit over a 6 s partition.
  const uint64_t took = fleet.time_until_share(0, 0.4, 6 * kSecond);
  EXPECT_LE(took, 400 * kMs) << "side {0, 1} still enforces the whole limit";
  EXPECT_DOUBLE_EQ(fleet.cluster.share(3), 0.6);
  const auto admitted = fleet.load(6 * kSecond - took);
  const double ideal = kRate * static_cast<double>(6 * kSecond - took) / kSecond;
  EXPECT_LE(sum(admitted), 1.05 * ideal);
  // Each side gets its share: 2/5 and 3/5 of the limit.
  EXPECT_GE(sum(admitted, {0, 1}), 0.95 * 0.4 * ideal);
  EXPECT_GE(sum(admitted, {2, 3, 4}), 0.95 * 0.6 * ideal);
}

TEST(PartitionShare, APartitionAdmitsLittleMoreThanTheLimitFromItsFirstInstant) {
  Fleet fleet(5);
  fleet.load(2 * kSecond);
  fleet.cluster.partition({0, 1});
  const int admitted = sum(fleet.load(6 * kSecond));
  // 300 over 6 s; the sides each keep the whole limit for one sync timeout
  // (300 ms: + 15) and spend what their buckets held.
  EXPECT_LE(admitted, 1.10 * 300) << "the fleet admitted " << admitted << " for an ideal 300";
  EXPECT_GE(admitted, 0.95 * 300);
}

TEST(PartitionShare, AHealedFleetReturnsToTheWholeLimit) {
  Fleet fleet(5);
  fleet.load(2 * kSecond);
  fleet.cluster.partition({0, 1});
  fleet.load(8 * kSecond);  // long enough for SWIM to declare the other side dead
  fleet.cluster.heal();
  const uint64_t took = fleet.time_until_share(0, 1.0, 10 * kSecond);
  EXPECT_LE(took, 6 * kSecond);
  fleet.load(2 * kSecond);
  for (size_t i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(fleet.cluster.share(i), 1.0) << "node " << i;
  const int admitted = sum(fleet.load(5 * kSecond));
  EXPECT_GE(admitted, 0.95 * 250);
  EXPECT_LE(admitted, 1.05 * 250 + 10);
}

// The lab's sequence (tests/cluster/cluster_lab_test.sh): load through a 10 s
// partition, stop, heal, wait with no load until every share is 1 (and
// `pause` more: the lab's polling), then load every node for 5 s. Returns
// what the fleet admitted in each half second of those 5 s; the ideal is
// 25 each, 260 in all (250 + the burst share 10). With `new_client`, the
// partition's and the heal's load come from a client neither side had seen
// before the cut.
std::vector<int> admitted_after_heal(bool rebase_on_rejoin, uint64_t pause_ns,
                                     bool new_client = false) {
  Fleet fleet(5, rebase_on_rejoin);
  fleet.load(2 * kSecond);
  fleet.cluster.partition({0, 1});
  if (new_client) fleet.client = "198.18.0.9";
  fleet.load(10 * kSecond);
  fleet.cluster.heal();
  EXPECT_LT(fleet.idle_until_whole(15 * kSecond), 15 * kSecond);  // 1.2 s here
  fleet.cluster.run_for(pause_ns);
  std::vector<int> halves;
  for (int i = 0; i < 10; ++i) halves.push_back(sum(fleet.load(kSecond / 2)));
  return halves;
}

int total(const std::vector<int>& halves) {
  return std::accumulate(halves.begin(), halves.end(), 0);
}

TEST(PartitionShare, WithoutTheRebaseAHealChargesThePartitionsConsumptionTwice) {
  // Each side's partition-era totals reach the other side when the key is
  // used again and are charged into buckets that already held that side to
  // its share: every bucket starts the heal in debt, capped at a burst share
  // plus one quota (1.2 s of the limit), and the whole fleet refuses
  // everything for about a second after its first burst. (The lab measured
  // 0.79-0.84 of the ideal; here the five first bursts hide part of the loss.)
  for (uint64_t pause : {0 * kSecond, 1 * kSecond, 2 * kSecond}) {
    const auto halves = admitted_after_heal(false, pause);
    std::printf("without the rebase, pause %lu ms: %d of 260 after the heal, %d in 0.5-1 s\n",
                static_cast<unsigned long>(pause / kMs), total(halves), halves[1]);
    EXPECT_EQ(halves[1], 0) << "pause " << pause / kMs << " ms";
    EXPECT_LE(total(halves), 250) << "pause " << pause / kMs << " ms";
  }
}

// Rebased instead of charged: no debt, the fleet admits the limit from the
// first second, and no more than the stated bound (docs/cluster.md: 64).
void expect_the_whole_limit_after_heal(bool new_client, const char* label) {
  for (uint64_t pause : {0 * kSecond, 1 * kSecond, 2 * kSecond}) {
    const auto halves = admitted_after_heal(true, pause, new_client);
    std::printf("%s, pause %lu ms: %d of 260 after the heal, %d in 0.5-1 s\n", label,
                static_cast<unsigned long>(pause / kMs), total(halves), halves[1]);
    for (size_t i = 1; i < halves.size(); ++i)
      EXPECT_GE(halves[i], 0.9 * 25) << "half second " << i << ", pause " << pause / kMs << " ms";
    EXPECT_GE(total(halves), 0.95 * 260) << "pause " << pause / kMs << " ms";
    EXPECT_LE(total(halves), 260 + 64) << "pause " << pause / kMs << " ms";
  }
}

TEST(PartitionShare, AfterAHealTheFleetAdmitsTheWholeLimitWithoutDoubleCounting) {
  expect_the_whole_limit_after_heal(false, "rebased");
}

TEST(PartitionShare, AClientFirstSeenDuringThePartitionIsNotChargedTwiceAfterTheHeal) {
  // No counter from before the cut to rebase: its generation (when its owner
  // started counting it) tells the receiver it was used while the origin was
  // out. Charged instead, it left every bucket in debt as in the test above
  // (240 of 260, nothing from 0.5 to 1 s).
  expect_the_whole_limit_after_heal(true, "new client");
}

TEST(PartitionShare, AKilledNodeLeavesTheShareAsSoonAsItsTotalsStop) {
  Fleet fleet(5);
  fleet.load(2 * kSecond);
  fleet.kill(4);
  const uint64_t took = fleet.time_until_share(0, 0.8, 6 * kSecond);
  EXPECT_LE(took, 400 * kMs);
  // SWIM has not declared it dead yet, but its share is already held back.
  EXPECT_NE(fleet.cluster.state_seen(0, 4), MemberState::kDead);
  const int admitted = sum(fleet.load(6 * kSecond));
  EXPECT_GE(admitted, 0.95 * 0.8 * 300);  // the four survivors: 4/5 of the limit
  EXPECT_LE(admitted, 1.05 * 0.8 * 300);
}

TEST(PartitionShare, IdlePeersStayVisible) {
  // Nodes 3 and 4 admit nothing, so their totals are empty: the empty
  // message every sync interval keeps them in everyone's share.
  Fleet fleet(5);
  double lowest = 1.0;
  for (int step = 0; step < 1000; ++step) {  // 10 s
    fleet.load(10 * kMs, {0, 1, 2});
    for (size_t i = 0; i < 5; ++i) lowest = std::min(lowest, fleet.cluster.share(i));
  }
  EXPECT_DOUBLE_EQ(lowest, 1.0);
}

TEST(PartitionShareLeftOut, OnlyMembersWhoseTotalsStoppedAreLeftOut) {
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
