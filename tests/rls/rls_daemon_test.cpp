// sluiced with an `rls:` section: a real daemon serves Envoy's rate-limit
// service to a gRPC client, reloads the envoyproxy/ratelimit file on SIGHUP
// (keeping what was consumed) and refuses an invalid one without changing
// anything. No interface is attached; run under the netns-tests lock like
// every test that starts sluiced.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

namespace {

namespace pb = envoy::service::ratelimit::v3;

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string limit_file(int per_minute) {
  return "domain: e2e\ndescriptors:\n  - key: user\n    rate_limit: {unit: minute, "
         "requests_per_unit: " +
         std::to_string(per_minute) + "}\n";
}

class RlsDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-rls-e2e-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    write(dir_ / "ratelimit.yaml", limit_file(3));
    write(dir_ / "sluice.yaml",
          "control: {socket: " + (dir_ / "sluiced.sock").string() +
              "}\nstate_file: " + (dir_ / "state.json").string() +
              "\nmetrics: {listen: '127.0.0.1:18392'}\ntiers:\n  standard:\n    packets: "
              "1000/s\nrls:\n  listen: 127.0.0.1:18391\n  config: ratelimit.yaml\n");
    pid_ = fork();
    if (pid_ == 0) {
      execl(SLUICED_BIN, SLUICED_BIN, "--config", (dir_ / "sluice.yaml").c_str(), nullptr);
      _exit(127);
    }
    auto channel = grpc::CreateChannel("127.0.0.1:18391", grpc::InsecureChannelCredentials());
    ASSERT_TRUE(
        channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)))
        << "sluiced did not serve 127.0.0.1:18391";
    stub_ = pb::RateLimitService::NewStub(channel);
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "sluiced exit " << status;
    }
    std::filesystem::remove_all(dir_);
  }

  // The overall code for user `user`, or -1 when the call failed.
  int ask(const std::string& domain, const std::string& user) {
    pb::RateLimitRequest request;
    request.set_domain(domain);
    auto* entry = request.add_descriptors()->add_entries();
    entry->set_key("user");
    entry->set_value(user);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pb::RateLimitResponse response;
    return stub_->ShouldRateLimit(&context, request, &response).ok() ? response.overall_code() : -1;
  }
  int admitted(const std::string& user, int count) {
    int ok = 0;
    for (int i = 0; i < count; ++i) ok += ask("e2e", user) == pb::RateLimitResponse::OK;
    return ok;
  }
  // Reloads and waits until a request shows `per_minute` for a fresh user.
  void reload_to(int per_minute) {
    kill(pid_, SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      pb::RateLimitRequest request;
      request.set_domain("e2e");
      auto* entry = request.add_descriptors()->add_entries();
      entry->set_key("user");
      entry->set_value("probe");
      request.set_hits_addend(0);
      grpc::ClientContext context;
      pb::RateLimitResponse response;
      // A peek is not in the protocol: a probe user spends, which is harmless.
      if (stub_->ShouldRateLimit(&context, request, &response).ok() &&
          response.statuses(0).current_limit().requests_per_unit() ==
              static_cast<uint32_t>(per_minute))
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "the reload to " << per_minute << "/minute was not seen";
  }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::unique_ptr<pb::RateLimitService::Stub> stub_;
};

TEST_F(RlsDaemonTest, ServesReloadsAndRefusesABadFile) {
  EXPECT_EQ(admitted("alice", 5), 3);
  EXPECT_EQ(ask("unknown", "alice"), -1);
  // A bigger limit on SIGHUP: alice's 3 stay consumed.
  write(dir_ / "ratelimit.yaml", limit_file(5));
  reload_to(5);
  EXPECT_EQ(admitted("alice", 5), 2);
  // An unsupported field: the reload is refused, the running limits stay.
  write(dir_ / "ratelimit.yaml", limit_file(50) + "    detailed_metric: true\n");
  kill(pid_, SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(admitted("bob", 8), 5);

  // The answers on /metrics: the unknown domain is the one invalid request;
  // alice's 2 + 3 and bob's 3 refusals (probes may add to both codes).
  std::string metrics;
  if (FILE* curl = popen("curl -s -m 5 http://127.0.0.1:18392/metrics", "r")) {
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof(buffer), curl)) > 0;) metrics.append(buffer, n);
    pclose(curl);
  }
  EXPECT_NE(metrics.find("sluice_rls_requests_total{code=\"invalid\"} 1\n"), std::string::npos)
      << metrics;
  auto value = [&](const std::string& series) {
    auto at = metrics.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stol(metrics.substr(at + series.size() + 2));
  };
  EXPECT_GE(value("sluice_rls_requests_total{code=\"over_limit\"}"), 8);
  EXPECT_GE(value("sluice_rls_requests_total{code=\"ok\"}"), 10);
  EXPECT_EQ(value("sluice_rls_shadow_total"), 0);
}

}  // namespace
