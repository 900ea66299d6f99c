// A global tier's bytes/s and SYN/s limits in the program
// (bpf/sluice_global.bpf.h): each meter the tier defines is reported with what
// this host admitted and charged with what the peers admitted, into its own
// TAT; a meter the tier does not define is neither reported nor charged.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstring>

#include "packet_builder.h"
#include "sources.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

class GlobalMeters : public ::testing::Test {
 protected:
  XdpHarness h;
  std::vector<uint8_t> udp = PacketBuilder().ipv4("198.18.0.1").udp().payload(58).build();
  std::vector<uint8_t> syn = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpSyn).build();
  std::vector<uint8_t> ack = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpAck).build();
  struct sluice_source src = source_key("198.18.0.1");

  void apply(RateLimit packets, RateLimit bytes, RateLimit syns) {
    Policy policy = single_tier_policy(packets, bytes, syns);
    policy.tiers.front().global = true;
    h.apply(policy);
  }
  void remote(struct sluice_global_count total, uint64_t since_ns) {
    h.dataplane().write_global_remote(src, {total, since_ns});
  }
  struct sluice_global_count reported() {
    for (const auto& entry : h.dataplane().global_usage())
      if (std::memcmp(&entry.source, &src, sizeof(src)) == 0) return entry.admitted;
    return {};
  }
  struct sluice_global_count charged() {
    return h.dataplane().global_charged(src).value_or(sluice_global_count{});
  }
};

TEST_F(GlobalMeters, TheByteLimitIsChargedWithThePeersBytes) {
  const uint64_t frame = udp.size();  // 100 bytes
  ASSERT_EQ(frame, 100u);
  apply({}, {100 * frame, kSec, 20 * frame}, {});  // 100 frames/s, a burst of 20
  remote({0, 10 * frame, 0}, kEpoch);              // the peers sent 10 frames' worth just now
  EXPECT_EQ(h.run_passed(udp, kEpoch, 50), 10) << "the byte burst of 20 frames less the peers' 10";
  EXPECT_EQ(charged().bytes, 10 * frame);
  // 1 s later the bucket is full again; 5 more frames' worth from the peers: 5 fewer.
  remote({0, 15 * frame, 0}, kEpoch + kSec);
  EXPECT_EQ(h.run_passed(udp, kEpoch + kSec, 50), 15);
  EXPECT_EQ(charged().bytes, 15 * frame);
  EXPECT_EQ(reported().bytes, 25 * frame) << "only this host's own bytes are reported";
  EXPECT_EQ(reported().packets, 0u) << "the tier has no packets/s limit to share";
}

TEST_F(GlobalMeters, TheSynLimitIsChargedWithThePeersSyns) {
  apply({}, {}, {10, kSec, 5});  // 10 SYN/s, a burst of 5
  remote({0, 0, 3}, kEpoch);
  EXPECT_EQ(h.run_passed(ack, kEpoch, 20), 20) << "packets other than SYNs are not limited";
  EXPECT_EQ(h.run_passed(syn, kEpoch, 10), 2) << "the SYN burst of 5 less the peers' 3";
  EXPECT_EQ(charged().syns, 3u);
  EXPECT_EQ(reported().syns, 2u);
  EXPECT_EQ(reported().packets, 0u);
  EXPECT_EQ(reported().bytes, 0u);
}

TEST_F(GlobalMeters, EachMeterIsChargedIntoItsOwnTatAtItsTime) {
  // 1 ms a packet, 1 us a byte, 10 ms a SYN; bursts no test spends.
  apply({1000, kSec, 100'000}, {1'000'000, kSec, 100'000'000}, {100, kSec, 10'000});
  h.dataplane().set_test_clock(kEpoch);
  remote({7, 700, 3}, kEpoch);
  ASSERT_EQ(h.run(udp, kEpoch), XDP_PASS);  // not a SYN: its SYN meter is charged all the same
  const auto bucket = h.dataplane().bucket_of(src).value();
  EXPECT_EQ(bucket.pkt_tat, kEpoch + (7 + 1) * 1'000'000);
  EXPECT_EQ(bucket.byte_tat, kEpoch + (700 + udp.size()) * 1'000);
  EXPECT_EQ(bucket.syn_tat, kEpoch + 3 * 10'000'000);
  EXPECT_EQ(charged().packets, 7u);
  EXPECT_EQ(charged().bytes, 700u);
  EXPECT_EQ(charged().syns, 3u);
}

TEST_F(GlobalMeters, ReportsEveryMeterTheTierDefines) {
  apply({1000, kSec, 1000}, {1'000'000, kSec, 1'000'000}, {100, kSec, 100});
  EXPECT_EQ(h.run_passed(udp, kEpoch, 10), 10);
  EXPECT_EQ(h.run_passed(syn, kEpoch, 4), 4);
  const auto counts = reported();
  EXPECT_EQ(counts.packets, 14u);
  EXPECT_EQ(counts.bytes, 10 * udp.size() + 4 * syn.size());
  EXPECT_EQ(counts.syns, 4u);
}

TEST_F(GlobalMeters, APacketOverItsByteLimitLooksAtNoGlobalMap) {
  const uint64_t frame = udp.size();
  apply({1000, kSec, 1000}, {100 * frame, kSec, 20 * frame}, {});
  EXPECT_EQ(h.run_passed(udp, kEpoch, 30), 20);  // the byte burst is spent
  remote({5, 5 * frame, 0}, kEpoch);
  EXPECT_EQ(h.run(udp, kEpoch), XDP_DROP);
  EXPECT_EQ(charged().packets, 0u) << "the drop path charges nothing";
  EXPECT_EQ(charged().bytes, 0u);
  // 100 ms later 10 frames' worth has refilled; the peers' 5 take half of it.
  EXPECT_EQ(h.run_passed(udp, kEpoch + kSec / 10, 20), 5);
  EXPECT_EQ(charged().bytes, 5 * frame);
}

TEST_F(GlobalMeters, AMeterTheTierDoesNotDefineIsMarkedChargedButNotCharged) {
  apply({100, kSec, 20}, {}, {});
  remote({0, 1'000'000, 50}, kEpoch);  // a peer whose tier limits bytes and SYNs
  EXPECT_EQ(h.run_passed(udp, kEpoch, 30), 20) << "nothing charged into the packets/s meter";
  EXPECT_EQ(charged().bytes, 1'000'000u) << "marked, so that a byte limit added later "
                                            "does not start with this history";
  EXPECT_EQ(charged().syns, 50u);
  EXPECT_EQ(h.dataplane().bucket_of(src)->byte_tat, 0u);
}

}  // namespace
}  // namespace sluice::testing
