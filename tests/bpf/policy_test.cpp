// Allow/deny precedence, longest-prefix tier choice, aggregation, and live
// policy changes, judged by the XDP program.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include "counter_table.h"
#include "packet_builder.h"
#include "sources.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

std::vector<uint8_t> udp_from(const std::string& src) {
  if (src.find(':') != std::string::npos) return PacketBuilder().ipv6(src).udp().build();
  return PacketBuilder().ipv4(src).udp().build();
}

// Tiers "one" (1 packet/s), "five" (5/s), "ten" (10/s), bursts equal to rate.
Policy tiered_policy() {
  Policy p;
  for (auto [name, n] : {std::pair{"one", 1}, {"five", 5}, {"ten", 10}})
    p.tiers.push_back(TierSpec{.name = name, .packets = {static_cast<uint64_t>(n), kSec, 0}});
  p.default_tier = "one";
  return p;
}

class PolicyTest : public ::testing::Test {
 protected:
  XdpHarness harness;
  int burst_of(const std::string& src, uint64_t now = kEpoch) {
    return harness.run_passed(udp_from(src), now, 50);
  }
};

TEST_F(PolicyTest, LongestMatchingPrefixChoosesTheTier) {
  Policy p = tiered_policy();
  p.prefixes = {{Cidr::parse("198.18.0.0/16"), "five"},
                {Cidr::parse("198.18.7.0/24"), "ten"},
                {Cidr::parse("2001:db8::/32"), "ten"}};
  harness.apply(p);
  EXPECT_EQ(burst_of("198.18.1.1"), 5) << "/16 -> five";
  EXPECT_EQ(burst_of("198.18.7.1"), 10) << "/24 beats /16 -> ten";
  EXPECT_EQ(burst_of("198.19.0.1"), 1) << "no prefix -> default tier one";
  EXPECT_EQ(burst_of("2001:db8:1::1"), 10) << "IPv6 prefix";
  EXPECT_EQ(burst_of("2001:db9::1"), 1) << "IPv6 default";
}

TEST_F(PolicyTest, DenyAndAllowFollowTheDocumentedPrecedence) {
  Policy p = tiered_policy();
  p.allow = {Cidr::parse("198.18.0.0/16"), Cidr::parse("198.18.5.0/24"),
             Cidr::parse("2001:db8::/32")};
  p.deny = {Cidr::parse("198.18.4.0/24"), Cidr::parse("198.18.5.0/24"), Cidr::parse("198.0.0.0/8"),
            Cidr::parse("2001:db8:bad::/48")};
  harness.apply(p);
  EXPECT_EQ(burst_of("198.18.1.1"), 50) << "allowed /16: no limit at all";
  EXPECT_EQ(burst_of("198.18.4.1"), 0) << "deny /24 is longer than allow /16";
  EXPECT_EQ(burst_of("198.18.5.1"), 0) << "same prefix in both lists: deny wins";
  EXPECT_EQ(burst_of("198.17.0.1"), 0) << "deny /8";
  EXPECT_EQ(burst_of("2001:db8:1::1"), 50) << "allowed IPv6";
  EXPECT_EQ(burst_of("2001:db8:bad::1"), 0) << "denied IPv6 /48 inside allowed /32";
  EXPECT_EQ(burst_of("10.1.1.1"), 1) << "neither list: its tier";
  auto counters = harness.counters();
  EXPECT_EQ(counters.at(SLUICE_TIER_NONE, SLUICE_CNT_DROP_DENY).packets, 200u);
  EXPECT_EQ(counters.at(SLUICE_TIER_NONE, SLUICE_CNT_PASSED_ALLOW).packets, 100u);
}

TEST_F(PolicyTest, Ipv6SourcesAggregateToTheirPrefix) {
  Policy p = tiered_policy();
  p.default_tier = "five";
  harness.apply(p);
  EXPECT_EQ(burst_of("2001:db8:0:1::1"), 5);
  EXPECT_EQ(burst_of("2001:db8:0:1:ffff::2"), 0) << "same /64: same bucket, already empty";
  EXPECT_EQ(burst_of("2001:db8:0:2::1"), 5) << "next /64: its own bucket";
  EXPECT_TRUE(harness.dataplane().bucket_of(source_key("2001:db8:0:1::")).has_value());

  p.v6_prefix_len = 48;
  harness.apply(p);
  EXPECT_EQ(burst_of("2001:db8:0:3::1"), 5) << "first of the /48";
  EXPECT_EQ(burst_of("2001:db8:0:4::1"), 0) << "another /64 of the same /48";
}

TEST_F(PolicyTest, Ipv4AggregationIsConfigurable) {
  Policy p = tiered_policy();
  p.default_tier = "five";
  p.v4_prefix_len = 24;
  harness.apply(p);
  EXPECT_EQ(burst_of("198.18.3.1"), 5);
  EXPECT_EQ(burst_of("198.18.3.200"), 0) << "same /24";
  EXPECT_EQ(burst_of("198.18.4.1"), 5);
}

TEST_F(PolicyTest, ChangingATierKeepsEveryBucket) {
  Policy p = tiered_policy();
  p.default_tier = "ten";
  harness.apply(p);
  EXPECT_EQ(burst_of("198.18.0.1"), 10);
  // Raise the rate, same burst: the source's bucket is not reset to a fresh
  // burst (its debt of 10 tokens is rescaled, tests/bpf/rate_change_test.cpp).
  p.tiers[2].packets = {100, kSec, 10};
  harness.apply(p);
  EXPECT_EQ(burst_of("198.18.0.1"), 0) << "still empty right after the change";
  EXPECT_EQ(burst_of("198.18.0.1", kEpoch + kSec / 10), 10) << "refills at the new 100/s";
}

TEST_F(PolicyTest, MovingAPrefixToAnotherTierTakesEffectAtOnce) {
  Policy p = tiered_policy();
  harness.apply(p);
  EXPECT_EQ(burst_of("198.18.9.9"), 1);
  p.prefixes = {{Cidr::parse("198.18.9.0/24"), "ten"}};
  harness.apply(p);
  uint32_t ten = harness.tier_index("ten");
  EXPECT_EQ(burst_of("198.18.9.9", kEpoch + 2 * kSec), 10) << "re-resolved to ten";
  EXPECT_EQ(sluice_policy_tier(harness.dataplane().bucket_of(source_key("198.18.9.9"))->policy),
            ten);
  p.deny = {Cidr::parse("198.18.9.0/24")};
  harness.apply(p);
  EXPECT_EQ(burst_of("198.18.9.9", kEpoch + 10 * kSec), 0) << "denied from the next packet on";
}

TEST_F(PolicyTest, ShadowTierCountsWouldBeDropsAndPassesEverything) {
  Policy p = tiered_policy();
  p.tiers[0].shadow = true;
  harness.apply(p);
  EXPECT_EQ(burst_of("198.18.0.1"), 50);
  auto counters = harness.counters();
  uint32_t one = harness.tier_index("one");
  EXPECT_EQ(counters.at(one, SLUICE_CNT_PASSED).packets, 1u);
  EXPECT_EQ(counters.at(one, SLUICE_CNT_SHADOW_PKT_RATE).packets, 49u);
  EXPECT_EQ(counters.at(one, SLUICE_CNT_DROP_PKT_RATE).packets, 0u);
}

TEST_F(PolicyTest, CountersAreKeptPerTierWithBytes) {
  Policy p = tiered_policy();
  p.prefixes = {{Cidr::parse("198.18.1.0/24"), "five"}};
  harness.apply(p);
  auto frame = udp_from("198.18.1.1");
  harness.run_passed(frame, kEpoch, 8);
  auto counters = harness.counters();
  uint32_t five = harness.tier_index("five");
  EXPECT_EQ(counters.at(five, SLUICE_CNT_PASSED).packets, 5u);
  EXPECT_EQ(counters.at(five, SLUICE_CNT_PASSED).bytes, 5u * frame.size());
  EXPECT_EQ(counters.at(five, SLUICE_CNT_DROP_PKT_RATE).packets, 3u);
  EXPECT_EQ(counters.at(five, SLUICE_CNT_NEW_SOURCE).packets, 1u);
  auto bucket = harness.dataplane().bucket_of(source_key("198.18.1.1"));
  ASSERT_TRUE(bucket.has_value());
  EXPECT_EQ(bucket->passed, 5u);
  // Per-source drops are sampled (fast_path_test.cpp): 3 drops count 0 or one sample.
  EXPECT_EQ(bucket->dropped % SLUICE_DROP_SAMPLE, 0u);
  EXPECT_LE(bucket->dropped, SLUICE_DROP_SAMPLE);
}

// A tier deleted keeps its counts in its slot (sluicectl shows them as
// deleted) until the slot is given to another tier, which starts from zero;
// tiers that keep their slot keep their counts.
TEST_F(PolicyTest, AReusedTierSlotStartsFromZero) {
  Policy p = tiered_policy();
  p.prefixes = {{Cidr::parse("198.18.1.0/24"), "five"}};
  harness.apply(p);
  harness.run_passed(udp_from("198.18.1.1"), kEpoch, 8);
  burst_of("198.18.2.1");  // default tier "one"
  const uint32_t five = harness.tier_index("five"), one = harness.tier_index("one");
  ASSERT_EQ(harness.counters().at(five, SLUICE_CNT_PASSED).packets, 5u);

  p.tiers.erase(p.tiers.begin() + 1);
  p.prefixes.clear();
  harness.apply(p);
  EXPECT_EQ(harness.counters().at(five, SLUICE_CNT_PASSED).packets, 5u)
      << "deleted, not yet reused";

  p.tiers.push_back(TierSpec{.name = "new", .packets = {5, kSec, 0}});
  p.prefixes = {{Cidr::parse("198.18.3.0/24"), "new"}};
  harness.apply(p);
  ASSERT_EQ(harness.tier_index("new"), five) << "the freed slot is reused";
  auto counters = harness.counters();
  for (uint32_t c = 0; c < SLUICE_COUNTER_MAX; ++c)
    EXPECT_EQ(counters.at(five, c).packets, 0u) << counter_info(c)->name;
  EXPECT_EQ(counters.at(one, SLUICE_CNT_PASSED).packets, 1u) << "kept by a tier that stays";
  harness.run_passed(udp_from("198.18.3.1"), kEpoch + 5 * kSec, 8);
  EXPECT_EQ(harness.counters().at(five, SLUICE_CNT_PASSED).packets, 5u);
}

}  // namespace
}  // namespace sluice::testing
