// A cluster of Membership state machines on a simulated network and clock:
// datagrams arrive after a fixed latency unless the sender or receiver is
// down or the two are on different sides of a partition.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "membership.h"

namespace sluice::cluster::testing {

class SimulatedCluster {
 public:
  static constexpr uint64_t kMs = 1'000'000;
  explicit SimulatedCluster(size_t nodes, uint64_t latency_ns = 1 * kMs);

  std::string name(size_t i) const { return "node-" + std::to_string(i); }
  Membership& node(size_t i) { return *nodes_.at(i); }
  uint64_t now() const { return now_; }

  // Runs the clock forward in 10 ms steps, delivering and ticking.
  void run_for(uint64_t duration_ns);
  void kill(size_t i) { down_.insert(i); }
  void restart(size_t i);  // a fresh state machine under the same name, joining through node 0
  // Nodes in `side` can reach each other but not the rest, and vice versa.
  void partition(const std::set<size_t>& side) { side_ = side; }
  void heal() { side_.clear(); }
  // Drops datagrams between a and b (both ways) only.
  void cut(size_t a, size_t b) { cut_.insert({std::min(a, b), std::max(a, b)}); }

  // What node `observer` believes about node `subject`.
  MemberState state_seen(size_t observer, size_t subject);

 private:
  struct InFlight {
    uint64_t deliver_ns;
    size_t from, to;
    Body body;
  };
  std::unique_ptr<Membership> make(size_t i);
  bool connected(size_t a, size_t b) const;
  size_t index_of(const PeerAddress& address) const;

  uint64_t now_ = 1'000'000'000;
  uint64_t latency_ns_;
  std::vector<std::unique_ptr<Membership>> nodes_;
  std::vector<InFlight> in_flight_;
  std::set<size_t> down_;
  std::set<size_t> side_;
  std::set<std::pair<size_t, size_t>> cut_;
};

}  // namespace sluice::cluster::testing
