#include "traffic_report.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <set>

#include "counter_table.h"

namespace sluice {
namespace {

using nlohmann::json;

// Malformed packets (class kConfigured) count in neither total: their verdict
// may differ between the interfaces summed here.
json row_json(const std::array<struct sluice_counter, SLUICE_COUNTER_MAX>& row) {
  json counters = json::object();
  uint64_t dropped = 0, passed = 0;
  for (const CounterInfo& counter : kCounterTable) {
    const auto& value = row[counter.index];
    counters[counter.name] = {{"packets", value.packets}, {"bytes", value.bytes}};
    if (counter.counter_class == CounterClass::kDrop) dropped += value.packets;
    if (counter.counter_class == CounterClass::kPass) passed += value.packets;
  }
  return {{"counters", counters}, {"passed_packets", passed}, {"dropped_packets", dropped}};
}

bool row_is_zero(const std::array<struct sluice_counter, SLUICE_COUNTER_MAX>& row) {
  return std::all_of(row.begin(), row.end(), [](const auto& c) { return c.packets == 0; });
}

std::string source_text(const struct sluice_source& source, uint32_t prefix_len) {
  char buffer[INET6_ADDRSTRLEN] = {};
  bool v4 = source.family == SLUICE_FAMILY_V4;
  inet_ntop(v4 ? AF_INET : AF_INET6, source.addr, buffer, sizeof(buffer));
  if ((v4 && prefix_len == 32) || (!v4 && prefix_len == 128)) return buffer;
  return std::string(buffer) + "/" + std::to_string(prefix_len);
}

std::string tier_text(uint32_t tier, const TierSlots& slots) {
  if (tier == SLUICE_TIER_ALLOW) return "(allow)";
  if (tier == SLUICE_TIER_DENY) return "(deny)";
  std::string name = slots.name_of(tier);
  return name.empty() ? TierSlots::unassigned_label(tier) : name;
}

}  // namespace

const char* counter_name(uint32_t counter) {
  const CounterInfo* info = counter_info(counter);
  return info ? info->name : "?";
}

json stats_report(const Daemon& daemon, const std::string& only) {
  Counters sum;
  sum.rows.resize(SLUICE_COUNTER_ROWS);
  json names = json::array();
  std::set<uint32_t> summed;  // interfaces sharing maps share counters: sum each set once
  for (const auto& [name, attached] : daemon.interfaces()) {
    if (!only.empty() && name != only) continue;
    names.push_back(name);
    if (!summed.insert(attached.dataplane.maps_id()).second) continue;
    Counters counters = attached.dataplane.counters();
    for (uint32_t row = 0; row < SLUICE_COUNTER_ROWS; ++row) {
      for (uint32_t i = 0; i < SLUICE_COUNTER_MAX; ++i) {
        sum.rows[row][i].packets += counters.rows[row][i].packets;
        sum.rows[row][i].bytes += counters.rows[row][i].bytes;
      }
    }
  }
  if (!only.empty() && names.empty())
    throw ControlError(errc::kNotFound, only + " is not attached");

  json tiers = json::array();
  for (uint32_t index = 0; index < SLUICE_MAX_TIERS; ++index) {
    std::string name = daemon.tier_slots().name_of(index);
    if (name.empty() && row_is_zero(sum.rows[index])) continue;
    json row = row_json(sum.rows[index]);
    row["tier"] = name.empty() ? TierSlots::unassigned_label(index) + " (deleted)" : name;
    row["index"] = index;
    tiers.push_back(row);
  }
  std::array<struct sluice_counter, SLUICE_COUNTER_MAX> total{};
  for (const auto& row : sum.rows) {
    for (uint32_t i = 0; i < SLUICE_COUNTER_MAX; ++i) {
      total[i].packets += row[i].packets;
      total[i].bytes += row[i].bytes;
    }
  }
  return {{"interfaces", names},
          {"tiers", tiers},
          {"unclassified", row_json(sum.rows[SLUICE_TIER_NONE])},
          {"total", row_json(total)}};
}

SourceSnapshot snapshot_sources(const Daemon& daemon) {
  SourceSnapshot out;
  const Policy policy = daemon.effective_policy();
  std::set<uint32_t> walked;  // interfaces sharing maps share buckets: walk each set once
  for (const auto& [name, attached] : daemon.interfaces()) {
    if (!walked.insert(attached.dataplane.maps_id()).second) continue;
    for (const auto& entry : attached.dataplane.sources()) {
      uint32_t len =
          entry.source.family == SLUICE_FAMILY_V4 ? policy.v4_prefix_len : policy.v6_prefix_len;
      auto& sample = out[source_text(entry.source, len)];
      sample.tier = tier_text(sluice_policy_tier(entry.bucket.policy), daemon.tier_slots());
      sample.passed += entry.bucket.passed;
      sample.dropped += entry.bucket.dropped;
    }
  }
  return out;
}

json top_report(const SourceSnapshot& before, const SourceSnapshot& after,
                std::chrono::milliseconds interval, size_t limit) {
  struct Row {
    std::string source;
    SourceSample now;
    double passed_pps, dropped_pps;
  };
  const double seconds = std::max<double>(static_cast<double>(interval.count()) / 1000.0, 0.001);
  std::vector<Row> rows;
  for (const auto& [source, sample] : after) {
    SourceSample old;
    if (auto it = before.find(source); it != before.end()) old = it->second;
    // An LRU eviction in between restarts a source's counts: never go negative.
    auto delta = [](uint64_t now, uint64_t then) { return now >= then ? now - then : now; };
    rows.push_back({source, sample, static_cast<double>(delta(sample.passed, old.passed)) / seconds,
                    static_cast<double>(delta(sample.dropped, old.dropped)) / seconds});
  }
  auto to_json = [](const Row& row) {
    return json{{"source", row.source},         {"tier", row.now.tier},
                {"passed", row.now.passed},     {"dropped", row.now.dropped},
                {"passed_pps", row.passed_pps}, {"dropped_pps", row.dropped_pps}};
  };
  auto take = [&](auto better) {
    std::vector<Row> sorted = rows;
    size_t n = std::min(limit, sorted.size());
    std::partial_sort(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(n), sorted.end(),
                      better);
    json out = json::array();
    for (size_t i = 0; i < n; ++i) out.push_back(to_json(sorted[i]));
    return out;
  };
  json by_drops = take([](const Row& a, const Row& b) {
    return a.now.dropped != b.now.dropped ? a.now.dropped > b.now.dropped : a.source < b.source;
  });
  json by_rate = take([](const Row& a, const Row& b) {
    double ra = a.passed_pps + a.dropped_pps, rb = b.passed_pps + b.dropped_pps;
    return ra != rb ? ra > rb : a.source < b.source;
  });
  return {{"interval_ms", interval.count()},
          {"sources", rows.size()},
          {"by_drops", by_drops},
          {"by_rate", by_rate}};
}

}  // namespace sluice
