// Global tiers in the program (bpf/sluice_global.bpf.h): what it reports of
// the packets, bytes and SYNs it admitted, and how it charges what the peers
// admitted into each meter.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <thread>

#include "packet_builder.h"
#include "sluice_algorithms.h"
#include "sources.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

// One tier "t", 100 packets/s with a burst of 20, global or not.
Policy hundred_per_second(bool global) {
  Policy policy = single_tier_policy({100, kSec, 20});
  policy.tiers.front().global = global;
  return policy;
}

struct sluice_global_count counts_of(const XdpHarness& h, const char* address) {
  const auto key = source_key(address);
  for (const auto& entry : const_cast<XdpHarness&>(h).dataplane().global_usage())
    if (std::memcmp(&entry.source, &key, sizeof(key)) == 0) return entry.admitted;
  return {};
}

uint64_t usage_of(const XdpHarness& h, const char* address) {
  return counts_of(h, address).packets;
}

class GlobalTier : public ::testing::Test {
 protected:
  XdpHarness h;
  std::vector<uint8_t> frame = PacketBuilder().ipv4("198.18.0.1").udp().build();
  struct sluice_source src = source_key("198.18.0.1");

  void remote(uint64_t total, uint64_t since_ns) {
    h.dataplane().write_global_remote(src, {{total, 0, 0}, since_ns});
  }
  void remote(struct sluice_global_count total, uint64_t since_ns) {
    h.dataplane().write_global_remote(src, {total, since_ns});
  }
  uint64_t charged_packets() { return h.dataplane().global_charged(src).value().packets; }
};

TEST_F(GlobalTier, ReportsEveryAdmittedPacketAndNoDroppedOne) {
  h.apply(hundred_per_second(true));
  // 1000 packets/s for 1 s: 100 + 20 admitted of 1001.
  int passed = 0;
  for (uint64_t t = 0; t <= kSec; t += kSec / 1000) passed += h.run(frame, kEpoch + t) == XDP_PASS;
  EXPECT_EQ(passed, 120);
  EXPECT_EQ(usage_of(h, "198.18.0.1"), 120u);
}

TEST_F(GlobalTier, APerHostTierReportsNothing) {
  h.apply(hundred_per_second(false));
  EXPECT_EQ(h.run_passed(frame, kEpoch, 50), 20);
  EXPECT_TRUE(h.dataplane().global_usage().empty());
}

TEST_F(GlobalTier, RemoteConsumptionIsChargedOnce) {
  h.apply(hundred_per_second(true));
  remote(10, kEpoch);  // the peers admitted 10 just now
  EXPECT_EQ(h.run_passed(frame, kEpoch, 50), 10) << "the burst of 20 less the peers' 10";
  EXPECT_EQ(charged_packets(), 10u);
  // 1 s later the bucket is full again; the same total charges nothing more.
  remote(10, kEpoch);
  EXPECT_EQ(h.run_passed(frame, kEpoch + kSec, 50), 20);
  // Five more from the peers: five fewer.
  remote(15, kEpoch + 2 * kSec);
  EXPECT_EQ(h.run_passed(frame, kEpoch + 2 * kSec, 50), 15);
  EXPECT_EQ(charged_packets(), 15u);
  EXPECT_EQ(usage_of(h, "198.18.0.1"), 45u) << "only this host's own admissions are reported";
}

TEST_F(GlobalTier, ConsumptionIsChargedAtTheTimeItHappened) {
  h.apply(hundred_per_second(true));
  // 100 packets the peers admitted over the last second (e.g. a partition
  // that healed): at 100/s that second is paid for, and the bucket is full.
  remote(100, kEpoch - kSec);
  EXPECT_EQ(h.run_passed(frame, kEpoch, 50), 20);
  // The same 100 admitted just now: the source waits until they are paid
  // for (1 s at 100/s), then has its burst again.
  XdpHarness now_h;
  now_h.apply(hundred_per_second(true));
  now_h.dataplane().write_global_remote(src, {{100, 0, 0}, kEpoch});
  EXPECT_EQ(now_h.run_passed(frame, kEpoch, 50), 0);
  EXPECT_EQ(now_h.run_passed(frame, kEpoch + 800'000'000, 50), 0);
  EXPECT_EQ(now_h.run_passed(frame, kEpoch + kSec, 50), 20);
}

TEST_F(GlobalTier, ADroppedPacketLeavesTheChargeForTheNextThatCouldPass) {
  h.apply(hundred_per_second(true));
  EXPECT_EQ(h.run_passed(frame, kEpoch, 30), 20);  // empty now
  remote(5, kEpoch);
  EXPECT_EQ(h.run(frame, kEpoch), XDP_DROP);
  EXPECT_EQ(charged_packets(), 0u) << "the drop path looks at no global map";
  // 100 ms later 10 tokens have refilled; the peers' 5 take half of them.
  EXPECT_EQ(h.run_passed(frame, kEpoch + kSec / 10, 20), 5);
  EXPECT_EQ(charged_packets(), 5u);
}

TEST_F(GlobalTier, WithoutAChargedEntryNothingIsCharged) {
  h.apply(hundred_per_second(true));
  remote(10, kEpoch);
  h.dataplane().forget_global_remote(src);
  EXPECT_EQ(h.run_passed(frame, kEpoch, 50), 20);
  EXPECT_FALSE(h.dataplane().global_charged(src).has_value());
}

// Two CPUs judge the source while the "daemon" raises the remote totals:
// every remote packet and byte is charged exactly once. On a fixed clock with
// bursts no test can spend, each TAT is then the start plus one interval per
// unit admitted here and per unit charged from the peers, to the nanosecond.
TEST_F(GlobalTier, TwoCpusChargeEachRemotePacketAndByteExactlyOnce) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs two CPUs";
  // 1 ms a packet, 1 us a byte.
  Policy policy = single_tier_policy({1000, kSec, 10'000'000}, {1'000'000, kSec, 4'000'000'000});
  policy.tiers.front().global = true;
  h.apply(policy);
  h.dataplane().set_test_clock(kEpoch);
  std::atomic<bool> stop{false};
  auto cpu = [&](int index) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(index, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    while (!stop) {
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                  .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 200);
      ASSERT_EQ(bpf_prog_test_run_opts(h.dataplane().prog_fd(), &opts), 0);
    }
  };
  std::thread a(cpu, 0), b(cpu, 1);
  // The totals keep moving until the CPUs have judged plenty of packets
  // meanwhile (a loaded machine may schedule them late), for at most 10 s.
  uint64_t total = 0, total_bytes = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int step = 1; step <= 2000 || (usage_of(h, "198.18.0.1") < 20'000 &&
                                      std::chrono::steady_clock::now() < deadline);
       ++step) {
    total += static_cast<uint64_t>(step % 5 + 1);
    total_bytes += static_cast<uint64_t>(step % 7 + 60);
    remote({total, total_bytes, 0}, kEpoch);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  stop = true;
  a.join();
  b.join();
  ASSERT_EQ(h.run(frame, kEpoch), XDP_PASS);  // charges the last totals
  const auto charged = h.dataplane().global_charged(src).value();
  ASSERT_EQ(charged.packets, total);
  ASSERT_EQ(charged.bytes, total_bytes);
  const auto here = counts_of(h, "198.18.0.1");
  EXPECT_GT(here.packets, 10'000u) << "the CPUs ran while the totals moved";
  EXPECT_EQ(here.bytes, here.packets * frame.size());
  const auto bucket = h.dataplane().bucket_of(src);
  ASSERT_TRUE(bucket.has_value());
  std::printf("admitted here %lu packets, charged from the peers %lu packets, %lu bytes\n",
              static_cast<unsigned long>(here.packets), static_cast<unsigned long>(total),
              static_cast<unsigned long>(total_bytes));
  EXPECT_EQ(bucket->pkt_tat, kEpoch + (here.packets + total) * 1'000'000);
  EXPECT_EQ(bucket->byte_tat, kEpoch + (here.bytes + total_bytes) * 1'000);
}

TEST_F(GlobalTier, AWindowAlgorithmCannotBeGlobal) {
  Policy policy = single_tier_policy({100, kSec, 0});
  policy.tiers.front().algorithm = SLUICE_ALGO_FIXED_WINDOW;
  policy.tiers.front().global = true;
  EXPECT_THROW(h.apply(policy), PolicyError);
}

}  // namespace
}  // namespace sluice::testing
