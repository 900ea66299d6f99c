// Each algorithm through the check API: a config file names it, /v1/check
// answers 200 or the 403 carrying a 429, and every answer on random arrivals
// (a test clock) is the reference model's. Retry-After and RateLimit tell the
// truth about the algorithm that refused.
#include <gtest/gtest.h>
#include <sodium.h>

#include <memory>
#include <random>
#include <string>

#include "check_service.h"
#include "config_file.h"
#include "reference_algorithms.h"

namespace sluice {
namespace {

using testing::ReferenceBucket;
using testing::ReferenceFixedWindow;
using testing::ReferenceLeakyBucket;
using testing::ReferenceSlidingWindow;

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kMs = kSec / 1000;

std::string header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers)
    if (key == name) return value;
  return "<absent>";
}

// A checker configured from YAML, anonymous clients limited to 10/s under one
// algorithm, answering /v1/check at a clock the test sets.
class CheckAlgorithm : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    Config config = parse_config(
        "tiers:\n  default: {packets: 100/s}\ncheck:\n  anonymous:\n    second: {rate: 10/s, "
        "algorithm: " +
            GetParam() + "}\n",
        "test.yaml");
    settings = config.check;
    keys = std::make_shared<ApiKeyStore>(std::string(kPepperBytes, 'p'));
    checker = std::make_unique<Checker>(keys, 1024, [this] { return now_ns; });
    checker->configure(settings.checker);
  }
  HttpResponse check(const std::string& client) {
    HttpRequest request{
        "GET",
        "/v1/check",
        "HTTP/1.1",
        {{"x-original-method", "GET"}, {"x-original-uri", "/items"}, {"x-real-ip", client}},
        "127.0.0.1"};
    return handle_check_http(*checker, settings, request);
  }
  bool model_spend(uint64_t now) {
    const std::string& name = GetParam();
    if (name == "fixed_window") return fixed.spend(now, 1);
    if (name == "sliding_window") return sliding.spend(now, 1);
    if (name == "leaky_bucket") return leaky.spend(now, 1);
    return bucket.spend(now, 1);
  }

  uint64_t now_ns = 1000 * kSec;
  CheckSettings settings;
  std::shared_ptr<ApiKeyStore> keys;
  std::unique_ptr<Checker> checker;
  ReferenceBucket bucket{10, kSec, 10};
  ReferenceLeakyBucket leaky{10, kSec, 1};
  ReferenceFixedWindow fixed{10, kSec};
  ReferenceSlidingWindow sliding{10, kSec};
};

TEST_P(CheckAlgorithm, EveryAnswerOnRandomArrivalsIsTheModels) {
  std::mt19937_64 rng(31);
  int allowed = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    // About 20/s against 10/s: quiet gaps and bursts.
    now_ns += rng() % 4 == 0 ? rng() % (300 * kMs) : rng() % (30 * kMs);
    HttpResponse response = check("198.18.0.7");
    ASSERT_TRUE(response.status == 200 || response.status == 403) << response.status;
    ASSERT_EQ(response.status == 200, model_spend(now_ns)) << GetParam() << " request " << i;
    (response.status == 200 ? allowed : refused)++;
  }
  EXPECT_GT(allowed, 500);
  EXPECT_GT(refused, 100);
}

// After a refusal, Retry-After (whole seconds, rounded up) is enough: a check
// that much later is admitted.
TEST_P(CheckAlgorithm, RetryAfterIsEnoughForThisAlgorithm) {
  std::mt19937_64 rng(8);
  int refusals = 0;
  for (int i = 0; i < 400; ++i) {
    now_ns += rng() % (40 * kMs);
    HttpResponse response = check("198.18.0.9");
    if (response.status == 200) continue;
    ++refusals;
    std::string retry = header(response, "Retry-After");
    ASSERT_NE(retry, "<absent>");
    now_ns += std::stoull(retry) * kSec;
    EXPECT_EQ(check("198.18.0.9").status, 200) << GetParam() << " Retry-After " << retry;
  }
  EXPECT_GT(refusals, 10);
}

INSTANTIATE_TEST_SUITE_P(All, CheckAlgorithm,
                         ::testing::Values("token_bucket", "fixed_window", "sliding_window",
                                           "leaky_bucket"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sluice
