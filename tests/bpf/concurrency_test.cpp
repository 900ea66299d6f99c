// Two CPUs judging packets of one source at once, on the kernel clock: the
// compare-and-swap updates must keep the admitted count at rate x time + burst.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "packet_builder.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

TEST(Concurrency, TwoCpusOnOneSourceStayWithinTwoPercent) {
  unsigned cpus = std::thread::hardware_concurrency();
  if (cpus < 2) GTEST_SKIP() << "needs two CPUs, this machine has " << cpus;

  auto dataplane = Dataplane::load(LoadOptions{.bucket_entries = 1024});
  // The burst covers 500 ms: when both test threads are preempted (the machine
  // is shared), the bucket keeps the refill instead of capping it, so the
  // admitted count measures the meter, not the scheduler.
  const uint64_t rate = 2'000'000, burst = rate / 2;
  Policy policy;
  policy.tiers = {TierSpec{.name = "t", .packets = {rate, SLUICE_NSEC_PER_SEC, burst}}};
  // A std::string, not `= "t"`: GCC 12 -O3 warns falsely there (-Wrestrict, bug 105651).
  policy.default_tier = std::string("t");
  TierSlots slots;
  dataplane.apply(compile_policy(policy, slots, datapath_cpus()));

  auto frame = PacketBuilder().ipv4("198.18.0.1").udp().payload(18).build();
  const auto duration = std::chrono::seconds(3);
  using Clock = std::chrono::steady_clock;
  std::atomic<bool> go{false};
  // The span that counts is from the first packet judged to the last: each
  // thread notes when its first run started and its last run ended.
  Clock::time_point first[2], last[2];
  auto worker = [&](int cpu) {
    pin_to_cpu(cpu);
    while (!go) std::this_thread::yield();
    first[cpu] = Clock::now();
    auto end = first[cpu] + duration;
    while (Clock::now() < end) {
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                  .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 20'000);
      ASSERT_EQ(bpf_prog_test_run_opts(dataplane.prog_fd(), &opts), 0);
      last[cpu] = Clock::now();
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  go = true;
  a.join();
  b.join();
  double seconds =
      std::chrono::duration<double>(std::max(last[0], last[1]) - std::min(first[0], first[1]))
          .count();

  auto counters = dataplane.counters();
  double passed = static_cast<double>(counters.total(SLUICE_CNT_PASSED).packets);
  double offered = passed + static_cast<double>(counters.total(SLUICE_CNT_DROP_PKT_RATE).packets +
                                                counters.total(SLUICE_CNT_DROP_CONTENDED).packets);
  double limit = static_cast<double>(rate) * seconds + burst;
  RecordProperty("offered_per_second", std::to_string(offered / seconds));
  RecordProperty("admitted_over_limit", std::to_string(passed / limit));
  std::printf("offered %.0f/s, admitted %.0f, limit %.0f, ratio %.4f, contended %llu\n",
              offered / seconds, passed, limit, passed / limit,
              static_cast<unsigned long long>(counters.total(SLUICE_CNT_DROP_CONTENDED).packets));
  ASSERT_GT(offered / seconds, 2.0 * rate) << "the CPUs must offer well over the limit";
  EXPECT_LE(passed, limit * 1.02);
  EXPECT_GE(passed, limit * 0.98);
}

}  // namespace
}  // namespace sluice::testing
