#include "daemon_metrics.h"

#include "daemon.h"

#ifndef PROJECT_VERSION
#define PROJECT_VERSION "unknown"
#endif

namespace sluice {

CheckMetrics check_metrics(const Checker& checker) {
  CheckMetrics c;
  c.answers = checker.verdicts();
  for (const auto& [key, counter] : checker.counters())
    c.rules.push_back({key.first, key.second, counter.allowed, counter.refused, counter.shadow});
  c.buckets = checker.buckets().size();
  c.bucket_overflows = checker.buckets().overflows();
  c.shadow_log_lines = checker.shadow_log().lines();
  return c;
}

MetricsSnapshot metrics_snapshot(const Daemon& daemon, OccupancyCache& occupancy) {
  MetricsSnapshot s;
  s.version = PROJECT_VERSION;
  s.uptime_seconds = std::chrono::duration<double>(daemon.uptime()).count();
  for (const auto& [name, index] : daemon.tier_slots().current()) s.tier_names[index] = name;
  Policy policy = daemon.effective_policy();
  s.tiers = policy.tiers.size();
  s.prefixes = policy.prefixes.size();
  s.allow_entries = policy.allow.size();
  s.deny_entries = policy.deny.size();
  for (const auto& [name, attached] : daemon.interfaces()) {
    const Dataplane& dp = attached.dataplane;
    InterfaceMetrics i;
    i.name = name;
    i.attach_mode = to_string(dp.attached_mode());
    i.policy_generation = dp.generation();
    i.malformed_dropped = dp.active_config().malformed_verdict == SLUICE_VERDICT_DROP;
    i.counters = dp.counters();
    i.buckets_in_use = occupancy.get(name, dp);
    i.bucket_capacity = dp.bucket_capacity();
    i.maps_id = dp.maps_id();
    s.interfaces.push_back(std::move(i));
  }
  if (const CheckService* service = daemon.check_service())
    s.check = check_metrics(service->checker());
  s.cluster_text = daemon.cluster_metrics();
  s.rls_text = daemon.rls_metrics();
  if (daemon.key_link().active()) s.key_link_text = key_link_metrics(daemon.key_link().counters());
  return s;
}

}  // namespace sluice
