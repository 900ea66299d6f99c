// The spoofed-flood defence: a budget of bucket creations per second, and one
// shared meter for new sources that arrive over it (docs/spoofed-floods.md).
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>

#include "packet_builder.h"
#include "sources.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

// The admission meters are per CPU: keep every test run on one CPU so the
// figures are those of a single meter (rates compiled with cpus = 1).
class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_);
    pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
  }
  void TearDown() override { pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_); }

  static std::vector<uint8_t> udp_from(uint32_t host) {
    std::string src = "10." + std::to_string((host >> 16) & 0xff) + "." +
                      std::to_string((host >> 8) & 0xff) + "." + std::to_string(host & 0xff);
    return PacketBuilder().ipv4(src).udp().build();
  }

  cpu_set_t saved_{};
};

TEST_F(AdmissionTest, NewSourcesOverTheBudgetShareOneMeter) {
  XdpHarness h;
  Policy p = single_tier_policy({100, kSec, 100});
  p.new_sources = {10, kSec, 10};
  p.unadmitted = {5, kSec, 5};
  p.allow = {Cidr::parse("198.18.1.0/24")};
  p.deny = {Cidr::parse("198.18.2.0/24")};
  h.apply(p, 1);
  int passed = 0;
  for (uint32_t i = 1; i <= 100; ++i) passed += h.run(udp_from(i), kEpoch) == XDP_PASS;
  EXPECT_EQ(passed, 10 + 5) << "10 get buckets, 5 more pass on the shared meter";
  EXPECT_EQ(h.dataplane().sources().size(), 10u);
  auto c = h.counters();
  EXPECT_EQ(c.total(SLUICE_CNT_NEW_SOURCE).packets, 10u);
  EXPECT_EQ(c.total(SLUICE_CNT_PASSED_UNADMITTED).packets, 5u);
  EXPECT_EQ(c.total(SLUICE_CNT_DROP_UNADMITTED).packets, 85u);

  // With the budget spent, the lists still decide for listed sources.
  EXPECT_EQ(h.run(PacketBuilder().ipv4("198.18.1.1").udp().build(), kEpoch), XDP_PASS);
  EXPECT_EQ(h.run(PacketBuilder().ipv4("198.18.2.1").udp().build(), kEpoch), XDP_DROP);
  EXPECT_EQ(h.counters().total(SLUICE_CNT_DROP_DENY).packets, 1u);

  // A second later the budget has refilled: ten more sources get buckets.
  for (uint32_t i = 101; i <= 120; ++i) h.run(udp_from(i), kEpoch + kSec);
  EXPECT_EQ(h.dataplane().sources().size(), 20u);
}

TEST_F(AdmissionTest, ListedSourcesSpendNoCreationBudget) {
  // A spoofed flood from allow- and deny-listed ranges: the lists decide every
  // packet, and the creation budget is left whole for sources that need buckets.
  XdpHarness h;
  Policy p = single_tier_policy({100, kSec, 100});
  p.new_sources = {10, kSec, 10};
  p.unadmitted = {1, kSec, 1};
  p.allow = {Cidr::parse("198.18.1.0/24")};
  p.deny = {Cidr::parse("198.18.2.0/24")};
  h.apply(p, 1);
  int allowed = 0, denied = 0;
  for (int i = 1; i <= 200; ++i) {
    auto host = std::to_string(i);
    allowed += h.run(PacketBuilder().ipv4("198.18.1." + host).udp().build(), kEpoch) == XDP_PASS;
    denied += h.run(PacketBuilder().ipv4("198.18.2." + host).udp().build(), kEpoch) == XDP_DROP;
  }
  EXPECT_EQ(allowed, 200);
  EXPECT_EQ(denied, 200);
  EXPECT_EQ(h.dataplane().sources().size(), 0u) << "listed sources get no bucket";

  int admitted = 0;
  for (uint32_t i = 1; i <= 10; ++i) admitted += h.run(udp_from(i), kEpoch) == XDP_PASS;
  EXPECT_EQ(admitted, 10) << "the whole budget of 10 is left for unlisted sources";
  EXPECT_EQ(h.dataplane().sources().size(), 10u);
  auto c = h.counters();
  EXPECT_EQ(c.total(SLUICE_CNT_NEW_SOURCE).packets, 10u);
  EXPECT_EQ(c.total(SLUICE_CNT_PASSED_ALLOW).packets, 200u);
  EXPECT_EQ(c.total(SLUICE_CNT_DROP_DENY).packets, 200u);
  EXPECT_EQ(c.total(SLUICE_CNT_PASSED_UNADMITTED).packets, 0u);
}

TEST_F(AdmissionTest, LimitedAbuserStaysLimitedThroughAMillionSourceSpoofedFlood) {
  // A map of 16,384 buckets, far fewer than the flood's sources.
  XdpHarness h(16384);
  Policy p = single_tier_policy({100, kSec, 100});  // 100/s per source
  h.apply(p, 1);
  auto abuser = PacketBuilder().ipv4("198.18.66.6").udp().build();
  // The abuser floods at 1000/s for a second before the spoofed flood begins.
  uint64_t now = kEpoch;
  int abuser_passed = 0;
  for (int i = 0; i < 1000; ++i, now += kSec / 1000)
    abuser_passed += h.run(abuser, now) == XDP_PASS;
  EXPECT_EQ(abuser_passed, 100 + 100 - 1);

  // Then one million distinct spoofed sources over 4 s, the abuser going on at
  // 1000/s among them.
  const uint32_t spoofed = 1'000'000;
  const uint64_t flood_start = now, gap = 4 * kSec / spoofed;
  int during = 0, spoofed_passed = 0;
  for (uint32_t i = 0; i < spoofed; ++i, now += gap) {
    spoofed_passed += h.run(udp_from(0x10000 + i), now) == XDP_PASS;
    if (i % 250 == 0) during += h.run(abuser, now) == XDP_PASS;
  }
  double seconds = static_cast<double>(now - flood_start) / kSec;
  EXPECT_LE(during, static_cast<int>(100 * seconds) + 1) << "the abuser gets no fresh burst";
  EXPECT_GE(during, static_cast<int>(100 * seconds) - 1);
  auto bucket = h.dataplane().bucket_of(source_key("198.18.66.6"));
  ASSERT_TRUE(bucket.has_value()) << "the abuser's bucket was never evicted";
  // The flood itself: at most the creation budget plus the shared meter per second.
  double flood_limit = (50'000 + 10'000) * seconds + 50'000 + 1'000;
  EXPECT_LE(spoofed_passed, flood_limit);
  std::printf("[ratio] spoofed flood: %d of %u passed (%.1f%%), abuser %d in %.2f s\n",
              spoofed_passed, spoofed, 100.0 * spoofed_passed / spoofed, during, seconds);
}

}  // namespace
}  // namespace sluice::testing
