// Key-bound addresses and penalties in the data path (bpf/sluice_keys.bpf.h),
// through BPF_PROG_TEST_RUN with the test clock.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "packet_builder.h"
#include "sluice_algorithms.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kKey = 0x5eed'0001;

struct sluice_source v4(const char* address) {
  struct sluice_source source {};
  source.family = SLUICE_FAMILY_V4;
  inet_pton(AF_INET, address, &source.addr[0]);
  return source;
}

std::vector<uint8_t> frame_from(const char* address) {
  return PacketBuilder().ipv4(address).udp().payload(100).build();
}

// "cidr" (the default: 10/s, burst 10) and "key" (100/s, burst 50).
class KeyBinding : public ::testing::Test {
 protected:
  void SetUp() override {
    Policy policy;
    policy.tiers.push_back(TierSpec{.name = "cidr", .packets = {10, kSec, 10}});
    policy.tiers.push_back(TierSpec{.name = "key", .packets = {100, kSec, 50}});
    policy.default_tier = policy.tiers.front().name;
    h.apply(policy);
  }
  void bind(const char* address, uint64_t key, uint64_t expires_ns, uint32_t tier) {
    h.dataplane().write_bindings(
        {{v4(address), {.key_id = key, .expires_ns = expires_ns, .tier = tier, .pad = 0}}});
  }
  XdpHarness h;
};

TEST_F(KeyBinding, BoundAddressGetsTheKeysTier) {
  bind("198.18.0.1", kKey, kEpoch + 10 * kSec, h.tier_index("key"));
  EXPECT_EQ(h.run_passed(frame_from("198.18.0.1"), kEpoch, 200), 50) << "the key tier's burst";
  EXPECT_EQ(h.run_passed(frame_from("198.18.0.2"), kEpoch, 200), 10) << "unbound: CIDR tier";
  auto bucket = h.dataplane().key_bucket_of(kKey);
  ASSERT_TRUE(bucket);
  EXPECT_EQ(bucket->passed, 50u);
  // Drops are sampled (fast_path_test.cpp): within two samples of the 150.
  EXPECT_EQ(bucket->dropped % SLUICE_DROP_SAMPLE, 0u);
  EXPECT_NEAR(static_cast<double>(bucket->dropped), 150.0, 2.0 * SLUICE_DROP_SAMPLE);
  EXPECT_EQ(h.counters().at(h.tier_index("key"), SLUICE_CNT_PASSED).packets, 50u);
  EXPECT_EQ(h.counters().at(h.tier_index("key"), SLUICE_CNT_DROP_PKT_RATE).packets, 150u);
  EXPECT_FALSE(h.dataplane().bucket_of(v4("198.18.0.1"))) << "no per-source bucket while bound";
}

TEST_F(KeyBinding, AddressesOfOneKeyShareItsBucket) {
  bind("198.18.0.1", kKey, kEpoch + 100 * kSec, h.tier_index("key"));
  bind("198.18.0.2", kKey, kEpoch + 100 * kSec, h.tier_index("key"));
  auto a = frame_from("198.18.0.1"), b = frame_from("198.18.0.2");
  // Both flood at 1000/s each for 10 s: the key admits 100 x 10 + 50 in all.
  int passed = 0;
  for (uint64_t t = 0; t <= 10 * kSec; t += kSec / 1000)
    passed += (h.run(a, kEpoch + t) == XDP_PASS) + (h.run(b, kEpoch + t) == XDP_PASS);
  EXPECT_EQ(passed, 100 * 10 + 50);
}

// A key bucket keeps no record of the policy it was counted under, so a key
// whose tier switches from a window to a token bucket finds a window state
// (window tag << 32 | count) in its packets/s word. Read as a TAT that is
// hours ahead: the key was refused until then. Now a TAT beyond anything GCRA
// can leave (now + the burst's tolerance) counts as a bucket full of debt.
TEST_F(KeyBinding, AKeyWhoseTierLeavesAWindowAlgorithmIsNotStalled) {
  Policy policy;
  policy.tiers.push_back(TierSpec{.name = "cidr", .packets = {10, kSec, 10}});
  policy.tiers.push_back(TierSpec{.name = "key", .packets = {100, kSec, 0}});
  policy.tiers.back().algorithm = SLUICE_ALGO_FIXED_WINDOW;
  policy.default_tier = policy.tiers.front().name;
  h.apply(policy);
  bind("198.18.0.1", kKey, kEpoch + 100 * kSec, h.tier_index("key"));
  auto frame = frame_from("198.18.0.1");
  EXPECT_EQ(h.run_passed(frame, kEpoch + kSec / 2, 200), 100) << "the window's limit";

  policy.tiers.back().algorithm = SLUICE_ALGO_TOKEN_BUCKET;
  policy.tiers.back().packets = {100, kSec, 50};
  h.apply(policy);
  // The first packet finds a bucket full of debt (it may be refused); one
  // packet interval (10 ms) later the key passes, not hours later.
  const uint64_t switched = kEpoch + kSec / 2 + kSec / 100;
  h.run_passed(frame, switched, 1);
  EXPECT_EQ(h.run_passed(frame, switched + kSec / 100, 1), 1);
  EXPECT_EQ(h.run_passed(frame, kEpoch + 2 * kSec, 200), 50) << "refilled to its burst";
}

TEST_F(KeyBinding, ExpiredBindingFallsBackToTheCidrTier) {
  bind("198.18.0.1", kKey, kEpoch + kSec, h.tier_index("key"));
  auto frame = frame_from("198.18.0.1");
  EXPECT_EQ(h.run_passed(frame, kEpoch, 100), 50);
  EXPECT_EQ(h.run_passed(frame, kEpoch + kSec, 100), 10) << "expired at kEpoch + 1 s";
}

TEST_F(KeyBinding, BindingToATierThatIsGoneIsIgnored) {
  bind("198.18.0.1", kKey, kEpoch + kSec, 42);  // no tier 42
  EXPECT_EQ(h.run_passed(frame_from("198.18.0.1"), kEpoch, 100), 10);
  EXPECT_FALSE(h.dataplane().key_bucket_of(kKey));
}

TEST_F(KeyBinding, ShadowKeyTierCountsAndPasses) {
  Policy policy;
  policy.tiers.push_back(TierSpec{.name = "cidr", .packets = {10, kSec, 10}});
  policy.tiers.push_back(TierSpec{.name = "key", .packets = {100, kSec, 50}, .shadow = true});
  policy.default_tier = policy.tiers.front().name;
  h.apply(policy);
  bind("198.18.0.1", kKey, kEpoch + kSec, h.tier_index("key"));
  EXPECT_EQ(h.run_passed(frame_from("198.18.0.1"), kEpoch, 80), 80);
  EXPECT_EQ(h.counters().at(h.tier_index("key"), SLUICE_CNT_SHADOW_PKT_RATE).packets, 30u);
}

TEST_F(KeyBinding, PenaltyDropsUntilItExpires) {
  auto frame = frame_from("198.18.0.7");
  h.dataplane().write_penalty({v4("198.18.0.7"), {.expires_ns = kEpoch + 5 * kSec, .dropped = 0}});
  EXPECT_EQ(h.run_passed(frame, kEpoch, 20), 0);
  EXPECT_EQ(h.run_passed(frame, kEpoch + 5 * kSec - 1, 5), 0);
  EXPECT_EQ(h.counters().total(SLUICE_CNT_DROP_PENALTY).packets, 25u);
  auto penalties = h.dataplane().penalties();
  ASSERT_EQ(penalties.size(), 1u);
  EXPECT_NEAR(static_cast<double>(penalties[0].penalty.dropped), 25.0, 2.0 * SLUICE_DROP_SAMPLE)
      << "sampled";
  EXPECT_EQ(h.run_passed(frame, kEpoch + 5 * kSec, 20), 10) << "back on its CIDR tier";
}

TEST_F(KeyBinding, PenaltyWinsOverABinding) {
  bind("198.18.0.1", kKey, kEpoch + 10 * kSec, h.tier_index("key"));
  h.dataplane().write_penalty({v4("198.18.0.1"), {.expires_ns = kEpoch + kSec, .dropped = 0}});
  EXPECT_EQ(h.run_passed(frame_from("198.18.0.1"), kEpoch, 10), 0);
  ASSERT_TRUE(h.dataplane().delete_penalty(v4("198.18.0.1")));
  EXPECT_FALSE(h.dataplane().delete_penalty(v4("198.18.0.1")));
  EXPECT_EQ(h.run_passed(frame_from("198.18.0.1"), kEpoch, 100), 50) << "lifted: the key's tier";
}

// A binding must not lift the lists: an address denied after it was bound
// (or bound behind a deny) stays dropped, and an allow-listed one passes.
TEST_F(KeyBinding, TheListsWinOverABinding) {
  Policy policy;
  policy.tiers.push_back(TierSpec{.name = "cidr", .packets = {10, kSec, 10}});
  policy.tiers.push_back(TierSpec{.name = "key", .packets = {100, kSec, 50}});
  policy.default_tier = policy.tiers.front().name;
  policy.deny.push_back(Cidr::parse("198.18.0.1/32"));
  policy.allow.push_back(Cidr::parse("198.18.0.2/32"));
  h.apply(policy);
  bind("198.18.0.1", kKey, kEpoch + 10 * kSec, h.tier_index("key"));
  bind("198.18.0.2", kKey, kEpoch + 10 * kSec, h.tier_index("key"));
  EXPECT_EQ(h.run_passed(frame_from("198.18.0.1"), kEpoch, 20), 0) << "denied";
  EXPECT_EQ(h.run_passed(frame_from("198.18.0.2"), kEpoch, 200), 200) << "allowed";
}

// At TC a GRO super-packet stands for gso_segs wire packets: a key-bound
// address is charged all of them, as an unbound one is.
TEST_F(KeyBinding, ASuperPacketIsChargedItsSegmentsOnTheKeysBucket) {
  bind("198.18.0.1", kKey, kEpoch + 10 * kSec, h.tier_index("key"));
  auto frame = PacketBuilder().ipv4("198.18.0.1").tcp(kTcpAck).payload(100).build();
  int passed = 0;
  for (int i = 0; i < 20; ++i) passed += h.run_tc(frame, kEpoch, 10) == TC_ACT_OK;
  EXPECT_EQ(passed, 5) << "burst 50 = five super-packets of 10 segments";
}

TEST_F(KeyBinding, Ipv6BindingsCoverTheAggregatedSlash64) {
  struct sluice_source net {};
  net.family = SLUICE_FAMILY_V6;
  inet_pton(AF_INET6, "2001:db8:1:2::", net.addr);
  h.dataplane().write_bindings(
      {{net,
        {.key_id = kKey, .expires_ns = kEpoch + kSec, .tier = h.tier_index("key"), .pad = 0}}});
  auto host = PacketBuilder().ipv6("2001:db8:1:2::5").udp().build();
  auto other = PacketBuilder().ipv6("2001:db8:1:3::5").udp().build();
  EXPECT_EQ(h.run_passed(host, kEpoch, 100), 50) << "any host of the /64: the key's tier";
  EXPECT_EQ(h.run_passed(other, kEpoch, 100), 10) << "another /64: the CIDR tier";
}

TEST_F(KeyBinding, BindingsAreWrittenAndDeletedInBatches) {
  std::vector<BindingEntry> entries;
  for (int i = 0; i < 1000; ++i) {
    struct sluice_source s = v4("198.18.0.0");
    s.addr[0] = htonl(ntohl(s.addr[0]) + i);
    entries.push_back({s, {.key_id = kKey, .expires_ns = kEpoch + kSec, .tier = 1, .pad = 0}});
  }
  h.dataplane().write_bindings(entries);
  EXPECT_EQ(h.dataplane().bindings().size(), 1000u);
  std::vector<struct sluice_source> gone;
  for (int i = 0; i < 600; ++i) gone.push_back(entries[i].source);
  gone.push_back(v4("198.19.0.1"));  // never bound: no error
  h.dataplane().delete_bindings(gone);
  EXPECT_EQ(h.dataplane().bindings().size(), 400u);
}

}  // namespace
}  // namespace sluice::testing
