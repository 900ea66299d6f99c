// A real sluiced in a namespace lab, scraped over HTTP while a flood runs:
// the Prometheus output parses and carries the figures the flood produced.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "http_get.h"
#include "lab.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;

// Sample lines "name{labels} value" -> value.
std::map<std::string, double> samples(const std::string& body) {
  std::map<std::string, double> out;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

class MetricsScrape : public ::testing::Test {
 protected:
  VethLab lab{"sxm", 65};
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "sluice-metrics-test";
  pid_t daemon = -1;

  void SetUp() override {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "sluice.yaml")
        << "interfaces:\n  - name: " << lab.rx_if() << "\n    mode: native\n"
        << "control:\n  socket: " << (dir / "ctl.sock").string() << "\n"
        << "state_file: " << (dir / "state.json").string() << "\n"
        << "metrics:\n  listen: 127.0.0.1:19464\n"
        << "default_tier: small\n"
        << "tiers:\n  small:\n    packets: {rate: 200/s, burst: 20}\n";
    daemon = fork();
    if (daemon == 0) {
      std::string log = (dir / "sluiced.log").string();
      freopen(log.c_str(), "w", stderr);
      execlp("nsenter", "nsenter", ("--net=/run/netns/" + lab.rx_ns()).c_str(), SLUICED_BIN,
             "--config", (dir / "sluice.yaml").c_str(), "--detach-on-exit", nullptr);
      _exit(127);
    }
    // Readiness: any answer (a 404 for "/"); a /metrics scrape would cache the
    // occupancy of the still empty map for kOccupancyMaxAge.
    for (int i = 0; i < 100 && http_get(lab.rx_ns(), 19464, "/").empty(); ++i)
      std::this_thread::sleep_for(milliseconds(50));
  }
  void TearDown() override {
    if (daemon > 0) {
      ::kill(daemon, SIGTERM);
      ::waitpid(daemon, nullptr, 0);
    }
    if (HasFailure()) std::system(("cat " + (dir / "sluiced.log").string() + " >&2").c_str());
    std::filesystem::remove_all(dir);
  }
};

TEST_F(MetricsScrape, ServesTheFloodsFiguresInPrometheusFormat) {
  auto sent = send_udp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), 9000, 2000, milliseconds(1500));
  std::string response = http_get(lab.rx_ns(), 19464, "/metrics");
  ASSERT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response.substr(0, 200);
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  std::string body = response.substr(response.find("\r\n\r\n") + 4);
  auto s = samples(body);
  std::string iface = "interface=\"" + lab.rx_if() + "\"";
  double passed = s["sluice_packets_total{" + iface +
                    ",tier=\"small\",verdict=\"pass\",reason=\"within_limits\"}"];
  double dropped = s["sluice_packets_total{" + iface +
                     ",tier=\"small\",verdict=\"drop\",reason=\"packet_rate\"}"];
  double limit = 200 * sent.seconds + 20;
  EXPECT_NEAR(passed, limit, 0.05 * limit);
  EXPECT_NEAR(passed + dropped, static_cast<double>(sent.sent), 0.01 * sent.sent);
  EXPECT_GT(
      s["sluice_bytes_total{" + iface + ",tier=\"small\",verdict=\"drop\",reason=\"packet_rate\"}"],
      dropped * 64);
  EXPECT_EQ(s["sluice_xdp_attached{" + iface + ",mode=\"native\"}"], 1);
  EXPECT_GE(s["sluice_bucket_entries{" + iface + "}"], 1);
  EXPECT_EQ(s["sluice_bucket_capacity{" + iface + "}"], 1048576);
  EXPECT_GE(s["sluice_policy_generation{" + iface + "}"], 1);
  EXPECT_EQ(s["sluice_policy_entries{kind=\"tier\"}"], 1);
  EXPECT_GT(s["sluice_uptime_seconds"], 0);
  EXPECT_EQ(http_get(lab.rx_ns(), 19464, "/nope").rfind("HTTP/1.1 404", 0), 0u);
}

}  // namespace
}  // namespace sluice::testing
