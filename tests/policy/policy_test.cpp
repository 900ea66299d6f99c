#include "policy.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

Policy two_tiers() {
  Policy p;
  p.tiers = {TierSpec{.name = "free", .packets = {100, SLUICE_NSEC_PER_SEC, 10}},
             TierSpec{.name = "gold", .packets = {10'000, SLUICE_NSEC_PER_SEC, 1000}}};
  p.default_tier = "free";
  return p;
}

std::string error_of(const Policy& p) {
  try {
    compile_policy(p, TierSlots{}, 1);
  } catch (const PolicyError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(Policy, CompilesTiersPrefixesAndLists) {
  Policy p = two_tiers();
  p.prefixes = {{Cidr::parse("198.18.1.0/24"), "gold"}};
  p.allow = {Cidr::parse("198.18.9.0/24")};
  p.deny = {Cidr::parse("198.18.66.0/24"), Cidr::parse("198.18.9.0/24")};
  TierSlots slots;
  auto c = compile_policy(p, slots, 1);
  EXPECT_EQ(c.tier_index.at("free"), 0u);
  EXPECT_EQ(c.tier_index.at("gold"), 1u);
  EXPECT_EQ(c.config.default_tier, 0u);
  EXPECT_EQ(c.tiers[1].packets.interval_fp, 100'000ULL << SLUICE_INTERVAL_FRAC_BITS);
  EXPECT_EQ(c.tiers[1].packets.tau_ns, 1000 * 100'000ULL);
  ASSERT_EQ(c.prefixes.size(), 1u);
  EXPECT_EQ(c.prefixes[0].value, 1u);
  // 198.18.9.0/24 is in both lists: deny wins, only one entry for it.
  ASSERT_EQ(c.access.size(), 2u);
  for (const auto& e : c.access) EXPECT_EQ(e.value, static_cast<uint32_t>(SLUICE_ACCESS_DENY));
}

TEST(Policy, TierIndicesStayStableAcrossChanges) {
  TierSlots slots;
  auto first = compile_policy(two_tiers(), slots, 1);
  slots.commit(first.tier_index);
  Policy p = two_tiers();
  p.tiers.erase(p.tiers.begin());  // drop "free"
  p.tiers.push_back(TierSpec{.name = "silver"});
  p.default_tier = "gold";
  auto second = compile_policy(p, slots, 1);
  EXPECT_EQ(second.tier_index.at("gold"), 1u) << "gold keeps its index";
  EXPECT_EQ(second.tier_index.at("silver"), 0u) << "silver reuses the freed index";
}

TEST(Policy, NamesTheSlotsThatChangeHands) {
  TierSlots slots;
  auto first = compile_policy(two_tiers(), slots, 1);
  EXPECT_EQ(first.fresh_slots, (std::vector<uint32_t>{0, 1})) << "every slot is new at first";
  slots.commit(first.tier_index);
  EXPECT_TRUE(compile_policy(two_tiers(), slots, 1).fresh_slots.empty()) << "nothing changed";
  Policy p = two_tiers();
  p.tiers.erase(p.tiers.begin());  // "free" goes, "silver" takes its slot
  p.tiers.push_back(TierSpec{.name = "silver"});
  p.default_tier = "gold";
  auto next = compile_policy(p, slots, 1);
  ASSERT_EQ(next.tier_index.at("silver"), first.tier_index.at("free"));
  EXPECT_EQ(next.fresh_slots, (std::vector<uint32_t>{first.tier_index.at("free")}));
}

TEST(Policy, RejectsEveryKindOfBadInput) {
  Policy p = two_tiers();
  p.default_tier = "platinum";
  EXPECT_NE(error_of(p).find("unknown tier 'platinum'"), std::string::npos);

  p = two_tiers();
  p.tiers.push_back(p.tiers[0]);
  EXPECT_NE(error_of(p).find("defined twice"), std::string::npos);

  p = two_tiers();
  p.tiers[0].name = std::string(64, 'x');
  EXPECT_NE(error_of(p).find("longer than 63"), std::string::npos);

  p = two_tiers();
  p.tiers[0].name = "bad name";
  EXPECT_NE(error_of(p).find("may only contain"), std::string::npos);

  p = two_tiers();
  p.prefixes = {{Cidr::parse("198.18.1.0/24"), "gold"}, {Cidr::parse("198.18.1.0/24"), "free"}};
  EXPECT_NE(error_of(p).find("assigned twice"), std::string::npos);

  p = two_tiers();
  p.deny = {Cidr::parse("2001:db8::1/128")};
  EXPECT_NE(error_of(p).find("aggregation prefix /64"), std::string::npos);

  p = two_tiers();
  p.tiers[0].packets = {1, 2 * 86400 * SLUICE_NSEC_PER_SEC, 1};
  EXPECT_NE(error_of(p).find("tier 'free' packets"), std::string::npos);

  p = two_tiers();
  p.tiers[0].bytes = {1000, SLUICE_NSEC_PER_SEC, (1ULL << 32) + 1};
  EXPECT_NE(error_of(p).find("larger than 2^32"), std::string::npos);

  p = two_tiers();
  p.v6_prefix_len = 0;
  EXPECT_NE(error_of(p).find("ipv6_prefix"), std::string::npos);

  p = two_tiers();
  p.tiers.clear();
  EXPECT_NE(error_of(p).find("at least one tier"), std::string::npos);
}

TEST(Policy, CoarseClockNeedsBurstsThatCoverATick) {
  Policy p = two_tiers();  // free: 100/s burst 10; gold: 10,000/s burst 1000
  p.coarse_clock = true;
  EXPECT_EQ(error_of(p), "accepted") << "20 ms of 10,000/s is 200 <= 1000";
  p.tiers[1].packets.burst = 100;
  EXPECT_NE(error_of(p).find("tier 'gold' packets: with clock: coarse the burst must cover 20 ms"),
            std::string::npos)
      << error_of(p);
  p.coarse_clock = false;
  EXPECT_EQ(error_of(p), "accepted") << "the precise clock has no such floor";
}

TEST(Policy, EachTierGetsTheCoarseClockWhenItsBurstsCoverATick) {
  Policy p = two_tiers();  // free: 100/s burst 10 (2 needed); gold: 10,000/s burst 1000 (200)
  p.tiers[0].bytes = {1'000'000, SLUICE_NSEC_PER_SEC, 10'000};  // 20,000 needed
  p.tiers.push_back(TierSpec{.name = "syn", .syns = {1000, SLUICE_NSEC_PER_SEC, 5}});  // 20
  auto c = compile_policy(p, TierSlots{}, 1);
  auto coarse = [&](const char* name) {
    return (c.tiers[c.tier_index.at(name)].flags & SLUICE_TIER_F_COARSE_OK) != 0;
  };
  EXPECT_FALSE(coarse("free")) << "its byte burst is short of a tick: the precise clock";
  EXPECT_TRUE(coarse("gold"));
  EXPECT_FALSE(coarse("syn")) << "a short SYN burst alone keeps the precise clock";
  EXPECT_TRUE(c.tiers[c.tier_index.at("gold")].flags & SLUICE_TIER_F_DEFINED);
}

TEST(Policy, RefusesMoreTiersThanTheDataPathHolds) {
  Policy p;
  for (int i = 0; i <= SLUICE_MAX_TIERS; ++i)
    // append, not `"t" + std::to_string(i)`: GCC 12 -O3 warns falsely (bug 105651).
    p.tiers.push_back(TierSpec{.name = std::string("t").append(std::to_string(i))});
  p.default_tier = "t0";
  EXPECT_NE(error_of(p).find("too many tiers"), std::string::npos);
}

}  // namespace
}  // namespace sluice
