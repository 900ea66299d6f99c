// The decision of Envoy's rate-limit protocol on a test clock: matching as in
// envoyproxy/ratelimit, token buckets shared with the HTTP check, nothing
// spent on a refusal, statuses and headers.
#include "rls_limiter.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>

namespace sluice {
namespace {

const std::string kSample = std::string(SLUICE_SOURCE_DIR) + "/examples/envoy/ratelimit.yaml";
constexpr uint64_t kSecond = 1'000'000'000ULL;

RlsDescriptorRequest descriptor(std::vector<RlsEntry> entries) {
  return {std::move(entries), std::nullopt, std::nullopt};
}

class RlsLimiterTest : public ::testing::Test {
 protected:
  RlsLimiterTest() : limiter_(buckets_, [this] { return now_; }) {
    limiter_.configure({load_ratelimit_file(kSample)});
  }

  RlsResponse ask(std::vector<RlsDescriptorRequest> descriptors, uint32_t hits = 0) {
    return limiter_.should_rate_limit({"edge", std::move(descriptors), hits});
  }
  RlsResponse ask_one(std::vector<RlsEntry> entries, uint32_t hits = 0) {
    return ask({descriptor(std::move(entries))}, hits);
  }
  // How many of `count` requests for `entries` are admitted.
  int admitted(const std::vector<RlsEntry>& entries, int count) {
    int ok = 0;
    for (int i = 0; i < count; ++i) ok += ask_one(entries).overall_code == RlsCode::kOk;
    return ok;
  }

  uint64_t now_ = 1000 * kSecond;
  RequestBuckets buckets_;
  RlsLimiter limiter_;
};

std::map<std::string, std::string> headers(const RlsResponse& response) {
  return {response.response_headers.begin(), response.response_headers.end()};
}

TEST_F(RlsLimiterTest, KeyOnlyRuleGivesEveryValueItsOwnBucket) {
  EXPECT_EQ(admitted({{"remote_address", "198.51.100.1"}}, 15), 10);
  EXPECT_EQ(admitted({{"remote_address", "198.51.100.2"}}, 15), 10);
}

TEST_F(RlsLimiterTest, ExactValueWinsOverKeyOnly) {
  const auto response = ask_one({{"remote_address", "203.0.113.9"}});
  EXPECT_EQ(response.overall_code, RlsCode::kOverLimit);
  ASSERT_TRUE(response.statuses[0].current_limit);
  EXPECT_EQ(response.statuses[0].current_limit->requests_per_unit, 0u);
  EXPECT_EQ(headers(response).at("Retry-After"),
            "1");  // one unit: asking again is pointless sooner
}

TEST_F(RlsLimiterTest, NestedDescriptorsMatchLevelByLevel) {
  const std::vector<RlsEntry> marketing = {{"message_type", "marketing"}, {"to_number", "2061111"}};
  EXPECT_EQ(admitted(marketing, 8), 5);
  // The same number alone lands on the top-level to_number rule: 100/day.
  const auto alone = ask_one({{"to_number", "2061111"}});
  EXPECT_EQ(alone.statuses[0].current_limit->requests_per_unit, 100u);
  // A placeholder level without rate_limit limits nothing; a deeper request
  // than the tree matches nothing.
  const auto placeholder = ask_one({{"message_type", "marketing"}});
  EXPECT_EQ(placeholder.overall_code, RlsCode::kOk);
  EXPECT_FALSE(placeholder.statuses[0].current_limit);
  const auto deeper = ask_one({{"remote_address", "198.51.100.1"}, {"x", "y"}});
  EXPECT_FALSE(deeper.statuses[0].current_limit);
  EXPECT_TRUE(deeper.response_headers.empty());
}

TEST_F(RlsLimiterTest, WildcardValuesMatchByPrefix) {
  const auto users = ask_one({{"path", "/api/v1/users"}});
  ASSERT_TRUE(users.statuses[0].current_limit);
  EXPECT_EQ(users.statuses[0].current_limit->name, "api_v1");
  EXPECT_EQ(users.statuses[0].current_limit->requests_per_unit, 600u);
  EXPECT_FALSE(ask_one({{"path", "/api/v2/users"}}).statuses[0].current_limit);
}

TEST_F(RlsLimiterTest, ReplacesDropsTheReplacedLimitAndLeavesItsBucket) {
  const auto search = descriptor({{"path", "/api/v1/search"}});
  const auto alice = descriptor({{"path_user", "/api/v1/search"}, {"user", "alice"}});
  const auto both = ask({search, alice});
  EXPECT_FALSE(both.statuses[0].current_limit);  // api_v1 replaced
  EXPECT_EQ(both.statuses[1].current_limit->requests_per_unit, 1200u);
  EXPECT_EQ(both.statuses[1].limit_remaining, 1199u);
  // api_v1's bucket for that path was not charged.
  EXPECT_EQ(ask({search}).statuses[0].limit_remaining, 599u);
}

TEST_F(RlsLimiterTest, UnlimitedIsOkWithMaxRemaining) {
  const auto response = ask_one({{"client", "ldap"}});
  EXPECT_EQ(response.overall_code, RlsCode::kOk);
  EXPECT_EQ(response.statuses[0].limit_remaining, std::numeric_limits<uint32_t>::max());
  EXPECT_EQ(buckets_.size(), 0u);
}

TEST_F(RlsLimiterTest, ShadowModeCountsButNeverRefuses) {
  const std::vector<RlsEntry> trial = {{"service", "search"}, {"user", "trial-user"}};
  EXPECT_EQ(admitted(trial, 5), 5);
  EXPECT_EQ(limiter_.counters().shadow, 2u);
  EXPECT_EQ(ask_one(trial).statuses[0].code, RlsCode::kOk);
}

TEST_F(RlsLimiterTest, HitsAddendChargesThatManyAndARefusalSpendsNothing) {
  const std::vector<RlsEntry> address = {{"remote_address", "198.51.100.3"}};
  EXPECT_EQ(ask_one(address, 4).statuses[0].limit_remaining, 6u);
  const auto refused = ask_one(address, 7);
  EXPECT_EQ(refused.overall_code, RlsCode::kOverLimit);
  EXPECT_EQ(refused.statuses[0].limit_remaining, 6u);
  EXPECT_EQ(ask_one(address, 6).overall_code, RlsCode::kOk);
}

TEST_F(RlsLimiterTest, PerDescriptorHitsAddendReplacesTheRequests) {
  auto own = descriptor({{"remote_address", "198.51.100.7"}});
  own.hits_addend = 2;
  const auto other = descriptor({{"remote_address", "198.51.100.8"}});
  const auto response = ask({own, other}, 5);
  EXPECT_EQ(response.statuses[0].limit_remaining, 8u) << "its own 2";
  EXPECT_EQ(response.statuses[1].limit_remaining, 5u) << "the request's 5";
  own.hits_addend = 0;  // 0 means 1, as the request's does
  EXPECT_EQ(ask({own}).statuses[0].limit_remaining, 7u);
}

TEST_F(RlsLimiterTest, AllDescriptorsAreCheckedBeforeAnyIsSpent) {
  const auto address = descriptor({{"remote_address", "198.51.100.4"}});
  const auto blocked = descriptor({{"remote_address", "203.0.113.9"}});
  const auto response = ask({address, blocked});
  EXPECT_EQ(response.overall_code, RlsCode::kOverLimit);
  EXPECT_EQ(response.statuses[0].code, RlsCode::kOk);  // this one alone would pass
  EXPECT_EQ(response.statuses[1].code, RlsCode::kOverLimit);
  EXPECT_EQ(response.statuses[0].limit_remaining, 10u);  // and was not charged
  EXPECT_EQ(ask({address}).statuses[0].limit_remaining, 9u);
}

TEST_F(RlsLimiterTest, TheSameDescriptorTwiceAddsUp) {
  const auto address = descriptor({{"remote_address", "198.51.100.5"}});
  EXPECT_EQ(ask({address, address}, 5).overall_code, RlsCode::kOk);
  EXPECT_EQ(ask({address}).overall_code, RlsCode::kOverLimit);
}

TEST_F(RlsLimiterTest, TokenBucketRefillsEvenly) {
  const std::vector<RlsEntry> address = {{"remote_address", "198.51.100.6"}};
  EXPECT_EQ(admitted(address, 10), 10);
  const auto refused = ask_one(address);
  EXPECT_EQ(refused.overall_code, RlsCode::kOverLimit);
  EXPECT_EQ(refused.statuses[0].duration_until_reset_ns, kSecond);
  now_ += kSecond / 10;  // one token's worth
  EXPECT_EQ(admitted(address, 3), 1);
}

TEST_F(RlsLimiterTest, StatusesAndHeadersReportTheLimit) {
  const std::vector<RlsEntry> address = {{"remote_address", "198.51.100.7"}};
  const auto first = ask_one(address);
  const auto& status = first.statuses[0];
  EXPECT_EQ(status.code, RlsCode::kOk);
  EXPECT_EQ(status.current_limit->name, "edge.remote_address");
  EXPECT_EQ(status.current_limit->unit, RlsUnit::kSecond);
  EXPECT_EQ(status.limit_remaining, 9u);
  EXPECT_EQ(status.duration_until_reset_ns, kSecond / 10);
  auto h = headers(first);
  EXPECT_EQ(h.at("RateLimit-Policy"), "\"edge.remote_address\";q=10;w=1");
  EXPECT_EQ(h.at("RateLimit"), "\"edge.remote_address\";r=9;t=1");
  EXPECT_EQ(h.at("X-RateLimit-Limit"), "10");
  EXPECT_EQ(h.at("X-RateLimit-Remaining"), "9");
  EXPECT_EQ(h.count("Retry-After"), 0u);
  admitted(address, 9);
  h = headers(ask_one(address));
  EXPECT_EQ(h.at("X-RateLimit-Remaining"), "0");
  EXPECT_EQ(h.at("Retry-After"), "1");
}

TEST_F(RlsLimiterTest, ProxyOverrideReplacesTheConfiguredLimit) {
  RlsDescriptorRequest d = descriptor({{"remote_address", "198.51.100.8"}});
  d.limit = RlsOverride{2, 2};  // 2 per minute
  EXPECT_EQ(ask({d}).statuses[0].current_limit->requests_per_unit, 2u);
  EXPECT_EQ(ask({d}).overall_code, RlsCode::kOk);
  EXPECT_EQ(ask({d}).overall_code, RlsCode::kOverLimit);
  d.limit->unit = 5;  // MONTH
  EXPECT_THROW(ask({d}), RlsRequestError);
}

TEST_F(RlsLimiterTest, BadRequestsAreRefusedWithTheReason) {
  auto reason = [&](const RlsRequest& request) -> std::string {
    try {
      limiter_.should_rate_limit(request);
    } catch (const RlsRequestError& e) {
      return std::string(e.not_found() ? "not found: " : "invalid: ") + e.what();
    }
    return "";
  };
  const auto one = descriptor({{"remote_address", "198.51.100.9"}});
  EXPECT_EQ(reason({"", {one}, 0}), "invalid: rate limit domain must not be empty");
  EXPECT_EQ(reason({"nope", {one}, 0}), "not found: unknown domain 'nope'");
  EXPECT_EQ(reason({"edge", {}, 0}), "invalid: rate limit descriptor list must not be empty");
  EXPECT_EQ(reason({"edge", std::vector<RlsDescriptorRequest>(10000, one), 0}),
            "invalid: 10000 descriptors in one request; at most 128");
  EXPECT_EQ(reason({"edge", {descriptor({{"", "v"}})}, 0}),
            "invalid: descriptor 0 entry 0 has an empty key");
  EXPECT_EQ(reason({"edge", {descriptor({{"remote_address", std::string(5000, 'x')}})}, 0}),
            "invalid: descriptor 0 entry 0 is longer than 4096 bytes");
  EXPECT_EQ(limiter_.counters().invalid, 6u);
  EXPECT_EQ(ask({one}).overall_code, RlsCode::kOk);  // and it keeps serving
}

TEST_F(RlsLimiterTest, AnInvalidConfigurationChangesNothing) {
  RlsDomain bad = load_ratelimit_file(kSample);
  EXPECT_THROW(limiter_.configure({bad, bad}), RlsConfigError);
  EXPECT_EQ(admitted({{"remote_address", "198.51.100.10"}}, 11), 10);
}

TEST_F(RlsLimiterTest, AReloadKeepsWhatWasConsumed) {
  const std::vector<RlsEntry> address = {{"remote_address", "198.51.100.11"}};
  EXPECT_EQ(admitted(address, 6), 6);
  limiter_.configure({load_ratelimit_file(kSample)});
  EXPECT_EQ(admitted(address, 10), 4);
}

}  // namespace
}  // namespace sluice
