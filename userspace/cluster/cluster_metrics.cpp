#include "cluster_metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

namespace sluice::cluster {

double overshoot_bound(size_t members, double rate_per_s, double burst, double delay_s) {
  if (members <= 1) return 0;
  const double n = static_cast<double>(members);
  return (n - 1) * (rate_per_s * delay_s + std::ceil(burst / n) + 1);
}

std::string render_cluster_metrics(const GlobalSync& node,
                                   const std::vector<OvershootBound>& bounds) {
  std::string out;
  const auto peers = node.peers();
  std::map<std::string, int> by_state = {{"alive", 0}, {"suspect", 0}, {"dead", 0}, {"left", 0}};
  for (const auto& peer : peers) ++by_state[to_string(peer.state)];
  out += "# HELP sluice_cluster_members Cluster members by state, as this node sees them.\n";
  out += "# TYPE sluice_cluster_members gauge\n";
  for (const auto& [state, count] : by_state)
    out += fmt::format("sluice_cluster_members{{state=\"{}\"}} {}\n", state, count);
  out += "# HELP sluice_cluster_share Fraction of each global limit this node's side enforces.\n";
  out += "# TYPE sluice_cluster_share gauge\n";
  out += fmt::format("sluice_cluster_share {}\n", node.share());

  out += "# HELP sluice_cluster_peer_up 1 while a peer is alive or suspect.\n";
  out += "# TYPE sluice_cluster_peer_up gauge\n";
  for (const auto& peer : peers)
    if (!peer.self)
      out += fmt::format("sluice_cluster_peer_up{{peer=\"{}\",state=\"{}\"}} {}\n", peer.name,
                         to_string(peer.state),
                         peer.state == MemberState::kAlive || peer.state == MemberState::kSuspect);
  out += "# HELP sluice_cluster_peer_last_contact_seconds Since the last datagram from a peer.\n";
  out += "# TYPE sluice_cluster_peer_last_contact_seconds gauge\n";
  for (const auto& peer : peers)
    if (!peer.self && peer.last_contact_ms >= 0)
      out += fmt::format("sluice_cluster_peer_last_contact_seconds{{peer=\"{}\"}} {:.3f}\n",
                         peer.name, peer.last_contact_ms / 1000.0);
  out += "# HELP sluice_cluster_peer_sync_lag_seconds Since a peer's consumption totals arrived.\n";
  out += "# TYPE sluice_cluster_peer_sync_lag_seconds gauge\n";
  for (const auto& peer : peers)
    if (!peer.self && peer.sync_lag_ms >= 0)
      out += fmt::format("sluice_cluster_peer_sync_lag_seconds{{peer=\"{}\"}} {:.3f}\n", peer.name,
                         peer.sync_lag_ms / 1000.0);

  const auto c = node.counters();
  out += "# HELP sluice_cluster_datagrams_total Gossip datagrams by outcome.\n";
  out += "# TYPE sluice_cluster_datagrams_total counter\n";
  for (auto [outcome, value] :
       {std::pair{"sent", c.sent}, std::pair{"received", c.received},
        std::pair{"malformed", c.malformed}, std::pair{"forged", c.forged},
        std::pair{"replayed", c.replayed}, std::pair{"send_error", c.send_errors}})
    out += fmt::format("sluice_cluster_datagrams_total{{outcome=\"{}\"}} {}\n", outcome, value);
  out += "# HELP sluice_cluster_charged_requests_total Requests charged from peers' consumption.\n";
  out += "# TYPE sluice_cluster_charged_requests_total counter\n";
  out += fmt::format("sluice_cluster_charged_requests_total {}\n", c.charged);
  out +=
      "# HELP sluice_cluster_rebased_total Peers' consumption made while they were out of this "
      "node's share, taken as a baseline when their totals resumed instead of being charged.\n";
  out += "# TYPE sluice_cluster_rebased_total counter\n";
  out += fmt::format("sluice_cluster_rebased_total {}\n", c.rebased);
  out += "# HELP sluice_cluster_sync_errors_total Redis round trips that failed (sync: redis).\n";
  out += "# TYPE sluice_cluster_sync_errors_total counter\n";
  out += fmt::format("sluice_cluster_sync_errors_total {}\n", c.sync_errors);
  out +=
      "# HELP sluice_cluster_degraded 1 while the consumption sync is unreachable and this host "
      "enforces only its share.\n";
  out += "# TYPE sluice_cluster_degraded gauge\n";
  out += fmt::format("sluice_cluster_degraded {}\n", c.degraded ? 1 : 0);
  out += "# HELP sluice_cluster_dropped_keys_total Consumption keys refused by a full table.\n";
  out += "# TYPE sluice_cluster_dropped_keys_total counter\n";
  out += fmt::format("sluice_cluster_dropped_keys_total {}\n", c.dropped_keys);

  out +=
      "# HELP sluice_cluster_overshoot_bound_requests Most a global limit can admit beyond "
      "rate*t+burst over a busy period, fleet-wide (docs/cluster.md).\n";
  out += "# TYPE sluice_cluster_overshoot_bound_requests gauge\n";
  for (const auto& bound : bounds)
    out += fmt::format("sluice_cluster_overshoot_bound_requests{{limit=\"{}\"}} {:.1f}\n",
                       bound.limit, bound.requests);
  return out;
}

}  // namespace sluice::cluster
