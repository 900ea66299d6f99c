// Prometheus text exposition (format 0.0.4) of what sluiced knows: data-path
// counters by verdict, reason and tier, bucket map occupancy, list sizes,
// attach modes, uptime and policy generation. Rendering only: the daemon
// gathers a MetricsSnapshot, this turns it into text.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dataplane.h"

namespace sluice {

struct InterfaceMetrics {
  std::string name;
  std::string attach_mode;  // "native", "generic"
  uint64_t policy_generation = 0;
  bool malformed_dropped = false;  // the active verdict for malformed packets
  Counters counters;
  uint64_t buckets_in_use = 0;
  uint64_t bucket_capacity = 0;
  // Interfaces with the same non-zero id share one set of maps (maps.sharing:
  // shared): their counters and bucket map are exported once, for all of them.
  uint32_t maps_id = 0;
};

// The request layer (the check API), when the daemon runs it.
struct CheckRuleMetrics {
  std::string policy, tier;
  uint64_t allowed = 0, refused = 0, shadow = 0;
};
struct CheckMetrics {
  // Answers by verdict: allowed, refused, unauthorized, bad_request.
  std::array<uint64_t, 4> answers{};
  std::vector<CheckRuleMetrics> rules;
  uint64_t buckets = 0;
  uint64_t bucket_overflows = 0;
  uint64_t shadow_log_lines = 0;
};

struct MetricsSnapshot {
  std::string version;
  double uptime_seconds = 0;
  std::map<uint32_t, std::string> tier_names;  // tier index -> name
  uint64_t tiers = 0, prefixes = 0, allow_entries = 0, deny_entries = 0;
  std::vector<InterfaceMetrics> interfaces;
  std::optional<CheckMetrics> check;
  std::string key_link_text;  // key bindings and penalties (sluiced/key_link.h), or ""
  std::string rls_text;       // Envoy's rate-limit service answers (sluiced), or ""
  std::string cluster_text;   // already rendered by the cluster (cluster_metrics.h), or ""
};

std::string render_metrics(const MetricsSnapshot& snapshot);

// "verdict" and "reason" labels of a data-path counter (SLUICE_CNT_*);
// verdict "" for SLUICE_CNT_NEW_SOURCE, which is not a verdict.
struct CounterLabels {
  const char* verdict;
  const char* reason;
};
CounterLabels counter_labels(uint32_t counter, bool malformed_dropped);

}  // namespace sluice
