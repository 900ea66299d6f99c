// A global kernel tier across real sluiced, three and five of them
// (tests/support/global_tier_fleet.h): each node in its own namespace with
// its own veth, where one source (the same address on every link) floods all
// of them at once; the nodes gossip over a bridge in a hub namespace. Packets
// (and, for a bytes/s tier, their bytes) are counted on the far side of each
// veth. With `global: true` the fleet admits the limit once (rate x time +
// burst, within 5%); without it, once per node (the naive per-host figure).
#include <gtest/gtest.h>

#include <thread>

#include "global_tier_fleet.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kOffered = 2500;  // packets/s the source sends to each node
constexpr auto kFlood = 6s;

struct Flood {
  std::vector<uint64_t> received;  // per node, from the source
  double seconds = 0;              // the longest sender's
  uint64_t total = 0;
};

Flood flood(GlobalTierFleet& fleet) {
  FleetFlood flood(fleet, kOffered);
  std::this_thread::sleep_for(kFlood);
  Flood out;
  out.received = flood.stop();
  out.seconds = flood.seconds();
  for (size_t i = 0; i < out.received.size(); ++i) {
    out.total += out.received[i];
    std::printf("node %zu: sent %lu, received %lu\n", i + 1,
                static_cast<unsigned long>(flood.reports()[i].sent),
                static_cast<unsigned long>(out.received[i]));
  }
  return out;
}

// What one datagram of the flood counts in the tier's meter: 1 packet, or
// its frame's bytes (Ethernet, IPv4 and UDP headers: 42 bytes, and the payload).
double units_per_datagram(const FleetOptions& options) {
  return options.meter == "bytes" ? static_cast<double>(42 + options.payload) : 1.0;
}

void expect_the_limit_once(GlobalTierFleet& fleet) {
  fleet.start(/*global=*/true);
  const Flood result = flood(fleet);
  const std::string& meter = fleet.options().meter;
  const double unit = units_per_datagram(fleet.options());
  const double ideal =
      static_cast<double>(fleet.options().rate) * result.seconds + fleet.options().burst;
  const double total = static_cast<double>(result.total) * unit;
  std::printf(
      "[ratio] global tier (%s), %d nodes: fleet admitted %.0f %s over %.2f s, ideal %.0f, ratio "
      "%.4f\n",
      meter.c_str(), fleet.size(), total, meter.c_str(), result.seconds, ideal, total / ideal);
  EXPECT_GE(total, ideal * 0.95);
  EXPECT_LE(total, ideal * 1.05);
  // Every node admitted some of it: each enforces the fleet's total, not a fixed part.
  for (uint64_t received : result.received) EXPECT_GT(received, 0u);
  // Each node shared what it admitted and was charged what the others did,
  // and publishes the kernel layer's overshoot bound, in the tier's meter.
  for (int n = 1; n <= fleet.size(); ++n) {
    const double reported =
        fleet.metric(n, "sluice_cluster_kernel_" + meter + R"(_total\{direction="reported"\})");
    const double charged =
        fleet.metric(n, "sluice_cluster_kernel_" + meter + R"(_total\{direction="charged"\})");
    const double bound =
        fleet.metric(n, "sluice_cluster_overshoot_bound_" + meter + R"(\{tier="flood"\})");
    std::printf("node %d: reported %.0f, charged %.0f, overshoot bound %.1f %s\n", n, reported,
                charged, bound, meter.c_str());
    // Within 2%: a datagram the program passed may still be dropped by a
    // full socket buffer before the receiver counts it.
    const double own = static_cast<double>(result.received[n - 1]) * unit;
    const double others = total - own;
    EXPECT_NEAR(reported, own, own * 0.02 + 5 * unit) << "node " << n;
    EXPECT_NEAR(charged, others, others * 0.02 + 5 * unit)
        << "node " << n << ": what the others admitted";
    EXPECT_GT(bound, 0);
  }
}

void expect_the_limit_per_node(GlobalTierFleet& fleet) {
  fleet.start(/*global=*/false);
  const Flood result = flood(fleet);
  const double per_node =
      static_cast<double>(fleet.options().rate) * result.seconds + fleet.options().burst;
  std::printf(
      "[ratio] per-host tier, %d nodes: fleet admitted %lu over %.2f s, one limit %.0f, "
      "ratio %.4f\n",
      fleet.size(), static_cast<unsigned long>(result.total), result.seconds, per_node,
      static_cast<double>(result.total) / per_node);
  EXPECT_GE(static_cast<double>(result.total), fleet.size() * per_node * 0.9);
  EXPECT_LE(static_cast<double>(result.total), fleet.size() * per_node * 1.05);
}

TEST(GlobalTierLab, TheFleetAdmitsTheGlobalLimitOnce) {
  GlobalTierFleet fleet({.nodes = 3});
  expect_the_limit_once(fleet);
}

// A bytes/s limit: 500 KB/s with a burst of 150 KB, 500-byte frames (1,000
// frames/s of the 2,500 each node is offered); counted as bytes on the far side.
TEST(GlobalTierLab, TheFleetAdmitsTheGlobalByteLimitOnce) {
  GlobalTierFleet fleet(
      {.nodes = 3, .rate = 500'000, .burst = 150'000, .meter = "bytes", .payload = 458});
  expect_the_limit_once(fleet);
}

TEST(GlobalTierLab, WithoutGlobalEachNodeAdmitsTheWholeLimit) {
  GlobalTierFleet fleet({.nodes = 3});
  expect_the_limit_per_node(fleet);
}

TEST(GlobalTierFiveNodes, TheFleetAdmitsTheGlobalLimitOnce) {
  GlobalTierFleet fleet({.nodes = 5});
  expect_the_limit_once(fleet);
}

TEST(GlobalTierFiveNodes, WithoutGlobalEachNodeAdmitsTheWholeLimit) {
  GlobalTierFleet fleet({.nodes = 5});
  expect_the_limit_per_node(fleet);
}

}  // namespace
}  // namespace sluice::testing
