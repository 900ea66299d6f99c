// Policy switches while two CPUs judge one source's packets: after each
// switch, no packet is judged by a policy older than the previous one, and a
// bucket whose tier was deleted is judged by the default tier, never unlimited.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "packet_builder.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
const char* kSourceNet = "198.18.0.0/24";

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// The four policies the switcher cycles through; each judges the source in a
// counter row of its own (tier a, the deny row, tier b, the default tier c).
Policy policy_number(int n) {
  Policy p;
  auto tier = [](const char* name) { return TierSpec{.name = name, .packets = {1, kSec, 1}}; };
  p.tiers = {tier("a"), tier("c")};
  p.default_tier = std::string("c");  // not = "c": GCC 12 -O3 -Wrestrict false positive (105651)
  switch (n % 4) {
    case 0:  // the source in tier a
      p.prefixes = {{Cidr::parse(kSourceNet), "a"}};
      break;
    case 1:  // the source denied
      p.prefixes = {{Cidr::parse(kSourceNet), "a"}};
      p.deny = {Cidr::parse(kSourceNet)};
      break;
    case 2:  // the source moved to tier b
      p.tiers.push_back(tier("b"));
      p.prefixes = {{Cidr::parse(kSourceNet), "b"}};
      break;
    default:  // tier b deleted: the source falls to the default tier c
      break;
  }
  return p;
}

// Packets judged in the counter row of policy `n` (its signature).
uint64_t judged_by(const XdpHarness& h, int n, uint32_t b_index) {
  auto counters = h.counters();
  auto row_total = [&](uint32_t row) {
    uint64_t sum = 0;
    for (uint32_t c = 0; c < SLUICE_COUNTER_MAX; ++c) sum += counters.at(row, c).packets;
    return sum;
  };
  switch (n % 4) {
    case 0:
      return row_total(h.tier_index("a"));
    case 1:
      return counters.at(SLUICE_TIER_NONE, SLUICE_CNT_DROP_DENY).packets;
    case 2:
      return row_total(b_index);
    default:
      return row_total(h.tier_index("c"));
  }
}

// The fd of the program's map called `name` (the harness pins nothing).
int map_fd_of(int prog_fd, const char* name) {
  uint32_t ids[16] = {};
  struct bpf_prog_info info = {};
  uint32_t len = sizeof(info);
  info.nr_map_ids = 16;
  info.map_ids = reinterpret_cast<uint64_t>(ids);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len)) return -1;
  for (uint32_t i = 0; i < info.nr_map_ids; ++i) {
    int fd = bpf_map_get_fd_by_id(ids[i]);
    struct bpf_map_info map = {};
    uint32_t map_len = sizeof(map);
    if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &map, &map_len) && !std::strcmp(map.name, name))
      return fd;
    if (fd >= 0) close(fd);
  }
  return -1;
}

TEST(PolicySwitchRace, ABucketCachingADeletedTierIsJudgedByTheDefaultTier) {
  // The state a lost race used to leave: the current generation with the
  // index of a tier it no longer defines. Judged by the default tier (1/s).
  XdpHarness h;
  h.apply(policy_number(2));
  const uint32_t b_index = h.tier_index("b");
  h.apply(policy_number(3));
  int buckets = map_fd_of(h.dataplane().prog_fd(), "sluice_buckets");
  ASSERT_GE(buckets, 0);
  struct sluice_source src = {};
  src.family = SLUICE_FAMILY_V4;
  inet_pton(AF_INET, "198.18.0.1", &src.addr[0]);
  struct sluice_bucket stale = {};
  stale.policy = sluice_policy_word(h.dataplane().generation(), b_index);
  ASSERT_EQ(bpf_map_update_elem(buckets, &src, &stale, BPF_ANY), 0);
  close(buckets);

  auto frame = PacketBuilder().ipv4("198.18.0.1").udp().build();
  EXPECT_EQ(h.run_passed(frame, kEpoch, 20), 1) << "tier c: 1/s, burst 1";
  EXPECT_EQ(h.counters().at(h.tier_index("c"), SLUICE_CNT_DROP_PKT_RATE).packets, 19u);
}

TEST(PolicySwitchRace, NoPacketIsJudgedByAPolicyOlderThanThePreviousOne) {
  unsigned cpus = std::thread::hardware_concurrency();
  if (cpus < 2) GTEST_SKIP() << "needs two CPUs, this machine has " << cpus;
  XdpHarness h;
  h.apply(policy_number(2));
  const uint32_t b_index = h.tier_index("b");
  h.apply(policy_number(0));

  auto frame = PacketBuilder().ipv4("198.18.0.1").udp().build();
  std::atomic<bool> stop{false};
  auto worker = [&](int cpu) {
    pin_to_cpu(cpu);
    while (!stop) {
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                  .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 200);
      ASSERT_EQ(bpf_prog_test_run_opts(h.dataplane().prog_fd(), &opts), 0);
    }
  };
  std::thread a(worker, 0), b(worker, 1);

  int violations = 0;
  for (int n = 1; n <= 200; ++n) {
    h.apply(policy_number(n));
    ASSERT_TRUE(n % 4 != 2 || h.tier_index("b") == b_index) << "tier b keeps its row";
    // Runs that read the generation before the switch finish well within this.
    std::this_thread::sleep_for(milliseconds(5));
    uint64_t older[2] = {judged_by(h, n + 1, b_index), judged_by(h, n + 2, b_index)};
    std::this_thread::sleep_for(milliseconds(10));
    uint64_t later[2] = {judged_by(h, n + 1, b_index), judged_by(h, n + 2, b_index)};
    for (int i = 0; i < 2; ++i) {
      if (later[i] != older[i]) {
        ++violations;
        ADD_FAILURE() << "switch " << n << ": " << later[i] - older[i]
                      << " packets judged by policy " << (n + 1 + i) % 4 << ", "
                      << (i == 0 ? "three" : "two") << " switches old";
      }
    }
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(violations, 0);
  EXPECT_GT(judged_by(h, 0, b_index) + judged_by(h, 3, b_index), 1000u) << "the CPUs were busy";
}

}  // namespace
}  // namespace sluice::testing
