// `sluicectl top` arithmetic: rates between two readings, ordering, and
// sources that appear or restart in between.
#include "traffic_report.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(TopReport, RanksByDropsAndByRate) {
  SourceSnapshot before = {{"198.18.0.1", {"std", 100, 1000}},
                           {"198.18.0.2", {"std", 0, 0}},
                           {"198.18.0.3", {"gold", 500, 0}}};
  SourceSnapshot after = {{"198.18.0.1", {"std", 200, 1500}},  // 600/s, the most drops
                          {"198.18.0.2", {"std", 100, 0}},     // 100/s
                          {"198.18.0.3", {"gold", 2500, 0}},   // 2000/s, no drops
                          {"198.18.0.4", {"(deny)", 0, 50}}};  // new: counted from zero
  nlohmann::json top = top_report(before, after, std::chrono::milliseconds(1000), 3);
  EXPECT_EQ(top["sources"], 4);
  ASSERT_EQ(top["by_drops"].size(), 3u);
  EXPECT_EQ(top["by_drops"][0]["source"], "198.18.0.1");
  EXPECT_EQ(top["by_drops"][1]["source"], "198.18.0.4");
  ASSERT_EQ(top["by_rate"].size(), 3u);
  EXPECT_EQ(top["by_rate"][0]["source"], "198.18.0.3");
  EXPECT_DOUBLE_EQ(top["by_rate"][0]["passed_pps"].get<double>(), 2000.0);
  EXPECT_EQ(top["by_rate"][1]["source"], "198.18.0.1");
  EXPECT_DOUBLE_EQ(top["by_rate"][1]["passed_pps"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(top["by_rate"][1]["dropped_pps"].get<double>(), 500.0);
}

TEST(TopReport, EvictedAndRecreatedSourcesNeverGoNegative) {
  SourceSnapshot before = {{"2001:db8::/64", {"std", 1000, 1000}}};
  SourceSnapshot after = {{"2001:db8::/64", {"std", 10, 5}}};  // LRU evicted, then seen again
  nlohmann::json top = top_report(before, after, std::chrono::milliseconds(500), 10);
  EXPECT_DOUBLE_EQ(top["by_rate"][0]["passed_pps"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(top["by_rate"][0]["dropped_pps"].get<double>(), 10.0);
}

TEST(TopReport, EmptyMap) {
  nlohmann::json top = top_report({}, {}, std::chrono::milliseconds(1000), 10);
  EXPECT_TRUE(top["by_drops"].empty());
  EXPECT_TRUE(top["by_rate"].empty());
}

TEST(CounterNames, CoverEveryCounter) {
  for (uint32_t i = 0; i < SLUICE_COUNTER_MAX; ++i) EXPECT_STRNE(counter_name(i), "?") << i;
  EXPECT_STREQ(counter_name(SLUICE_CNT_DROP_PKT_RATE), "drop_pkt_rate");
}

}  // namespace
}  // namespace sluice
