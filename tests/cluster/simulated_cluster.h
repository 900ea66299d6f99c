// A cluster of Membership state machines on a simulated network and clock:
// datagrams arrive after a fixed latency (plus a node's extra delay, for a
// slow node) unless the sender or receiver is down or the two are on
// different sides of a partition.
//
// With consumption enabled, each node also runs the consumption sync as
// ClusterNode does: its ConsumptionLedger's recent totals go to every
// reachable peer every sync interval (an empty message when there are none),
// received totals are merged and the deltas handed to `charge`, and share()
// is the fraction of a global limit the node enforces.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "consumption.h"
#include "membership.h"

namespace sluice::cluster::testing {

class SimulatedCluster {
 public:
  static constexpr uint64_t kMs = 1'000'000;
  using Charge = std::function<void(size_t node, const std::vector<ConsumptionDelta>&)>;
  // `configure` adjusts each node's MembershipConfig (Lifeguard settings).
  explicit SimulatedCluster(size_t nodes, uint64_t latency_ns = 1 * kMs,
                            std::function<void(MembershipConfig&)> configure = {});

  std::string name(size_t i) const { return "node-" + std::to_string(i); }
  Membership& node(size_t i) { return *nodes_.at(i); }
  uint64_t now() const { return now_; }
  size_t size() const { return nodes_.size(); }

  // Runs the clock forward in 10 ms steps, delivering and ticking.
  void run_for(uint64_t duration_ns);
  void kill(size_t i) { down_.insert(i); }
  void restart(size_t i);  // a fresh state machine under the same name, joining through node 0
  // Nodes in `side` can reach each other but not the rest, and vice versa.
  void partition(const std::set<size_t>& side) { side_ = side; }
  void heal() { side_.clear(); }
  // Drops datagrams between a and b (both ways) only.
  void cut(size_t a, size_t b) { cut_.insert({std::min(a, b), std::max(a, b)}); }
  // Datagrams to node i arrive `extra_ns` late (a node too busy to read them).
  void slow(size_t i, uint64_t extra_ns) { extra_delay_[i] = extra_ns; }

  // What node `observer` believes about node `subject`.
  MemberState state_seen(size_t observer, size_t subject);

  // Consumption sync, as ClusterNode runs it (every 10 ms step, each node's
  // share is recomputed and the peers it leaves out are told to its ledger).
  // `rebase_on_rejoin` false: the ledger is never told, so what a peer
  // admitted while left out is charged like anything else (the ledger before
  // the rebase, to show what it fixed).
  void enable_consumption(uint64_t sync_interval_ns, Charge charge, bool rebase_on_rejoin = true);
  void record(size_t i, const std::string& key);  // an admission of a global key at node i
  double share(size_t i);                         // of a global limit, at node i

 private:
  struct InFlight {
    uint64_t deliver_ns;
    size_t from, to;
    uint64_t boot_epoch;
    Body body;
  };
  std::unique_ptr<Membership> make(size_t i);
  bool connected(size_t a, size_t b) const;
  size_t index_of(const PeerAddress& address) const;
  void send(size_t from, size_t to, Body body);
  void send_consumption(size_t i);

  uint64_t now_ = 1'000'000'000;
  uint64_t latency_ns_;
  std::function<void(MembershipConfig&)> configure_;
  std::vector<std::unique_ptr<Membership>> nodes_;
  std::vector<std::unique_ptr<ConsumptionLedger>> ledgers_;
  bool rebase_on_rejoin_ = true;
  std::vector<uint64_t> boot_epochs_;
  std::vector<InFlight> in_flight_;
  std::set<size_t> down_;
  std::set<size_t> side_;
  std::set<std::pair<size_t, size_t>> cut_;
  std::map<size_t, uint64_t> extra_delay_;
  uint64_t sync_interval_ns_ = 0;  // 0: no consumption sync
  uint64_t next_sync_ns_ = 0;
  Charge charge_;
};

}  // namespace sluice::cluster::testing
