// The IETF draft-11 fields and the X-RateLimit-* trio, byte for byte.
#include "rate_headers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice {
namespace {

std::string find(const HeaderList& headers, const std::string& name) {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return "<absent>";
}

TEST(RateHeaders, FormatsTheDraftFieldsAndTheXTrio) {
  LimitReport report{"pro-minute", 1000, 60, false, LimitState{true, 12, 29'000'000'001ULL, 0}};
  auto headers = rate_limit_headers(report);
  EXPECT_EQ(find(headers, "RateLimit-Policy"), "\"pro-minute\";q=1000;w=60");
  EXPECT_EQ(find(headers, "RateLimit"), "\"pro-minute\";r=12;t=30");
  EXPECT_EQ(find(headers, "X-RateLimit-Limit"), "1000");
  EXPECT_EQ(find(headers, "X-RateLimit-Remaining"), "12");
  EXPECT_EQ(find(headers, "X-RateLimit-Reset"), "30");
}

TEST(RateHeaders, AppendsTheSameFieldsAsLinesOfAHeaderBlock) {
  LimitReport report{"free-second", 5, 1, false, LimitState{true, 0, 200'000'000ULL, 0}};
  std::string fields = "X-Before: 1\r\n";
  append_rate_limit_headers(fields, report);
  EXPECT_EQ(fields,
            "X-Before: 1\r\n"
            "RateLimit-Policy: \"free-second\";q=5;w=1\r\n"
            "RateLimit: \"free-second\";r=0;t=1\r\n"
            "X-RateLimit-Limit: 5\r\n"
            "X-RateLimit-Remaining: 0\r\n"
            "X-RateLimit-Reset: 1\r\n");
}

TEST(RateHeaders, SecondsRoundUp) {
  EXPECT_EQ(ceil_seconds(0), 0u);
  EXPECT_EQ(ceil_seconds(1), 1u);
  EXPECT_EQ(ceil_seconds(1'000'000'000), 1u);
  EXPECT_EQ(ceil_seconds(1'000'000'001), 2u);
}

TEST(RateHeaders, ProblemBodyNamesThePolicy) {
  auto body = nlohmann::json::parse(
      problem_json(429, "Too Many Requests", "limit 'free-minute' exceeded", "free-minute", 6));
  EXPECT_EQ(body["status"], 429);
  EXPECT_EQ(body["policy"], "free-minute");
  EXPECT_EQ(body["retry_after"], 6);
  EXPECT_EQ(body["title"], "Too Many Requests");
}

}  // namespace
}  // namespace sluice
