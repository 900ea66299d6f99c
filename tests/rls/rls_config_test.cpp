// envoyproxy/ratelimit's YAML as Sluice reads it: the sample in its format
// loads as written, and what Sluice does not implement is refused by name.
#include "rls_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "config_file.h"
#include "rls_limiter.h"

namespace sluice {
namespace {

const std::string kSample = std::string(SLUICE_SOURCE_DIR) + "/examples/envoy/ratelimit.yaml";

// The rest of a minimal sluice.yaml around an rls: section.
const std::string kTiers = "tiers:\n  standard:\n    packets: 1000/s\n";

// The error a text raises, or "" when it parses.
std::string error_of(const std::string& yaml) {
  try {
    parse_ratelimit_config(yaml, "rl.yaml");
  } catch (const RlsConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(RlsConfig, TheSampleInEnvoyRatelimitFormatLoads) {
  const RlsDomain domain = load_ratelimit_file(kSample);
  EXPECT_EQ(domain.domain, "edge");
  ASSERT_EQ(domain.descriptors.size(), 8u);
  const auto& any_address = domain.descriptors[0];
  EXPECT_EQ(any_address.key, "remote_address");
  EXPECT_EQ(any_address.value, "");
  ASSERT_TRUE(any_address.rate_limit);
  EXPECT_EQ(any_address.rate_limit->unit, RlsUnit::kSecond);
  EXPECT_EQ(any_address.rate_limit->requests_per_unit, 10u);
  const auto& blocked = domain.descriptors[1];
  EXPECT_EQ(blocked.value, "203.0.113.9");
  EXPECT_EQ(blocked.rate_limit->requests_per_unit, 0u);
  const auto& marketing = domain.descriptors[2];
  EXPECT_FALSE(marketing.rate_limit);
  ASSERT_EQ(marketing.descriptors.size(), 1u);
  EXPECT_EQ(marketing.descriptors[0].rate_limit->unit, RlsUnit::kDay);
  EXPECT_TRUE(domain.descriptors[4].rate_limit->unlimited);
  EXPECT_TRUE(domain.descriptors[5].descriptors[0].shadow_mode);
  EXPECT_EQ(domain.descriptors[6].value, "/api/v1/*");
  EXPECT_EQ(domain.descriptors[6].rate_limit->name, "api_v1");
  EXPECT_EQ(domain.descriptors[7].descriptors[0].rate_limit->replaces,
            std::vector<std::string>{"api_v1"});
  EXPECT_NO_THROW(validate_rls_domains({domain}));
}

TEST(RlsConfig, UnitsAreCaseInsensitiveAsInEnvoyRatelimit) {
  const auto domain = parse_ratelimit_config(
      "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: MINUTE, requests_per_unit: 7}\n",
      "rl.yaml");
  EXPECT_EQ(domain.descriptors[0].rate_limit->unit, RlsUnit::kMinute);
}

TEST(RlsConfig, UnsupportedFieldsAreRefusedByNameAndLine) {
  // A field of a newer or other format: refused, with where and what.
  EXPECT_EQ(error_of("domain: d\ndescriptors:\n  - key: k\n    quota_mode: true\n"),
            "rl.yaml:4:5: descriptors[0].quota_mode: is not supported by Sluice (supported here: "
            "key, value, rate_limit, shadow_mode, detailed_metric, descriptors)");
  EXPECT_EQ(error_of("domain: d\ndescriptors:\n  - key: k\n    detailed_metric: true\n"),
            "rl.yaml:4:22: descriptors[0].detailed_metric: detailed_metric: true is not supported "
            "by Sluice (no per-value metrics)");
  EXPECT_EQ(error_of("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: month, "
                     "requests_per_unit: 5}\n"),
            "rl.yaml:4:24: descriptors[0].rate_limit.unit: unit 'month' is not supported: "
            "Sluice's buckets refill over at most a day");
  EXPECT_EQ(error_of("domain: d\nmerge: true\n"),
            "rl.yaml:2:1: merge: is not supported by Sluice (supported here: domain, descriptors)");
}

TEST(RlsConfig, DetailedMetricFalseChangesNothingAndIsAccepted) {
  EXPECT_EQ(error_of("domain: d\ndescriptors:\n  - key: k\n    detailed_metric: false\n"), "");
}

TEST(RlsConfig, MistakesAreRefused) {
  EXPECT_NE(error_of("descriptors: []\n").find("domain: is required"), std::string::npos);
  EXPECT_NE(error_of("domain: ''\n").find("domain: must not be empty"), std::string::npos);
  EXPECT_NE(error_of("domain: d\ndescriptors:\n  - value: v\n")
                .find("descriptors[0].key: is "
                      "required"),
            std::string::npos);
  EXPECT_NE(
      error_of("domain: d\ndescriptors:\n  - key: k\n    value: v\n  - key: k\n    value: v\n")
          .find("key 'k' value 'v' is defined twice at this level"),
      std::string::npos);
  EXPECT_NE(error_of("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unlimited: true, unit: "
                     "second}\n")
                .find("must not be given with unlimited: true"),
            std::string::npos);
  EXPECT_NE(
      error_of("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {requests_per_unit: 5}\n")
          .find("rate_limit.unit: is required"),
      std::string::npos);
  EXPECT_NE(error_of("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                     "requests_per_unit: -1}\n")
                .find("expected a whole number"),
            std::string::npos);
  EXPECT_NE(error_of("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                     "requests_per_unit: 1, replaces: [{name: ''}]}\n")
                .find("must not be empty"),
            std::string::npos);
  EXPECT_NE(error_of("domain: [d\n").find("rl.yaml:"), std::string::npos);
}

TEST(RlsConfig, OneDomainInTwoFilesIsRefused) {
  const RlsDomain a = parse_ratelimit_config("domain: d\n", "a.yaml");
  const RlsDomain b = parse_ratelimit_config("domain: d\n", "b.yaml");
  try {
    validate_rls_domains({a, b});
    FAIL() << "accepted domain d twice";
  } catch (const RlsConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "b.yaml: domain: domain 'd' is defined in more than one file");
  }
}

TEST(RlsConfig, SluiceConfigReferencesTheFile) {
  const auto config = parse_config(
      kTiers + "rls:\n  listen: 127.0.0.1:18081\n  config: " + kSample + "\n", "sluice.yaml");
  EXPECT_TRUE(config.rls.enabled);
  EXPECT_EQ(config.rls.listen, "127.0.0.1:18081");
  ASSERT_EQ(config.rls.domains.size(), 1u);
  EXPECT_EQ(config.rls.domains[0].domain, "edge");
  EXPECT_FALSE(parse_config(kTiers, "sluice.yaml").rls.enabled);
}

TEST(RlsConfig, SluiceConfigNamesTheRatelimitFileAtFault) {
  const std::string bad = ::testing::TempDir() + "/bad-ratelimit.yaml";
  std::ofstream(bad) << "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: year}\n";
  try {
    parse_config(kTiers + "rls:\n  config: [" + bad + "]\n", "sluice.yaml");
    FAIL() << "accepted unit: year";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), bad);
    EXPECT_EQ(e.line(), 4);
    EXPECT_EQ(e.field(), "descriptors[0].rate_limit.unit");
  }
  EXPECT_THROW(parse_config(kTiers + "rls:\n  listen: 127.0.0.1:8081\n", "sluice.yaml"),
               ConfigError);
  EXPECT_THROW(parse_config(kTiers + "rls:\n  config: /nonexistent.yaml\n", "sluice.yaml"),
               ConfigError);
  EXPECT_THROW(
      parse_config(kTiers + "rls:\n  config: " + kSample + "\n  listen: nowhere\n", "sluice.yaml"),
      ConfigError);
}

}  // namespace
}  // namespace sluice
