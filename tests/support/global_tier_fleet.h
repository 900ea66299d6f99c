// A fleet of real sluiced for global kernel tiers (docs/kernel-global.md):
// each node in its own namespaces (DaemonLab: its own veth, where one source
// address, the same on every link, floods it), the nodes gossiping over a
// bridge in a hub namespace. The fleet starts the daemons with one global (or
// per-host) tier, reads what each node enforces from its log, cuts and heals
// the bridge between groups of nodes, and floods the nodes while counting
// what arrives on the far side of each veth. Removed on destruction.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon_lab.h"
#include "traffic.h"

namespace sluice::testing {

struct FleetOptions {
  int nodes = 3;
  uint64_t rate = 1000;  // the tier's limit, the global one, per second of `meter`
  uint64_t burst = 300;
  std::string meter = "packets";  // the tier's limited meter: "packets" or "bytes"
  size_t payload = 64;            // of each flood datagram (a frame of 42 bytes more)
  // Lines added to every node's `cluster:` section ("  forget_dead_after: 3s\n").
  std::string cluster_extra;
};

// What a node's global tiers are localised for (its log's latest
// "global tiers localised for N counted member(s), share S").
struct Localised {
  size_t members = 0;
  double share = 0;
};

class GlobalTierFleet {
 public:
  static constexpr uint16_t kPort = 9331;         // the flood's destination port
  static constexpr uint16_t kMetricsPort = 9464;  // each node's own loopback
  static inline const std::string kSource = "198.19.190.1";

  explicit GlobalTierFleet(FleetOptions options);
  ~GlobalTierFleet();
  GlobalTierFleet(const GlobalTierFleet&) = delete;
  GlobalTierFleet& operator=(const GlobalTierFleet&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  DaemonLab& node(int n) { return *nodes_.at(n - 1); }  // 1-based
  const FleetOptions& options() const { return options_; }

  // Starts every daemon with the tier (`global` or per host) and waits until
  // each sees every member alive and, when global, has localised its tiers
  // for all of them. Throws with the logs when it does not happen in 20 s.
  void start(bool global);

  // Members `n` sees in `state` ("alive", "dead", ...), itself included.
  int members_in_state(int n, const std::string& state);
  // `n`'s record of member `name`: its state and for how long (state_ms).
  nlohmann::json member(int n, const std::string& name);
  std::optional<Localised> localised(int n);
  // Waits until every node in `group` is localised for `members` counted
  // members at `share` (±0.01); throws after `timeout`.
  void wait_localised(const std::vector<int>& group, size_t members, double share,
                      std::chrono::milliseconds timeout);
  // A number from node `n`'s /metrics (the sample matching the regex `name`), -1 if absent.
  double metric(int n, const std::string& name);

  // Gossip between the groups stops (blackhole routes on both sides, as
  // scripts/cluster-lab.sh does); heal() removes every such route.
  void partition(const std::vector<int>& a, const std::vector<int>& b);
  void heal();

 private:
  FleetOptions options_;
  std::vector<std::unique_ptr<DaemonLab>> nodes_;
  std::vector<std::pair<int, int>> cut_;  // node, peer it cannot reach
};

// The source floods every node (or the nodes in `flooded`) at `rate`
// packets/s until stop(); a UDP counter on the far side of each veth counts
// what the node admitted, and can be read while the flood goes on.
class FleetFlood {
 public:
  FleetFlood(GlobalTierFleet& fleet, uint64_t rate, const std::vector<int>& flooded = {});
  ~FleetFlood();
  FleetFlood(const FleetFlood&) = delete;
  FleetFlood& operator=(const FleetFlood&) = delete;

  // Admitted so far by node `n` (1-based) and by the nodes in `group`.
  uint64_t admitted(int n) const;
  uint64_t admitted(const std::vector<int>& group) const;
  // Stops the senders, waits for the last datagrams; returns the final counts per node.
  std::vector<uint64_t> stop();
  double seconds() const { return seconds_; }  // the longest sender's
  const std::vector<SendReport>& reports() const { return reports_; }

 private:
  std::vector<std::unique_ptr<UdpCounter>> counters_;
  std::vector<SendReport> reports_;
  std::vector<std::thread> senders_;
  std::atomic<bool> stopping_{false};
  double seconds_ = 0;
};

// Admitted by a group of nodes over the same `length` of a running flood.
struct Window {
  uint64_t packets = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(packets) / seconds : 0; }
};
std::vector<Window> measure(const FleetFlood& flood, const std::vector<std::vector<int>>& groups,
                            std::chrono::milliseconds length);

}  // namespace sluice::testing
