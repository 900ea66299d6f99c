// The TC entry: the same judge on the same maps as the XDP entry, charging a
// GRO super-packet's packets/s meter once per wire segment (gso_segs).
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "packet_builder.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

class TcEntry : public ::testing::Test {
 protected:
  void SetUp() override { h.apply(single_tier_policy({100, kSec, 40})); }  // 100/s, burst 40
  int passed_tc(uint64_t now, int count, uint32_t gso_segs = 0) {
    int passed = 0;
    for (int i = 0; i < count; ++i) passed += h.run_tc(frame, now, gso_segs) == TC_ACT_OK;
    return passed;
  }
  XdpHarness h;
  std::vector<uint8_t> frame = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpAck).payload(100).build();
};

TEST_F(TcEntry, AdmitsRateTimesTimePlusBurstAsXdpDoes) {
  int passed = 0;
  // 1000 packets/s for 2 s: 100 x 2 + 40 admitted of 2001.
  for (uint64_t t = 0; t <= 2 * kSec; t += kSec / 1000)
    passed += h.run_tc(frame, kEpoch + t) == TC_ACT_OK;
  EXPECT_EQ(passed, 100 * 2 + 40);
  EXPECT_EQ(h.counters().total(SLUICE_CNT_DROP_PKT_RATE).packets, 2001u - 240u);
}

TEST_F(TcEntry, ASuperPacketIsChargedItsWireSegments) {
  // A burst of 40 packets holds four super-packets of ten segments, not forty.
  EXPECT_EQ(passed_tc(kEpoch, 10, 10), 4);
  // A tenth of a second refills ten packets: one more super-packet.
  EXPECT_EQ(passed_tc(kEpoch + kSec / 10, 3, 10), 1);
}

TEST_F(TcEntry, ANonGsoSkbIsOnePacket) {
  EXPECT_EQ(passed_tc(kEpoch, 50, 0), 40);
  EXPECT_EQ(passed_tc(kEpoch + kSec, 50, 1), 40);
}

TEST_F(TcEntry, SharesBucketsAndCountersWithTheXdpEntry) {
  EXPECT_EQ(h.run_passed(frame, kEpoch, 20), 20);  // XDP spends half the burst
  EXPECT_EQ(passed_tc(kEpoch, 5, 10), 2);          // TC finds the other half
  EXPECT_EQ(h.run_passed(frame, kEpoch, 1), 0);    // and XDP then nothing
  auto passed = h.counters().total(SLUICE_CNT_PASSED).packets;
  EXPECT_EQ(passed, 22u) << "one counter table: 20 XDP passes and 2 TC super-packets";
}

TEST_F(TcEntry, ListsApplyAtTc) {
  Policy p = single_tier_policy({100, kSec, 40});
  p.deny = {Cidr::parse("198.18.0.0/24")};
  h.apply(p);
  EXPECT_EQ(h.run_tc(frame, kEpoch), TC_ACT_SHOT);
  EXPECT_EQ(h.counters().total(SLUICE_CNT_DROP_DENY).packets, 1u);
}

}  // namespace
}  // namespace sluice::testing
