#include "global_tier_fleet.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "http_get.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

const std::string kHub = "kgl-hub";

std::string gossip_address(int node) {
  return "198.18.190." + std::to_string(node);
}

}  // namespace

GlobalTierFleet::GlobalTierFleet(FleetOptions options) : options_(std::move(options)) {
  run("ip netns del " + kHub + " 2>/dev/null");
  run_or_throw("ip netns add " + kHub);
  run_or_throw("ip -n " + kHub + " link add kgl-br type bridge");
  run_or_throw("ip -n " + kHub + " link set kgl-br up");
  for (int n = 1; n <= options_.nodes; ++n) {
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

GlobalTierFleet::~GlobalTierFleet() {
  nodes_.clear();
  run("ip netns del " + kHub + " 2>/dev/null");
}

void GlobalTierFleet::start(bool global) {
  for (int n = 1; n <= size(); ++n) {
    DaemonLab& lab = node(n);
    lab.write_config(
        "metrics: {listen: 127.0.0.1:" + std::to_string(kMetricsPort) + "}\n" +
        "tiers:\n  flood: {" + options_.meter + ": {rate: " + std::to_string(options_.rate) +
        "/s, burst: " + std::to_string(options_.burst) + "}" + (global ? ", global: true" : "") +
        "}\ncluster:\n  name: kglab\n  node: n" + std::to_string(n) +
        "\n  bind: " + gossip_address(n) + ":7946\n  seeds: [" + gossip_address(1) + ":7946, " +
        gossip_address(2) + ":7946]\n  key_file: " + lab.dir() +
        "/cluster.key\n  sync_interval: 100ms\n" + options_.cluster_extra);
    lab.start();
  }
  const auto deadline = Clock::now() + 20s;
  for (int n = 1; n <= size(); ++n) {
    for (;;) {
      const auto view = localised(n);
      const bool localised_for_all =
          !global || (view && view->members == static_cast<size_t>(size()) && view->share == 1.0);
      if (localised_for_all && members_in_state(n, "alive") == size()) break;
      if (Clock::now() > deadline)
        throw std::runtime_error(
            "the cluster did not form at node " + std::to_string(n) + " (localised for " +
            (view ? std::to_string(view->members) + " at share " + std::to_string(view->share)
                  : "nothing") +
            ", " + std::to_string(members_in_state(n, "alive")) +
            " alive): " + node(n).ctl("peers --json").out + node(n).log());
      std::this_thread::sleep_for(100ms);
    }
  }
}

int GlobalTierFleet::members_in_state(int n, const std::string& state) {
  const auto result = node(n).ctl("peers --json");
  if (result.exit_code != 0) return 0;
  // Named: a range-for over a member of a temporary would outlive the temporary.
  const auto peers = nlohmann::json::parse(result.out);
  int count = 0;
  for (const auto& member : peers.at("members")) count += member["state"] == state;
  return count;
}

nlohmann::json GlobalTierFleet::member(int n, const std::string& name) {
  const auto result = node(n).ctl("peers --json");
  if (result.exit_code != 0) return nlohmann::json::object();
  const auto peers = nlohmann::json::parse(result.out);
  for (const auto& member : peers.at("members"))
    if (member["name"] == name) return member;
  return nlohmann::json::object();
}

std::optional<Localised> GlobalTierFleet::localised(int n) {
  static const std::regex line(
      R"(global tiers localised for ([0-9]+) counted member\(s\), share ([0-9.]+))");
  const std::string log = node(n).log();
  std::optional<Localised> last;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it)
    last = Localised{std::stoul((*it)[1]), std::stod((*it)[2])};
  return last;
}

void GlobalTierFleet::wait_localised(const std::vector<int>& group, size_t members, double share,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int n : group) {
    for (;;) {
      const auto view = localised(n);
      if (view && view->members == members && std::abs(view->share - share) < 0.01) break;
      if (Clock::now() > deadline)
        throw std::runtime_error("node " + std::to_string(n) + " is not localised for " +
                                 std::to_string(members) + " member(s) at share " +
                                 std::to_string(share) + ": " + node(n).ctl("peers --json").out);
      std::this_thread::sleep_for(50ms);
    }
  }
}

double GlobalTierFleet::metric(int n, const std::string& name) {
  const std::string text = http_body(http_get(node(n).lab().rx_ns(), kMetricsPort, "/metrics"));
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(name + " ([0-9.e+]+)"))) return -1;
  return std::stod(match[1]);
}

void GlobalTierFleet::partition(const std::vector<int>& a, const std::vector<int>& b) {
  for (int x : a)
    for (int y : b)
      for (auto [from, to] : {std::pair{x, y}, std::pair{y, x}}) {
        run_or_throw("ip -n " + node(from).lab().rx_ns() + " route add blackhole " +
                     gossip_address(to) + "/32");
        cut_.emplace_back(from, to);
      }
}

void GlobalTierFleet::heal() {
  for (auto [from, to] : cut_)
    run_or_throw("ip -n " + node(from).lab().rx_ns() + " route del blackhole " +
                 gossip_address(to) + "/32");
  cut_.clear();
}

FleetFlood::FleetFlood(GlobalTierFleet& fleet, uint64_t rate, const std::vector<int>& flooded)
    : reports_(fleet.size()) {
  for (int n = 1; n <= fleet.size(); ++n)
    counters_.push_back(
        std::make_unique<UdpCounter>(fleet.node(n).lab().rx_ns(), false, GlobalTierFleet::kPort));
  for (int n = 1; n <= fleet.size(); ++n)
    if (flooded.empty() || std::find(flooded.begin(), flooded.end(), n) != flooded.end())
      senders_.emplace_back([this, &fleet, n, rate] {
        reports_[n - 1] = send_udp(fleet.node(n).lab().tx_ns(), GlobalTierFleet::kSource,
                                   fleet.node(n).lab().rx_v4(), GlobalTierFleet::kPort, rate,
                                   std::chrono::hours(1), fleet.options().payload, &stopping_);
      });
}

FleetFlood::~FleetFlood() {
  stop();
}

uint64_t FleetFlood::admitted(int n) const {
  return counters_.at(n - 1)->received_from(GlobalTierFleet::kSource);
}

uint64_t FleetFlood::admitted(const std::vector<int>& group) const {
  uint64_t total = 0;
  for (int n : group) total += admitted(n);
  return total;
}

std::vector<uint64_t> FleetFlood::stop() {
  stopping_ = true;
  for (auto& sender : senders_)
    if (sender.joinable()) sender.join();
  std::vector<uint64_t> out;
  for (size_t i = 0; i < counters_.size(); ++i) {
    out.push_back(counters_[i]->stop()[GlobalTierFleet::kSource]);
    seconds_ = std::max(seconds_, reports_[i].seconds);
  }
  return out;
}

std::vector<Window> measure(const FleetFlood& flood, const std::vector<std::vector<int>>& groups,
                            std::chrono::milliseconds length) {
  const auto start = Clock::now();
  std::vector<uint64_t> before;
  for (const auto& group : groups) before.push_back(flood.admitted(group));
  std::this_thread::sleep_until(start + length);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<Window> out;
  for (size_t i = 0; i < groups.size(); ++i)
    out.push_back({flood.admitted(groups[i]) - before[i], seconds});
  return out;
}

}  // namespace sluice::testing
