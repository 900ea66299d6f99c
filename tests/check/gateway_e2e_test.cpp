// The whole example gateway for real: sluiced (check API) and scripts/gateway.sh's
// nginx (examples/nginx/gateway.conf: TLS, five services, caching, JSON access
// log) and its services run in the lab's rx namespace; clients speak HTTPS
// from the tx namespace, verifying the certificate made at setup.
#include <gtest/gtest.h>
#include <jwt.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "daemon_lab.h"
#include "http_answer.h"
#include "jwt_sign.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGatewayScript = SLUICE_SOURCE_DIR "/scripts/gateway.sh";
const std::string kJwtSecret = "the gateway test's HS256 secret, 32 bytes or more";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class Gateway : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon = std::make_unique<DaemonLab>("sgwfull", 233);
    const std::string dir = daemon->dir();
    std::ofstream(dir + "/jwt.secret") << kJwtSecret;
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
    free:
      sustained: {rate: 30/min, burst: 3}
    pro:
      sustained: 1000/hour
  anonymous:
    minute: 2/min
  endpoints:
    - name: payments
      match: POST /payments
      limit: 2/min
  jwt:
    algorithm: HS256
    secret_file: )" + dir + R"(/jwt.secret
    audience: api
    tier_claim: plan
    leeway: 5s
)",
                         /*attach=*/false);
    daemon->start();
    gateway_dir = dir + "/gateway";
    auto up = run_captured(std::string(kGatewayScript) + " up " + gateway_dir + " --netns " +
                           daemon->lab().rx_ns() + " --san " + daemon->lab().rx_v4() +
                           " --check unix:" + dir + "/check.sock");
    ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  }

  void TearDown() override {
    auto down = run_captured(std::string(kGatewayScript) + " down " + gateway_dir);
    EXPECT_EQ(down.exit_code, 0) << down.err;
    if (HasFailure()) std::fprintf(stderr, "--- nginx error log ---\n%s", error_log().c_str());
    daemon.reset();
  }

  // HTTPS from the tx namespace, the certificate verified against the one
  // gateway.sh made (no -k). `extra` are further curl arguments.
  HttpAnswer request(const std::string& method, const std::string& path,
                     const std::string& extra = "") {
    const std::string command = "ip netns exec " + daemon->lab().tx_ns() +
                                " curl -s -i -m 10 --cacert " + gateway_dir +
                                "/tls/gateway.crt -X " + method + " " + extra + " 'https://" +
                                daemon->lab().rx_v4() + path + "'";
    return parse_http_answer(run_captured(command).out);
  }
  HttpAnswer get(const std::string& path, const std::string& key = "") {
    return request("GET", path, key.empty() ? "" : "-H 'X-API-Key: " + key + "'");
  }
  HttpAnswer with_bearer(const std::string& path, const std::string& token) {
    return request("GET", path, "-H 'Authorization: Bearer " + token + "'");
  }

  std::string add_key(const std::string& tier) {
    auto result = daemon->ctl("key add --tier " + tier);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out.substr(0, result.out.find('\n'));
  }
  std::string key_id(const std::string& tier) {
    const auto keys = daemon->ctl_json("key list");  // outlives the loop
    for (const auto& row : keys["keys"])
      if (row["tier"] == tier) return row["id"];
    return "";
  }

  std::string access_log() const { return read_file(gateway_dir + "/logs/access.json"); }
  std::string error_log() const { return read_file(gateway_dir + "/logs/error.log"); }
  // The access log line of the request with this id (nginx writes it after
  // the response, so wait a moment for it).
  nlohmann::json log_line(const std::string& request_id) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      std::istringstream lines(access_log());
      for (std::string line; std::getline(lines, line);) {
        auto entry = nlohmann::json::parse(line);  // every line is JSON
        if (entry["request_id"] == request_id) return entry;
      }
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "no access log line with request_id " << request_id;
    return {};
  }
  std::string nginx_pid() const { return read_file(gateway_dir + "/run/nginx.pid"); }

  std::string token(const std::string& plan, long expires_in_s, const std::string& secret) {
    return test::sign_jwt(JWT_ALG_HS256, secret, [&](jwt_t* jwt) {
      jwt_add_grant(jwt, "sub", "alice");
      jwt_add_grant(jwt, "aud", "api");
      jwt_add_grant(jwt, "plan", plan.c_str());
      jwt_add_grant_int(jwt, "exp", ::time(nullptr) + expires_in_s);
    });
  }

  std::unique_ptr<DaemonLab> daemon;
  std::string gateway_dir;
};

TEST_F(Gateway, AFreeKeyGets429OverTlsWithHonestRetryAfterWhileAProKeyGoesOn) {
  const std::string free_key = add_key("free"), pro_key = add_key("pro");
  for (int i = 0; i < 3; ++i) {
    auto ok = get("/users/1", free_key);
    ASSERT_EQ(ok.status, 200) << i << ": " << ok.body;
    EXPECT_EQ(ok.header("ratelimit-policy"), "\"free-sustained\";q=30;w=60");
    EXPECT_EQ(ok.header("x-ratelimit-limit"), "30");
    EXPECT_EQ(ok.header("x-ratelimit-remaining"), std::to_string(2 - i));
    auto body = nlohmann::json::parse(ok.body);
    EXPECT_EQ(body["service"], "users");
    EXPECT_EQ(body["tier"], "free");
    EXPECT_EQ(body["api_key_forwarded"], false) << "the key must not reach the service";
    EXPECT_EQ(body["request_id"], ok.header("x-request-id"));
  }
  auto refused = get("/users/1", free_key);
  ASSERT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.header("content-type"), "application/problem+json");
  EXPECT_EQ(refused.header("retry-after"), "2");
  EXPECT_EQ(refused.header("ratelimit"), "\"free-sustained\";r=0;t=6");
  EXPECT_EQ(refused.header("x-ratelimit-remaining"), "0");
  auto problem = nlohmann::json::parse(refused.body);
  EXPECT_EQ(problem["status"], 429);
  EXPECT_EQ(problem["policy"], "free-sustained");
  EXPECT_EQ(problem["retry_after"], 2);
  // Honest: after Retry-After seconds the next request passes (and one only).
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(get("/users/1", free_key).status, 200);
  EXPECT_EQ(get("/users/1", free_key).status, 429);
  // Another service, same client: the client's limit holds everywhere.
  EXPECT_EQ(get("/orders/7", free_key).status, 429);
  // Refusals travel on nginx's keep-alive connections to sluiced (it asks
  // with HEAD: a 403 with an unread body would make nginx close each one, and
  // the closer keeps a TIME_WAIT socket).
  for (int i = 0; i < 3; ++i) get("/users/1", free_key);  // mostly refused
  const auto closed = run_captured("ip netns exec " + daemon->lab().rx_ns() +
                                   " ss -Htan state time-wait '( dport = :9465 )'");
  EXPECT_EQ(closed.out, "") << "connections to sluiced were closed";
  // The pro key is not affected.
  for (int i = 0; i < 5; ++i) {
    auto pro = get("/orders/7", pro_key);
    EXPECT_EQ(pro.status, 200);
    EXPECT_EQ(pro.header("x-ratelimit-remaining"), std::to_string(999 - i));
  }
  // Plain HTTP is redirected to HTTPS.
  auto plain = parse_http_answer(run_captured("ip netns exec " + daemon->lab().tx_ns() +
                                              " curl -s -i -m 5 'http://" + daemon->lab().rx_v4() +
                                              "/users/1'")
                                     .out);
  EXPECT_EQ(plain.status, 308);
  EXPECT_EQ(plain.header("location"), "https://" + daemon->lab().rx_v4() + "/users/1");
}

TEST_F(Gateway, EndpointAndClientLimitsHoldAtOnceAcrossServices) {
  const std::string pro_key = add_key("pro");
  const std::string post = "-H 'X-API-Key: " + pro_key + "' --data '{\"amount\":5}'";
  for (int i = 0; i < 2; ++i) {
    auto paid = request("POST", "/payments", post);
    EXPECT_EQ(paid.status, 201) << paid.body;
    EXPECT_EQ(nlohmann::json::parse(paid.body)["service"], "payments");
  }
  auto refused = request("POST", "/payments", post);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.header("ratelimit-policy"), "\"payments\";q=2;w=60");
  // The endpoint rule refuses payments; the client's hourly limit counted the
  // two payments and nothing for the refusal, and other services go on.
  auto users = get("/users/2", pro_key);
  EXPECT_EQ(users.status, 200);
  EXPECT_EQ(users.header("x-ratelimit-remaining"), "997");
  EXPECT_EQ(get("/catalog/books", pro_key).status, 200);
  EXPECT_EQ(get("/reports/daily", pro_key).status, 200);
  EXPECT_EQ(get("/catalog/books", pro_key).header("x-ratelimit-remaining"), "994")
      << "a cached answer is still checked and counted";
  // Anonymous clients (no credential) get the address limit.
  EXPECT_EQ(get("/catalog/books").status, 200);
  EXPECT_EQ(get("/catalog/books").status, 200);
  auto anonymous = get("/catalog/books");
  EXPECT_EQ(anonymous.status, 429);
  EXPECT_EQ(anonymous.header("ratelimit-policy"), "\"anonymous-minute\";q=2;w=60");
}

TEST_F(Gateway, BearerJwtsPassThroughNginxAndBadCredentialsGet401) {
  auto alice = with_bearer("/orders/1", token("pro", 600, kJwtSecret));
  ASSERT_EQ(alice.status, 200) << alice.body;
  auto body = nlohmann::json::parse(alice.body);
  EXPECT_EQ(body["client"], "jwt:alice");
  EXPECT_EQ(body["tier"], "pro");
  EXPECT_EQ(alice.header("ratelimit-policy"), "\"pro-sustained\";q=1000;w=3600");
  auto entry = log_line(alice.header("x-request-id"));
  EXPECT_EQ(entry["key_id"], "jwt:alice");
  EXPECT_EQ(entry["verdict"], "allowed");

  for (const auto& [what, answer] :
       {std::pair{"expired", with_bearer("/orders/1", token("pro", -60, kJwtSecret))},
        std::pair{"mis-signed", with_bearer("/orders/1", token("pro", 600, kJwtSecret + "x"))},
        std::pair{"garbage", with_bearer("/orders/1", "not.a.jwt")},
        std::pair{"unknown key", get("/orders/1", "sk_this_key_was_never_issued")}}) {
    EXPECT_EQ(answer.status, 401) << what;
    EXPECT_EQ(answer.header("content-type"), "application/problem+json") << what;
    EXPECT_EQ(answer.header("www-authenticate"), "Bearer realm=\"api\"") << what;
    EXPECT_EQ(log_line(answer.header("x-request-id"))["verdict"], "unauthorized") << what;
  }
}

TEST_F(Gateway, TheCacheServesStaleCopiesWhileAServiceIsDownAndTimeoutsAnswer504) {
  const std::string key = add_key("pro");
  auto first = get("/catalog/books", key);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("x-cache-status"), "MISS");
  EXPECT_EQ(get("/catalog/books", key).header("x-cache-status"), "HIT");
  const double served_at = nlohmann::json::parse(first.body)["served_at"];

  auto stop =
      run_captured(std::string(kGatewayScript) + " stop-service " + gateway_dir + " catalog");
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  std::this_thread::sleep_for(2500ms);  // past the catalog's max-age=2
  for (int i = 0; i < 3; ++i) {
    auto stale = get("/catalog/books", key);
    EXPECT_EQ(stale.status, 200) << i;
    EXPECT_EQ(stale.header("x-cache-status"), "STALE") << i;
    EXPECT_EQ(nlohmann::json::parse(stale.body)["served_at"], served_at) << "the old copy";
  }
  // Nothing cached for this one: a clear 502, not a hang.
  auto down = get("/catalog/films", key);
  EXPECT_EQ(down.status, 502);
  EXPECT_EQ(down.header("content-type"), "application/problem+json");

  // A service that does not answer within reports' 2 s costs 2 s and a 504.
  const auto start = std::chrono::steady_clock::now();
  auto slow = get("/reports/daily?delay_ms=4000", key);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(slow.status, 504);
  EXPECT_LT(took, 3500ms);

  // Passive health checks: with one of the two users servers down, every
  // request still succeeds (retried on the other, then the dead one skipped).
  ASSERT_EQ(run_captured("kill $(cat " + gateway_dir + "/run/users-8101.pid)").exit_code, 0);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(get("/users/" + std::to_string(i), key).status, 200) << i;
}

TEST_F(Gateway, EachRequestLogsOneJsonLineWithItsIdKeyIdTierAndVerdictNeverTheKey) {
  const std::string key = add_key("free");
  const std::string id = key_id("free");
  std::vector<HttpAnswer> answers;
  for (int i = 0; i < 4; ++i) answers.push_back(get("/users/" + std::to_string(i), key));
  ASSERT_EQ(answers[0].status, 200);
  ASSERT_EQ(answers[3].status, 429);

  auto allowed = log_line(answers[0].header("x-request-id"));
  EXPECT_EQ(allowed["status"], 200);
  EXPECT_EQ(allowed["key_id"], id);
  EXPECT_EQ(allowed["tier"], "free");
  EXPECT_EQ(allowed["verdict"], "allowed");
  EXPECT_EQ(allowed["uri"], "/users/0");
  EXPECT_NE(allowed["upstream_time"], "");
  EXPECT_NE(allowed["check_time"], "");
  // The service saw the same request id.
  EXPECT_EQ(nlohmann::json::parse(answers[0].body)["request_id"], allowed["request_id"]);

  auto refused = log_line(answers[3].header("x-request-id"));
  EXPECT_EQ(refused["status"], 429);
  EXPECT_EQ(refused["key_id"], id);
  EXPECT_EQ(refused["verdict"], "refused");
  EXPECT_EQ(refused["policy"], "free-sustained");
  EXPECT_EQ(refused["upstream_time"], "") << "a refused request never reaches a service";

  const std::string log = access_log();
  EXPECT_EQ(log.find(key), std::string::npos) << "the key must never be logged";
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 4);
}

TEST_F(Gateway, KeysChangedWithSluicectlTakeEffectWithoutRestartingNginx) {
  const std::string pid_before = nginx_pid();
  ASSERT_FALSE(pid_before.empty());
  const std::string key = add_key("free");  // made after nginx started
  for (int i = 0; i < 3; ++i) ASSERT_EQ(get("/orders/1", key).status, 200);
  EXPECT_EQ(get("/orders/1", key).status, 429);
  const std::string id = key_id("free");
  ASSERT_EQ(daemon->ctl("key set-tier " + id + " pro").exit_code, 0);
  auto upgraded = get("/orders/1", key);
  EXPECT_EQ(upgraded.status, 200);
  EXPECT_EQ(upgraded.header("ratelimit-policy"), "\"pro-sustained\";q=1000;w=3600");
  EXPECT_EQ(nlohmann::json::parse(upgraded.body)["tier"], "pro");
  ASSERT_EQ(daemon->ctl("key revoke " + id).exit_code, 0);
  EXPECT_EQ(get("/orders/1", key).status, 401);
  EXPECT_EQ(nginx_pid(), pid_before) << "nginx was not restarted nor reloaded";
}

}  // namespace
}  // namespace sluice::testing
