#include "cluster_wiring.h"

#include <cmath>
#include <ctime>

#include "cluster_metrics.h"
#include "control_protocol.h"
#include "daemon.h"
#include "monotonic_clock.h"

namespace sluice {

std::unique_ptr<cluster::GlobalSync> start_cluster(const cluster::ClusterSettings& settings,
                                                   CheckService* check, KernelGlobal* kernel) {
  Checker* checker = check ? &check->checker() : nullptr;
  auto charge = [checker, kernel](const std::vector<cluster::ConsumptionDelta>& deltas) {
    const uint64_t now = monotonic_ns();
    for (const auto& delta : deltas) {
      if (kernel && kernel->charge(delta.key, delta.count, delta.span_ns, now)) continue;
      if (checker) checker->charge_global(delta.key, delta.count, delta.span_ns);
    }
  };
  std::unique_ptr<cluster::GlobalSync> node;
  if (settings.sync == cluster::SyncMode::kRedis) {
    node = std::make_unique<cluster::RedisSync>(settings, charge);
  } else {
    const auto key =
        cluster::derive_cluster_key(settings.name, cluster::read_cluster_secret(settings.key_file));
    node = std::make_unique<cluster::ClusterNode>(settings, key, charge);
  }
  if (checker) {
    cluster::GlobalSync* raw = node.get();
    checker->set_global_hooks({[raw](const std::string& key) { raw->record(key); },
                               [raw] {
                                 return GlobalView{raw->share(), raw->counted_members()};
                               }});
  }
  node->start();
  return node;
}

nlohmann::json peers_command(Daemon& daemon, const nlohmann::json&) {
  const auto* node = daemon.cluster();
  if (!node) throw ControlError(errc::kNotFound, "no cluster: the configuration has no `cluster:`");
  nlohmann::json members = nlohmann::json::array();
  for (const auto& peer : node->peers())
    members.push_back({{"name", peer.name},
                       {"address", peer.address},
                       {"state", cluster::to_string(peer.state)},
                       {"incarnation", peer.incarnation},
                       {"self", peer.self},
                       {"last_contact_ms", peer.last_contact_ms},
                       {"sync_lag_ms", peer.sync_lag_ms},
                       {"state_ms", peer.state_age_ms}});
  const auto c = node->counters();
  return {{"cluster", node->settings().name},
          {"sync", node->settings().sync == cluster::SyncMode::kRedis ? "redis" : "gossip"},
          {"degraded", c.degraded},
          {"share", node->share()},
          {"members", members},
          {"datagrams",
           {{"sent", c.sent},
            {"received", c.received},
            {"malformed", c.malformed},
            {"forged", c.forged},
            {"replayed", c.replayed}}},
          {"sync_errors", c.sync_errors},
          {"charged", c.charged},
          {"rebased", c.rebased}};
}

std::string cluster_metrics_text(const cluster::GlobalSync& node, const CheckerConfig* check) {
  std::vector<cluster::OvershootBound> bounds;
  if (check) {
    const auto compiled = compile_check_policy(check->policy);
    const size_t members = node.counted_members();
    // Gossip delivers totals as they are sent; through Redis a reader may
    // poll up to one interval after the writer wrote.
    const double intervals = node.settings().sync == cluster::SyncMode::kRedis ? 2.0 : 1.0;
    const double delay_s = intervals * static_cast<double>(node.settings().sync_interval_ns) / 1e9;
    auto add = [&](const CompiledLimit& limit) {
      if (!limit.global || limit.rate.interval_fp == 0) return;
      const double interval_ns = static_cast<double>(limit.rate.interval_fp) / 65536.0;
      const double rate = 1e9 / interval_ns;
      const double unit = static_cast<double>(sluice_cost_ns(limit.rate.interval_fp, 1));
      const double burst = unit > 0 ? std::floor(static_cast<double>(limit.rate.tau_ns) / unit) : 1;
      bounds.push_back({limit.policy, cluster::overshoot_bound(members, rate, burst, delay_s)});
    };
    for (const auto& [tier, windows] : compiled.tiers)
      for (const auto& limit : windows) add(limit);
    for (const auto& limit : compiled.anonymous) add(limit);
    for (const auto& endpoint : compiled.endpoints) add(endpoint.limit);
  }
  return cluster::render_cluster_metrics(node, bounds);
}

}  // namespace sluice
