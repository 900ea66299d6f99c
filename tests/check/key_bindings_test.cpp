// The rules of key-bound addresses and escalation, apart from the maps.
#include "key_bindings.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "escalation.h"

namespace sluice {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kTtl = 60 * kSec;
constexpr uint64_t kT0 = 1000 * kSec;

struct sluice_source v4(const char* address) {
  struct sluice_source source {};
  source.family = SLUICE_FAMILY_V4;
  inet_pton(AF_INET, address, &source.addr[0]);
  return source;
}

BindRequest request(const char* address, uint64_t key, uint64_t rank, uint32_t tier = 1) {
  return {.source = v4(address), .key_id = key, .tier = tier, .rank = rank};
}

using Outcome = KeyBindings::Outcome;

TEST(KeyBindings, ABindingIsWrittenOnceThenRefreshedAQuarterTtlAtATime) {
  KeyBindings b(kTtl, 16);
  EXPECT_EQ(b.bind(request("198.18.0.1", 7, 100), kT0), Outcome::kBound);
  auto batch = b.take_batch(kT0);
  ASSERT_EQ(batch.writes.size(), 1u);
  EXPECT_EQ(batch.writes[0].second.key_id, 7u);
  EXPECT_EQ(batch.writes[0].second.expires_ns, kT0 + kTtl);
  // Checks every second for 15 s: the expiry moves, the map is not written.
  for (uint64_t s = 1; s <= 15; ++s) {
    EXPECT_EQ(b.bind(request("198.18.0.1", 7, 100), kT0 + s * kSec), Outcome::kRefreshed);
    EXPECT_TRUE(b.take_batch(kT0 + s * kSec).writes.empty()) << "at " << s << " s";
  }
  EXPECT_EQ(b.bind(request("198.18.0.1", 7, 100), kT0 + 16 * kSec), Outcome::kRefreshed);
  batch = b.take_batch(kT0 + 16 * kSec);
  ASSERT_EQ(batch.writes.size(), 1u) << "moved on by more than a quarter TTL";
  EXPECT_EQ(batch.writes[0].second.expires_ns, kT0 + 16 * kSec + kTtl);
}

TEST(KeyBindings, ExpiredBindingsAreDeleted) {
  KeyBindings b(kTtl, 16);
  b.bind(request("198.18.0.1", 7, 100), kT0);
  b.take_batch(kT0);
  auto batch = b.take_batch(kT0 + kTtl);
  ASSERT_EQ(batch.deletes.size(), 1u);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.take_batch(kT0 + kTtl).deletes.empty());
}

TEST(KeyBindings, TwoKeysOneAddressTheHigherTierWins) {
  KeyBindings b(kTtl, 16);
  EXPECT_EQ(b.bind(request("198.18.0.1", 1, 100, 1), kT0), Outcome::kBound);
  EXPECT_EQ(b.bind(request("198.18.0.1", 2, 100, 2), kT0), Outcome::kKept) << "tie: first stays";
  EXPECT_EQ(b.bind(request("198.18.0.1", 3, 50, 3), kT0), Outcome::kKept) << "lower tier";
  EXPECT_EQ(b.bind(request("198.18.0.1", 4, 1000, 4), kT0), Outcome::kReplaced);
  auto batch = b.take_batch(kT0);
  ASSERT_EQ(batch.writes.size(), 1u);
  EXPECT_EQ(batch.writes[0].second.key_id, 4u);
  EXPECT_EQ(batch.writes[0].second.tier, 4u);
  EXPECT_EQ(b.bind(request("198.18.0.1", 1, 100, 1), kT0 + kSec), Outcome::kKept);
}

TEST(KeyBindings, AnExpiredBindingFreesTheAddressForAnotherKey) {
  KeyBindings b(kTtl, 16);
  b.bind(request("198.18.0.1", 1, 1000), kT0);
  b.take_batch(kT0);
  EXPECT_EQ(b.bind(request("198.18.0.1", 2, 10), kT0 + kTtl), Outcome::kBound);
  auto batch = b.take_batch(kT0 + kTtl);
  ASSERT_EQ(batch.deletes.size(), 1u) << "deleted before the new one is written";
  ASSERT_EQ(batch.writes.size(), 1u);
  EXPECT_EQ(batch.writes[0].second.key_id, 2u);
}

TEST(KeyBindings, TheTableIsBounded) {
  KeyBindings b(kTtl, 2);
  EXPECT_EQ(b.bind(request("198.18.0.1", 1, 1), kT0), Outcome::kBound);
  EXPECT_EQ(b.bind(request("198.18.0.2", 1, 1), kT0), Outcome::kBound);
  EXPECT_EQ(b.bind(request("198.18.0.3", 1, 1), kT0 + kSec), Outcome::kFull);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.bind(request("198.18.0.3", 1, 1), kT0 + kTtl), Outcome::kBound) << "room again";
}

TEST(KeyBindings, KeyIdsAreStable) {
  EXPECT_EQ(key_bucket_id("key:k_0123456789ab"), key_bucket_id("key:k_0123456789ab"));
  EXPECT_NE(key_bucket_id("key:k_0123456789ab"), key_bucket_id("key:k_0123456789ac"));
  EXPECT_EQ(key_bucket_id(""), 0xcbf29ce484222325ULL);  // FNV-1a's offset basis
}

TEST(Escalation, MoreThanNRefusalsWithinTPenalises) {
  Escalation e(16);
  EscalationRule rule{.refusals = 3, .within_s = 10, .penalty_s = 60};
  const auto a = v4("198.18.0.1");
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(e.refused(a, rule, kT0 + i * kSec));
  EXPECT_TRUE(e.refused(a, rule, kT0 + 9 * kSec)) << "the 4th within 10 s";
  EXPECT_FALSE(e.refused(a, rule, kT0 + 9 * kSec)) << "the count starts over";
}

TEST(Escalation, SlowRefusalsNeverPenalise) {
  Escalation e(16);
  EscalationRule rule{.refusals = 3, .within_s = 10, .penalty_s = 60};
  const auto a = v4("198.18.0.1");
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(e.refused(a, rule, kT0 + i * 4 * kSec)) << i;
}

TEST(Escalation, AddressesAreCountedApartAndTheTableIsBounded) {
  Escalation e(2);
  EscalationRule rule{.refusals = 1, .within_s = 10, .penalty_s = 60};
  EXPECT_FALSE(e.refused(v4("198.18.0.1"), rule, kT0));
  EXPECT_FALSE(e.refused(v4("198.18.0.2"), rule, kT0));
  EXPECT_FALSE(e.refused(v4("198.18.0.3"), rule, kT0)) << "no room: not counted";
  EXPECT_FALSE(e.refused(v4("198.18.0.3"), rule, kT0));
  EXPECT_TRUE(e.refused(v4("198.18.0.1"), rule, kT0));
  EXPECT_EQ(e.size(), 1u);
}

TEST(Escalation, RuleForATierFallsBackToTheDefault) {
  EscalationSettings s;
  s.rule = {.refusals = 20, .within_s = 10, .penalty_s = 60};
  s.tiers["free"] = {.refusals = 5, .within_s = 10, .penalty_s = 300};
  EXPECT_EQ(s.rule_for("free").refusals, 5u);
  EXPECT_EQ(s.rule_for("pro").refusals, 20u);
  EXPECT_EQ(s.rule_for("").refusals, 20u);
  EXPECT_EQ(s.rule_for("free").describe(), "more than 5 refusals in 10s: 5m");
}

}  // namespace
}  // namespace sluice
