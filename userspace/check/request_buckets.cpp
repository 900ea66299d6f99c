#include "request_buckets.h"

#include <algorithm>
#include <functional>

namespace sluice {

uint64_t carry_tat(uint64_t tat, uint64_t old_interval_fp, const struct sluice_rate& rate,
                   uint64_t now_ns) {
  if (tat <= now_ns || old_interval_fp == rate.interval_fp || old_interval_fp == 0) return tat;
  // Requests consumed = debt / old interval; the same requests at the new
  // interval. Debt beyond the new burst is forgiven: a client moved to a
  // smaller tier finds that tier's window full, not hours of arrears.
  unsigned __int128 debt_fp = static_cast<unsigned __int128>(tat - now_ns)
                              << SLUICE_INTERVAL_FRAC_BITS;
  uint64_t requests = static_cast<uint64_t>((debt_fp + old_interval_fp - 1) / old_interval_fp);
  uint64_t cost = sluice_cost_ns(rate.interval_fp, requests);
  if (cost > rate.tau_ns) cost = rate.tau_ns;
  return sluice_sat_add(now_ns, cost);
}

LimitState limit_state(uint64_t tat, const struct sluice_rate& rate, uint64_t now_ns) {
  LimitState state;
  uint64_t cost = sluice_cost_ns(rate.interval_fp, 1);
  state.retry_after_ns = sluice_gcra_wait_ns(tat, now_ns, cost, rate.tau_ns);
  state.allowed = state.retry_after_ns == 0;
  state.remaining = sluice_gcra_remaining(tat, now_ns, rate.interval_fp, rate.tau_ns);
  state.reset_ns = tat > now_ns ? tat - now_ns : 0;
  return state;
}

LimitState limit_state(uint64_t state, const struct sluice_algo& algo, uint64_t now_ns) {
  LimitState out;
  out.retry_after_ns = sluice_algo_wait_ns(&algo, state, now_ns, 1);
  out.allowed = out.retry_after_ns == 0;
  out.remaining = sluice_algo_remaining(&algo, state, now_ns);
  out.reset_ns = sluice_algo_reset_ns(&algo, state, now_ns);
  return out;
}

namespace {

bool is_gcra(const struct sluice_algo& algo) {
  return algo.algorithm == SLUICE_ALGO_TOKEN_BUCKET || algo.algorithm == SLUICE_ALGO_LEAKY_BUCKET;
}

// What a limit runs: its algorithm, with its GCRA rate (check_policy.h).
struct sluice_algo algo_of(const CompiledLimit& limit) {
  struct sluice_algo algo = limit.algo;
  if (is_gcra(algo)) algo.rate = limit.rate;
  return algo;
}

// A stored state as the limit reads it now: a TAT carried to the current rate;
// window states never change meaning (their key names algorithm and window).
uint64_t current_state(uint64_t stored, uint64_t stored_interval_fp, const CompiledLimit& limit,
                       uint64_t now_ns) {
  return is_gcra(limit.algo) ? carry_tat(stored, stored_interval_fp, limit.rate, now_ns) : stored;
}

}  // namespace

RequestBuckets::RequestBuckets(size_t max_entries)
    : max_per_shard_(std::max<size_t>(1, max_entries / kShards)), shards_(kShards) {}

RequestBuckets::Shard& RequestBuckets::shard_of(const std::string& client) const {
  return shards_[std::hash<std::string>{}(client) % kShards];
}

void RequestBuckets::sweep(Shard& shard, uint64_t now_ns) const {
  std::erase_if(shard.buckets,
                [&](const auto& entry) { return entry.second.expires_ns <= now_ns; });
}

std::vector<LimitState> RequestBuckets::check_and_spend(const std::string& client,
                                                        std::span<const CompiledLimit> limits,
                                                        uint64_t now_ns) {
  Shard& shard = shard_of(client);
  std::lock_guard lock(shard.mutex);
  // 0. Make room first: pointers into the map stay valid from here on.
  if (shard.buckets.size() + limits.size() > max_per_shard_) sweep(shard, now_ns);
  // 1. Read every bucket (absent: full), carried to its current rate.
  std::vector<uint64_t> tats(limits.size(), 0);
  std::vector<Bucket*> found(limits.size(), nullptr);
  std::string key;
  for (size_t i = 0; i < limits.size(); ++i) {
    key = client + '\x1f' + limits[i].bucket;
    if (auto it = shard.buckets.find(key); it != shard.buckets.end()) {
      found[i] = &it->second;
      tats[i] = current_state(it->second.tat, it->second.interval_fp, limits[i], now_ns);
    }
  }
  // 2. Decide.
  bool admit = true;
  std::vector<LimitState> states(limits.size());
  for (size_t i = 0; i < limits.size(); ++i) {
    __u64 next = 0;
    const struct sluice_algo algo = algo_of(limits[i]);
    states[i].allowed = sluice_algo_spend(&algo, tats[i], now_ns, 1, &next);
    if (!states[i].allowed && !limits[i].shadow) admit = false;
  }
  // 3. Spend everywhere it allows, or nowhere.
  for (size_t i = 0; i < limits.size(); ++i) {
    const struct sluice_algo algo = algo_of(limits[i]);
    __u64 tat = tats[i];
    if (admit && states[i].allowed) sluice_algo_spend(&algo, tats[i], now_ns, 1, &tat);
    const Bucket bucket{tat, is_gcra(algo) ? algo.rate.interval_fp : 0,
                        now_ns + sluice_algo_reset_ns(&algo, tat, now_ns)};
    if (found[i]) {
      *found[i] = bucket;  // spent, or kept in its carried form
    } else if (admit && states[i].allowed) {
      if (shard.buckets.size() < max_per_shard_)
        shard.buckets.emplace(client + '\x1f' + limits[i].bucket, bucket);
      else
        ++shard.overflows;
    }
    bool allowed = states[i].allowed;
    states[i] = limit_state(tat, algo, now_ns);
    states[i].allowed = allowed;
  }
  return states;
}

void RequestBuckets::charge(const std::string& client, const CompiledLimit& limit, uint64_t count,
                            uint64_t now_ns, uint64_t span_ns) {
  if (count == 0 || limit.rate.interval_fp == 0) return;
  Shard& shard = shard_of(client);
  std::lock_guard lock(shard.mutex);
  const std::string key = client + '\x1f' + limit.bucket;
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) sweep(shard, now_ns);
    if (shard.buckets.size() >= max_per_shard_) {
      ++shard.overflows;
      return;
    }
    it = shard.buckets.emplace(key, Bucket{0, limit.rate.interval_fp}).first;
  }
  uint64_t tat = carry_tat(it->second.tat, it->second.interval_fp, limit.rate, now_ns);
  const uint64_t since = now_ns - std::min(span_ns, now_ns);
  uint64_t next =
      sluice_sat_add(std::max(tat, since), sluice_cost_ns(limit.rate.interval_fp, count));
  uint64_t cap = sluice_sat_add(
      now_ns,
      sluice_sat_add(limit.rate.tau_ns,
                     sluice_cost_ns(limit.rate.interval_fp, std::max<uint64_t>(1, limit.quota))));
  const uint64_t charged = std::min(next, cap);
  it->second = Bucket{charged, limit.rate.interval_fp, charged};  // GCRA: empty at its TAT
}

std::vector<LimitState> RequestBuckets::peek(const std::string& client,
                                             std::span<const CompiledLimit> limits,
                                             uint64_t now_ns) const {
  Shard& shard = shard_of(client);
  std::lock_guard lock(shard.mutex);
  std::vector<LimitState> states;
  for (const auto& limit : limits) {
    uint64_t tat = 0;
    auto it = shard.buckets.find(client + '\x1f' + limit.bucket);
    if (it != shard.buckets.end())
      tat = current_state(it->second.tat, it->second.interval_fp, limit, now_ns);
    states.push_back(limit_state(tat, algo_of(limit), now_ns));
  }
  return states;
}

std::vector<RequestBuckets::Entry> RequestBuckets::entries(uint64_t now_ns) const {
  std::vector<Entry> out;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (const auto& [key, bucket] : shard.buckets)
      if (bucket.expires_ns > now_ns)
        out.push_back({key, bucket.tat, bucket.interval_fp, bucket.expires_ns});
  }
  return out;
}

size_t RequestBuckets::restore(const std::vector<Entry>& entries) {
  size_t restored = 0;
  for (const auto& entry : entries) {
    const std::string client = entry.key.substr(0, entry.key.find('\x1f'));
    Shard& shard = shard_of(client);
    std::lock_guard lock(shard.mutex);
    if (shard.buckets.size() >= max_per_shard_) continue;
    shard.buckets[entry.key] = Bucket{entry.tat, entry.interval_fp, entry.expires_ns};
    ++restored;
  }
  return restored;
}

size_t RequestBuckets::size() const {
  size_t total = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.buckets.size();
  }
  return total;
}

uint64_t RequestBuckets::overflows() const {
  uint64_t total = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.overflows;
  }
  return total;
}

}  // namespace sluice
