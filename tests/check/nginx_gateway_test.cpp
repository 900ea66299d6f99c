// The request layer through a real nginx: sluiced and nginx (with the shipped
// examples/nginx/sluice-auth.conf) run in the lab's rx namespace, clients send
// real HTTP from the tx namespace. Nothing listens outside the lab.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "daemon_lab.h"
#include "http_answer.h"
#include "test_nginx.h"

namespace sluice::testing {
namespace {

constexpr int kSubnet = 231;

class NginxGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon = std::make_unique<DaemonLab>("sgate", kSubnet);
    const std::string dir = daemon->dir();
    daemon->write_config(R"(metrics:
  listen: ""
tiers:
  default: {packets: 100000/s}
check:
  listen: 127.0.0.1:9465
  socket: )" + dir + R"(/check.sock
  keys_file: )" + dir + R"(/keys.json
  pepper_file: )" + dir + R"(/pepper
  state_file: )" + dir + R"(/request-state.bin
  default_tier: free
  tiers:
    # Consumption carries across a tier change per window name: both tiers
    # name their main window "sustained".
    free:
      sustained: {rate: 30/min, burst: 3}
    pro:
      sustained: 1000/hour
    crowd:
      hour: 50/hour
  anonymous:
    minute: 2/min
  endpoints:
    - name: payments
      match: POST /payments
      limit: 2/min
      tiers: [pro]
    - name: exports
      match: GET /exports/**
      limit: 1/min
      shadow: true
)",
                         /*attach=*/false);
    daemon->start();
    start_nginx();
  }

  void TearDown() override {
    nginx.stop();
    daemon.reset();
  }

  void start_nginx() {
    nginx.start(
        daemon->dir(), daemon->lab().rx_ns(), daemon->lab().rx_v4() + ":8080",
        "unix:" + daemon->dir() + "/check.sock",
        "backend $request_method $uri tier=$http_x_sluice_tier client=$http_x_sluice_client");
    for (int i = 0; i < 100; ++i) {
      // An unknown key: answered with a 401, leaving no state behind.
      if (get("/", "sk_readiness_probe_never_issued").status != 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "nginx did not answer";
  }

  // curl from the tx namespace through nginx.
  HttpAnswer request(const std::string& method, const std::string& path,
                     const std::string& key = "") {
    std::string command = "ip netns exec " + daemon->lab().tx_ns() + " curl -s -i -m 5 -X " +
                          method + (key.empty() ? "" : " -H 'X-API-Key: " + key + "'") +
                          " 'http://" + daemon->lab().rx_v4() + ":8080" + path + "'";
    return parse_http_answer(run_captured(command).out);
  }
  HttpAnswer get(const std::string& path, const std::string& key = "") {
    return request("GET", path, key);
  }
  std::string add_key(const std::string& tier) {
    auto result = daemon->ctl("key add --tier " + tier);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out.substr(0, result.out.find('\n'));
  }
  std::string key_id(const std::string& tier) {
    const auto keys = daemon->ctl_json("key list");
    for (const auto& row : keys["keys"])
      if (row["tier"] == tier) return row["id"];
    return "";
  }

  std::unique_ptr<DaemonLab> daemon;
  TestNginx nginx;
};

TEST_F(NginxGateway, AFreeKeyGets429WithHeadersAndAnHonestRetryAfterWhileAProKeyGoesOn) {
  const std::string free_key = add_key("free"), pro_key = add_key("pro");
  for (int i = 0; i < 3; ++i) {
    auto ok = get("/users/1", free_key);
    ASSERT_EQ(ok.status, 200) << i << ": " << ok.body;
    EXPECT_EQ(ok.headers["ratelimit-policy"], "\"free-sustained\";q=30;w=60");
    EXPECT_EQ(ok.headers["x-ratelimit-remaining"], std::to_string(2 - i));
    EXPECT_NE(ok.body.find("tier=free"), std::string::npos) << ok.body;
    EXPECT_EQ(ok.body.find(free_key), std::string::npos) << "the key must not reach the backend";
  }
  auto refused = get("/users/1", free_key);
  ASSERT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.headers["retry-after"], "2");
  EXPECT_EQ(refused.headers["ratelimit"], "\"free-sustained\";r=0;t=6");
  EXPECT_EQ(refused.headers["content-type"], "application/problem+json");
  EXPECT_NE(refused.body.find("\"policy\":\"free-sustained\""), std::string::npos) << refused.body;
  // The pro key is not affected.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get("/users/1", pro_key).status, 200);
  // Honest: after Retry-After seconds the next request passes (and one only).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(get("/users/1", free_key).status, 200);
  EXPECT_EQ(get("/users/1", free_key).status, 429);
}

TEST_F(NginxGateway, EndpointLimitsHoldWithClientLimitsAndRefusalsCostNothing) {
  const std::string pro_key = add_key("pro");
  EXPECT_EQ(request("POST", "/payments", pro_key).status, 200);
  EXPECT_EQ(request("POST", "/payments", pro_key).status, 200);
  for (const char* path : {"/payments", "//payments/", "/x/.%2e/payments", "/%70ayments?a=1"}) {
    auto refused = request("POST", path, pro_key);
    EXPECT_EQ(refused.status, 429) << path;
    EXPECT_EQ(refused.headers["ratelimit-policy"], "\"payments\";q=2;w=60") << path;
  }
  EXPECT_EQ(request("POST", "/users%2Fpayments", pro_key).status, 400);
  auto users = get("/users/2", pro_key);
  EXPECT_EQ(users.status, 200);
  // 2 payments + this one: the refused payments consumed nothing (an hourly
  // window, so that nothing refills while the test runs).
  EXPECT_EQ(users.headers["x-ratelimit-remaining"], "997");
}

TEST_F(NginxGateway, BadCredentialsGet401AndAnonymousClientsTheirAddressLimit) {
  auto bad = get("/users/1", "sk_this_key_was_never_issued");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.headers["content-type"], "application/problem+json");
  EXPECT_EQ(get("/users/1", "bad\x01key").status, 400);
  EXPECT_EQ(get("/users/1").status, 200);
  EXPECT_EQ(get("/users/1").status, 200);
  auto anonymous = get("/users/1");
  EXPECT_EQ(anonymous.status, 429);
  EXPECT_EQ(anonymous.headers["ratelimit-policy"], "\"anonymous-minute\";q=2;w=60");
}

TEST_F(NginxGateway, ShadowRulesPassAndKeyChangesTakeEffectWithoutRestartingNginx) {
  const std::string key = add_key("free");
  EXPECT_EQ(get("/exports/a", key).status, 200);
  EXPECT_EQ(get("/exports/b", key).status, 200);  // the shadow rule would refuse: passes
  EXPECT_NE(daemon->log().find("shadow: 'exports' would have refused key:"), std::string::npos);
  EXPECT_EQ(get("/users/1", key).status, 200);
  EXPECT_EQ(get("/users/1", key).status, 429);  // free burst of 3 spent
  const std::string id = key_id("free");
  ASSERT_EQ(daemon->ctl("key set-tier " + id + " pro").exit_code, 0);
  auto upgraded = get("/users/1", key);
  EXPECT_EQ(upgraded.status, 200);
  EXPECT_EQ(upgraded.headers["x-ratelimit-remaining"], "996");  // 3 + this one consumed
  ASSERT_EQ(daemon->ctl("key revoke " + id).exit_code, 0);
  EXPECT_EQ(get("/users/1", key).status, 401);
}

TEST_F(NginxGateway, ConsumptionSurvivesADaemonRestart) {
  const std::string key = add_key("free");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(get("/users/1", key).status, 200);
  ASSERT_EQ(get("/users/1", key).status, 429);
  ASSERT_EQ(daemon->stop(), 0);
  daemon->start();
  auto after = get("/users/1", key);
  EXPECT_EQ(after.status, 429) << "a restart must not hand out a fresh bucket";
  EXPECT_NE(daemon->log().find("buckets restored"), std::string::npos);
}

TEST_F(NginxGateway, TwoHundredConcurrentRequestsNeverAdmitMoreThanTheLimit) {
  const std::string key = add_key("crowd");  // 50 per hour: no refill during the test
  std::string urls;
  for (int i = 0; i < 200; ++i)
    urls += " 'http://" + daemon->lab().rx_v4() + ":8080/users/" + std::to_string(i) + "'";
  auto result = run_captured("ip netns exec " + daemon->lab().tx_ns() +
                             " curl -s -o /dev/null -w '%{http_code}\\n' --parallel "
                             "--parallel-max 100 -m 10 -H 'X-API-Key: " +
                             key + "'" + urls);
  std::map<std::string, int> codes;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) ++codes[line];
  EXPECT_EQ(codes["200"], 50) << result.out;
  EXPECT_EQ(codes["429"], 150) << result.out;
}

}  // namespace
}  // namespace sluice::testing
