// The daemon's key link on its own (no maps): which answers bind, which
// escalate, and which addresses are exempt.
#include "key_link.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

namespace sluice {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kT0 = 1000 * kSec;

KeyLinkView view() {
  KeyLinkView v;
  v.binding.enabled = true;
  v.binding.ttl_s = 60;
  v.binding.proxies = {Cidr::parse("198.18.200.0/24")};
  v.escalation.enabled = true;
  v.escalation.rule = {.refusals = 2, .within_s = 10, .penalty_s = 30};
  v.exempt = {Cidr::parse("198.18.200.0/24"), Cidr::parse("198.18.100.7/32")};
  v.kernel_tier["gold"] = {.index = 3, .rank = 1000};
  return v;
}

Decision answer(Verdict verdict, Identity::Kind kind, const std::string& tier,
                const std::string& address) {
  Decision d;
  d.verdict = verdict;
  d.identity.kind = kind;
  d.identity.client = kind == Identity::Kind::kAddress ? "addr:" + address : "key:k_1";
  d.identity.tier = tier;
  d.identity.address = address;
  return d;
}

TEST(KeyLink, AnAllowedKeyWithAKernelTierBinds) {
  KeyLink link;
  link.configure(view());
  link.observe(answer(Verdict::kAllowed, Identity::Kind::kKey, "gold", "198.18.0.1"), kT0);
  link.observe(answer(Verdict::kAllowed, Identity::Kind::kJwt, "gold", "198.18.0.2"), kT0);
  EXPECT_EQ(link.counters().bindings, 2u);
}

TEST(KeyLink, WhatNeverBinds) {
  KeyLink link;
  link.configure(view());
  link.observe(answer(Verdict::kAllowed, Identity::Kind::kKey, "free", "198.18.0.1"), kT0)
      /* no kernel tier for 'free' */;
  link.observe(answer(Verdict::kAllowed, Identity::Kind::kAddress, "", "198.18.0.2"), kT0);
  link.observe(answer(Verdict::kAllowed, Identity::Kind::kKey, "gold", "198.18.200.9"), kT0);
  link.observe(answer(Verdict::kAllowed, Identity::Kind::kKey, "gold", "198.18.100.7"), kT0);
  link.observe(answer(Verdict::kAllowed, Identity::Kind::kKey, "gold", ""), kT0);
  link.observe(answer(Verdict::kUnauthorized, Identity::Kind::kAddress, "", "198.18.0.3"), kT0);
  EXPECT_EQ(link.counters().bindings, 0u);
}

TEST(KeyLink, RefusalsPastTheRuleArePenalisedUntilExpiry) {
  KeyLink link;
  link.configure(view());
  for (int i = 0; i < 3; ++i)
    link.observe(answer(Verdict::kRefused, Identity::Kind::kAddress, "", "198.18.0.9"), kT0);
  auto penalties = link.penalties();
  ASSERT_EQ(penalties.size(), 1u);
  EXPECT_EQ(penalties[0].address, "198.18.0.9");
  EXPECT_EQ(penalties[0].rule, "more than 2 refusals in 10s: 30s");
  EXPECT_EQ(penalties[0].expires_ns, kT0 + 30 * kSec);
  EXPECT_TRUE(link.penalty_of(Cidr::parse("198.18.0.9")));
  EXPECT_EQ(link.counters().escalations, 1u);
  link.flush({}, kT0 + 30 * kSec);
  EXPECT_TRUE(link.penalties().empty()) << "expired";
}

TEST(KeyLink, ExemptAddressesAreNeverPenalised) {
  KeyLink link;
  link.configure(view());
  for (int i = 0; i < 10; ++i) {
    link.observe(answer(Verdict::kRefused, Identity::Kind::kKey, "gold", "198.18.200.1"), kT0);
    link.observe(answer(Verdict::kRefused, Identity::Kind::kAddress, "", "198.18.100.7"), kT0);
  }
  EXPECT_TRUE(link.penalties().empty());
}

TEST(KeyLink, LiftRemovesAPenalty) {
  KeyLink link;
  link.configure(view());
  for (int i = 0; i < 3; ++i)
    link.observe(answer(Verdict::kRefused, Identity::Kind::kAddress, "", "198.18.0.9"), kT0);
  EXPECT_TRUE(link.lift(Cidr::parse("198.18.0.9"), {}));
  EXPECT_FALSE(link.lift(Cidr::parse("198.18.0.9"), {}));
  EXPECT_TRUE(link.penalties().empty());
}

TEST(KeyLink, SourcesAreAggregatedAsTheDataPathDoes) {
  const auto v6 = source_of(Cidr::parse("2001:db8:1:2::/64"), 32, 48);
  struct sluice_source expected {};
  expected.family = SLUICE_FAMILY_V6;
  expected.addr[0] = htonl(0x20010db8);
  expected.addr[1] = htonl(0x00010000);
  EXPECT_EQ(std::memcmp(&v6, &expected, sizeof(v6)), 0);
  const auto v4 = source_of(Cidr::parse("198.18.0.77"), 24, 64);
  EXPECT_EQ(v4.addr[0], htonl(0xc6120000));
}

}  // namespace
}  // namespace sluice
