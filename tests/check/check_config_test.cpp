// The `check:` section of the YAML file: a full example reads as written, and
// mistakes name their line and field.
#include <gtest/gtest.h>

#include "config_file.h"
#include "sluice_algorithms.h"

namespace sluice {
namespace {

const char* kBase = "tiers:\n  default: {packets: 100/s}\n";

Config parse(const std::string& check) {
  return parse_config(std::string(kBase) + check, "test.yaml");
}

TEST(CheckConfig, ReadsAFullSection) {
  auto config = parse(R"(check:
  listen: 127.0.0.1:9999
  key_header: X-Client-Key
  default_tier: free
  trusted_proxies: [10.0.0.0/8]
  tiers:
    free:
      minute: 10/min
    pro:
      second: {rate: 20/s, burst: 40}
      day: 100000/day
  anonymous:
    minute: {rate: 60/min, shadow: true}
  endpoints:
    - name: users-read
      match: GET /users/*
      limit: 1000/min
      tiers: [pro]
    - name: payments
      match: POST /payments
      limit: 10/min
)");
  const auto& check = config.check;
  EXPECT_TRUE(check.enabled);
  EXPECT_EQ(check.listen, "127.0.0.1:9999");
  EXPECT_EQ(check.key_header, "x-client-key");
  ASSERT_EQ(check.checker.policy.tiers.size(), 2u);
  EXPECT_EQ(check.checker.policy.tiers[1].windows[0].limit.burst, 40u);
  EXPECT_EQ(check.checker.policy.tiers[1].windows[1].limit.period_ns, 86400 * SLUICE_NSEC_PER_SEC);
  EXPECT_TRUE(check.checker.policy.anonymous[0].shadow);
  ASSERT_EQ(check.checker.policy.endpoints.size(), 2u);
  EXPECT_EQ(check.checker.policy.endpoints[0].tiers, std::vector<std::string>{"pro"});
  EXPECT_EQ(check.checker.trusted_proxies.size(), 1u);
}

TEST(CheckConfig, ListensOnAUnixSocketWithOrWithoutTcp) {
  auto both = parse("check:\n  socket: /run/sluice/check.sock\n").check;
  EXPECT_EQ(both.listen, "127.0.0.1:9465");
  EXPECT_EQ(both.socket, "/run/sluice/check.sock");
  auto socket_only = parse("check:\n  listen: \"\"\n  socket: /run/sluice/check.sock\n").check;
  EXPECT_EQ(socket_only.listen, "");
  EXPECT_EQ(socket_only.socket, "/run/sluice/check.sock");
}

TEST(CheckConfig, IsOffWithoutTheSection) {
  EXPECT_FALSE(parse("").check.enabled);
}

TEST(CheckConfig, ReadsTheAlgorithmOfWindowsAndRules) {
  auto config = parse(R"(check:
  tiers:
    free:
      second: {rate: 10/s, algorithm: sliding_window}
      minute: 100/min
  endpoints:
    - name: search
      match: GET /search
      limit: 5/s
      algorithm: leaky_bucket
    - name: export
      match: GET /export
      limit: {rate: 1/min, algorithm: fixed_window}
)");
  const auto& policy = config.check.checker.policy;
  EXPECT_EQ(policy.tiers[0].windows[0].algorithm, uint32_t{SLUICE_ALGO_SLIDING_WINDOW});
  EXPECT_EQ(policy.tiers[0].windows[1].algorithm, uint32_t{SLUICE_ALGO_TOKEN_BUCKET})
      << "token_bucket is the default";
  EXPECT_EQ(policy.endpoints[0].algorithm, uint32_t{SLUICE_ALGO_LEAKY_BUCKET});
  EXPECT_EQ(policy.endpoints[1].algorithm, uint32_t{SLUICE_ALGO_FIXED_WINDOW});
}

TEST(CheckConfig, AnUnknownAlgorithmNamesTheFieldAndTheChoices) {
  try {
    parse("check:\n  tiers:\n    free:\n      second: {rate: 10/s, algorithm: token-bucket}\n");
    ADD_FAILURE() << "accepted an unknown algorithm";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "check.tiers.free.second.algorithm");
    EXPECT_EQ(e.line(), 6);
    EXPECT_NE(std::string(e.what()).find("unknown algorithm 'token-bucket' (expected "
                                         "token_bucket, fixed_window, sliding_window or "
                                         "leaky_bucket)"),
              std::string::npos)
        << e.what();
  }
}

TEST(CheckConfig, AWindowAlgorithmRefusesABurst) {
  try {
    parse(
        "check:\n  tiers:\n    free:\n      second: {rate: 10/s, burst: 20, algorithm: "
        "fixed_window}\n");
    ADD_FAILURE() << "accepted a burst on a window";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("burst does not apply to fixed_window"), std::string::npos)
        << e.what();
  }
}

struct BadCase {
  const char* yaml;
  const char* field;
};

TEST(CheckConfig, NamesTheFieldOfEachMistake) {
  const BadCase cases[] = {
      {"check:\n  listen: 0.0.0.0:9465\n", "check.listen"},
      {"check:\n  tiers:\n    free:\n      minute: lots\n", "check.tiers.free.minute"},
      {"check:\n  tiers:\n    free:\n      minute: unlimited\n", "check.tiers.free.minute"},
      {"check:\n  endpoints:\n    - name: x\n      match: GET /a/../b\n      limit: 1/s\n",
       "check.endpoints[0].match"},
      {"check:\n  endpoints:\n    - name: x\n      limit: 1/s\n", "check.endpoints[0].match"},
      {"check:\n  keys_file: relative.json\n", "check.keys_file"},
      {"check:\n  colour: blue\n", "check.colour"},
      {"check:\n  jwt:\n    algorithm: none\n    secret_file: /dev/null\n", "check.jwt.algorithm"},
      {"check:\n  jwt:\n    algorithm: HS256\n    secret_file: /dev/null\n", "check.jwt"},
      {"check:\n  jwt:\n    algorithm: RS256\n    secret_file: /dev/null\n",
       "check.jwt.secret_file"},
      {"check:\n  default_tier: gold\n  tiers:\n    free: {minute: 1/s}\n", "check"},
      {"check:\n  socket: check.sock\n", "check.socket"},
      {"check:\n  listen: \"\"\n", "check.listen"},
      {"check:\n  endpoints:\n    - name: x\n      match: GET /a\n      limit: 1/s\n"
       "      algorithm: gcra\n",
       "check.endpoints[0].algorithm"},
      {"check:\n  tiers:\n    free:\n      s: {rate: 20000000/s, algorithm: sliding_window}\n",
       "check"},
      {"check:\n  tiers:\n    free:\n      s: {rate: 10/s, algorithm: fixed_window, global: "
       "true}\n",
       "check"},
  };
  for (const auto& c : cases) {
    try {
      parse(c.yaml);
      ADD_FAILURE() << "accepted: " << c.yaml;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), c.field) << e.what();
      EXPECT_GT(e.line(), 0) << e.what();
    }
  }
}

}  // namespace
}  // namespace sluice
