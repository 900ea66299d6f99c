// The SYN limit against fragments and headers read past the IP length
// (docs/fragments.md): every piece that may carry a TCP SYN's flags is charged
// to its source's SYN meter, and with `drop_malformed` the tricks are dropped.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include "packet_builder.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr int kSent = 20;
constexpr int kSynBurst = 5;

std::vector<uint8_t> slice(const std::vector<uint8_t>& bytes, size_t from, size_t to) {
  return {bytes.begin() + static_cast<long>(from), bytes.begin() + static_cast<long>(to)};
}

const std::vector<uint8_t> kSyn = tcp_header(kTcpSyn);
const std::vector<uint8_t> kAck = tcp_header(kTcpAck);

struct Case {
  const char* name;
  PacketBuilder packet;
  bool malformed;  // judged as malformed (and dropped with drop_malformed)
};

// Pieces a SYN can be smuggled in. Each must spend the SYN meter.
std::vector<Case> smuggled_syns() {
  PacketBuilder deep;
  deep.ipv6("2001:db8::1");
  for (int i = 0; i < 9; ++i) deep.ipv6_ext(60, 8);
  deep.tcp(kTcpSyn);
  return {
      {"v4_first_fragment_8_bytes_of_tcp",
       PacketBuilder()
           .ipv4("198.18.0.1")
           .ipv4_fragment(0, true)
           .l4_bytes(IPPROTO_TCP, slice(kSyn, 0, 8)),
       true},
      {"v4_offset_1_fragment_with_the_flags",
       PacketBuilder()
           .ipv4("198.18.0.1")
           .ipv4_fragment(1, false)
           .l4_bytes(IPPROTO_TCP, slice(kSyn, 8, 20)),
       true},
      {"v4_first_fragment_padded_past_tot_len_to_look_like_ack",
       PacketBuilder()
           .ipv4("198.18.0.1")
           .ipv4_fragment(0, true)
           .l4_bytes(IPPROTO_TCP, slice(kAck, 0, 8))
           .trailer(slice(kAck, 8, 20)),
       true},
      {"v4_segment_padded_past_tot_len_to_look_like_ack",
       PacketBuilder()
           .ipv4("198.18.0.1")
           .l4_bytes(IPPROTO_TCP, slice(kAck, 0, 12))
           .trailer(slice(kAck, 12, 20)),
       true},
      {"v6_first_fragment_8_bytes_of_tcp",
       PacketBuilder()
           .ipv6("2001:db8::1")
           .ipv6_fragment(0, true)
           .l4_bytes(IPPROTO_TCP, slice(kSyn, 0, 8)),
       true},
      {"v6_offset_1_fragment_with_the_flags",
       PacketBuilder()
           .ipv6("2001:db8::1")
           .ipv6_fragment(1, false)
           .l4_bytes(IPPROTO_TCP, slice(kSyn, 8, 20)),
       true},
      {"v6_segment_padded_past_payload_len_to_look_like_ack",
       PacketBuilder()
           .ipv6("2001:db8::1")
           .l4_bytes(IPPROTO_TCP, slice(kAck, 0, 8))
           .trailer(slice(kAck, 8, 20)),
       true},
      {"v6_syn_beyond_the_walked_extension_headers", deep, true},
      {"v4_syn_followed_by_padding",
       PacketBuilder().ipv4("198.18.0.1").tcp(kTcpSyn).trailer(std::vector<uint8_t>(6)), false},
  };
}

// Pieces that cannot carry a SYN's flags: never charged to the SYN meter.
std::vector<Case> not_syns() {
  return {
      {"v4_ack_followed_by_padding_that_looks_like_syn",
       PacketBuilder().ipv4("198.18.0.1").tcp(kTcpAck).trailer(kSyn), false},
      {"v4_tcp_fragment_at_offset_2",
       PacketBuilder().ipv4("198.18.0.1").ipv4_fragment(2, false).l4_bytes(IPPROTO_TCP, kSyn),
       false},
      {"v4_udp_fragment_at_offset_1",
       PacketBuilder().ipv4("198.18.0.1").ipv4_fragment(1, false).l4_bytes(IPPROTO_UDP, kSyn),
       false},
      {"v4_udp_first_fragment", PacketBuilder().ipv4("198.18.0.1").ipv4_fragment(0, true).udp(),
       false},
      {"v6_tcp_fragment_at_offset_2",
       PacketBuilder().ipv6("2001:db8::1").ipv6_fragment(2, false).l4_bytes(IPPROTO_TCP, kSyn),
       false},
  };
}

Policy syn_only_policy(bool drop_malformed) {
  Policy policy = single_tier_policy({}, {}, {kSynBurst, kSec, kSynBurst});
  policy.drop_malformed = drop_malformed;
  return policy;
}

TEST(FragmentTest, EveryPieceThatMayCarryASynSpendsTheSynMeter) {
  for (auto& c : smuggled_syns()) {
    SCOPED_TRACE(c.name);
    XdpHarness harness;
    harness.apply(syn_only_policy(false));
    EXPECT_EQ(harness.run_passed(c.packet.build(), kEpoch, kSent), kSynBurst)
        << "SYN limit 5/s, burst 5: the other 15 are over it";
    auto counters = harness.counters();
    EXPECT_EQ(counters.total(SLUICE_CNT_DROP_SYN_RATE).packets, uint64_t{kSent - kSynBurst});
    EXPECT_EQ(counters.total(SLUICE_CNT_MALFORMED).packets, c.malformed ? uint64_t{kSynBurst} : 0u);
  }
}

TEST(FragmentTest, DropMalformedDropsEveryTrick) {
  for (auto& c : smuggled_syns()) {
    if (!c.malformed) continue;
    SCOPED_TRACE(c.name);
    XdpHarness harness;
    harness.apply(syn_only_policy(true));
    EXPECT_EQ(harness.run_passed(c.packet.build(), kEpoch, kSent), 0);
    EXPECT_EQ(harness.counters().total(SLUICE_CNT_MALFORMED).packets, uint64_t{kSent});
  }
}

TEST(FragmentTest, PiecesThatCannotCarryTheFlagsAreNotChargedAsSyns) {
  for (auto& c : not_syns()) {
    SCOPED_TRACE(c.name);
    XdpHarness harness;
    harness.apply(syn_only_policy(true));
    EXPECT_EQ(harness.run_passed(c.packet.build(), kEpoch, kSent), kSent);
    auto counters = harness.counters();
    EXPECT_EQ(counters.total(SLUICE_CNT_DROP_SYN_RATE).packets, 0u);
    EXPECT_EQ(counters.total(SLUICE_CNT_MALFORMED).packets, 0u);
  }
}

TEST(FragmentTest, AFragmentedSynCostsAtLeastOneSynToken) {
  // The RFC 1858 split: 8 bytes of TCP in the first fragment, the flags in a
  // second at offset 1. Both pieces of every pair are charged.
  XdpHarness harness;
  harness.apply(syn_only_policy(false));
  auto first = PacketBuilder()
                   .ipv4("198.18.0.1")
                   .ipv4_fragment(0, true)
                   .l4_bytes(IPPROTO_TCP, slice(kSyn, 0, 8))
                   .build();
  auto second = PacketBuilder()
                    .ipv4("198.18.0.1")
                    .ipv4_fragment(1, false)
                    .l4_bytes(IPPROTO_TCP, slice(kSyn, 8, 20))
                    .build();
  int complete = 0;
  for (int i = 0; i < 100; ++i) {
    uint64_t now = kEpoch + static_cast<uint64_t>(i) * (kSec / 100);
    bool both = harness.run(first, now) == XDP_PASS;
    both = harness.run(second, now) == XDP_PASS && both;
    complete += both;
  }
  // One second at 5/s plus the burst of 5: at most 10 pieces pass, 5 pairs.
  EXPECT_LE(complete, 5);
}

}  // namespace
}  // namespace sluice::testing
