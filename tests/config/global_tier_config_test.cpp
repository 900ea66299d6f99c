// `global: true` on a tier (docs/kernel-global.md): read with a `cluster:`
// section, refused without one or on a limit the cluster cannot share, and
// localised per host as the request layer's global rules are.
#include <gtest/gtest.h>

#include "config_file.h"
#include "global_tiers.h"

namespace sluice {
namespace {

// A cluster section that reads no file (a gossip one reads its key file).
const std::string kCluster = "cluster: {name: edge, sync: redis, redis: 127.0.0.1:6379}\n";

TEST(GlobalTierConfig, ReadsAGlobalTierWithACluster) {
  Config config = parse_config(
      "tiers:\n  flood: {packets: {rate: 1000/s, burst: 300}, global: true}\n  local: {packets: "
      "10/s}\ndefault_tier: flood\n" +
          kCluster,
      "ok.yaml");
  ASSERT_EQ(config.policy.tiers.size(), 2u);
  EXPECT_TRUE(config.policy.tiers[0].global);
  EXPECT_FALSE(config.policy.tiers[1].global);
}

TEST(GlobalTierConfig, ABytesOrSynLimitAloneCanBeGlobal) {
  Config config = parse_config(
      "tiers:\n  b: {bytes: {rate: 1MB/s, burst: 300KB}, global: true}\n  s: {syn: 50/s, "
      "global: true}\ndefault_tier: b\n" +
          kCluster,
      "ok.yaml");
  ASSERT_EQ(config.policy.tiers.size(), 2u);
  EXPECT_TRUE(config.policy.tiers[0].global);
  EXPECT_TRUE(config.policy.tiers[0].packets.unlimited());
  EXPECT_TRUE(config.policy.tiers[1].global);
}

struct BadGlobal {
  const char* name;
  std::string yaml;
  std::string fragment;
};

class GlobalTierErrors : public ::testing::TestWithParam<BadGlobal> {};

TEST_P(GlobalTierErrors, NameTheFieldAndTheReason) {
  try {
    parse_config(GetParam().yaml, "bad.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "tiers.t.global") << e.what();
    EXPECT_NE(std::string(e.what()).find(GetParam().fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.yaml:"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Config, GlobalTierErrors,
    ::testing::Values(
        BadGlobal{"NoCluster", "tiers:\n  t: {packets: 100/s, global: true}\n",
                  "needs a `cluster:` section"},
        BadGlobal{"NoLimit", "tiers:\n  t: {shadow: true, global: true}\n" + kCluster,
                  "needs a limit to share (packets, bytes or syn)"},
        BadGlobal{"AWindowBesideABytesLimit",
                  "tiers:\n  t: {packets: 100/s, bytes: 1MB/s, algorithm: sliding_window, "
                  "global: true}\n" +
                      kCluster,
                  "token_bucket or leaky_bucket"},
        BadGlobal{
            "AWindow",
            "tiers:\n  t: {packets: 100/s, algorithm: fixed_window, global: true}\n" + kCluster,
            "token_bucket or leaky_bucket"},
        BadGlobal{"NotABoolean", "tiers:\n  t: {packets: 100/s, global: maybe}\n" + kCluster,
                  "true or false"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(GlobalTierLocalPart, DividesTheBurstAndScalesTheRateByTheShare) {
  const RateLimit global{1000, SLUICE_NSEC_PER_SEC, 300};
  // Three members, all visible: the rate stays, the burst is a third.
  RateLimit local = local_part(global, {1.0, 3});
  EXPECT_EQ(local.tokens, 1000u);
  EXPECT_EQ(local.period_ns, SLUICE_NSEC_PER_SEC);
  EXPECT_EQ(local.burst, 100u);
  // Five members, two visible (a partition): 2/5 of the rate, burst ceil(300/5).
  local = local_part(global, {0.4, 5});
  EXPECT_EQ(local.burst, 60u);
  EXPECT_NEAR(1e9 * static_cast<double>(local.tokens) / static_cast<double>(local.period_ns), 400,
              0.01);
  // No burst given: one period's worth (1000), divided.
  EXPECT_EQ(local_part({1000, SLUICE_NSEC_PER_SEC, 0}, {1.0, 3}).burst, 334u);
  // A rate a day long at a fifth: fewer tokens, not a period past a day.
  local = local_part({100, 86400 * SLUICE_NSEC_PER_SEC, 10}, {0.2, 5});
  EXPECT_EQ(local.period_ns, 86400 * SLUICE_NSEC_PER_SEC);
  EXPECT_EQ(local.tokens, 20u);
}

TEST(GlobalTierLocalPart, TheOrphanFactorBringsTheLocalRateToTheHostsShare) {
  // Five members, all visible: the local part is R, the fallback R/5.
  EXPECT_EQ(orphan_factor({1.0, 5}), 5u);
  // Three of five visible (a partition): R x 3/5, the fallback still R/5.
  EXPECT_EQ(orphan_factor({0.6, 5}), 3u);
  // Alone, or seeing nobody but itself: the local part is already R/N.
  EXPECT_EQ(orphan_factor({1.0, 1}), 1u);
  EXPECT_EQ(orphan_factor({0.2, 5}), 1u);
  // An unrounded share (2/3 of three members).
  EXPECT_EQ(orphan_factor({2.0 / 3.0, 3}), 2u);
}

TEST(GlobalTierLocalPart, OnlyGlobalTiersChange) {
  Policy policy;
  policy.tiers.push_back({.name = "g", .packets = {1000, SLUICE_NSEC_PER_SEC, 300}});
  policy.tiers.back().global = true;
  policy.tiers.push_back({.name = "l", .packets = {1000, SLUICE_NSEC_PER_SEC, 300}});
  const Policy local = localise_global_tiers(policy, {1.0, 3});
  EXPECT_EQ(local.tiers[0].packets.burst, 100u);
  EXPECT_EQ(local.tiers[1].packets.burst, 300u);
}

TEST(GlobalTierLocalPart, BytesAndSynsAreLocalisedLikePackets) {
  Policy policy;
  policy.tiers.push_back({.name = "g",
                          .packets = {1000, SLUICE_NSEC_PER_SEC, 300},
                          .bytes = {1'000'000, SLUICE_NSEC_PER_SEC, 300'000},
                          .syns = {50, SLUICE_NSEC_PER_SEC, 0}});
  policy.tiers.back().global = true;
  policy.tiers.push_back({.name = "l", .bytes = {1'000'000, SLUICE_NSEC_PER_SEC, 300'000}});
  const GlobalTierView view{0.5, 4};
  const Policy local = localise_global_tiers(policy, view);
  EXPECT_EQ(local.tiers[0].packets, local_part(policy.tiers[0].packets, view));
  EXPECT_EQ(local.tiers[0].bytes.burst, 75'000u);
  EXPECT_EQ(local.tiers[0].bytes.period_ns, 2 * SLUICE_NSEC_PER_SEC) << "half the rate";
  EXPECT_EQ(local.tiers[0].syns.burst, 13u) << "ceil(50 / 4): no burst is a period's worth";
  EXPECT_EQ(local.tiers[1].bytes, policy.tiers[1].bytes) << "not global: unchanged";
}

}  // namespace
}  // namespace sluice
