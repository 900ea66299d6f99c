// The request layer's decisions end to end in one process: identities,
// tier windows with endpoint rules at once, shadow rules, tier changes, the
// headers to report, and unknown keys leaving no state.
#include "checker.h"

#include <gtest/gtest.h>
#include <jwt.h>
#include <malloc.h>
#include <sodium.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

RequestWindow window(const std::string& name, uint64_t tokens, uint64_t period_s,
                     uint64_t burst = 0, bool shadow = false) {
  return {name, RateLimit{tokens, period_s * kSec, burst}, shadow};
}

CheckerConfig test_config() {
  CheckerConfig config;
  config.policy.tiers = {{"free", {window("minute", 5, 60)}},
                         {"pro", {window("minute", 1000, 60), window("second", 10, 1, 10)}}};
  config.policy.default_tier = "free";
  config.policy.anonymous = {window("minute", 3, 60)};
  config.policy.endpoints = {
      {"payments", "POST /payments", RateLimit{2, 60 * kSec, 0}, {"pro"}, false},
      {"exports", "GET /exports/**", RateLimit{1, 60 * kSec, 0}, {}, true}};
  config.trusted_proxies = {Cidr::parse("127.0.0.0/8")};
  return config;
}

std::string random_pepper() {
  std::string pepper(kPepperBytes, '\0');
  randombytes_buf(pepper.data(), pepper.size());
  return pepper;
}

class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    keys = std::make_shared<ApiKeyStore>(random_pepper());
    checker = std::make_unique<Checker>(
        keys, 1 << 16, [this] { return now_ns; }, [] { return uint64_t{1'800'000'000}; });
    checker->configure(test_config());
    free_key = keys->add("free", 0).first;
    pro_key = keys->add("pro", 0).first;
  }

  CheckRequest with_key(const std::string& key, const std::string& method = "GET",
                        const std::string& uri = "/users/1") {
    return {method, uri, key, std::nullopt, "", "", "127.0.0.1"};
  }
  CheckRequest anonymous(const std::string& real_ip, const std::string& peer = "127.0.0.1") {
    return {"GET", "/users/1", std::nullopt, std::nullopt, real_ip, "", peer};
  }
  static const LimitReport& reported(const Decision& d) { return d.limits.at(d.reported.value()); }

  uint64_t now_ns = 5'000 * kSec;
  std::shared_ptr<ApiKeyStore> keys;
  std::unique_ptr<Checker> checker;
  std::string free_key, pro_key;
};

TEST_F(CheckerTest, AFreeKeyIsRefusedAfterItsLimitWithAnHonestRetryAfter) {
  for (int i = 0; i < 5; ++i) {
    auto d = checker->check(with_key(free_key));
    ASSERT_EQ(d.verdict, Verdict::kAllowed) << i;
    EXPECT_EQ(reported(d).policy, "free-minute");
    EXPECT_EQ(reported(d).state.remaining, static_cast<uint64_t>(4 - i));
  }
  auto refused = checker->check(with_key(free_key));
  ASSERT_EQ(refused.verdict, Verdict::kRefused);
  EXPECT_EQ(refused.retry_after_s, 12u);
  EXPECT_EQ(reported(refused).policy, "free-minute");
  EXPECT_EQ(refused.reason, "limit 'free-minute' exceeded");
  now_ns += 12 * kSec - 1;
  EXPECT_EQ(checker->check(with_key(free_key)).verdict, Verdict::kRefused);
  now_ns += 1;
  EXPECT_EQ(checker->check(with_key(free_key)).verdict, Verdict::kAllowed);
}

TEST_F(CheckerTest, EndpointAndClientLimitsHoldAtOnce) {
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(checker->check(with_key(pro_key, "POST", "/payments")).verdict, Verdict::kAllowed);
  // The endpoint refuses; encoding tricks reach the same rule.
  for (const char* uri : {"/payments", "//payments/", "/x/%2e%2e/payments", "/%70ayments?a=b"}) {
    auto d = checker->check(with_key(pro_key, "POST", uri));
    EXPECT_EQ(d.verdict, Verdict::kRefused) << uri;
    EXPECT_EQ(reported(d).policy, "payments") << uri;
  }
  EXPECT_EQ(checker->check(with_key(pro_key, "POST", "/users%2Fpayments")).verdict,
            Verdict::kBadRequest);
  // The refusals cost the pro windows nothing; other endpoints go on.
  auto d = checker->check(with_key(pro_key, "GET", "/users/2"));
  ASSERT_EQ(d.verdict, Verdict::kAllowed);
  for (const auto& limit : d.limits) {
    if (limit.policy == "pro-minute") {
      EXPECT_EQ(limit.state.remaining, 997u);
    }
  }
  // The pro second window (10 at once) refuses the 11th request within a second.
  for (int i = 0; i < 7; ++i) checker->check(with_key(pro_key));
  auto burst = checker->check(with_key(pro_key));
  EXPECT_EQ(burst.verdict, Verdict::kRefused);
  EXPECT_EQ(reported(burst).policy, "pro-second");
  EXPECT_EQ(burst.retry_after_s, 1u);
}

TEST_F(CheckerTest, ShadowRulesPassAndCount) {
  for (int i = 0; i < 3; ++i) {
    auto d = checker->check(with_key(pro_key, "GET", "/exports/a/b"));
    EXPECT_EQ(d.verdict, Verdict::kAllowed);
    EXPECT_EQ(d.shadow_refusals.size(), i == 0 ? 0u : 1u);
  }
  auto counters = checker->counters();
  EXPECT_EQ((counters[{"exports", "pro"}].shadow), 2u);
  EXPECT_EQ((counters[{"exports", "pro"}].allowed), 3u);
  EXPECT_EQ((counters[{"pro-minute", "pro"}].allowed), 3u);
}

TEST_F(CheckerTest, ChangingTheTierKeepsWhatWasConsumed) {
  for (int i = 0; i < 4; ++i) checker->check(with_key(free_key));
  auto id = keys->find(free_key)->id;
  ASSERT_TRUE(keys->set_tier(id, "pro"));
  auto d = checker->check(with_key(free_key));
  ASSERT_EQ(d.verdict, Verdict::kAllowed);
  for (const auto& limit : d.limits) {
    if (limit.policy == "pro-minute") {
      EXPECT_EQ(limit.state.remaining, 995u);
    }
  }
  // And back: the free window is full (5 consumed), not reset.
  ASSERT_TRUE(keys->set_tier(id, "free"));
  EXPECT_EQ(checker->check(with_key(free_key)).verdict, Verdict::kRefused);
}

TEST_F(CheckerTest, BadCredentialsAre401AndMalformedOnes400) {
  EXPECT_EQ(checker->check(with_key("sk_unknownunknownunknownunknown")).verdict,
            Verdict::kUnauthorized);
  EXPECT_EQ(checker->check(with_key("short")).verdict, Verdict::kUnauthorized);
  EXPECT_EQ(checker->check(with_key(free_key + "\r\nX-Injected: 1")).verdict, Verdict::kBadRequest);
  keys->revoke(keys->find(pro_key)->id);
  EXPECT_EQ(checker->check(with_key(pro_key)).verdict, Verdict::kUnauthorized);
  auto bearer = with_key("");
  bearer.api_key.reset();
  bearer.authorization = "Bearer abc.def.ghi";
  auto d = checker->check(bearer);
  EXPECT_EQ(d.verdict, Verdict::kUnauthorized);
  EXPECT_EQ(d.reason, "bearer tokens are not accepted here");
  auto bad_method = with_key(free_key, "G E T");
  EXPECT_EQ(checker->check(bad_method).verdict, Verdict::kBadRequest);
}

TEST_F(CheckerTest, UnknownKeysCreateNoState) {
  for (int i = 0; i < 10'000; ++i) {
    unsigned char random[24];
    randombytes_buf(random, sizeof(random));
    char text[64];
    sodium_bin2base64(text, sizeof(text), random, sizeof(random),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    ASSERT_EQ(checker->check(with_key(std::string("sk_") + text)).verdict, Verdict::kUnauthorized);
  }
  EXPECT_EQ(checker->buckets().size(), 0u);
  EXPECT_TRUE(checker->counters().empty());
}

// 10,000 random keys per second for three seconds: no bucket, no counter,
// and the heap holds no more than it did after the first second.
TEST_F(CheckerTest, AFloodOfRandomKeysDoesNotGrowMemory) {
  auto flood_one_second = [&] {
    for (int i = 0; i < 10'000; ++i) {
      unsigned char random[24];
      randombytes_buf(random, sizeof(random));
      char text[64];
      sodium_bin2base64(text, sizeof(text), random, sizeof(random),
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING);
      ASSERT_EQ(checker->check(with_key(std::string("sk_") + text)).verdict,
                Verdict::kUnauthorized);
    }
    now_ns += kSec;
  };
  flood_one_second();
  const size_t heap = mallinfo2().uordblks;
  for (int second = 0; second < 3; ++second) flood_one_second();
  EXPECT_EQ(checker->buckets().size(), 0u);
  EXPECT_TRUE(checker->counters().empty());
  EXPECT_EQ(checker->verdicts()[static_cast<size_t>(Verdict::kUnauthorized)], 40'000u);
  EXPECT_LT(mallinfo2().uordblks, heap + 64 * 1024) << "bytes in use grew";
}

// A flood on a shadow rule: one log line per rule per interval, with a count.
TEST_F(CheckerTest, ShadowRefusalsAreLoggedOncePerRulePerInterval) {
  std::ostringstream log;
  auto saved = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  capture->set_pattern("%v");
  spdlog::set_default_logger(capture);
  checker->shadow_log().set_interval(10 * kSec);
  for (int i = 0; i < 5'000; ++i) checker->check(with_key(pro_key, "GET", "/exports/a"));
  checker->shadow_log().flush(now_ns);  // inside the interval: held back
  now_ns += 10 * kSec;
  checker->shadow_log().flush(now_ns);
  spdlog::set_default_logger(saved);
  const std::string text = log.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_NE(text.find("shadow: 'exports' would have refused key:"), std::string::npos) << text;
  EXPECT_NE(text.find("would have refused 4998 requests (one line per 10 s"), std::string::npos)
      << text;
  EXPECT_EQ(checker->shadow_log().lines(), 2u);
}

TEST_F(CheckerTest, AnonymousClientsAreLimitedPerAddressFromTrustedProxiesOnly) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(checker->check(anonymous("198.18.0.1")).verdict, Verdict::kAllowed);
  auto d = checker->check(anonymous("198.18.0.1"));
  EXPECT_EQ(d.verdict, Verdict::kRefused);
  EXPECT_EQ(reported(d).policy, "anonymous-minute");
  EXPECT_EQ(checker->check(anonymous("198.18.0.2")).verdict, Verdict::kAllowed);
  // A peer that is not a trusted proxy cannot pick its address: it is limited as itself.
  auto untrusted = anonymous("198.18.0.3", "198.19.0.9");
  EXPECT_EQ(checker->check(untrusted).identity.client, "addr:198.19.0.9");
  // IPv6 clients share their /64.
  EXPECT_EQ(checker->check(anonymous("2001:db8:1:2::5")).identity.client, "addr:2001:db8:1:2::/64");
  EXPECT_EQ(checker->check(anonymous("not-an-address")).verdict, Verdict::kBadRequest);
}

TEST_F(CheckerTest, RequiredCredentialsRefuseAnonymousClients) {
  auto config = test_config();
  config.policy.require_credential = true;
  checker->configure(config);
  EXPECT_EQ(checker->check(anonymous("198.18.0.1")).verdict, Verdict::kUnauthorized);
}

TEST_F(CheckerTest, UsageReportsEveryLimitWithoutSpending) {
  checker->check(with_key(pro_key, "POST", "/payments"));
  for (int i = 0; i < 3; ++i) {
    auto usage = checker->usage(with_key(pro_key));
    ASSERT_TRUE(std::holds_alternative<Usage>(usage));
    std::map<std::string, uint64_t> remaining;
    for (const auto& limit : std::get<Usage>(usage).limits)
      remaining[limit.policy] = limit.state.remaining;
    EXPECT_EQ(remaining["pro-minute"], 999u);
    EXPECT_EQ(remaining["pro-second"], 9u);
    EXPECT_EQ(remaining["payments"], 1u);
    EXPECT_EQ(remaining["exports"], 1u);
  }
  EXPECT_TRUE(
      std::holds_alternative<IdentityRefusal>(checker->usage(with_key("sk_nope_nope_nope_nope"))));
}

TEST_F(CheckerTest, AnInvalidPolicyChangesNothing) {
  auto config = test_config();
  config.policy.endpoints.push_back({"bad", "GET /a/../b", RateLimit{1, kSec, 0}, {}, false});
  EXPECT_THROW(checker->configure(config), std::invalid_argument);
  config = test_config();
  config.policy.default_tier = "gold";
  EXPECT_THROW(checker->configure(config), PolicyError);
  EXPECT_EQ(checker->check(with_key(free_key)).verdict, Verdict::kAllowed);
}

TEST_F(CheckerTest, BearerTokensNameTheClientAndItsTier) {
  const std::string secret = "an HS256 secret of at least 32 bytes, for tests";
  auto config = test_config();
  config.jwt = JwtSettings{"HS256", secret, "", "api", "plan", 30};
  checker->configure(config);
  auto token = [&](const std::string& plan, const std::string& audience) {
    jwt_t* jwt = nullptr;
    jwt_new(&jwt);
    jwt_add_grant(jwt, "sub", "alice");
    jwt_add_grant(jwt, "aud", audience.c_str());
    if (!plan.empty()) jwt_add_grant(jwt, "plan", plan.c_str());
    jwt_add_grant_int(jwt, "exp", 1'800'000'600);
    jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                static_cast<int>(secret.size()));
    char* text = jwt_encode_str(jwt);
    std::string out = text;
    free(text);
    jwt_free(jwt);
    return out;
  };
  auto bearer = [&](const std::string& t) {
    return CheckRequest{"GET", "/users/1", std::nullopt, "Bearer " + t, "", "", "127.0.0.1"};
  };
  auto pro = checker->check(bearer(token("pro", "api")));
  ASSERT_EQ(pro.verdict, Verdict::kAllowed) << pro.reason;
  EXPECT_EQ(pro.identity.client, "jwt:alice");
  EXPECT_EQ(pro.identity.tier, "pro");
  EXPECT_EQ(checker->check(bearer(token("", "api"))).identity.tier, "free");  // default tier
  auto unknown_tier = checker->check(bearer(token("gold", "api")));
  EXPECT_EQ(unknown_tier.verdict, Verdict::kUnauthorized);
  auto wrong_audience = checker->check(bearer(token("pro", "other")));
  EXPECT_EQ(wrong_audience.verdict, Verdict::kUnauthorized);
  EXPECT_EQ(wrong_audience.reason, "bearer token refused: wrong audience");
}

TEST(ApiKeys, AreStoredHashedAndSurviveAReload) {
  ASSERT_GE(sodium_init(), 0);
  std::string pepper = random_pepper();
  ApiKeyStore store(pepper);
  auto [key, record] = store.add("pro", 42);
  EXPECT_TRUE(is_well_formed_key(key));
  EXPECT_EQ(store.find(key)->id, record.id);
  auto path = std::filesystem::temp_directory_path() / ("sluice-keys-" + std::to_string(getpid()));
  store.save(path);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(key), std::string::npos) << "the key must never be stored in clear";
  EXPECT_EQ(text.find(key.substr(3)), std::string::npos);
  ApiKeyStore reloaded(pepper);
  reloaded.load(path);
  EXPECT_EQ(reloaded.find(key)->tier, "pro");
  // Another deployment's pepper makes the same file useless.
  ApiKeyStore other(random_pepper());
  other.load(path);
  EXPECT_FALSE(other.find(key));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sluice
