// A tier's `algorithm:` on real traffic: the XDP program attached to a veth in
// a namespace lab, the same flood sent across a window boundary from one
// source per algorithm, counted on the far side of the veth.
#include <gtest/gtest.h>
#include <time.h>

#include <thread>

#include "attached_lab.h"
#include "sluice_algorithms.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint16_t kPort = 9000;
constexpr uint64_t kLimit = 100;  // packets per 1 s

class AlgorithmLab : public AttachedLab {
 protected:
  AlgorithmLab() : AttachedLab("salg", 76) {}

  // One tier per algorithm, each source assigned to its own by a /32 prefix.
  void apply_tiers(const std::vector<std::pair<std::string, uint32_t>>& sources) {
    Policy p;
    for (const auto& [source, algorithm] : sources) {
      std::string name = "t" + std::to_string(algorithm);
      p.tiers.push_back(
          TierSpec{.name = name, .packets = {kLimit, kSec, 0}, .algorithm = algorithm});
      p.prefixes.push_back({Cidr::parse(source + "/32"), name});
    }
    p.tiers.push_back(TierSpec{.name = "default"});
    p.default_tier = "default";
    apply(p);
  }

  // The same traffic for each source: 5000 packets/s for 200 ms, starting
  // 100 ms before a whole second of CLOCK_MONOTONIC (the clock the data path
  // reads, so a window boundary of 1 s windows) and ending 100 ms after it.
  uint64_t flood_across_a_boundary(const std::string& source) {
    UdpCounter counter(lab.rx_ns(), false, kPort);
    sleep_until_before_a_second(milliseconds(100));
    auto sent = send_udp(lab.tx_ns(), source, lab.rx_v4(), kPort, 5000, milliseconds(200));
    EXPECT_GT(sent.sent, 900u) << "the sender kept its pace";
    return counter.stop()[source];
  }

  static void sleep_until_before_a_second(milliseconds before) {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = static_cast<uint64_t>(ts.tv_sec) * kSec + static_cast<uint64_t>(ts.tv_nsec);
    uint64_t target = (now / kSec + 1) * kSec - static_cast<uint64_t>(before.count()) * 1'000'000;
    if (target < now + 50'000'000) target += kSec;
    std::this_thread::sleep_for(std::chrono::nanoseconds(target - now));
  }
};

// 100 packets/s against a 5000/s flood straddling a boundary: the fixed
// window admits its limit in the window before and again in the window after
// (2x); the token bucket its burst plus 200 ms of rate; the sliding window
// its limit plus the previous window's fading weight (about 10%).
TEST_F(AlgorithmLab, FixedWindowAdmitsTwiceTheLimitAcrossABoundaryTokenBucketDoesNot) {
  std::string fixed_source = lab.add_tx_v4(7), sliding_source = lab.add_tx_v4(8);
  apply_tiers({{lab.tx_v4(), SLUICE_ALGO_TOKEN_BUCKET},
               {fixed_source, SLUICE_ALGO_FIXED_WINDOW},
               {sliding_source, SLUICE_ALGO_SLIDING_WINDOW}});
  uint64_t token = flood_across_a_boundary(lab.tx_v4());
  uint64_t fixed = flood_across_a_boundary(fixed_source);
  uint64_t sliding = flood_across_a_boundary(sliding_source);
  report_ratio("token_bucket across a boundary (limit: burst + 0.2 s)", static_cast<double>(token),
               1.2 * kLimit);
  report_ratio("fixed_window across a boundary (limit: 2 windows)", static_cast<double>(fixed),
               2.0 * kLimit);
  report_ratio("sliding_window across a boundary (limit: 1.1 x)", static_cast<double>(sliding),
               1.1 * kLimit);
  EXPECT_GE(fixed, 2 * kLimit - 5);
  EXPECT_LE(fixed, 2 * kLimit) << "one boundary: two windows' limits at most";
  EXPECT_GE(token, kLimit);
  EXPECT_LE(token, 135u);
  EXPECT_GE(sliding, kLimit - 5);
  EXPECT_LE(sliding, 125u);
  EXPECT_GT(fixed, token + 50) << "the same traffic, different algorithms";
  EXPECT_GT(counter(SLUICE_CNT_DROP_PKT_RATE), 2000u);
}

}  // namespace
}  // namespace sluice::testing
