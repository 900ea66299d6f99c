// RequestBuckets::check_and_spend_all: the multi-client form that Envoy's
// rate-limit protocol needs (one request, several descriptors, each its own
// client, each charged `hits_addend`). Apart from request_buckets.cpp so that
// the single-client path of the HTTP check stays as it is.
#include <algorithm>
#include <functional>
#include <string_view>
#include <unordered_map>

#include "request_buckets.h"

namespace sluice {

std::vector<LimitState> RequestBuckets::check_and_spend_all(std::span<const Charge> charges,
                                                            uint64_t now_ns) {
  const size_t n = charges.size();
  // 0. Lock every shard involved, in index order: two calls that share shards
  //    take them in the same order and cannot deadlock.
  std::vector<size_t> shard_index(n);
  for (size_t i = 0; i < n; ++i)
    shard_index[i] = std::hash<std::string>{}(charges[i].client) % kShards;
  std::vector<size_t> order(shard_index);
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(order.size());
  for (size_t index : order) locks.emplace_back(shards_[index].mutex);
  for (size_t index : order)
    if (shards_[index].buckets.size() + n > max_per_shard_) sweep(shards_[index], now_ns);

  // 1. Read every distinct bucket once (absent: full), carried to its rate.
  //    Charges on the same bucket point at the first one (`owner`).
  std::vector<std::string> keys(n);
  std::vector<size_t> owner(n);
  std::vector<uint64_t> tats(n, 0);
  std::vector<Bucket*> found(n, nullptr);
  std::unordered_map<std::string_view, size_t> first;
  for (size_t i = 0; i < n; ++i) keys[i] = charges[i].client + '\x1f' + charges[i].limit->bucket;
  for (size_t i = 0; i < n; ++i) {
    auto [it, inserted] = first.emplace(keys[i], i);
    owner[i] = it->second;
    if (!inserted) continue;
    Shard& shard = shards_[shard_index[i]];
    if (auto b = shard.buckets.find(keys[i]); b != shard.buckets.end()) {
      found[i] = &b->second;
      tats[i] = carry_tat(b->second.tat, b->second.interval_fp, charges[i].limit->rate, now_ns);
    }
  }

  // 2. Decide, spending in order on a copy, so that charges on one bucket add up.
  std::vector<uint64_t> spent(tats);
  std::vector<bool> allowed(n);
  bool admit = true;
  for (size_t i = 0; i < n; ++i) {
    const auto& rate = charges[i].limit->rate;
    __u64 next = 0;
    uint64_t& tat = spent[owner[i]];
    allowed[i] = sluice_gcra_spend(tat, now_ns, sluice_cost_ns(rate.interval_fp, charges[i].hits),
                                   rate.tau_ns, &next);
    if (allowed[i])
      tat = next;
    else if (!charges[i].limit->shadow)
      admit = false;
  }

  // 3. Store what was spent, or nothing (buckets found keep their carried form).
  for (size_t i = 0; i < n; ++i) {
    if (owner[i] != i) continue;
    const uint64_t tat = admit ? spent[i] : tats[i];
    const uint64_t interval_fp = charges[i].limit->rate.interval_fp;
    if (found[i]) {
      *found[i] = {tat, interval_fp, tat};  // GCRA: empty again at its TAT
    } else if (tat != tats[i]) {
      Shard& shard = shards_[shard_index[i]];
      if (shard.buckets.size() < max_per_shard_)
        shard.buckets.emplace(keys[i], Bucket{tat, interval_fp, tat});
      else
        ++shard.overflows;
    }
  }

  // 4. Report each charge's bucket as it is now; a refusal waits for its own cost.
  std::vector<LimitState> states(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& rate = charges[i].limit->rate;
    const uint64_t tat = admit ? spent[owner[i]] : tats[owner[i]];
    states[i] = limit_state(tat, rate, now_ns);
    states[i].allowed = allowed[i];
    if (!allowed[i])
      states[i].retry_after_ns = sluice_gcra_wait_ns(
          tat, now_ns, sluice_cost_ns(rate.interval_fp, charges[i].hits), rate.tau_ns);
  }
  return states;
}

}  // namespace sluice
