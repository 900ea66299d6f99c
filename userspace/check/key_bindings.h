// The daemon's table of key-bound addresses and the rule for an address that
// two keys claim, apart from the maps so that the rules are unit-tested
// (docs/key-binding.md). Not thread-safe: its owner locks.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice_layout.h"

namespace sluice {

struct SourceLess {
  bool operator()(const struct sluice_source& a, const struct sluice_source& b) const {
    return std::memcmp(&a, &b, sizeof(a)) < 0;
  }
};

// The kernel bucket id of a client ("key:k_…", "jwt:<sub>"): FNV-1a, 64 bits,
// stable across restarts so that a restarted daemon finds the pinned buckets.
uint64_t key_bucket_id(const std::string& client);

// One successful check with a key, from `source`.
struct BindRequest {
  struct sluice_source source;
  uint64_t key_id = 0;
  uint32_t tier = 0;  // kernel tier index
  // Higher wins when two keys claim one address: the tier's packets/s
  // (UINT64_MAX when unlimited).
  uint64_t rank = 0;
};

class KeyBindings {
 public:
  KeyBindings(uint64_t ttl_ns, size_t capacity) : ttl_ns_(ttl_ns), capacity_(capacity) {}

  enum class Outcome {
    kBound,      // a new binding
    kRefreshed,  // the same key again: expiry moved on
    kReplaced,   // another key held it with a lower rank
    kKept,       // another key holds it with an equal or higher rank: unchanged
    kFull,       // no room (capacity live bindings)
  };
  Outcome bind(const BindRequest& request, uint64_t now_ns);

  // What the maps need since the last batch: bindings to write (new, changed,
  // or whose expiry moved on by more than a quarter of the TTL, so a busy
  // address costs a map write a few times per TTL, not per request) and
  // bindings that expired (removed from this table).
  struct Batch {
    std::vector<std::pair<struct sluice_source, struct sluice_key_binding>> writes;
    std::vector<struct sluice_source> deletes;
  };
  Batch take_batch(uint64_t now_ns);
  // Every binding, for a fresh map (a newly attached interface).
  std::vector<std::pair<struct sluice_source, struct sluice_key_binding>> all() const;
  size_t size() const { return table_.size(); }
  uint64_t ttl_ns() const { return ttl_ns_; }

 private:
  struct Entry {
    BindRequest request;
    uint64_t expires_ns = 0;
    uint64_t written_expires_ns = 0;  // 0: not in the maps yet (or changed)
  };
  void sweep(uint64_t now_ns, std::vector<struct sluice_source>* deleted);

  uint64_t ttl_ns_;
  size_t capacity_;
  std::map<struct sluice_source, Entry, SourceLess> table_;
  std::vector<struct sluice_source> expired_;  // swept, not yet handed out for deletion
};

}  // namespace sluice
