// Every parse path of the XDP program, truncation at every byte, and garbage.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <random>

#include "packet_builder.h"
#include "sources.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

struct Case {
  const char* name;
  PacketBuilder packet;
  bool syn = false;
};

std::vector<Case> well_formed_packets() {
  return {
      {"ipv4_udp", PacketBuilder().ipv4("198.18.0.1").udp().payload(32)},
      {"ipv4_tcp_syn", PacketBuilder().ipv4("198.18.0.1").tcp(kTcpSyn), true},
      {"ipv4_tcp_ack", PacketBuilder().ipv4("198.18.0.1").tcp(kTcpAck).payload(100)},
      {"ipv4_icmp", PacketBuilder().ipv4("198.18.0.1").icmp().payload(56)},
      {"ipv4_options_tcp_syn", PacketBuilder().ipv4("198.18.0.1").ipv4_options(40).tcp(kTcpSyn),
       true},
      {"ipv4_first_fragment",
       PacketBuilder().ipv4("198.18.0.1").ipv4_fragment(0, true).udp().payload(64)},
      {"ipv4_later_fragment",
       PacketBuilder().ipv4("198.18.0.1").ipv4_fragment(185, false).payload(64)},
      {"ipv4_gre", PacketBuilder().ipv4("198.18.0.1").l4_protocol(47).payload(24)},
      {"vlan_ipv4_udp", PacketBuilder().vlan(0x8100, 10).ipv4("198.18.0.1").udp()},
      {"qinq_ipv4_tcp_syn",
       PacketBuilder().vlan(0x88a8, 100).vlan(0x8100, 10).ipv4("198.18.0.1").tcp(kTcpSyn), true},
      {"ipv6_udp", PacketBuilder().ipv6("2001:db8::1").udp().payload(32)},
      {"ipv6_tcp_syn", PacketBuilder().ipv6("2001:db8::1").tcp(kTcpSyn), true},
      {"ipv6_icmpv6", PacketBuilder().ipv6("2001:db8::1").icmp()},
      {"ipv6_hbh_routing_dst_tcp_syn",
       PacketBuilder()
           .ipv6("2001:db8::1")
           .ipv6_ext(0, 8)
           .ipv6_ext(43, 24)
           .ipv6_ext(60, 16)
           .tcp(kTcpSyn),
       true},
      {"ipv6_first_fragment_udp",
       PacketBuilder().ipv6("2001:db8::1").ipv6_fragment(0, true).udp().payload(64)},
      {"ipv6_later_fragment",
       PacketBuilder().ipv6("2001:db8::1").ipv6_fragment(100, false).payload(64)},
      {"ipv6_no_next_header", PacketBuilder().ipv6("2001:db8::1").l4_protocol(59)},
      {"vlan_ipv6_dst_udp",
       PacketBuilder().vlan(0x8100, 7).ipv6("2001:db8::1").ipv6_ext(60, 8).udp()},
      {"qinq_ipv6_frag_tcp_syn",
       PacketBuilder()
           .vlan(0x88a8, 1)
           .vlan(0x8100, 2)
           .ipv6("2001:db8::1")
           .ipv6_fragment(0, true)
           .tcp(kTcpSyn),
       true},
  };
}

class ParseTest : public ::testing::Test {
 protected:
  XdpHarness harness;
  uint64_t count(uint32_t counter) { return harness.dataplane().counter_total(counter).packets; }
};

TEST_F(ParseTest, EveryWellFormedPacketIsAttributedToItsSource) {
  // One packet per second, no burst: the first packet of each source passes.
  for (auto& c : well_formed_packets()) {
    SCOPED_TRACE(c.name);
    XdpHarness fresh;
    fresh.apply(single_tier_policy({1, kSec, 1}));
    auto frame = c.packet.build();
    EXPECT_EQ(fresh.run(frame, kEpoch), XDP_PASS);
    EXPECT_EQ(fresh.run(frame, kEpoch), XDP_DROP) << "the second is over 1/s: the source was seen";
    auto counters = fresh.counters();
    EXPECT_EQ(counters.total(SLUICE_CNT_PASSED).packets, 1u);
    EXPECT_EQ(counters.total(SLUICE_CNT_DROP_PKT_RATE).packets, 1u);
    EXPECT_EQ(counters.total(SLUICE_CNT_MALFORMED).packets, 0u);
    const char* expected_source =
        std::string(c.name).find("ipv6") != std::string::npos ? "2001:db8::" : "198.18.0.1";
    EXPECT_TRUE(fresh.dataplane().bucket_of(source_key(expected_source)).has_value())
        << "bucket keyed by " << expected_source;
  }
}

TEST_F(ParseTest, SynWithoutAckIsRecognisedBehindVlansAndExtensionHeaders) {
  for (auto& c : well_formed_packets()) {
    SCOPED_TRACE(c.name);
    XdpHarness fresh;
    // Only the SYN dimension limits: one new connection per second.
    fresh.apply(single_tier_policy({}, {}, {1, kSec, 1}));
    auto frame = c.packet.build();
    EXPECT_EQ(fresh.run(frame, kEpoch), XDP_PASS);
    EXPECT_EQ(fresh.run(frame, kEpoch), c.syn ? XDP_DROP : XDP_PASS);
    EXPECT_EQ(fresh.counters().total(SLUICE_CNT_DROP_SYN_RATE).packets, c.syn ? 1u : 0u);
  }
}

TEST_F(ParseTest, TruncationAtEveryByteIsMalformedWithTheConfiguredVerdict) {
  for (bool drop : {false, true}) {
    Policy policy = single_tier_policy({});
    policy.drop_malformed = drop;
    harness.apply(policy);
    for (auto& c : well_formed_packets()) {
      auto frame = c.packet.build();
      // The kernel refuses test frames shorter than an Ethernet header.
      for (size_t len = 14; len < frame.size(); ++len) {
        std::vector<uint8_t> cut(frame.begin(), frame.begin() + static_cast<long>(len));
        uint64_t before = count(SLUICE_CNT_MALFORMED);
        ASSERT_EQ(harness.run(cut, kEpoch), drop ? XDP_DROP : XDP_PASS)
            << c.name << " cut at " << len << " of " << frame.size();
        ASSERT_EQ(count(SLUICE_CNT_MALFORMED), before + 1) << c.name << " cut at " << len;
      }
    }
  }
}

TEST_F(ParseTest, MalformedHeadersAreCountedNotParsed) {
  harness.apply(single_tier_policy({}));
  auto bad_version = PacketBuilder().ipv4("198.18.0.1").udp().build();
  bad_version[14] = 0x65;  // version 6 in an IPv4 ethertype
  auto short_ihl = PacketBuilder().ipv4("198.18.0.1").udp().build();
  short_ihl[14] = 0x44;  // IHL 4 < 5
  auto bad_doff = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpSyn).build();
  bad_doff[14 + 20 + 12] = 0x40;  // data offset 4 < 5
  auto three_vlans = PacketBuilder()
                         .vlan(0x88a8, 1)
                         .vlan(0x8100, 2)
                         .vlan(0x8100, 3)
                         .ipv4("198.18.0.1")
                         .udp()
                         .build();
  PacketBuilder deep;
  deep.ipv6("2001:db8::1");
  for (int i = 0; i < 9; ++i) deep.ipv6_ext(60, 8);
  deep.udp();
  for (const auto& frame : {bad_version, short_ihl, bad_doff, three_vlans, deep.build()}) {
    uint64_t before = count(SLUICE_CNT_MALFORMED);
    EXPECT_EQ(harness.run(frame, kEpoch), XDP_PASS);
    EXPECT_EQ(count(SLUICE_CNT_MALFORMED), before + 1);
  }
}

TEST_F(ParseTest, MalformedTrafficIsStillChargedToItsSource) {
  harness.apply(single_tier_policy({5, kSec, 5}));
  // A TCP header cut short, and tiny first fragments (RFC 1858) that split the
  // TCP header: both name their source, so both spend its tokens.
  auto cut_tcp = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpSyn).build();
  cut_tcp.resize(cut_tcp.size() - 8);
  cut_tcp[14 + 3] = static_cast<uint8_t>(cut_tcp.size() - 14);  // IPv4 total length matches
  auto tiny_fragment =
      PacketBuilder().ipv4("198.18.0.2").ipv4_fragment(0, true).tcp(kTcpSyn).build();
  tiny_fragment.resize(tiny_fragment.size() - 12);
  tiny_fragment[14 + 3] = static_cast<uint8_t>(tiny_fragment.size() - 14);
  auto cut_v6_ext = PacketBuilder().ipv6("2001:db8::1").ipv6_ext(0, 16).udp().build();
  cut_v6_ext.resize(14 + 40 + 8);
  for (const auto& frame : {cut_tcp, tiny_fragment, cut_v6_ext}) {
    uint64_t malformed = count(SLUICE_CNT_MALFORMED);
    EXPECT_EQ(harness.run_passed(frame, kEpoch, 20), 5) << "5/s, burst 5: the rest is limited";
    EXPECT_EQ(count(SLUICE_CNT_MALFORMED), malformed + 5) << "the passed ones count as malformed";
  }
  EXPECT_EQ(count(SLUICE_CNT_DROP_PKT_RATE), 45u);
  // An IPv4 header cut short names no trustworthy length: malformed verdict only.
  auto cut_ip = PacketBuilder().ipv4("198.18.0.3").udp().build();
  cut_ip.resize(14 + 19);
  EXPECT_EQ(harness.run_passed(cut_ip, kEpoch, 20), 20);
}

TEST_F(ParseTest, NonIpFramesPassUncountedByAnyLimit) {
  harness.apply(single_tier_policy({1, kSec, 1}));
  auto arp = PacketBuilder().ethertype(0x0806).payload(28).build();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(harness.run(arp, kEpoch), XDP_PASS);
  EXPECT_EQ(count(SLUICE_CNT_PASSED_OTHER), 5u);
  EXPECT_EQ(harness.dataplane().sources().size(), 0u);
}

TEST_F(ParseTest, RandomGarbageIsJudgedAndCountedExactlyOnce) {
  harness.apply(single_tier_policy({1000, kSec, 100}));
  std::mt19937 rng(42);
  const int runs = 3000;
  for (int i = 0; i < runs; ++i) {
    std::vector<uint8_t> frame(14 + rng() % 200);
    for (auto& b : frame) b = static_cast<uint8_t>(rng());
    // Half the frames get a plausible ethertype so the IP parsers see garbage too.
    if (i % 2) {
      uint16_t types[] = {0x0800, 0x86dd, 0x8100, 0x88a8};
      uint16_t t = types[rng() % 4];
      frame[12] = static_cast<uint8_t>(t >> 8);
      frame[13] = static_cast<uint8_t>(t);
    }
    int verdict = harness.run(frame, kEpoch + static_cast<uint64_t>(i) * 1000);
    ASSERT_TRUE(verdict == XDP_PASS || verdict == XDP_DROP) << "verdict " << verdict;
  }
  auto counters = harness.counters();
  uint64_t judged = 0;
  for (uint32_t c = 0; c < SLUICE_COUNTER_MAX; ++c)
    if (c != SLUICE_CNT_NEW_SOURCE) judged += counters.total(c).packets;
  EXPECT_EQ(judged, static_cast<uint64_t>(runs));
}

}  // namespace
}  // namespace sluice::testing
