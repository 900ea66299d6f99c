#include "simulated_cluster.h"

namespace sluice::cluster::testing {

SimulatedCluster::SimulatedCluster(size_t nodes, uint64_t latency_ns) : latency_ns_(latency_ns) {
  for (size_t i = 0; i < nodes; ++i) nodes_.push_back(make(i));
  for (size_t i = 1; i < nodes; ++i)
    nodes_[i]->join({PeerAddress::parse("198.18.0.1:7946")});  // everyone through node 0
}

std::unique_ptr<Membership> SimulatedCluster::make(size_t i) {
  MembershipConfig config;
  config.self = name(i);
  config.address = PeerAddress::parse("198.18.0." + std::to_string(i + 1) + ":7946");
  config.seed = 1000 + i;
  return std::make_unique<Membership>(
      config,
      [this, i](const PeerAddress& to, const Body& body) {
        in_flight_.push_back({now_ + latency_ns_, i, index_of(to), body});
      },
      now_);
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
  nodes_[i]->join({PeerAddress::parse(i == 0 ? "198.18.0.2:7946" : "198.18.0.1:7946")});
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
      PeerAddress from = PeerAddress::parse("198.18.0." + std::to_string(m.from + 1) + ":7946");
      nodes_[m.to]->receive(name(m.from), from, m.body, now_);
    }
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!down_.count(i)) nodes_[i]->tick(now_);
  }
}

MemberState SimulatedCluster::state_seen(size_t observer, size_t subject) {
  for (const auto& member : nodes_[observer]->members())
    if (member.name == name(subject)) return member.state;
  return MemberState::kLeft;  // unknown
}

}  // namespace sluice::cluster::testing
