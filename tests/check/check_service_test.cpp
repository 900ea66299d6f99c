// The check and usage API as nginx sees it: statuses, the headers it copies
// to the client, and the refusal carried in a 403.
#include "check_service.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "daemon_metrics.h"
#include "metrics.h"

namespace sluice {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

std::string header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers)
    if (key == name) return value;
  return "<absent>";
}

class CheckServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    std::string pepper(kPepperBytes, 'p');
    keys = std::make_shared<ApiKeyStore>(pepper);
    checker = std::make_unique<Checker>(keys, 1024, [this] { return now_ns; });
    settings.checker.policy.tiers = {{"free", {{"minute", RateLimit{2, 60 * kSec, 0}, false}}}};
    settings.checker.policy.anonymous = {{"minute", RateLimit{1, 60 * kSec, 0}, false}};
    settings.checker.trusted_proxies = {Cidr::parse("127.0.0.0/8")};
    checker->configure(settings.checker);
    key = keys->add("free", 0).first;
  }
  HttpRequest check(std::vector<std::pair<std::string, std::string>> extra) {
    HttpRequest request{"GET",
                        "/v1/check",
                        "HTTP/1.1",
                        {{"x-original-method", "GET"}, {"x-original-uri", "/users/7"}},
                        "127.0.0.1"};
    for (auto& h : extra) request.headers.push_back(h);
    return request;
  }
  HttpResponse ask(const HttpRequest& request) {
    return handle_check_http(*checker, settings, request);
  }

  uint64_t now_ns = 100 * kSec;
  CheckSettings settings;
  std::shared_ptr<ApiKeyStore> keys;
  std::unique_ptr<Checker> checker;
  std::string key;
};

TEST_F(CheckServiceTest, AllowsWithHeadersThenRefusesWithA403CarryingThe429) {
  auto first = ask(check({{"x-api-key", key}}));
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(header(first, "RateLimit-Policy"), "\"free-minute\";q=2;w=60");
  EXPECT_EQ(header(first, "RateLimit"), "\"free-minute\";r=1;t=30");
  EXPECT_EQ(header(first, "X-Sluice-Client"), keys->find(key)->id);
  EXPECT_EQ(header(first, "Retry-After"), "<absent>");
  ask(check({{"x-api-key", key}}));
  auto refused = ask(check({{"x-api-key", key}}));
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(header(refused, "X-Sluice-Status"), "429");
  EXPECT_EQ(header(refused, "Retry-After"), "30");
  EXPECT_EQ(header(refused, "X-Sluice-Policy"), "free-minute");
  EXPECT_EQ(header(refused, "RateLimit"), "\"free-minute\";r=0;t=60");
  EXPECT_EQ(refused.content_type, "application/problem+json");
  EXPECT_EQ(nlohmann::json::parse(refused.body)["policy"], "free-minute");
  EXPECT_EQ(refused.body.find(key), std::string::npos);
}

TEST_F(CheckServiceTest, BadCredentialsAre401AndMalformedRequestsA403CarryingThe400) {
  EXPECT_EQ(ask(check({{"x-api-key", "sk_not_a_key_of_ours_at_all"}})).status, 401);
  auto crlf = ask(check({{"x-api-key", key + "\r\n"}}));
  EXPECT_EQ(crlf.status, 403);
  EXPECT_EQ(header(crlf, "X-Sluice-Status"), "400");
  auto tricks = check({{"x-api-key", key}});
  tricks.headers[1].second = "/users/..%2Fadmin";
  EXPECT_EQ(header(ask(tricks), "X-Sluice-Status"), "400");
}

TEST_F(CheckServiceTest, TheKeyHeaderIsConfigurable) {
  settings.key_header = "x-client-key";
  EXPECT_EQ(header(ask(check({{"x-client-key", key}})), "X-Sluice-Client"), keys->find(key)->id);
}

TEST_F(CheckServiceTest, UsageAnswersForAKeyOrAnAddressWithoutSpending) {
  ask(check({{"x-api-key", key}}));
  for (int i = 0; i < 2; ++i) {
    auto usage = ask({"GET", "/v1/usage?key=" + key, "HTTP/1.1", {}, "127.0.0.1"});
    ASSERT_EQ(usage.status, 200) << usage.body;
    auto body = nlohmann::json::parse(usage.body);
    EXPECT_EQ(body["tier"], "free");
    EXPECT_EQ(body["limits"][0]["policy"], "free-minute");
    EXPECT_EQ(body["limits"][0]["limit"], 2);
    EXPECT_EQ(body["limits"][0]["remaining"], 1);
    EXPECT_EQ(body["limits"][0]["reset_s"], 30);
  }
  auto address = ask({"GET", "/v1/usage?address=198.18.0.9", "HTTP/1.1", {}, "127.0.0.1"});
  EXPECT_EQ(nlohmann::json::parse(address.body)["limits"][0]["policy"], "anonymous-minute");
  EXPECT_EQ(
      ask({"GET", "/v1/usage?key=sk_unknown_unknown_unknown", "HTTP/1.1", {}, "127.0.0.1"}).status,
      401);
  EXPECT_EQ(checker->buckets().size(), 1u);
}

TEST_F(CheckServiceTest, MetricsCountPerLimitTierAndVerdict) {
  for (int i = 0; i < 3; ++i) ask(check({{"x-api-key", key}}));
  ask(check({{"x-api-key", "sk_not_a_key_of_ours_at_all"}}));
  // On the daemon's main /metrics (the check listener has none of its own).
  EXPECT_EQ(ask({"GET", "/metrics", "HTTP/1.1", {}, "127.0.0.1"}).status, 404);
  MetricsSnapshot snapshot;
  snapshot.check = check_metrics(*checker);
  const std::string body = render_metrics(snapshot);
  for (const char* line :
       {"sluice_check_answers_total{verdict=\"allowed\"} 2\n",
        "sluice_check_answers_total{verdict=\"refused\"} 1\n",
        "sluice_check_answers_total{verdict=\"unauthorized\"} 1\n",
        "sluice_check_rule_requests_total{policy=\"free-minute\",tier=\"free\",result=\"allowed\"} "
        "2\n",
        "sluice_check_rule_requests_total{policy=\"free-minute\",tier=\"free\",result=\"refused\"} "
        "1\n",
        "sluice_check_buckets 1\n"})
    EXPECT_NE(body.find(line), std::string::npos) << line << "\nin:\n" << body;
}

TEST_F(CheckServiceTest, UsageReportsTheKernelLayerOfTheClientsAddress) {
  std::vector<std::string> asked;
  KernelUsageSource kernel = [&](const std::string& address) -> std::optional<KernelUsage> {
    asked.push_back(address);
    return KernelUsage{"default", "", {{"veth0", "default-packets", "packets", 100, 1, 20, 7, 1}}};
  };
  // A key's usage asked through nginx: the forwarded client address is known.
  HttpRequest through_nginx{"GET",
                            "/v1/usage",
                            "HTTP/1.1",
                            {{"x-api-key", key}, {"x-real-ip", "198.18.0.7"}},
                            "127.0.0.1"};
  auto usage = handle_check_http(*checker, settings, through_nginx, kernel);
  ASSERT_EQ(usage.status, 200) << usage.body;
  auto body = nlohmann::json::parse(usage.body);
  EXPECT_EQ(body["address"], "198.18.0.7");
  EXPECT_EQ(body["kernel"]["tier"], "default");
  ASSERT_EQ(body["limits"].size(), 2u);
  EXPECT_EQ(body["limits"][0]["layer"], "request");
  EXPECT_EQ(body["limits"][1]["layer"], "kernel");
  EXPECT_EQ(body["limits"][1]["interface"], "veth0");
  EXPECT_EQ(body["limits"][1]["remaining"], 7);
  // An address asked for directly; a key asked for without one has no kernel layer.
  handle_check_http(*checker, settings,
                    {"GET", "/v1/usage?address=2001:db8::1", "HTTP/1.1", {}, "127.0.0.1"}, kernel);
  auto bare = handle_check_http(
      *checker, settings, {"GET", "/v1/usage?key=" + key, "HTTP/1.1", {}, "127.0.0.1"}, kernel);
  EXPECT_FALSE(nlohmann::json::parse(bare.body).contains("kernel"));
  EXPECT_EQ(asked, (std::vector<std::string>{"198.18.0.7", "2001:db8::/64"}));
  EXPECT_EQ(
      handle_check_http(*checker, settings,
                        {"GET", "/v1/usage?address=nonsense", "HTTP/1.1", {}, "127.0.0.1"}, kernel)
          .status,
      400);
}

TEST_F(CheckServiceTest, UnknownPathsAre404) {
  EXPECT_EQ(ask({"GET", "/v2/check", "HTTP/1.1", {}, "127.0.0.1"}).status, 404);
}

}  // namespace
}  // namespace sluice
