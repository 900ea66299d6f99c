// What `sluicectl stats` and `sluicectl top` show, computed from the data
// planes' counters and bucket maps.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon.h"

namespace sluice {

// Stable names of the SLUICE_CNT_* counters, as they appear in JSON.
const char* counter_name(uint32_t counter);

// Counters summed over the given interfaces (all when `only` is empty), per
// tier and for unclassified traffic (lists, non-IP, malformed).
nlohmann::json stats_report(const Daemon& daemon, const std::string& only);

// One reading of every source's bucket, for rates between two readings.
struct SourceSample {
  std::string tier;
  uint64_t passed = 0;
  uint64_t dropped = 0;
};
using SourceSnapshot = std::map<std::string, SourceSample>;  // by "address/prefix"
SourceSnapshot snapshot_sources(const Daemon& daemon);

// The `limit` heaviest sources by drops and by packet rate between two snapshots.
nlohmann::json top_report(const SourceSnapshot& before, const SourceSnapshot& after,
                          std::chrono::milliseconds interval, size_t limit);

}  // namespace sluice
