// The admission budget is split over the online CPUs, read from the kernel's
// CPU list (/sys/devices/system/cpu/online).
#include <gtest/gtest.h>
#include <unistd.h>

#include "dataplane.h"

namespace sluice {
namespace {

TEST(CpuList, CountsRangesAndSingleCpus) {
  EXPECT_EQ(count_cpu_list("0\n"), 1u);
  EXPECT_EQ(count_cpu_list("0-3"), 4u);
  EXPECT_EQ(count_cpu_list("0-3,8,10-11\n"), 7u);
  EXPECT_EQ(count_cpu_list(""), 0u);
  EXPECT_EQ(count_cpu_list("x"), 0u);
  EXPECT_EQ(count_cpu_list("3-1"), 0u);
}

TEST(CpuList, DatapathCpusAreTheOnlineOnes) {
  // A VM with hotplug headroom has more possible CPUs than online ones; the
  // budget must be split over those that can run the program.
  EXPECT_EQ(datapath_cpus(), static_cast<uint32_t>(sysconf(_SC_NPROCESSORS_ONLN)));
}

TEST(CpuList, EachCpuGetsItsShareOfTheHostBudget) {
  RateLimit host{50'000, SLUICE_NSEC_PER_SEC, 50'000};
  RateLimit share = per_cpu_share(host, 4);
  EXPECT_EQ(share.tokens, 12'500u);
  EXPECT_EQ(share.burst, 12'500u);
  EXPECT_EQ(per_cpu_share(host, 64).tokens, 781u) << "64 CPUs share the same 50k/s";
}

}  // namespace
}  // namespace sluice
