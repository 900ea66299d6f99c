// Path normalisation and endpoint patterns: every encoding trick that would
// let a request reach /payments while dodging the /payments rule.
#include "path_pattern.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

struct PathCase {
  const char* target;
  const char* normalized;  // nullptr: refused
};

TEST(PathPattern, NormalizesOrRefusesEveryTrick) {
  const PathCase cases[] = {
      {"/payments", "/payments"},
      {"/payments/", "/payments"},
      {"/payments?x=1#f", "/payments"},
      {"//payments", "/payments"},
      {"/./payments", "/payments"},
      {"/users/../payments", "/payments"},
      {"/users/%2e%2e/payments", "/payments"},
      {"/users/%2E%2E/payments", "/payments"},
      {"/users/.%2e/payments", "/payments"},
      {"/%70ayments", "/payments"},
      {"/pay%6Dents", "/payments"},
      {"/users/a%20b", "/users/a%20b"},
      {"/users/a%c3%a9", "/users/a%C3%A9"},
      {"/", "/"},
      {"/..", nullptr},
      {"/users/../../payments", nullptr},
      {"/users%2Fpayments", nullptr},
      {"/users%2fpayments", nullptr},
      {"/users%5Cpayments", nullptr},
      {"/users\\payments", nullptr},
      {"/users/%0d%0a", nullptr},
      {"/users/\r", nullptr},
      {"/users/%2", nullptr},
      {"/users/%zz", nullptr},
      {"payments", nullptr},
      {"", nullptr},
  };
  for (const auto& c : cases) {
    auto result = normalize_path(c.target);
    if (c.normalized) {
      ASSERT_TRUE(result) << c.target << ": " << result.refusal.reason;
      EXPECT_EQ(*result.path, c.normalized) << c.target;
    } else {
      EXPECT_FALSE(result) << c.target << " became " << *result.path;
    }
  }
}

struct MatchCase {
  const char* pattern;
  const char* method;
  const char* path;
  bool matches;
};

TEST(PathPattern, MatchesSegmentsMethodsAndWildcards) {
  const MatchCase cases[] = {
      {"GET /users/*", "GET", "/users/42", true},
      {"GET /users/*", "HEAD", "/users/42", true},
      {"GET /users/*", "POST", "/users/42", false},
      {"GET /users/*", "GET", "/users", false},
      {"GET /users/*", "GET", "/users/42/orders", false},
      {"POST /users", "POST", "/users", true},
      {"POST /users", "POST", "/users/1", false},
      {"* /payments/**", "PUT", "/payments", true},
      {"* /payments/**", "DELETE", "/payments/a/b/c", true},
      {"* /payments/**", "GET", "/paymentsx", false},
      {"GET /", "GET", "/", true},
      {"GET /", "GET", "/a", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(EndpointPattern::parse(c.pattern).matches(c.method, c.path), c.matches)
        << c.pattern << " vs " << c.method << " " << c.path;
}

TEST(PathPattern, EncodedTricksStillMeetThePaymentsRule) {
  auto rule = EndpointPattern::parse("POST /payments");
  for (const char* target : {"/payments", "//payments/", "/x/../payments", "/%70ayments",
                             "/users/%2e%2e/payments?x", "/./payments/."}) {
    auto path = normalize_path(target);
    ASSERT_TRUE(path) << target;
    EXPECT_TRUE(rule.matches("POST", *path.path)) << target;
  }
}

TEST(PathPattern, RefusesMalformedPatterns) {
  for (const char* text : {"GET", "get /users", "GET users", "GET /users/../x", "GET /us*rs",
                           "GET /**/x", "GET /a%2Fb"})
    EXPECT_THROW(EndpointPattern::parse(text), std::invalid_argument) << text;
}

}  // namespace
}  // namespace sluice
