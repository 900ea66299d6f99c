// The counter table derived from SLUICE_COUNTERS: what its readers rely on.
#include "counter_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace sluice {
namespace {

TEST(CounterTable, NamesMatchTheirClass) {
  std::set<std::string> names;
  for (const CounterInfo& c : kCounterTable) {
    const std::string name = c.name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
    if (starts("passed")) {
      EXPECT_EQ(c.counter_class, CounterClass::kPass) << name;
    } else if (starts("drop_")) {
      EXPECT_EQ(c.counter_class, CounterClass::kDrop) << name;
    } else if (starts("shadow_")) {
      EXPECT_EQ(c.counter_class, CounterClass::kShadow) << name;
    }
  }
  EXPECT_STREQ(kCounterTable[SLUICE_CNT_DROP_PKT_RATE].name, "drop_pkt_rate");
  EXPECT_EQ(kCounterTable[SLUICE_CNT_MALFORMED].counter_class, CounterClass::kConfigured);
}

// Two counters with one verdict and reason would export two samples with one
// label set, which Prometheus rejects; this holds for either malformed verdict.
TEST(CounterTable, MetricLabelsAreUniquePerVerdict) {
  for (bool malformed_dropped : {false, true}) {
    std::set<std::pair<std::string, std::string>> seen;
    for (const CounterInfo& c : kCounterTable) {
      if (c.counter_class == CounterClass::kEvent) continue;
      EXPECT_TRUE(seen.emplace(c.verdict(malformed_dropped), c.reason).second)
          << c.name << " shares its labels";
    }
  }
  EXPECT_STREQ(kCounterTable[SLUICE_CNT_MALFORMED].verdict(true), "drop");
  EXPECT_STREQ(kCounterTable[SLUICE_CNT_MALFORMED].verdict(false), "pass");
  EXPECT_STREQ(kCounterTable[SLUICE_CNT_SHADOW_SYN_RATE].verdict(false), "shadow_drop");
}

TEST(CounterTable, LookupStopsAtTheEnd) {
  EXPECT_EQ(counter_info(SLUICE_COUNTER_MAX), nullptr);
  ASSERT_NE(counter_info(SLUICE_CNT_NEW_SOURCE), nullptr);
  EXPECT_STREQ(counter_info(SLUICE_CNT_NEW_SOURCE)->column, "SOURCES");
}

}  // namespace
}  // namespace sluice
