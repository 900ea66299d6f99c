// An orphaned global tier (bpf/sluice_global.bpf.h, global_orphan_factor):
// once the daemon's heartbeat in global_beat is older than its stale_after,
// every packet the tier admits costs `factor` tokens, so the local part the
// daemon left (rate R x share) becomes the host's fallback share R/N. A fresh
// beat, no beat, and per-host tiers are judged as before.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <functional>
#include <thread>

#include "packet_builder.h"
#include "sources.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kStaleAfter = millis(300);  // the sync timeout at a 100 ms interval
constexpr uint32_t kFactor = 5;                // five visible members at share 1

// The local part of a global tier of R = 500/s, B = 100 on one of five nodes
// that all see each other: 100 packets/s, burst 20. The fallback is R/N = 100/5 = 20/s.
Policy local_part_policy(bool global) {
  Policy policy = single_tier_policy({100, kSec, 20});
  policy.tiers.front().global = global;
  return policy;
}

class GlobalOrphan : public ::testing::Test {
 protected:
  XdpHarness h;
  std::vector<uint8_t> frame = PacketBuilder().ipv4("198.18.0.1").udp().build();
  struct sluice_source src = source_key("198.18.0.1");

  void beat(uint64_t at_ns, uint64_t stale_after_ns = kStaleAfter, uint32_t factor = kFactor) {
    h.dataplane().write_global_beat({at_ns, stale_after_ns, factor, 0});
  }
  // One packet a millisecond from `start` for `length`; `each` runs before
  // every packet (a daemon refreshing its beat). Returns how many passed.
  int flood(uint64_t start, uint64_t length, const std::function<void(uint64_t)>& each = {}) {
    int passed = 0;
    for (uint64_t t = start; t < start + length; t += millis(1)) {
      if (each) each(t);
      passed += h.run(frame, t) == XDP_PASS;
    }
    return passed;
  }
};

// 100/s with a burst of 20, one packet a millisecond for 10 s: 22 at once
// (the burst, and two tokens refilled meanwhile), then one every 10 ms from
// 30 ms on: 997.
constexpr int kLocalPartIn10s = 1019;
// Orphaned, each admitted packet moves the TAT by 50 ms: 4 at once (the
// burst shrinks to (20 - 1) / 5 + 1), then one every 50 ms, at 10 ms, 60 ms,
// ... 9960 ms: 200, the fallback R/N over 10 s.
constexpr int kFallbackIn10s = 204;

TEST_F(GlobalOrphan, WithoutABeatTheLocalPartIsEnforced) {
  h.apply(local_part_policy(true));
  EXPECT_EQ(flood(kEpoch, seconds(10)), kLocalPartIn10s);
  EXPECT_FALSE(h.dataplane().global_beat()->beat_ns) << "never written: all zero";
}

TEST_F(GlobalOrphan, AStaleBeatAdmitsTheHostsShare) {
  h.apply(local_part_policy(true));
  beat(kEpoch - seconds(1));  // the daemon was killed a second ago
  EXPECT_EQ(flood(kEpoch, seconds(10)), kFallbackIn10s);
}

TEST_F(GlobalOrphan, AFreshBeatAdmitsTheLocalPart) {
  h.apply(local_part_policy(true));
  uint64_t last = 0;
  // The daemon writes its beat every poll (25 ms at a 100 ms sync interval).
  const int passed = flood(kEpoch, seconds(10), [&](uint64_t t) {
    if (t >= last + millis(25)) beat(last = t);
  });
  EXPECT_EQ(passed, kLocalPartIn10s);
}

TEST_F(GlobalOrphan, AZeroFieldMeansNoHeartbeat) {
  h.apply(local_part_policy(true));
  const uint64_t old = kEpoch - seconds(1);
  const struct sluice_global_beat none[] = {
      {0, kStaleAfter, kFactor, 0},  // never beaten
      {old, 0, kFactor, 0},          // no staleness configured
      {old, kStaleAfter, 0, 0},      // no factor
      {old, kStaleAfter, 1, 0},      // a factor of one: the local part is the share
  };
  uint64_t start = kEpoch;
  for (const auto& b : none) {
    XdpHarness fresh;
    fresh.apply(local_part_policy(true));
    fresh.dataplane().write_global_beat(b);
    int passed = 0;
    for (uint64_t t = start; t < start + seconds(10); t += millis(1))
      passed += fresh.run(frame, t) == XDP_PASS;
    EXPECT_EQ(passed, kLocalPartIn10s)
        << "beat " << b.beat_ns << ", stale after " << b.stale_after_ns << ", factor " << b.factor;
  }
}

TEST_F(GlobalOrphan, AByteLimitFallsBackToTheHostsShareToo) {
  // The same local part in bytes: 100 frames' worth a second, 20 of burst,
  // and no packets/s limit; orphaned, every admitted frame pays five times.
  const uint64_t len = frame.size();
  Policy policy = single_tier_policy({}, {100 * len, kSec, 20 * len}, {});
  policy.tiers.front().global = true;
  h.apply(policy);
  EXPECT_EQ(flood(kEpoch, seconds(10)), kLocalPartIn10s) << "no beat";
  beat(kEpoch + seconds(9));  // the daemon died at 19 s
  EXPECT_NEAR(flood(kEpoch + seconds(20), seconds(10)), kFallbackIn10s, 2) << "orphaned";
}

TEST_F(GlobalOrphan, APerHostTierIsUntouched) {
  h.apply(local_part_policy(false));
  beat(kEpoch - seconds(1));
  EXPECT_EQ(flood(kEpoch, seconds(10)), kLocalPartIn10s);
}

TEST_F(GlobalOrphan, TheBeatIsStaleOnlyAfterStaleAfter) {
  h.apply(local_part_policy(true));
  beat(kEpoch);
  // At exactly stale_after the beat is still fresh: one interval (10 ms).
  const uint64_t edge = kEpoch + kStaleAfter;
  ASSERT_EQ(h.run(frame, edge), XDP_PASS);
  EXPECT_EQ(h.dataplane().bucket_of(src)->pkt_tat, edge + millis(10));
  // A nanosecond later it is stale: the packet costs five intervals.
  ASSERT_EQ(h.run(frame, edge + 1), XDP_PASS);
  EXPECT_EQ(h.dataplane().bucket_of(src)->pkt_tat, edge + millis(10) + millis(50));
  // Three more fit the burst's 200 ms (TAT 120, 180, 240 ms ahead); a
  // dropped packet charges nothing.
  EXPECT_EQ(h.run_passed(frame, edge + 2, 50), 3);
  const uint64_t tat = h.dataplane().bucket_of(src)->pkt_tat;
  EXPECT_EQ(h.run(frame, edge + 2), XDP_DROP);
  EXPECT_EQ(h.dataplane().bucket_of(src)->pkt_tat, tat);
}

TEST_F(GlobalOrphan, AStoppedDaemonsBeatIsStaleAtOnce) {
  h.apply(local_part_policy(true));
  beat(SLUICE_GLOBAL_BEAT_STOPPED);
  EXPECT_EQ(flood(kEpoch, seconds(10)), kFallbackIn10s);
}

// A restarted daemon adopts the orphaned program and beats at once: the
// fallback ends with that beat, and the bucket carries no debt from it.
TEST_F(GlobalOrphan, AFreshBeatEndsTheFallbackAtOnce) {
  h.apply(local_part_policy(true));
  beat(kEpoch - seconds(1));
  EXPECT_EQ(flood(kEpoch, seconds(10)), kFallbackIn10s);
  const uint64_t restart = kEpoch + seconds(10);
  // The flood kept the fallback's burst spent: its TAT is 200 ms ahead.
  ASSERT_EQ(h.dataplane().bucket_of(src)->pkt_tat, restart + millis(200));
  beat(restart);
  uint64_t last = restart;
  const int passed = flood(restart, seconds(10), [&](uint64_t t) {
    if (t >= last + millis(25)) beat(last = t);
  });
  // 100/s from the restart on, one every 10 ms from 10 ms: the local part's
  // rate at once, with no debt left from the fallback.
  EXPECT_EQ(passed, 999);
}

// Two CPUs admit packets of an orphaned source at once: every admitted packet
// moves the TAT by `factor` intervals, the spend's one by compare-and-swap,
// the other four by an atomic add. Fixed clock, a burst no test can spend.
TEST_F(GlobalOrphan, TwoCpusChargeTheFactorOnEveryAdmittedPacket) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs two CPUs";
  Policy policy = single_tier_policy({1000, kSec, 10'000'000});  // 1 ms a packet
  policy.tiers.front().global = true;
  h.apply(policy);
  beat(kEpoch - seconds(1));
  ASSERT_EQ(h.run(frame, kEpoch), XDP_PASS);  // the bucket exists before the race
  auto cpu = [&](int index) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(index, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    for (int round = 0; round < 100; ++round) {
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                  .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 500);
      ASSERT_EQ(bpf_prog_test_run_opts(h.dataplane().prog_fd(), &opts), 0);
    }
  };
  std::thread a(cpu, 0), b(cpu, 1);
  a.join();
  b.join();
  const auto bucket = h.dataplane().bucket_of(src);
  ASSERT_TRUE(bucket.has_value());
  const uint64_t passed = h.counters().total(SLUICE_CNT_PASSED).packets;
  ASSERT_EQ(passed, 100'001u) << "every packet within the burst";
  // Every admitted packet moves the TAT by five intervals, but for a few
  // lost now and then under the two CPUs' contention: 0-7 ms short over 20
  // runs on the shared 2-core VM, and 1 ms short in 1 of 6 runs with a factor
  // of 1 (no extra add: the spend's CAS alone); a CAS loop instead of the
  // atomic add lost as much. Not explained yet (docs/kernel-global.md, "Not
  // done"): asserted within five packets' charge (25 ms of 500 s).
  const uint64_t expected = kEpoch + passed * kFactor * millis(1);
  std::printf("TAT %.0f ms short of one %u-interval charge per admitted packet\n",
              static_cast<double>(expected - bucket->pkt_tat) / 1e6, kFactor);
  EXPECT_LE(bucket->pkt_tat, expected);
  EXPECT_GE(bucket->pkt_tat, expected - millis(25));
}

}  // namespace
}  // namespace sluice::testing
