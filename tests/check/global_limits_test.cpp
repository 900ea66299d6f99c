// Global limits in the request layer: the burst divided among the members,
// a partitioned side held to its share, admissions reported with their key,
// and remote consumption charged into the same bucket.
#include "global_limits.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "checker.h"

namespace sluice {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

class GlobalLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    std::string pepper(kPepperBytes, 'p');
    checker = std::make_unique<Checker>(
        std::make_shared<ApiKeyStore>(pepper), 1 << 16, [this] { return now_ns; },
        [] { return uint64_t{1'800'000'000}; });
    CheckerConfig config;
    RequestWindow second{"second", RateLimit{10, kSec, 10}, false};
    second.global = true;
    RequestWindow hour{"hour", RateLimit{100000, 3600 * kSec, 100000}, false};  // not global
    config.policy.anonymous = {second, hour};
    config.trusted_proxies = {Cidr::parse("127.0.0.0/8")};
    checker->configure(config);
    checker->set_global_hooks(
        {[this](const std::string& key) { admitted.push_back(key); }, [this] { return view; }});
  }

  bool allowed() {
    CheckRequest request{"GET", "/", std::nullopt, std::nullopt, "198.18.0.7", "", "127.0.0.1"};
    return checker->check(request).verdict == Verdict::kAllowed;
  }
  int admit_all(int attempts) {
    int count = 0;
    for (int i = 0; i < attempts; ++i) count += allowed() ? 1 : 0;
    return count;
  }

  uint64_t now_ns = 1000 * kSec;
  GlobalView view{1.0, 2};
  std::vector<std::string> admitted;
  std::unique_ptr<Checker> checker;
};

TEST_F(GlobalLimitsTest, TheBurstIsDividedAmongTheMembers) {
  EXPECT_EQ(admit_all(20), 5);  // burst 10 over 2 members
}

TEST_F(GlobalLimitsTest, AdmissionsAreReportedWithTheirBucketKey) {
  EXPECT_EQ(admit_all(3), 3);
  ASSERT_EQ(admitted.size(), 3U);  // the global window only, not the hourly one
  EXPECT_EQ(admitted[0].substr(admitted[0].find('\x1f') + 1), "w:second");
  EXPECT_TRUE(checker->charge_global(admitted[0], 1));
  EXPECT_FALSE(
      checker->charge_global(admitted[0].substr(0, admitted[0].find('\x1f')) + "\x1fw:hour",
                             1));  // not a global limit
}

TEST_F(GlobalLimitsTest, RemoteConsumptionIsChargedIntoTheSameBucket) {
  EXPECT_EQ(admit_all(2), 2);
  ASSERT_TRUE(checker->charge_global(admitted[0], 3));  // another node admitted 3
  EXPECT_EQ(admit_all(20), 0);                          // 2 + 3 = the local burst of 5
  now_ns += kSec;                                       // the fleet earns 10 more
  EXPECT_EQ(admit_all(20), 5);  // but one node holds at most its burst share
}

TEST_F(GlobalLimitsTest, APartitionedSideEnforcesItsShareOfTheRate) {
  view = {0.4, 5};  // sees 2 of 5 members: 4/s
  int admitted_count = 0;
  for (int step = 0; step < 1000; ++step) {  // 10 s, a request every 10 ms
    admitted_count += allowed() ? 1 : 0;
    now_ns += 10'000'000;
  }
  EXPECT_GE(admitted_count, 40);
  EXPECT_LE(admitted_count, 42);  // 4/s for 10 s plus a burst of 2
}

TEST(LocalPart, LeavesLimitsThatAreNotGlobalAlone) {
  CompiledLimit limit;
  sluice_rate_make(&limit.rate, 10, kSec, 10, SLUICE_SPEND_UNIT);
  CompiledLimit local = local_part(limit, {0.5, 4});
  EXPECT_EQ(local.rate.interval_fp, limit.rate.interval_fp);
  EXPECT_EQ(local.rate.tau_ns, limit.rate.tau_ns);
  limit.global = true;
  local = local_part(limit, {0.5, 4});
  EXPECT_EQ(local.rate.interval_fp, 2 * limit.rate.interval_fp);
  EXPECT_EQ(local.rate.tau_ns, 3 * sluice_cost_ns(local.rate.interval_fp, 1));  // ceil(10/4)
}

}  // namespace
}  // namespace sluice
