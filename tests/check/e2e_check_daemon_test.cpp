// The check API inside a real sluiced: nginx asking it over the unix socket,
// its counters on the daemon's main /metrics, /v1/usage reporting the kernel
// layer read from the attached data plane, and reloads (ctl and SIGHUP) that
// change the check section all or nothing while keeping what was consumed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "daemon_lab.h"
#include "http_get.h"
#include "nginx_snippets.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr const char* kExampleConf = SLUICE_SOURCE_DIR "/examples/nginx/sluice-auth.conf";
constexpr uint16_t kMetricsPort = 19471;

class CheckDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon = std::make_unique<DaemonLab>("schk", 237);
    write_config("3/min", "127.0.0.1:9475");
    daemon->start();
    auto added = daemon->ctl("key add --tier free");
    ASSERT_EQ(added.exit_code, 0) << added.err;
    key = added.out.substr(0, added.out.find('\n'));
  }
  void TearDown() override {
    if (nginx_pid > 0) {
      ::kill(nginx_pid, SIGTERM);
      ::waitpid(nginx_pid, nullptr, 0);
    }
    if (HasFailure()) std::cerr << daemon->log();
    daemon.reset();
  }

  std::string socket() const { return daemon->dir() + "/check.sock"; }
  void write_config(const std::string& free_minute, const std::string& listen,
                    const std::string& endpoint_match = "GET /exports/**") {
    const std::string dir = daemon->dir();
    daemon->write_config("metrics:\n  listen: 127.0.0.1:" + std::to_string(kMetricsPort) +
                         R"(
default_tier: small
tiers:
  small: {packets: {rate: 100/s, burst: 50}}
check:
  listen: )" + listen + R"(
  socket: )" + socket() + R"(
  keys_file: )" + dir + R"(/keys.json
  pepper_file: )" + dir + R"(/pepper
  state_file: )" + dir + R"(/request-state.bin
  default_tier: free
  tiers:
    free:
      minute: )" + free_minute +
                         R"(
  endpoints:
    - name: exports
      match: )" + endpoint_match +
                         R"(
      limit: 1/hour
      shadow: true
)");
  }
  // curl over the check API's unix socket (a filesystem path: no namespace needed).
  std::string over_socket(const std::string& path, const std::string& uri = "/users/1") {
    return run_captured("curl -s -i -m 5 -H 'X-Original-Method: GET' -H 'X-Original-URI: " + uri +
                        "' -H 'X-API-Key: " + key + "' --unix-socket " + socket() +
                        " 'http://localhost" + path + "'")
        .out;
  }
  std::string check(const std::string& uri = "/users/1") { return over_socket("/v1/check", uri); }
  static std::string header(const std::string& response, const std::string& name) {
    std::smatch m;
    if (!std::regex_search(response, m, std::regex(name + ": ([^\r]*)\r\n"))) return "<absent>";
    return m[1];
  }

  std::unique_ptr<DaemonLab> daemon;
  std::string key;
  pid_t nginx_pid = -1;
};

TEST_F(CheckDaemon, NginxAsksOverTheUnixSocket) {
  const std::string dir = daemon->dir();
  // The shipped snippets, whose upstream is the unix socket (this daemon's).
  copy_nginx_snippets(dir + "/sluice", "unix:" + socket());
  std::filesystem::copy_file(kExampleConf, dir + "/sluice-auth-unix.conf",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::create_directories(dir + "/nginx");
  std::ofstream(dir + "/nginx.conf")
      << "daemon off;\nmaster_process off;\npid " << dir << "/nginx/nginx.pid;\n"
      << "error_log " << dir << "/nginx/error.log info;\n"
      << "events { worker_connections 256; }\nhttp {\n  access_log off;\n"
      << "  client_body_temp_path " << dir << "/nginx/body;\n  proxy_temp_path " << dir
      << "/nginx/proxy;\n  fastcgi_temp_path " << dir << "/nginx/fcgi;\n  uwsgi_temp_path " << dir
      << "/nginx/uwsgi;\n  scgi_temp_path " << dir << "/nginx/scgi;\n"
      << "  include " << dir << "/sluice/sluice-upstream.conf;\n"
      << "  upstream api_backend { server 127.0.0.1:18091; }\n"
      << "  server { listen 127.0.0.1:18091; location / { return 200 \"backend\\n\"; } }\n"
      << "  server { listen " << daemon->lab().rx_v4() << ":8080; include " << dir
      << "/sluice-auth-unix.conf; }\n}\n";
  nginx_pid = ::fork();
  ASSERT_GE(nginx_pid, 0);
  if (nginx_pid == 0) {
    ::execlp("ip", "ip", "netns", "exec", daemon->lab().rx_ns().c_str(), "nginx", "-c",
             (dir + "/nginx.conf").c_str(), "-p", (dir + "/nginx").c_str(), nullptr);
    ::_exit(127);
  }
  auto get = [&] {
    return run_captured("ip netns exec " + daemon->lab().tx_ns() +
                        " curl -s -i -m 5 -H 'X-API-Key: " + key + "' http://" +
                        daemon->lab().rx_v4() + ":8080/users/1")
        .out;
  };
  std::string first;
  for (int i = 0; i < 100 && (first = get()).empty(); ++i)
    std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(first.substr(0, first.find("\r\n")), "HTTP/1.1 200 OK") << first;
  EXPECT_EQ(header(first, "RateLimit"), "\"free-minute\";r=2;t=20") << first;
  get();
  get();  // the third of 3 a minute
  auto refused = get();
  EXPECT_EQ(refused.substr(0, refused.find("\r\n")), "HTTP/1.1 429 Too Many Requests") << refused;
  EXPECT_NE(header(refused, "Retry-After"), "<absent>") << refused;
}

TEST_F(CheckDaemon, CountersAreOnTheMainMetricsAndUsageShowsBothLayers) {
  for (int i = 0; i < 4; ++i) check();
  for (int i = 0; i < 2; ++i) check("/exports/all");  // refused by the tier: no shadow spend
  // 300 packets in 0.1 s from the tx side: the kernel bucket (burst 50, 100/s)
  // runs dry, and is read back well within the half second it takes to refill.
  send_udp(daemon->lab().tx_ns(), daemon->lab().tx_v4(), daemon->lab().rx_v4(), 9000, 3000,
           milliseconds(100));

  auto usage = over_socket("/v1/usage?key=" + key + "&address=" + daemon->lab().tx_v4());
  auto body = nlohmann::json::parse(usage.substr(usage.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["tier"], "free");
  EXPECT_EQ(body["kernel"]["tier"], "small");
  bool request_layer = false, kernel_layer = false;
  for (const auto& limit : body["limits"]) {
    if (limit["layer"] == "request" && limit["policy"] == "free-minute") {
      request_layer = true;
      EXPECT_EQ(limit["remaining"], 0);
    }
    if (limit["layer"] == "kernel") {
      kernel_layer = true;
      EXPECT_EQ(limit["policy"], "small-packets");
      EXPECT_EQ(limit["interface"], daemon->lab().rx_if());
      EXPECT_EQ(limit["burst"], 50);
      EXPECT_LT(limit["remaining"].get<int>(), 50) << "the flood spent from the kernel bucket";
      EXPECT_GE(limit["reset_s"].get<int>(), 0);
    }
  }
  EXPECT_TRUE(request_layer && kernel_layer) << body.dump(2);
  std::string metrics = http_body(http_get(daemon->lab().rx_ns(), kMetricsPort, "/metrics"));
  for (const char* line :
       {"sluice_check_answers_total{verdict=\"allowed\"} 3\n",
        "sluice_check_answers_total{verdict=\"refused\"} 3\n",
        "sluice_check_rule_requests_total{policy=\"free-minute\",tier=\"free\",result=\"allowed\"} "
        "3\n",
        "sluice_check_rule_requests_total{policy=\"free-minute\",tier=\"free\",result=\"refused\"} "
        "3\n",
        "sluice_check_buckets 1\n", "sluice_packets_total{"})
    EXPECT_NE(metrics.find(line), std::string::npos) << line << " in:\n" << metrics;

  // An address the flood never came from has a full kernel bucket.
  auto quiet = over_socket("/v1/usage?address=198.18.99.1");
  auto quiet_body = nlohmann::json::parse(quiet.substr(quiet.find("\r\n\r\n") + 4));
  for (const auto& limit : quiet_body["limits"]) {
    if (limit["layer"] == "kernel") {
      EXPECT_EQ(limit["remaining"], 50) << quiet;
    }
  }
}

TEST_F(CheckDaemon, ReloadsChangeTheCheckSectionAllOrNothingAndKeepConsumption) {
  check();
  check();  // 2 of 3 consumed
  // A bad check section: refused, naming the field; nothing changes.
  write_config("100/min", "127.0.0.1:9476", "GET /a/../b");
  auto refused = daemon->ctl("reload");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("check.endpoints[0].match"), std::string::npos)
      << refused.out << refused.err;
  EXPECT_EQ(header(check(), "RateLimit"), "\"free-minute\";r=0;t=60") << "still 3/min";
  EXPECT_TRUE(http_get(daemon->lab().rx_ns(), 9476, "/").empty()) << "not listening there";

  // A good one by SIGHUP: 10/min, the TCP listener moved; the 3 consumed stay.
  write_config("10/min", "127.0.0.1:9476");
  daemon->signal(SIGHUP);
  std::string after;
  for (int i = 0; i < 100; ++i) {
    after = check();
    if (header(after, "RateLimit-Policy") == "\"free-minute\";q=10;w=60") break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(header(after, "RateLimit-Policy"), "\"free-minute\";q=10;w=60") << after;
  EXPECT_EQ(header(after, "RateLimit"), "\"free-minute\";r=6;t=24") << "3 + 1 of 10 consumed";
  EXPECT_NE(http_get(daemon->lab().rx_ns(), 9476, "/v1/check").find("HTTP/1.1 403"),
            std::string::npos)
      << "the moved listener answers (a 403 carrying the 400 of a request without a method)";
  EXPECT_TRUE(http_get(daemon->lab().rx_ns(), 9475, "/").empty()) << "the old port is closed";
  auto ok = daemon->ctl("reload");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

}  // namespace
}  // namespace sluice::testing
