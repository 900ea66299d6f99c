// Global limits' consumption shared through a Redis server instead of gossip,
// for fleets that already run Redis (envoyproxy/ratelimit, Kong). The same
// G-counter as gossip (consumption.h): every sync interval each host writes
// its absolute totals of recently used keys into its own Redis hash and reads
// the other hosts' hashes, so a check never waits for Redis and nothing is
// counted twice. Membership is a heartbeat per host in one Redis hash. While
// Redis cannot be reached, each host enforces its share of every global limit
// (1 / the hosts it last knew, or `hosts`), unless fail-open. docs/cluster.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "global_sync.h"

struct redisContext;

namespace sluice::cluster {

class RedisSync : public GlobalSync {
 public:
  // Does not connect: an unreachable Redis is the degraded state, not an error.
  RedisSync(ClusterSettings settings, Charge charge);
  ~RedisSync() override;  // stops the thread; the host's heartbeat ages out
  RedisSync(const RedisSync&) = delete;
  RedisSync& operator=(const RedisSync&) = delete;

  void start() override;
  void record(const std::string& key, uint64_t count = 1) override;
  double share() const override;
  size_t counted_members() const override;
  std::vector<PeerStatus> peers() const override;
  ClusterCounters counters() const override;
  const ClusterSettings& settings() const override { return settings_; }

  // One exchange now; the thread started by start() does this every sync
  // interval, so call it only without start() (tests drive it by hand).
  // False when Redis could not be reached or answered with an error.
  bool sync_once();

 private:
  struct Member {
    uint64_t boot_epoch = 0;
    uint64_t heartbeat = 0;
    uint64_t changed_ns = 0;  // when this host saw the heartbeat move
    uint64_t synced_ns = 0;   // when its totals were last merged
    bool alive = false;
  };
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };

  void run();
  bool connect();
  bool exchange(uint64_t now_ns);
  void mark_down(const std::string& why);

  ClusterSettings settings_;
  Charge charge_;
  std::string self_;
  std::string prefix_;  // "sluice:<cluster>:"
  uint64_t boot_epoch_ = 0;
  uint64_t heartbeat_ = 0;
  uint64_t dead_after_ns_ = 0;
  uint64_t next_expire_ns_ = 0;                            // sync thread only
  std::unique_ptr<redisContext, ContextDeleter> context_;  // sync thread only
  ConsumptionLedger ledger_;

  mutable std::mutex mutex_;  // members_, known_members_
  std::map<std::string, Member> members_;
  size_t known_members_ = 1;

  std::atomic<bool> up_{false};
  std::atomic<uint64_t> round_trips_{0}, sync_errors_{0}, charged_{0};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // under wake_mutex_
  std::thread thread_;
};

}  // namespace sluice::cluster
