#include "cluster_wiring.h"

#include <cmath>

#include "cluster_metrics.h"
#include "control_protocol.h"
#include "daemon.h"

namespace sluice {

std::unique_ptr<cluster::ClusterNode> start_cluster(const cluster::ClusterSettings& settings,
                                                    CheckService* check) {
  const auto key =
      cluster::derive_cluster_key(settings.name, cluster::read_cluster_secret(settings.key_file));
  Checker* checker = check ? &check->checker() : nullptr;
  auto node = std::make_unique<cluster::ClusterNode>(
      settings, key, [checker](const std::vector<cluster::ConsumptionDelta>& deltas) {
        if (!checker) return;
        for (const auto& delta : deltas)
          checker->charge_global(delta.key, delta.count, delta.span_ns);
      });
  if (checker) {
    cluster::ClusterNode* raw = node.get();
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
                       {"sync_lag_ms", peer.sync_lag_ms}});
  const auto c = node->counters();
  return {{"cluster", node->settings().name},
          {"share", node->share()},
          {"members", members},
          {"datagrams",
           {{"sent", c.sent},
            {"received", c.received},
            {"malformed", c.malformed},
            {"forged", c.forged},
            {"replayed", c.replayed}}}};
}

std::string cluster_metrics_text(const cluster::ClusterNode& node, const CheckerConfig* check) {
  std::vector<cluster::OvershootBound> bounds;
  if (check) {
    const auto compiled = compile_check_policy(check->policy);
    const size_t members = node.counted_members();
    const double delay_s = static_cast<double>(node.settings().sync_interval_ns) / 1e9;
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
