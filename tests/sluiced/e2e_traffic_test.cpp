// What sluicectl changes does to real traffic: UDP floods from the tx
// namespace, counted by a receiver in the rx namespace where sluiced is
// attached. Figures are asserted against rate x time + burst.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "daemon_lab.h"
#include "sluice_layout.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint16_t kPort = 9321;

struct Flow {
  std::string src;
  uint64_t rate;  // offered packets/s
};

struct FloodResult {
  std::map<std::string, uint64_t> received;  // by source address
  std::map<std::string, SendReport> sent;
  uint64_t received_from(const std::string& src) const {
    auto it = received.find(src);
    return it == received.end() ? 0 : it->second;
  }
  double seconds(const std::string& src) const { return sent.at(src).seconds; }
};

// Offers every flow at once for `duration`; `during` runs meanwhile (on this thread).
FloodResult flood(DaemonLab& lab, const std::vector<Flow>& flows,
                  std::chrono::milliseconds duration,
                  const std::function<void()>& during = nullptr) {
  const bool ipv6 = flows.front().src.find(':') != std::string::npos;
  const std::string destination = ipv6 ? lab.lab().rx_v6() : lab.lab().rx_v4();
  UdpCounter counter(lab.lab().rx_ns(), ipv6, kPort);
  FloodResult result;
  std::vector<std::thread> senders;
  std::mutex mutex;
  for (const auto& flow : flows) {
    senders.emplace_back([&, flow] {
      SendReport report =
          send_udp(lab.lab().tx_ns(), flow.src, destination, kPort, flow.rate, duration);
      std::lock_guard lock(mutex);
      result.sent[flow.src] = report;
    });
  }
  if (during) during();
  for (auto& sender : senders) sender.join();
  result.received = counter.stop();
  return result;
}

// Packets a GCRA meter admits over `seconds` of continuous overload.
double admitted(double rate, double seconds, double burst) {
  return rate * seconds + burst;
}

void expect_near(uint64_t actual, double expected, double tolerance, const std::string& what) {
  std::printf("%s: received %lu, expected %.0f\n", what.c_str(), static_cast<unsigned long>(actual),
              expected);
  EXPECT_GE(static_cast<double>(actual), expected * (1 - tolerance))
      << what << ": expected ~" << expected;
  EXPECT_LE(static_cast<double>(actual), expected * (1 + tolerance) + 5)
      << what << ": expected ~" << expected;
}

json tier_row(const json& stats, const std::string& tier) {
  for (const auto& row : stats["tiers"])
    if (row["tier"] == tier) return row;
  return json();
}

uint64_t counter(const json& row, const char* name) {
  return row["counters"][name]["packets"].get<uint64_t>();
}

class TrafficTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (netns, XDP)";
    lab_ = std::make_unique<DaemonLab>("sdtraf", 223);
  }
  DaemonLab& lab() { return *lab_; }
  std::unique_ptr<DaemonLab> lab_;
};

TEST_F(TrafficTest, LimitsAndLiveRateChangeKeepBuckets) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 200/s, burst: 50}\n");
  lab().start();
  const std::string src = lab().lab().tx_v4();

  FloodResult first = flood(lab(), {{src, 4000}}, 2000ms);
  expect_near(first.received_from(src), admitted(200, first.seconds(src), 50), 0.1,
              "200/s burst 50");

  json stats = lab().ctl_json("stats");
  json std_row = tier_row(stats, "std");
  // The receiver saw what the program passed (plus a few IPv6 neighbour packets it does not count).
  EXPECT_GE(counter(std_row, "passed"), first.received_from(src));
  EXPECT_LE(counter(std_row, "passed"), first.received_from(src) + 30);
  EXPECT_NEAR(static_cast<double>(counter(std_row, "drop_pkt_rate")),
              static_cast<double>(first.sent.at(src).sent - first.received_from(src)), 30.0);
  CommandResult table = lab().ctl("stats");
  EXPECT_NE(table.out.find("std"), std::string::npos);

  // Raise the rate live: takes effect at once, and the bucket is not reset
  // (a reset would hand out a fresh burst of 50 on top).
  ASSERT_EQ(lab().ctl("tier set std --packets 1000/s").exit_code, 0);
  FloodResult second = flood(lab(), {{src, 4000}}, 2000ms);
  expect_near(second.received_from(src), admitted(1000, second.seconds(src), 50), 0.1,
              "1000/s after live change");
}

TEST_F(TrafficTest, PrefixDenyAllowAndTtlChangeWhatPasses) {
  lab().write_config(R"(default_tier: std
tiers:
  std:
    packets: {rate: 100/s, burst: 20}
  gold:
    packets: unlimited
)");
  lab().start();
  const std::string slow = lab().lab().tx_v4();
  const std::string fast = lab().lab().add_tx_v4(10);

  FloodResult before = flood(lab(), {{slow, 1000}, {fast, 1000}}, 1000ms);
  EXPECT_LT(before.received_from(fast), 200u) << "both in tier std";

  ASSERT_EQ(lab().ctl("prefix add " + fast + "/32 gold").exit_code, 0);
  FloodResult gold = flood(lab(), {{slow, 1000}, {fast, 1000}}, 1000ms);
  EXPECT_GE(gold.received_from(fast), gold.sent.at(fast).sent * 98 / 100) << "gold is unlimited";
  expect_near(gold.received_from(slow), admitted(100, gold.seconds(slow), 0), 0.25,
              "std unaffected");

  ASSERT_EQ(lab().ctl("deny add " + fast).exit_code, 0);
  FloodResult denied = flood(lab(), {{fast, 1000}}, 700ms);
  EXPECT_EQ(denied.received_from(fast), 0u) << "deny-listed";
  json stats = lab().ctl_json("stats");
  EXPECT_GE(counter(stats["unclassified"], "drop_deny"), denied.sent.at(fast).sent);

  ASSERT_EQ(lab().ctl("deny remove " + fast).exit_code, 0);
  ASSERT_EQ(lab().ctl("allow add " + slow).exit_code, 0);
  FloodResult allowed = flood(lab(), {{slow, 1000}}, 700ms);
  EXPECT_GE(allowed.received_from(slow), allowed.sent.at(slow).sent * 98 / 100) << "allow-listed";

  // A deny with a TTL lifts by itself.
  ASSERT_EQ(lab().ctl("deny add " + fast + " --ttl 2s").exit_code, 0);
  FloodResult during_ttl = flood(lab(), {{fast, 500}}, 500ms);
  EXPECT_EQ(during_ttl.received_from(fast), 0u);
  std::this_thread::sleep_for(2500ms);
  EXPECT_TRUE(lab().ctl_json("deny list")["deny"].empty());
  FloodResult after_ttl = flood(lab(), {{fast, 500}}, 500ms);
  EXPECT_GE(after_ttl.received_from(fast), after_ttl.sent.at(fast).sent * 95 / 100);
}

TEST_F(TrafficTest, ShadowTierCountsButDropsNothing) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 100/s, burst: 10}\n");
  lab().start();
  ASSERT_EQ(lab().ctl("tier set std --shadow").exit_code, 0);
  const std::string src = lab().lab().tx_v4();
  FloodResult result = flood(lab(), {{src, 1000}}, 1000ms);
  EXPECT_GE(result.received_from(src), result.sent.at(src).sent * 98 / 100);
  json row = tier_row(lab().ctl_json("stats"), "std");
  EXPECT_NEAR(
      static_cast<double>(counter(row, "shadow_pkt_rate")),
      static_cast<double>(result.sent.at(src).sent) - admitted(100, result.seconds(src), 10), 60.0);
  EXPECT_EQ(counter(row, "drop_pkt_rate"), 0u);
}

TEST_F(TrafficTest, TopShowsTheHeaviestSources) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 100/s, burst: 10}\n");
  lab().start();
  const std::string heavy = lab().lab().tx_v4();
  const std::string light = lab().lab().add_tx_v4(20);
  json top;
  flood(lab(), {{heavy, 3000}, {light, 50}}, 2500ms, [&] {
    std::this_thread::sleep_for(700ms);
    top = lab().ctl_json("top -n 5 --interval 1000");
  });
  ASSERT_GE(top["by_drops"].size(), 2u) << top.dump();
  EXPECT_EQ(top["by_drops"][0]["source"], heavy);
  EXPECT_EQ(top["by_drops"][0]["tier"], "std");
  EXPECT_EQ(top["by_rate"][0]["source"], heavy);
  const json& rate = top["by_rate"][0];
  EXPECT_NEAR(rate["passed_pps"].get<double>() + rate["dropped_pps"].get<double>(), 3000.0, 450.0);
  EXPECT_NEAR(rate["passed_pps"].get<double>(), 100.0, 30.0);
  bool light_seen = false;
  for (const auto& row : top["by_rate"])
    if (row["source"] == light) {
      light_seen = true;
      EXPECT_NEAR(row["passed_pps"].get<double>(), 50.0, 15.0);
      EXPECT_EQ(row["dropped_pps"].get<double>(), 0.0);
    }
  EXPECT_TRUE(light_seen) << top.dump();

  CommandResult watch = lab().ctl("top --watch --count 2 --interval 200 --json");
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  size_t lines = 0;
  for (size_t at = 0; (at = watch.out.find('\n', at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 2u) << watch.out;
  CommandResult table = lab().ctl("top --interval 200");
  EXPECT_NE(table.out.find("Top by drops"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(heavy), std::string::npos) << table.out;
}

// The core crash-safety promise: kill -9 under a flood, restart, and at no
// point does anything beyond the limit get through. A reset bucket on restart
// would show up as a second burst (500 packets) in the total.
TEST_F(TrafficTest, KillNineAndRestartUnderFloodLetsNothingThrough) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 100/s, burst: 500}\n");
  lab().start();
  ASSERT_EQ(lab().ctl("tier set std --packets 150/s").exit_code, 0);  // a live change to keep
  const std::string src = lab().lab().tx_v4();
  json before_restart;
  FloodResult result = flood(lab(), {{src, 3000}}, 6000ms, [&] {
    std::this_thread::sleep_for(1500ms);
    before_restart = lab().ctl_json("stats");
    lab().kill9();
    ASSERT_TRUE(std::filesystem::exists(lab().pin_dir() + "/v" +
                                        std::to_string(SLUICE_LAYOUT_VERSION) + "/link"))
        << "pins outlive the daemon";
    std::this_thread::sleep_for(1000ms);  // enforcement continues with no daemon at all
    lab().start();
  });
  const double expected = admitted(150, result.seconds(src), 500);
  std::printf("kill -9 under flood: offered %lu, received %lu, limit allows %.0f\n",
              static_cast<unsigned long>(result.sent.at(src).sent),
              static_cast<unsigned long>(result.received_from(src)), expected);
  EXPECT_LE(static_cast<double>(result.received_from(src)), expected * 1.05 + 5)
      << "more than the limit got through across kill -9 and restart";
  EXPECT_GE(static_cast<double>(result.received_from(src)), expected * 0.9);

  json status = lab().ctl_json("status");
  EXPECT_EQ(status["interfaces"][0]["adopted"], true);
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"][0]["packets"]["tokens"], 150)
      << "live change kept";
  json after = lab().ctl_json("stats");
  // Counters live in the pinned map too: they kept counting across the restart.
  EXPECT_GT(counter(tier_row(after, "std"), "drop_pkt_rate"),
            counter(tier_row(before_restart, "std"), "drop_pkt_rate"));
  // The source's own bucket carried its counts across: it was never recreated.
  json top = lab().ctl_json("top -n 50 --interval 100");
  uint64_t judged = 0;
  for (const auto& row : top["by_drops"])
    if (row["source"] == src)
      judged = row["passed"].get<uint64_t>() + row["dropped"].get<uint64_t>();
  EXPECT_GE(judged, result.sent.at(src).sent * 95 / 100)
      << "the bucket of " << src << " lost its history across the restart";
}

// Stopping a limiter must never open the gate: SIGTERM (systemctl stop or
// restart) leaves the program enforcing and the next daemon adopts it; only
// --detach-on-exit (or sluicectl detach) removes it.
TEST_F(TrafficTest, StopLeavesEnforcementForAnUpgradeAndDetachOnExitRemovesIt) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 100/s, burst: 10}\n");
  lab().start();
  EXPECT_EQ(lab().stop(SIGTERM), 0);
  ASSERT_TRUE(std::filesystem::exists(lab().pin_dir() + "/v" +
                                      std::to_string(SLUICE_LAYOUT_VERSION) + "/link"));
  const std::string src = lab().lab().tx_v4();
  FloodResult unattended = flood(lab(), {{src, 1000}}, 1000ms);
  expect_near(unattended.received_from(src), admitted(100, unattended.seconds(src), 10), 0.25,
              "still limited with no daemon");
  lab().start({"--detach-on-exit"});
  EXPECT_EQ(lab().ctl_json("status")["interfaces"][0]["adopted"], true);
  EXPECT_EQ(lab().stop(SIGTERM), 0);
  EXPECT_FALSE(std::filesystem::exists(lab().pin_dir()))
      << "SIGTERM with --detach-on-exit detaches and unpins";
  FloodResult detached = flood(lab(), {{src, 1000}}, 500ms);
  EXPECT_GE(detached.received_from(src), detached.sent.at(src).sent * 98 / 100);
}

// An upgrade across a layout change: the running program's pins sit under
// the previous layout's directory, which the new daemon cannot adopt. It must
// neither fail with EBUSY (and restart in a loop, the old program enforcing
// stale limits forever) nor open the gate: it swaps its program into the old
// link in place and removes the old pins.
TEST_F(TrafficTest, UpgradeAcrossALayoutChangeReplacesTheProgramInPlace) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 100/s, burst: 10}\n");
  lab().start();
  EXPECT_EQ(lab().stop(SIGTERM), 0);
  const std::string current = lab().pin_dir() + "/v" + std::to_string(SLUICE_LAYOUT_VERSION);
  // Two layouts back: the one before is adopted (e2e_upgrade_test.cpp).
  const std::string older = lab().pin_dir() + "/v" + std::to_string(SLUICE_LAYOUT_VERSION - 2);
  std::filesystem::rename(current, older);  // as a build of an older layout leaves them
  ASSERT_TRUE(std::filesystem::exists(older + "/link"));

  lab().start();
  const json iface = lab().ctl_json("status")["interfaces"][0];
  EXPECT_EQ(iface["adopted"], false);
  EXPECT_NE(iface.value("upgrade", "").find("replaced the program of another layout"),
            std::string::npos)
      << "status reports the takeover: " << iface.dump();
  EXPECT_NE(lab().log().find("replaced the program of another layout"), std::string::npos)
      << lab().log();
  EXPECT_FALSE(std::filesystem::exists(older)) << "the old layout's pins are removed";
  EXPECT_TRUE(std::filesystem::exists(current + "/link"));
  const std::string src = lab().lab().tx_v4();
  FloodResult result = flood(lab(), {{src, 1000}}, 1000ms);
  expect_near(result.received_from(src), admitted(100, result.seconds(src), 10), 0.25,
              "limited by the new program");
}

TEST_F(TrafficTest, AttachAndDetachLive) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 100/s, burst: 10}\n", /*attach=*/false);
  lab().start();
  const std::string src = lab().lab().tx_v4();
  EXPECT_TRUE(lab().ctl_json("status")["interfaces"].empty());
  FloodResult open = flood(lab(), {{src, 1000}}, 500ms);
  EXPECT_GE(open.received_from(src), open.sent.at(src).sent * 98 / 100);

  json attached = lab().ctl_json("attach " + lab().lab().rx_if() + " --mode generic");
  EXPECT_EQ(attached["mode"], "generic");
  FloodResult limited = flood(lab(), {{src, 1000}}, 1000ms);
  expect_near(limited.received_from(src), admitted(100, limited.seconds(src), 10), 0.25,
              "after attach");
  EXPECT_EQ(lab().ctl("attach " + lab().lab().rx_if()).exit_code, 1) << "already attached";

  // Attachments are live changes too: they survive a restart.
  EXPECT_EQ(lab().stop(SIGTERM), 0);
  lab().start();
  ASSERT_EQ(lab().ctl_json("status")["interfaces"].size(), 1u);
  EXPECT_EQ(lab().ctl("detach " + lab().lab().rx_if()).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(lab().pin_dir()));
  FloodResult free_again = flood(lab(), {{src, 1000}}, 500ms);
  EXPECT_GE(free_again.received_from(src), free_again.sent.at(src).sent * 98 / 100);
}

// IPv6 sources are limited per /64 (the default aggregation): two addresses
// of one /64 share a bucket, another /64 has its own; a deny of a /48 stops both.
TEST_F(TrafficTest, Ipv6SourcesShareABucketPerSlash64) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 100/s, burst: 10}\n");
  lab().start();
  const std::string first = lab().lab().tx_v6();  // 2001:db8:223::1
  const std::string same_64 = "2001:db8:223::5";
  ASSERT_EQ(run("ip -n " + lab().lab().tx_ns() + " addr add " + same_64 + "/64 dev " +
                lab().lab().tx_if() + " nodad"),
            0);
  const std::string other_64 = lab().lab().add_tx_v6(7);  // 2001:db8:223:7::1
  FloodResult result = flood(lab(), {{first, 1000}, {same_64, 1000}, {other_64, 1000}}, 1500ms);
  const double seconds = result.seconds(first);
  expect_near(result.received_from(first) + result.received_from(same_64),
              admitted(100, seconds, 10), 0.15, "two addresses of one /64 together");
  expect_near(result.received_from(other_64), admitted(100, result.seconds(other_64), 10), 0.15,
              "another /64 alone");
  json top = lab().ctl_json("top -n 10 --interval 100");
  bool aggregated = false;
  for (const auto& row : top["by_drops"]) aggregated |= row["source"] == "2001:db8:223::/64";
  EXPECT_TRUE(aggregated) << top.dump();

  ASSERT_EQ(lab().ctl("deny add 2001:db8:223::/48").exit_code, 0);
  FloodResult denied = flood(lab(), {{first, 500}, {other_64, 500}}, 500ms);
  EXPECT_EQ(denied.received_from(first) + denied.received_from(other_64), 0u);
}

}  // namespace
}  // namespace sluice::testing
