// The data-path counters as a C++ table, derived from SLUICE_COUNTERS in the
// shared header: JSON names, pass/drop class, metric labels and sluicectl
// columns are read from here, never retyped.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "sluice_layout.h"

namespace sluice {

enum class CounterClass : uint32_t {
  kPass = SLUICE_CNT_CLASS_PASS,
  kDrop = SLUICE_CNT_CLASS_DROP,
  kShadow = SLUICE_CNT_CLASS_SHADOW,
  kConfigured = SLUICE_CNT_CLASS_CONFIGURED,  // the malformed verdict decides
  kEvent = SLUICE_CNT_CLASS_EVENT,            // not a verdict
};

struct CounterInfo {
  uint32_t index;  // SLUICE_CNT_*
  const char* name;
  CounterClass counter_class;
  const char* reason;
  const char* column;
  const char* description;

  bool passed(bool malformed_dropped) const {
    return counter_class == CounterClass::kPass ||
           (counter_class == CounterClass::kConfigured && !malformed_dropped);
  }
  bool dropped(bool malformed_dropped) const {
    return counter_class == CounterClass::kDrop ||
           (counter_class == CounterClass::kConfigured && malformed_dropped);
  }
  // The `verdict` label of sluice_packets_total; "" for an event.
  const char* verdict(bool malformed_dropped) const {
    if (counter_class == CounterClass::kShadow) return "shadow_drop";
    if (counter_class == CounterClass::kEvent) return "";
    return dropped(malformed_dropped) ? "drop" : "pass";
  }
};

#define SLUICE_CNT_TABLE_ENTRY(NAME, name, index, class, reason, column, description) \
  CounterInfo{index, #name, CounterClass{SLUICE_CNT_CLASS_##class}, reason, column, description},
inline constexpr std::array<CounterInfo, SLUICE_COUNTER_MAX> kCounterTable = {
    SLUICE_COUNTERS(SLUICE_CNT_TABLE_ENTRY)};
#undef SLUICE_CNT_TABLE_ENTRY

namespace detail {
constexpr bool counter_table_in_index_order() {
  for (uint32_t i = 0; i < kCounterTable.size(); ++i)
    if (kCounterTable[i].index != i) return false;
  return true;
}
}  // namespace detail
static_assert(detail::counter_table_in_index_order(),
              "SLUICE_COUNTERS must list counters by index, without gaps");

// The counter of that index; nullptr past the table.
constexpr const CounterInfo* counter_info(uint32_t index) {
  return index < kCounterTable.size() ? &kCounterTable[index] : nullptr;
}

}  // namespace sluice
