// A global kernel tier across three real sluiced (docs/kernel-global.md):
// each node in its own namespace with its own veth, where one source (the
// same address on every link) floods all of them at once; the nodes gossip
// over a bridge in a hub namespace. Packets are counted on the far side of
// each veth. With `global: true` the fleet admits the limit once (rate x
// time + burst, within 5%); without it, once per node.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <regex>
#include <thread>

#include "daemon_lab.h"
#include "http_get.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kNodes = 3;
constexpr uint16_t kPort = 9331;
constexpr uint16_t kMetricsPort = 9464;  // each node's own loopback
constexpr uint64_t kRate = 1000;         // the global limit, packets/s
constexpr uint64_t kBurst = 300;         // its burst
constexpr uint64_t kOffered = 2500;      // packets/s the source sends to each node
constexpr auto kFlood = 6s;
const std::string kHub = "kgl-hub";
const std::string kSource = "198.19.190.1";  // the flooding source, the same on every link

std::string gossip_address(int node) {
  return "198.18.190." + std::to_string(node);
}

// The value of the sample `name` (a regex of the name and labels), -1 when absent.
double metric(const std::string& text, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(name + " ([0-9.e+]+)"))) return -1;
  return std::stod(match[1]);
}

class GlobalTierLab : public ::testing::Test {
 protected:
  void SetUp() override {
    run("ip netns del " + kHub + " 2>/dev/null");
    run_or_throw("ip netns add " + kHub);
    run_or_throw("ip -n " + kHub + " link add kgl-br type bridge");
    run_or_throw("ip -n " + kHub + " link set kgl-br up");
    for (int n = 1; n <= kNodes; ++n) {
      nodes_.push_back(std::make_unique<DaemonLab>("kgl" + std::to_string(n), 190 + n));
      DaemonLab& node = *nodes_.back();
      const std::string k = std::to_string(n);
      // The gossip link: the node's namespace to the hub's bridge.
      run_or_throw("ip link add kgl-g" + k + " netns " + node.lab().rx_ns() +
                   " type veth peer name kgl-h" + k + " netns " + kHub);
      run_or_throw("ip -n " + kHub + " link set kgl-h" + k + " master kgl-br up");
      run_or_throw("ip -n " + node.lab().rx_ns() + " addr add " + gossip_address(n) +
                   "/24 dev kgl-g" + k);
      run_or_throw("ip -n " + node.lab().rx_ns() + " link set kgl-g" + k + " up");
      // The flooding source, the same address on every node's link.
      run_or_throw("ip -n " + node.lab().tx_ns() + " addr add " + kSource + "/32 dev " +
                   node.lab().tx_if());
      run_or_throw("ip -n " + node.lab().rx_ns() + " route add " + kSource + "/32 dev " +
                   node.lab().rx_if());
      std::ofstream(node.dir() + "/cluster.key") << "kgl-lab-secret-of-32-bytes-000000\n";
    }
  }
  void TearDown() override {
    nodes_.clear();
    run("ip netns del " + kHub + " 2>/dev/null");
  }

  void start(bool global) {
    for (int n = 1; n <= kNodes; ++n) {
      DaemonLab& node = *nodes_[n - 1];
      node.write_config("metrics: {listen: 127.0.0.1:" + std::to_string(kMetricsPort) + "}\n" +
                        std::string("tiers:\n  flood: {packets: {rate: ") + std::to_string(kRate) +
                        "/s, burst: " + std::to_string(kBurst) + "}" +
                        (global ? ", global: true" : "") + "}\ncluster:\n  name: kglab\n  node: n" +
                        std::to_string(n) + "\n  bind: " + gossip_address(n) + ":7946\n  seeds: [" +
                        gossip_address(1) + ":7946, " + gossip_address(2) + ":7946]\n  key_file: " +
                        node.dir() + "/cluster.key\n  sync_interval: 100ms\n");
      node.start();
    }
    // Every node sees every member; with global tiers, each has localised
    // them for three members (burst / 3) before the flood starts.
    const auto deadline = Clock::now() + 20s;
    for (auto& node : nodes_) {
      for (;;) {
        const bool formed =
            node->log().find(global ? "global tiers localised for 3 counted member(s), share 1.00"
                                    : "") != std::string::npos &&
            alive_members(*node) == kNodes;
        if (formed) break;
        ASSERT_LT(Clock::now(), deadline)
            << "the cluster did not form: " << node->ctl("peers --json").out << node->log();
        std::this_thread::sleep_for(100ms);
      }
    }
  }

  static int alive_members(DaemonLab& node) {
    auto result = node.ctl("peers --json");
    if (result.exit_code != 0) return 0;
    const auto peers = nlohmann::json::parse(result.out);
    int alive = 0;
    for (const auto& member : peers.at("members")) alive += member["state"] == "alive";
    return alive;
  }

  struct Flood {
    std::vector<uint64_t> received;  // per node, from kSource
    double seconds = 0;              // the longest sender's
    uint64_t total = 0;
  };

  // The source floods every node at once; counted on the far side of each veth.
  Flood flood() {
    std::vector<std::unique_ptr<UdpCounter>> counters;
    for (auto& node : nodes_)
      counters.push_back(std::make_unique<UdpCounter>(node->lab().rx_ns(), false, kPort));
    std::vector<SendReport> reports(nodes_.size());
    std::vector<std::thread> senders;
    for (size_t i = 0; i < nodes_.size(); ++i)
      senders.emplace_back([&, i] {
        reports[i] =
            send_udp(nodes_[i]->lab().tx_ns(), kSource, nodes_[i]->lab().rx_v4(), kPort, kOffered,
                     std::chrono::duration_cast<std::chrono::milliseconds>(kFlood));
      });
    for (auto& sender : senders) sender.join();
    Flood out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      auto counts = counters[i]->stop();
      out.received.push_back(counts[kSource]);
      out.total += counts[kSource];
      out.seconds = std::max(out.seconds, reports[i].seconds);
      std::printf("node %zu: sent %lu, received %lu\n", i + 1,
                  static_cast<unsigned long>(reports[i].sent),
                  static_cast<unsigned long>(counts[kSource]));
    }
    return out;
  }

  std::vector<std::unique_ptr<DaemonLab>> nodes_;
};

TEST_F(GlobalTierLab, TheFleetAdmitsTheGlobalLimitOnce) {
  start(/*global=*/true);
  if (HasFatalFailure()) return;
  const Flood result = flood();
  const double ideal = static_cast<double>(kRate) * result.seconds + kBurst;
  std::printf(
      "[ratio] global tier, %d nodes: fleet admitted %lu over %.2f s, ideal %.0f, ratio "
      "%.4f\n",
      kNodes, static_cast<unsigned long>(result.total), result.seconds, ideal,
      static_cast<double>(result.total) / ideal);
  EXPECT_GE(static_cast<double>(result.total), ideal * 0.95);
  EXPECT_LE(static_cast<double>(result.total), ideal * 1.05);
  // Every node admitted some of it: each enforces the fleet's total, not a fixed third.
  for (uint64_t received : result.received) EXPECT_GT(received, 0u);
  // Each node shared what it admitted and was charged what the others did,
  // and publishes the kernel layer's overshoot bound.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const std::string metrics =
        http_body(http_get(nodes_[i]->lab().rx_ns(), kMetricsPort, "/metrics"));
    const double reported =
        metric(metrics, R"(sluice_cluster_kernel_packets_total\{direction="reported"\})");
    const double charged =
        metric(metrics, R"(sluice_cluster_kernel_packets_total\{direction="charged"\})");
    const double bound =
        metric(metrics, R"(sluice_cluster_overshoot_bound_packets\{tier="flood"\})");
    std::printf("node %zu: reported %.0f, charged %.0f, overshoot bound %.1f\n", i + 1, reported,
                charged, bound);
    // Within 2%: a datagram the program passed may still be dropped by a
    // full socket buffer before the receiver counts it.
    const double own = static_cast<double>(result.received[i]);
    const double others = static_cast<double>(result.total) - own;
    EXPECT_NEAR(reported, own, own * 0.02 + 5) << "node " << i + 1;
    EXPECT_NEAR(charged, others, others * 0.02 + 5)
        << "node " << i + 1 << ": what the other two admitted";
    EXPECT_GT(bound, 0) << metrics;
  }
}

TEST_F(GlobalTierLab, WithoutGlobalEachNodeAdmitsTheWholeLimit) {
  start(/*global=*/false);
  if (HasFatalFailure()) return;
  const Flood result = flood();
  const double per_node = static_cast<double>(kRate) * result.seconds + kBurst;
  std::printf(
      "[ratio] per-host tier, %d nodes: fleet admitted %lu over %.2f s, one limit %.0f, "
      "ratio %.4f\n",
      kNodes, static_cast<unsigned long>(result.total), result.seconds, per_node,
      static_cast<double>(result.total) / per_node);
  EXPECT_GE(static_cast<double>(result.total), kNodes * per_node * 0.9);
  EXPECT_LE(static_cast<double>(result.total), kNodes * per_node * 1.05);
}

}  // namespace
}  // namespace sluice::testing
