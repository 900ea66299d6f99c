// The check listener as nginx reaches it: a real CheckService on loopback TCP
// and on a unix socket (asked with curl), bad input over the wire (oversized
// and malformed heads, CR/LF, path tricks, every kind of bad JWT), each
// answered with a clear status, and settings changed live, all or nothing.
#include <gtest/gtest.h>
#include <jwt.h>
#include <sodium.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "check_service.h"
#include "jwt_sign.h"
#include "sluice_bucket.h"

namespace sluice {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
const std::string kSecret = "an HS256 secret of at least 32 bytes, for tests";

// Paths of this process's own: ctest runs each case as a process of its own,
// two at once with -j2, and a shared directory or script is then removed or
// rewritten under the other's feet.
std::string own_temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()));
}

// The output of a bash command (bash: $'\r' quoting).
std::string run(const std::string& command) {
  const std::string script = own_temp_path("sluice-check-listener-test.sh");
  std::ofstream(script) << command << "\n";
  std::string out;
  FILE* pipe = ::popen(("bash " + script).c_str(), "r");
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  ::pclose(pipe);
  std::filesystem::remove(script);
  return out;
}

class CheckListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    settings.enabled = true;
    settings.listen = "127.0.0.1:0";
    settings.socket = dir + "/check.sock";
    settings.keys_file = dir + "/keys.json";
    settings.pepper_file = dir + "/pepper";
    settings.state_file = dir + "/state.bin";
    settings.checker.policy.tiers = {{"free", {{"minute", RateLimit{2, 60 * kSec, 0}, false}}},
                                     {"pro", {{"minute", RateLimit{1000, 60 * kSec, 0}, false}}}};
    settings.checker.policy.default_tier = "free";
    settings.checker.policy.endpoints = {
        {"admin", "GET /admin/**", RateLimit{1, 3600 * kSec, 0}, {}, false}};
    settings.checker.trusted_proxies = {Cidr::parse("127.0.0.0/8")};
    settings.checker.jwt = JwtSettings{"HS256", kSecret, "", "api", "tier", 5};
    service = std::make_unique<CheckService>(io, settings);
    key = service->keys().add("free", 0).first;
    loop = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    io.stop();
    loop.join();
    service.reset();
    std::filesystem::remove_all(dir);
  }

  // curl -i against /v1/check over TCP (or the unix socket), with headers.
  std::string curl(const std::string& headers, bool unix_socket = false, uint16_t port = 0) {
    std::string where = unix_socket
                            ? "--unix-socket " + settings.socket + " http://localhost"
                            : "http://127.0.0.1:" + std::to_string(port ? port : service->port());
    return run("curl -s -i -m 5 " + headers + " " + where + "/v1/check");
  }
  static std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
  }
  std::string ask_key(const std::string& uri, bool unix_socket = false) {
    return curl(
        "-H 'X-Original-Method: GET' -H 'X-Original-URI: " + uri + "' -H 'X-API-Key: " + key + "'",
        unix_socket);
  }
  static std::string token(const std::function<void(jwt_t*)>& edit, jwt_alg_t alg = JWT_ALG_HS256,
                           const std::string& secret = kSecret) {
    return test::sign_jwt(alg, secret, [&](jwt_t* jwt) {
      jwt_add_grant(jwt, "sub", "alice");
      jwt_add_grant(jwt, "aud", "api");
      jwt_add_grant_int(jwt, "exp", std::time(nullptr) + 600);
      edit(jwt);
    });
  }

  std::string dir = own_temp_path("sluice-check-listener-test");
  boost::asio::io_context io;
  CheckSettings settings;
  std::unique_ptr<CheckService> service;
  std::thread loop;
  std::string key;
};

TEST_F(CheckListenerTest, AnswersOnTheUnixSocketAsOnTcpWithOneSetOfBuckets) {
  auto over_unix = ask_key("/users/1", true);
  EXPECT_EQ(status_line(over_unix), "HTTP/1.1 200 OK") << over_unix;
  EXPECT_NE(over_unix.find("RateLimit: \"free-minute\";r=1;t=30"), std::string::npos) << over_unix;
  EXPECT_EQ(status_line(ask_key("/users/1")), "HTTP/1.1 200 OK");
  auto refused = ask_key("/users/1", true);
  EXPECT_EQ(status_line(refused), "HTTP/1.1 403 Forbidden");
  EXPECT_NE(refused.find("X-Sluice-Status: 429"), std::string::npos) << refused;
  // A unix socket peer is local: it may name the client address (anonymous usage).
  auto usage = run("curl -s -m 5 --unix-socket " + settings.socket +
                   " 'http://localhost/v1/usage?address=198.18.0.1'");
  EXPECT_EQ(nlohmann::json::parse(usage)["client"], "198.18.0.1") << usage;
  EXPECT_EQ(
      std::filesystem::status(settings.socket).permissions() & std::filesystem::perms::others_write,
      std::filesystem::perms::others_write)
      << "nginx workers (www-data) can connect";
}

TEST_F(CheckListenerTest, BadInputGetsAClearStatusAndTheListenerGoesOn) {
  struct Case {
    const char* what;
    std::string headers;
    const char* status;  // X-Sluice-Status
  };
  const std::string get = "-H 'X-Original-Method: GET' ";
  key = service->keys().add("pro", 0).first;  // room for every case
  const std::string with_key = "-H 'X-API-Key: " + key + "' ";
  const Case cases[] = {
      {"an oversized head",
       get + "-H 'X-Original-URI: /a' -H 'X-Big: " + std::string(9000, 'a') + "'", "431"},
      {"a header line without a colon", get + "-H 'X-Original-URI: /a' -H $'Broken\\r\\n: x'",
       "400"},
      {"CR in the key", get + "-H 'X-Original-URI: /a' -H $'X-API-Key: " + key + "\\rX: 1'", "400"},
      {"a key of the wrong shape", get + "-H 'X-Original-URI: /a' -H 'X-API-Key: sk_short'", "401"},
      {"dot-dot past the root", get + with_key + "-H 'X-Original-URI: /../admin/x'", "400"},
      {"an encoded slash", get + with_key + "-H 'X-Original-URI: /users/..%2Fadmin/x'", "400"},
      {"an encoded NUL", get + with_key + "-H 'X-Original-URI: /admin%00/x'", "400"},
      {"no method", with_key + "-H 'X-Original-URI: /a'", "400"},
  };
  for (const auto& c : cases) {
    auto response = curl(c.headers);
    EXPECT_NE(response.find(std::string("X-Sluice-Status: ") + c.status), std::string::npos)
        << c.what << ":\n"
        << response;
    EXPECT_TRUE(status_line(response) == "HTTP/1.1 403 Forbidden" ||
                status_line(response) == "HTTP/1.1 401 Unauthorized")
        << c.what << ": nginx takes only 2xx, 401 and 403 from auth_request: " << response;
  }
  EXPECT_EQ(status_line(ask_key("/users/1")), "HTTP/1.1 200 OK") << "still answering";

  // Encodings that resolve inside the root are normalised, so they meet the
  // rule of the path they stand for (admin: 1 an hour) instead of escaping it.
  EXPECT_EQ(status_line(ask_key("/admin/x")), "HTTP/1.1 200 OK");
  for (const char* trick :
       {"/users/%2e%2e/admin/x", "/users/%2E./admin/y", "//admin/./z", "/ADMIN/../admin/x"}) {
    auto response = ask_key(trick);
    EXPECT_NE(response.find("X-Sluice-Policy: admin"), std::string::npos) << trick << response;
  }
  // A double encoding is decoded once, as the backend will: a literal segment.
  auto literal = ask_key("/users/%252e%252e/admin/x");
  EXPECT_EQ(status_line(literal), "HTTP/1.1 200 OK") << literal;
  EXPECT_EQ(literal.find("admin"), std::string::npos) << literal;
}

TEST_F(CheckListenerTest, EveryBadBearerTokenIsA401SayingWhy) {
  const long now = std::time(nullptr);
  const std::string header_none =
      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";  // {"alg":"none","typ":"JWT"}
  const std::string good = token([](jwt_t*) {});
  const std::string payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  struct Case {
    const char* what;
    std::string token;
    const char* reason;
  };
  const Case cases[] = {
      {"alg none", header_none + "." + payload + ".", "bearer token refused"},
      {"wrong alg", token([](jwt_t*) {}, JWT_ALG_HS512), "bearer token refused"},
      {"expired", token([&](jwt_t* j) {
         jwt_del_grants(j, "exp");
         jwt_add_grant_int(j, "exp", now - 60);
       }),
       "expired"},
      {"not yet valid", token([&](jwt_t* j) { jwt_add_grant_int(j, "nbf", now + 60); }), "(nbf)"},
      {"bad signature", token([](jwt_t*) {}, JWT_ALG_HS256, kSecret + " but another one"),
       "bearer token refused"},
      {"wrong audience", token([](jwt_t* j) {
         jwt_del_grants(j, "aud");
         jwt_add_grant(j, "aud", "billing");
       }),
       "wrong audience"},
  };
  EXPECT_EQ(status_line(curl("-H 'X-Original-Method: GET' -H 'X-Original-URI: /a' "
                             "-H 'Authorization: Bearer " +
                             good + "'")),
            "HTTP/1.1 200 OK");
  for (const auto& c : cases) {
    auto response = curl(
        "-H 'X-Original-Method: GET' -H 'X-Original-URI: /a' "
        "-H 'Authorization: Bearer " +
        c.token + "'");
    EXPECT_EQ(status_line(response), "HTTP/1.1 401 Unauthorized") << c.what << ": " << response;
    EXPECT_NE(response.find(c.reason), std::string::npos) << c.what << ": " << response;
  }
}

TEST_F(CheckListenerTest, NewSettingsApplyAllOrNothing) {
  const uint16_t old_port = service->port();
  EXPECT_EQ(status_line(ask_key("/users/1")), "HTTP/1.1 200 OK");  // 1 of 2 consumed

  // A listener that cannot bind (an address that is not ours): nothing changes.
  CheckSettings bad = settings;
  bad.listen = "192.0.2.1:9465";
  bad.checker.policy.tiers[0].windows[0].limit.tokens = 100;
  EXPECT_THROW(service->configure(bad), std::system_error);
  EXPECT_EQ(service->port(), old_port);
  // An invalid policy: nothing changes either.
  bad = settings;
  bad.checker.policy.default_tier = "gold";
  EXPECT_ANY_THROW(service->configure(bad));

  // A good change: a new port and socket, a bigger window that keeps what was consumed.
  CheckSettings next = settings;
  next.listen = "127.0.0.2:0";
  next.socket = dir + "/check2.sock";
  next.checker.policy.tiers[0].windows[0].limit.tokens = 4;
  service->configure(next);
  EXPECT_NE(service->port(), 0);
  EXPECT_FALSE(std::filesystem::exists(settings.socket)) << "the old socket is gone";
  settings = next;
  auto response =
      run("curl -s -i -m 5 -H 'X-Original-Method: GET' -H 'X-Original-URI: /u' "
          "-H 'X-API-Key: " +
          key + "' --unix-socket " + next.socket + " http://localhost/v1/check");
  EXPECT_NE(response.find("RateLimit: \"free-minute\";r=2;"), std::string::npos)
      << "4 per minute, 1 consumed before and 1 now:\n"
      << response;
  auto tcp =
      run("curl -s -i -m 5 -H 'X-Original-Method: GET' -H 'X-Original-URI: /u' "
          "-H 'X-API-Key: " +
          key + "' http://127.0.0.2:" + std::to_string(service->port()) + "/v1/check");
  EXPECT_NE(tcp.find("RateLimit: \"free-minute\";r=1;"), std::string::npos) << tcp;
}

}  // namespace
}  // namespace sluice
