// Per-client request buckets: one state word per client and limit, run by the
// limit's algorithm (bpf/sluice_algorithms.h: GCRA token bucket by default),
// checked all first and spent only when every enforced limit allows, so a
// refused request consumes nothing anywhere.
//
// Concurrency: a client's buckets all live in one shard and a check holds that
// shard's mutex from the first read to the last write, so concurrent checks
// never admit more than the limit, and check-all-then-spend is exact across
// several limits (a per-bucket CAS, as in BPF, would need a roll-back when a
// second bucket's CAS fails). 64 shards keep unrelated clients apart.
//
// State is in memory, saved to a file every second and at shutdown and read
// back at start (request_state.h, docs/request-state.md).
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "check_policy.h"

namespace sluice {

// What one limit says about one request.
struct LimitState {
  bool allowed = true;          // this limit would admit the request
  uint64_t remaining = 0;       // whole requests left after this one (or now, for peek)
  uint64_t reset_ns = 0;        // until the bucket is full again
  uint64_t retry_after_ns = 0;  // until this limit admits one request (0: now)
};

class RequestBuckets {
 public:
  // At most `max_entries` buckets; buckets that are full again (and so equal
  // to no bucket at all) are swept when a shard reaches its share.
  explicit RequestBuckets(size_t max_entries = 1 << 20);

  // Checks every limit for `client`; when each non-shadow limit allows, spends
  // one request from every limit that allows (shadow ones included). Returns
  // one state per limit, in order, as after the decision.
  std::vector<LimitState> check_and_spend(const std::string& client,
                                          std::span<const CompiledLimit> limits, uint64_t now_ns);

  // One charge of check_and_spend_all: `hits` requests from `limit` of `client`.
  struct Charge {
    std::string client;
    const CompiledLimit* limit = nullptr;
    uint64_t hits = 1;
  };
  // check_and_spend across several clients (Envoy's descriptors, each its own
  // client), with a cost per charge: checks every charge, then spends each one
  // that allows when every non-shadow one allows, else spends nothing. Charges
  // on the same bucket add up. The shards involved are locked in index order
  // (no deadlock between concurrent calls). Defined in request_buckets_all.cpp.
  std::vector<LimitState> check_and_spend_all(std::span<const Charge> charges, uint64_t now_ns);
  // Spends `count` requests admitted elsewhere (a global limit's remote
  // consumption) without a verdict. The debt it may leave is capped at one
  // burst plus one quota ahead of now (docs/cluster.md). The requests were
  // admitted within the last `span_ns`: charged from then, as GCRA would
  // have, so old consumption (a healed partition's) leaves no fresh debt.
  void charge(const std::string& client, const CompiledLimit& limit, uint64_t count,
              uint64_t now_ns, uint64_t span_ns = 0);

  // The same states without spending and without creating any state.
  std::vector<LimitState> peek(const std::string& client, std::span<const CompiledLimit> limits,
                               uint64_t now_ns) const;

  // One stored bucket, for the state file (request_state.h).
  struct Entry {
    std::string key;   // client '\x1f' limit bucket name
    uint64_t tat = 0;  // the state word: a TAT for GCRA algorithms
    uint64_t interval_fp = 0;
    uint64_t expires_ns = 0;  // when the bucket equals no bucket (the TAT for GCRA)
  };
  // The buckets that still hold consumption at `now_ns` (the others equal no bucket).
  std::vector<Entry> entries(uint64_t now_ns) const;
  // Adds entries (a restart's state), within the table's capacity; returns how many.
  size_t restore(const std::vector<Entry>& entries);

  size_t size() const;
  // Checks that found the table full and were judged on a fresh bucket
  // without storing it (fail-open, counted).
  uint64_t overflows() const;

 private:
  struct Bucket {
    uint64_t tat = 0;          // the state word (the TAT for GCRA algorithms)
    uint64_t interval_fp = 0;  // the rate the TAT was computed at (0: a window state)
    uint64_t expires_ns = 0;   // from then on the bucket equals no bucket
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
    uint64_t overflows = 0;
  };
  static constexpr size_t kShards = 64;

  Shard& shard_of(const std::string& client) const;
  void sweep(Shard& shard, uint64_t now_ns) const;

  size_t max_per_shard_;
  mutable std::vector<Shard> shards_;
};

// A TAT computed at one rate, carried to another: the requests consumed stay
// consumed (in requests, not in time), up to the new burst. Exposed for tests.
uint64_t carry_tat(uint64_t tat, uint64_t old_interval_fp, const struct sluice_rate& rate,
                   uint64_t now_ns);

// The state of one bucket for headers (no spending).
LimitState limit_state(uint64_t tat, const struct sluice_rate& rate, uint64_t now_ns);
LimitState limit_state(uint64_t state, const struct sluice_algo& algo, uint64_t now_ns);

}  // namespace sluice
