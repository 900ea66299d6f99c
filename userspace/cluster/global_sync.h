// What the daemon needs of whatever shares global limits' consumption between
// hosts: gossip (ClusterNode, cluster_node.h) or a Redis server (RedisSync,
// redis_sync.h). The request layer records its admissions of global keys and
// is charged, on the sync's thread, with what the other hosts admitted; the
// share is the fraction of a global limit this host enforces on its own.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster_settings.h"
#include "consumption.h"  // ConsumptionDelta; MemberState via wire.h

namespace sluice::cluster {

struct PeerStatus {
  std::string name;
  std::string address;
  MemberState state = MemberState::kAlive;
  uint64_t incarnation = 0;
  bool self = false;
  int64_t last_contact_ms = -1;  // ago; -1: never
  int64_t sync_lag_ms = -1;      // since its consumption totals last arrived; -1: never
  int64_t state_age_ms = -1;     // since it entered its state (e.g. was declared dead); -1: unknown
};

struct ClusterCounters {
  uint64_t sent = 0;
  uint64_t received = 0;   // authenticated, fresh and well-formed
  uint64_t malformed = 0;  // no valid header, or a body that does not decode
  uint64_t forged = 0;     // failed authentication (wrong key, corrupted)
  uint64_t replayed = 0;   // a sequence number already seen, too old, or an old run
  uint64_t send_errors = 0;
  uint64_t dropped_keys = 0;  // consumption keys refused by a full table
  uint64_t charged = 0;       // requests charged from peers' consumption
  uint64_t sync_errors = 0;   // Redis: round trips that failed (gossip: 0)
  bool degraded = false;      // Redis unreachable: enforcing the local share only
  uint64_t rebased = 0;       // peers' consumption over a silence: a baseline, not charged
};

class GlobalSync {
 public:
  using Charge = std::function<void(const std::vector<ConsumptionDelta>&)>;
  virtual ~GlobalSync() = default;

  virtual void start() = 0;
  // `count` admissions of a global key on this host: a request-layer key
  // (client '\x1f' limit) or a kernel one (kernel_global.h in sluiced).
  virtual void record(const std::string& key, uint64_t count = 1) = 0;
  // The fraction of a global limit this host's side enforces (1 when fail-open).
  virtual double share() const = 0;
  // Members among whom a global limit's burst is divided.
  virtual size_t counted_members() const = 0;
  virtual std::vector<PeerStatus> peers() const = 0;
  virtual ClusterCounters counters() const = 0;
  virtual const ClusterSettings& settings() const = 0;
};

}  // namespace sluice::cluster
