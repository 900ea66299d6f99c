// Each limit dimension over simulated time: admitted = rate x time + burst.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include "packet_builder.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

// Sends `frame` every `gap_ns` from `start` to `start + duration_ns` inclusive;
// returns how many passed. Over-limit flows then admit rate x duration + burst.
int flood(XdpHarness& h, const std::vector<uint8_t>& frame, uint64_t start, uint64_t duration_ns,
          uint64_t gap_ns) {
  int passed = 0;
  for (uint64_t t = 0; t <= duration_ns; t += gap_ns) passed += h.run(frame, start + t) == XDP_PASS;
  return passed;
}

TEST(Limits, PacketRateHoldsAtTenTimesOverload) {
  XdpHarness h;
  h.apply(single_tier_policy({100, kSec, 20}));  // 100/s, burst 20
  auto frame = PacketBuilder().ipv4("198.18.0.1").udp().payload(100).build();
  // 1000 packets/s for 10 s: 100 x 10 + 20 admitted, of 10,001 sent.
  EXPECT_EQ(flood(h, frame, kEpoch, 10 * kSec, kSec / 1000), 100 * 10 + 20);
  EXPECT_EQ(h.counters().total(SLUICE_CNT_DROP_PKT_RATE).packets, 10'001u - 1020u);
}

TEST(Limits, ByteRateCountsFrameLengths) {
  XdpHarness h;
  auto frame = PacketBuilder().ipv4("198.18.0.1").udp().payload(958).build();  // 1000-byte frame
  ASSERT_EQ(frame.size(), 1000u);
  h.apply(single_tier_policy({}, {100'000, kSec, 10'000}));  // 100 kB/s, 10 kB burst
  EXPECT_EQ(flood(h, frame, kEpoch, 5 * kSec, kSec / 1000), 100 * 5 + 10);
  EXPECT_EQ(h.counters().total(SLUICE_CNT_DROP_BYTE_RATE).packets, 5001u - 510u);
}

TEST(Limits, SmallFramesSpendFewerBytes) {
  XdpHarness h;
  h.apply(single_tier_policy({}, {100'000, kSec, 10'000}));
  auto small = PacketBuilder().ipv4("198.18.0.1").udp().payload(58).build();  // 100 bytes
  ASSERT_EQ(small.size(), 100u);
  EXPECT_EQ(h.run_passed(small, kEpoch, 150), 100);
}

TEST(Limits, SynRateLimitsOnlyNewConnections) {
  XdpHarness h;
  h.apply(single_tier_policy({}, {}, {10, kSec, 5}));
  auto syn = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpSyn).build();
  auto ack = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpAck).payload(500).build();
  auto synack = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpSyn | kTcpAck).build();
  EXPECT_EQ(flood(h, syn, kEpoch, 2 * kSec, kSec / 100), 10 * 2 + 5);
  EXPECT_EQ(h.run_passed(ack, kEpoch + 2 * kSec, 100), 100) << "established traffic is not a SYN";
  EXPECT_EQ(h.run_passed(synack, kEpoch + 2 * kSec, 100), 100) << "SYN+ACK is not a new connection";
  EXPECT_EQ(h.counters().total(SLUICE_CNT_DROP_SYN_RATE).packets, 201u - 25u);
}

TEST(Limits, AllDimensionsTogetherTheTightestWins) {
  XdpHarness h;
  // 1000 packets/s, but only 50 kB/s of 500-byte frames = 100 frames/s.
  h.apply(single_tier_policy({1000, kSec, 100}, {50'000, kSec, 5'000}));
  auto frame = PacketBuilder().ipv4("198.18.0.1").udp().payload(458).build();
  ASSERT_EQ(frame.size(), 500u);
  EXPECT_EQ(flood(h, frame, kEpoch, 4 * kSec, kSec / 2000), 100 * 4 + 10);
  auto counters = h.counters();
  EXPECT_GT(counters.total(SLUICE_CNT_DROP_BYTE_RATE).packets, 0u);
  // Dropped packets spend no tokens: the packet meter only paid for passed ones.
  EXPECT_EQ(counters.total(SLUICE_CNT_DROP_PKT_RATE).packets, 0u);
}

TEST(Limits, PerMinuteAndPerHourRates) {
  XdpHarness h;
  h.apply(single_tier_policy({60, 60 * kSec, 1}));  // 60/min = one a second
  auto frame = PacketBuilder().ipv4("198.18.0.1").udp().build();
  EXPECT_EQ(flood(h, frame, kEpoch, 30 * kSec, kSec / 10), 30 + 1);
  XdpHarness hourly;
  hourly.apply(single_tier_policy({2, 3600 * kSec, 2}));
  EXPECT_EQ(flood(hourly, frame, kEpoch, 3600 * kSec, 60 * kSec), 2 + 2);
}

TEST(Limits, SourcesDoNotShareBuckets) {
  XdpHarness h;
  h.apply(single_tier_policy({10, kSec, 10}));
  auto a = PacketBuilder().ipv4("198.18.0.1").udp().build();
  auto b = PacketBuilder().ipv4("198.18.0.2").udp().build();
  EXPECT_EQ(h.run_passed(a, kEpoch, 100), 10);
  EXPECT_EQ(h.run_passed(b, kEpoch, 100), 10) << "b keeps its full burst while a is limited";
}

TEST(Limits, CoarseClockProgramEnforcesTheBurst) {
  // The coarse clock cannot be set by the test: at one instant of it, the
  // burst passes, and at 10/s at most one more token can arrive meanwhile.
  auto dataplane = Dataplane::load(LoadOptions{.bucket_entries = 1024, .coarse_clock = true});
  Policy policy = single_tier_policy({10, kSec, 10});
  policy.coarse_clock = true;
  TierSlots slots;
  dataplane.apply(compile_policy(policy, slots, datapath_cpus()));
  auto frame = PacketBuilder().ipv4("198.18.0.1").udp().build();
  int passed = 0;
  for (int i = 0; i < 100; ++i) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
    ASSERT_EQ(bpf_prog_test_run_opts(dataplane.prog_fd(), &opts), 0);
    passed += opts.retval == XDP_PASS;
  }
  EXPECT_GE(passed, 10);
  EXPECT_LE(passed, 11);
}

TEST(Limits, UnlimitedTierPassesEverything) {
  XdpHarness h;
  h.apply(single_tier_policy({}));
  auto frame = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpSyn).build();
  EXPECT_EQ(h.run_passed(frame, kEpoch, 1000), 1000);
}

}  // namespace
}  // namespace sluice::testing
