// Traffic from generators that are not ours (Scapy from Debian's python3-scapy,
// iputils ping, the kernel's own fragmentation and IPv6 stacks) against the
// attached program. Generators pace themselves, so lower bounds allow 10% for
// their stalls; the upper bounds (what the limit must hold) are 5%.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "attached_lab.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint16_t kPort = 9000;
constexpr uint64_t kRate = 200, kBurst = 20;

// Seconds a command took.
double timed(const std::function<int()>& command) {
  auto start = Clock::now();
  EXPECT_EQ(command(), 0);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string scapy_script() {
  return std::filesystem::path(__FILE__).parent_path() / "scapy_flood.py";
}

class ExternalGenerators : public AttachedLab {
 protected:
  ExternalGenerators() : AttachedLab("sxg", 63) {}

  void SetUp() override {
    AttachedLab::SetUp();
    Policy p;
    p.tiers = {TierSpec{.name = "default", .packets = {kRate, kSec, kBurst}}};
    p.default_tier = p.tiers[0].name;
    apply(p);
  }

  // Runs the Scapy script in the tx namespace; returns the seconds it spent sending.
  double scapy(const std::string& kind, int count, const std::string& dst) {
    std::string out = capture("ip netns exec " + lab.tx_ns() + " /usr/bin/python3 " +
                              scapy_script() + " " + lab.tx_if() + " " + lab.rx_mac() + " " + kind +
                              " " + std::to_string(count) + " " + dst);
    EXPECT_FALSE(out.empty()) << "scapy " << kind << " printed nothing";
    return out.empty() ? 0 : std::stod(out);
  }

  // VLAN-tagged UDP from one source at Scapy's full speed, many times the limit.
  void tagged_flood(const std::string& kind, const char* what) {
    uint64_t passed_before = counter(SLUICE_CNT_PASSED);
    double seconds = scapy(kind, 12000, lab.rx_v4());
    double passed = static_cast<double>(counter(SLUICE_CNT_PASSED) - passed_before);
    double limit = kRate * seconds + kBurst;
    report_ratio(what, passed, limit);
    EXPECT_LE(passed, limit * 1.05);
    EXPECT_GE(passed, limit * 0.90);
    EXPECT_GT(counter(SLUICE_CNT_DROP_PKT_RATE), 8000u);
  }
};

// The lab kernel has no 802.1Q module, so tagged frames come from Scapy and are
// counted where the program judges them (the BPF tests cover the parse itself).
TEST_F(ExternalGenerators, ScapyFloodIn8021QTagIsHeldToTheLimit) {
  tagged_flood("vlan", "Scapy UDP in 802.1Q, passed");
}

TEST_F(ExternalGenerators, ScapyFloodInQinQTagsIsHeldToTheLimit) {
  tagged_flood("qinq", "Scapy UDP in 802.1ad + 802.1Q, passed");
}

TEST_F(ExternalGenerators, KernelFragmentsAreEachChargedToTheSource) {
  // ping -s 3000: every echo leaves the kernel as three IPv4 fragments, and the
  // same for IPv6 with fragment headers. 500 echoes: 1500 fragments.
  for (const char* family : {"-4", "-6"}) {
    std::string dst = family[1] == '4' ? lab.rx_v4() : lab.rx_v6();
    uint64_t before = counter(SLUICE_CNT_PASSED) + counter(SLUICE_CNT_DROP_PKT_RATE);
    uint64_t passed_before = counter(SLUICE_CNT_PASSED);
    double seconds = timed([&] {
      return lab.exec_tx(std::string("ping ") + family + " -q -s 3000 -i 0.002 -c 500 -W 1 " + dst +
                         " >/dev/null 2>&1 || true");
    });
    uint64_t judged = counter(SLUICE_CNT_PASSED) + counter(SLUICE_CNT_DROP_PKT_RATE) - before;
    uint64_t passed = counter(SLUICE_CNT_PASSED) - passed_before;
    EXPECT_GE(judged, 1500u) << "every fragment is judged";
    double limit = kRate * seconds + kBurst;
    report_ratio(family[1] == '4' ? "ping -4 fragments passed" : "ping -6 fragments passed",
                 static_cast<double>(passed), limit);
    EXPECT_LE(static_cast<double>(passed), limit * 1.05);
    EXPECT_GE(static_cast<double>(passed), limit * 0.90);
    // Later sources start fresh; let this one's bucket refill.
    std::this_thread::sleep_for(milliseconds(200));
  }
}

TEST_F(ExternalGenerators, PingFloodOverIpv6IsHeldToTheLimit) {
  // Echo requests are limited on the way in; replies travel the other way.
  std::string out;
  double seconds = timed([&] {
    out = capture("ip netns exec " + lab.tx_ns() + " ping -6 -q -i 0.001 -c 1500 -W 1 " +
                  lab.rx_v6());
    return 0;
  });
  auto at = out.find(" received");
  ASSERT_NE(at, std::string::npos) << out;
  uint64_t received = std::stoull(out.substr(out.rfind(' ', at - 1) + 1));
  double limit = kRate * seconds + kBurst;
  report_ratio("ping -6 flood, echo replies", static_cast<double>(received), limit);
  EXPECT_LE(static_cast<double>(received), limit * 1.05);
  EXPECT_GE(static_cast<double>(received), limit * 0.85);
}

TEST_F(ExternalGenerators, ScapySpoofedSourcesAreBoundByTheCreationBudget) {
  Policy p;
  p.tiers = {TierSpec{.name = "default", .packets = {kRate, kSec, kBurst}}};
  p.default_tier = p.tiers[0].name;
  p.new_sources = {200, kSec, 200};
  p.unadmitted = {100, kSec, 100};
  apply(p);
  double seconds = scapy("spoofed", 10000, lab.rx_v4());
  uint64_t created = dataplane.sources().size();
  double budget = 200 * seconds + 200 + 2;  // + rounding of the per-CPU split
  report_ratio("Scapy spoofed sources given buckets (10,000 sent)", static_cast<double>(created),
               budget);
  EXPECT_LE(static_cast<double>(created), budget);
  EXPECT_LT(created, 5000u) << "most spoofed sources never get a bucket";
  EXPECT_GT(counter(SLUICE_CNT_DROP_UNADMITTED), 1000u);
}

TEST_F(ExternalGenerators, ScapyMalformedPacketsSpendTheirSourcesTokens) {
  for (const char* kind : {"truncated", "tinyfrag"}) {
    uint64_t malformed = counter(SLUICE_CNT_MALFORMED);
    uint64_t dropped = counter(SLUICE_CNT_DROP_PKT_RATE);
    scapy(kind, 2000, lab.rx_v4());
    uint64_t passed = counter(SLUICE_CNT_MALFORMED) - malformed;
    EXPECT_GT(counter(SLUICE_CNT_DROP_PKT_RATE) - dropped, 1000u)
        << kind << ": limited, not waved through";
    EXPECT_LT(passed, 1000u) << kind;
    std::printf("[ratio] Scapy %s: %llu of 2000 passed as malformed\n", kind,
                static_cast<unsigned long long>(passed));
    std::this_thread::sleep_for(milliseconds(200));
  }
}

}  // namespace
}  // namespace sluice::testing
