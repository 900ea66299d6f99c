#include "simulated_cluster.h"

#include "share.h"

namespace sluice::cluster::testing {

SimulatedCluster::SimulatedCluster(size_t nodes, uint64_t latency_ns,
                                   std::function<void(MembershipConfig&)> configure)
    : latency_ns_(latency_ns), configure_(std::move(configure)) {
  for (size_t i = 0; i < nodes; ++i) {
    nodes_.push_back(make(i));
    ledgers_.push_back(std::make_unique<ConsumptionLedger>());
    boot_epochs_.push_back(1);
  }
  for (size_t i = 1; i < nodes; ++i)
    nodes_[i]->join({PeerAddress::parse("198.18.0.1:7946")});  // everyone through node 0
}

std::unique_ptr<Membership> SimulatedCluster::make(size_t i) {
  MembershipConfig config;
  config.self = name(i);
  config.address = PeerAddress::parse("198.18.0." + std::to_string(i + 1) + ":7946");
  config.seed = 1000 + i;
  if (configure_) configure_(config);
  return std::make_unique<Membership>(
      config, [this, i](const PeerAddress& to, const Body& body) { send(i, index_of(to), body); },
      now_);
}

void SimulatedCluster::send(size_t from, size_t to, Body body) {
  auto extra = extra_delay_.find(to);
  const uint64_t delay = latency_ns_ + (extra == extra_delay_.end() ? 0 : extra->second);
  in_flight_.push_back({now_ + delay, from, to, boot_epochs_[from], std::move(body)});
}

size_t SimulatedCluster::index_of(const PeerAddress& address) const {
  return address.ip[15] - 1;
}

bool SimulatedCluster::connected(size_t a, size_t b) const {
  if (down_.count(a) || down_.count(b) || a >= nodes_.size() || b >= nodes_.size()) return false;
  if (cut_.count({std::min(a, b), std::max(a, b)})) return false;
  return side_.empty() || side_.count(a) == side_.count(b);
}

void SimulatedCluster::restart(size_t i) {
  down_.erase(i);
  std::erase_if(in_flight_, [&](const InFlight& m) { return m.to == i || m.from == i; });
  nodes_[i] = make(i);
  ledgers_[i] = std::make_unique<ConsumptionLedger>();
  ++boot_epochs_[i];
  nodes_[i]->join({PeerAddress::parse(i == 0 ? "198.18.0.2:7946" : "198.18.0.1:7946")});
}

void SimulatedCluster::enable_consumption(uint64_t sync_interval_ns, Charge charge,
                                          bool rebase_on_rejoin) {
  rebase_on_rejoin_ = rebase_on_rejoin;
  sync_interval_ns_ = sync_interval_ns;
  next_sync_ns_ = now_;
  charge_ = std::move(charge);
}

void SimulatedCluster::record(size_t i, const std::string& key) {
  ledgers_.at(i)->record_local(key, now_);
}

double SimulatedCluster::share(size_t i) {
  auto& ledger = *ledgers_.at(i);
  std::vector<std::string> left_out;
  const size_t in_sync = members_in_sync(
      nodes_.at(i)->members(), [&](const std::string& peer) { return ledger.last_heard_ns(peer); },
      now_, sync_timeout_ns(sync_interval_ns_), &left_out);
  if (rebase_on_rejoin_)
    for (const auto& peer : left_out) ledger.leave_share(peer);  // as ClusterNode::update_share
  return partition_share(in_sync, nodes_[i]->counted_count());
}

void SimulatedCluster::send_consumption(size_t i) {
  // As ClusterNode::send_consumption: absolute totals to every reachable
  // peer, an empty message when nothing changed (the peer's sync lag).
  Consumption message{ledgers_[i]->recent_totals(now_)};
  for (const auto& peer : nodes_[i]->reachable_peers()) send(i, index_of(peer.address), message);
}

void SimulatedCluster::run_for(uint64_t duration_ns) {
  const uint64_t end = now_ + duration_ns;
  while (now_ < end) {
    now_ += 10 * kMs;
    std::vector<InFlight> due;
    std::erase_if(in_flight_, [&](InFlight& m) {
      if (m.deliver_ns > now_) return false;
      due.push_back(std::move(m));
      return true;
    });
    for (const auto& m : due) {
      if (!connected(m.from, m.to)) continue;
      if (const auto* consumption = std::get_if<Consumption>(&m.body)) {
        // As ClusterNode::handle: totals go to the ledger, not to membership.
        auto deltas = ledgers_[m.to]->merge(name(m.from), m.boot_epoch, consumption->entries, now_);
        if (!deltas.empty() && charge_) charge_(m.to, deltas);
        continue;
      }
      PeerAddress from = PeerAddress::parse("198.18.0." + std::to_string(m.from + 1) + ":7946");
      nodes_[m.to]->receive(name(m.from), from, m.body, now_);
    }
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!down_.count(i)) nodes_[i]->tick(now_);
    if (sync_interval_ns_ != 0)
      for (size_t i = 0; i < nodes_.size(); ++i)
        if (!down_.count(i)) share(i);  // ClusterNode's update_share, every step
    if (sync_interval_ns_ != 0 && now_ >= next_sync_ns_) {
      for (size_t i = 0; i < nodes_.size(); ++i)
        if (!down_.count(i)) send_consumption(i);
      next_sync_ns_ = now_ + sync_interval_ns_;
    }
  }
}

MemberState SimulatedCluster::state_seen(size_t observer, size_t subject) {
  for (const auto& member : nodes_[observer]->members())
    if (member.name == name(subject)) return member.state;
  return MemberState::kLeft;  // unknown
}

}  // namespace sluice::cluster::testing
