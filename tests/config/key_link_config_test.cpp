// The `key_binding:` and `escalation:` sections: a full example reads as
// written, and mistakes name their line and field.
#include <gtest/gtest.h>

#include "config_file.h"

namespace sluice {
namespace {

const char* kBase = R"(default_tier: standard
tiers:
  standard: {packets: 100/s}
  partner: {packets: 10k/s}
check:
  default_tier: free
  tiers:
    free: {minute: 10/min}
    pro: {minute: 1000/min}
)";

Config parse(const std::string& sections, const char* base = kBase) {
  return parse_config(std::string(base) + sections, "test.yaml");
}

// The error of parsing `sections`: "field @ line: reason".
std::string error_of(const std::string& sections, const char* base = kBase) {
  try {
    parse(sections, base);
  } catch (const ConfigError& e) {
    return e.field() + " @ " + std::to_string(e.line()) + ": " + e.reason();
  }
  return "no error";
}

TEST(KeyLinkConfig, ReadsBothSections) {
  auto config = parse(R"(key_binding:
  ttl: 2m
  tiers: {pro: partner}
  proxies: [198.18.200.0/24, 2001:db8:200::/48]
  max_bindings: 1000
escalation:
  refusals: 20
  within: 10s
  penalty: 1m
  tiers:
    free: {refusals: 5, within: 10s, penalty: 10m}
)");
  const auto& binding = config.key_binding;
  EXPECT_TRUE(binding.enabled);
  EXPECT_EQ(binding.ttl_s, 120u);
  EXPECT_EQ(binding.tiers.at("pro"), "partner");
  ASSERT_EQ(binding.proxies.size(), 2u);
  EXPECT_EQ(binding.proxies[1].to_string(), "2001:db8:200::/48");
  EXPECT_EQ(binding.max_bindings, 1000u);
  const auto& escalation = config.escalation;
  EXPECT_TRUE(escalation.enabled);
  EXPECT_EQ(escalation.rule_for("pro"), (EscalationRule{20, 10, 60}));
  EXPECT_EQ(escalation.rule_for("free"), (EscalationRule{5, 10, 600}));
}

TEST(KeyLinkConfig, OffWithoutTheSectionsAndDefaultsWithAnEmptyOne) {
  auto off = parse("");
  EXPECT_FALSE(off.key_binding.enabled);
  EXPECT_FALSE(off.escalation.enabled);
  auto on = parse("key_binding:\n");
  EXPECT_TRUE(on.key_binding.enabled);
  EXPECT_EQ(on.key_binding.ttl_s, 300u);
  EXPECT_EQ(on.key_binding.max_bindings, uint32_t{SLUICE_MAX_KEY_BINDINGS});
}

TEST(KeyLinkConfig, MistakesNameTheirField) {
  EXPECT_EQ(error_of("key_binding:\n  tiers: {gold: partner}\n"),
            "key_binding.tiers.gold @ 11: no request tier 'gold' in check.tiers");
  EXPECT_EQ(error_of("key_binding:\n  tiers: {pro: platinum}\n"),
            "key_binding.tiers.pro @ 11: no kernel tier 'platinum' in tiers");
  EXPECT_EQ(error_of("key_binding:\n  ttl: 0s\n"),
            "key_binding.ttl @ 11: '0s': must be longer than zero");
  EXPECT_EQ(error_of("key_binding:\n  max_bindings: 1000000\n"),
            "key_binding.max_bindings @ 11: expected a whole number in 1..65536, got '1000000'");
  EXPECT_EQ(error_of("key_binding:\n  proxies: [not-a-cidr]\n").substr(0, 27),
            "key_binding.proxies[0] @ 11");
  EXPECT_EQ(error_of("escalation:\n  refusals: 5\n  within: 10s\n"),
            "escalation.penalty @ 11: is required");
  EXPECT_EQ(error_of("escalation:\n  refusals: 5\n  within: 10s\n  penalty: 1m\n  tiers:\n"
                     "    gold: {refusals: 1, within: 1s, penalty: 1s}\n"),
            "escalation.tiers.gold @ 15: no request tier 'gold' in check.tiers");
  EXPECT_EQ(error_of("escalation:\n  refusals: 5\n  within: 10s\n  penalty: 1m\n  after: 3\n"),
            "escalation.after @ 14: unknown field (expected one of: refusals, within, penalty, "
            "tiers, max_penalties)");
  EXPECT_EQ(error_of("key_binding:\n  ttl: 1m\n", "tiers:\n  standard: {packets: 100/s}\n"),
            "key_binding @ 4: needs a check: section (it acts on the check API's answers)");
}

}  // namespace
}  // namespace sluice
