#include "consumption.h"

#include <algorithm>

namespace sluice::cluster {

bool ConsumptionLedger::record_local(const std::string& key, uint64_t now_ns, uint64_t count) {
  std::lock_guard lock(mutex_);
  auto it = local_.find(key);
  if (it == local_.end()) {
    if (local_.size() >= limits_.max_keys) {
      ++dropped_keys_;
      return false;
    }
    // Generations must grow even if two start in the same nanosecond, or
    // the wall clock steps back.
    generation_clock_ = std::max(generation_clock_ + 1, wall_ns(now_ns));
    it = local_.emplace(key, Counter{generation_clock_, 0, now_ns}).first;
  }
  it->second.total += count;
  it->second.touched_ns = now_ns;
  return true;
}

std::vector<ConsumptionEntry> ConsumptionLedger::recent_totals(uint64_t now_ns) const {
  std::lock_guard lock(mutex_);
  std::vector<ConsumptionEntry> out;
  for (const auto& [key, counter] : local_)
    if (now_ns - counter.touched_ns <= limits_.resend_window_ns)
      out.push_back({key, counter.generation, counter.total});
  return out;
}

std::vector<ConsumptionDelta> ConsumptionLedger::merge(const std::string& origin,
                                                       uint64_t boot_epoch,
                                                       const std::vector<ConsumptionEntry>& entries,
                                                       uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  Origin& from = remote_[origin];
  if (boot_epoch < from.boot_epoch) return {};  // an older run's totals
  bool new_run = false;
  if (boot_epoch > from.boot_epoch) {
    // A restarted node counts from zero again: its old totals were charged.
    // What the new run admits happened after it joined: charged, not rebased.
    from.boot_epoch = boot_epoch;
    from.counters.clear();
    from.rejoined_wall_ns = 0;
    new_run = true;
  }
  const uint64_t origin_heard_ns = from.last_heard_ns;
  from.last_heard_ns = now_ns;
  if (from.out_of_share && !new_run) {
    from.rejoined_ns = now_ns;
    from.rejoined_wall_ns = wall_ns(now_ns);
  }
  from.out_of_share = false;
  std::vector<ConsumptionDelta> out;
  for (const auto& entry : entries) {
    auto it = from.counters.find(entry.key);
    // Known from before the origin was left out and not heard since it came
    // back: its growth happened while the share left room for it (but for
    // the short windows docs/cluster.md bounds).
    // Or first heard now, but started while the origin was out: a client
    // that first appeared during the partition.
    const bool rebase = it != from.counters.end() ? it->second.touched_ns < from.rejoined_ns
                                                  : entry.generation >= from.out_since_wall_ns &&
                                                        entry.generation < from.rejoined_wall_ns;
    if (it == from.counters.end()) {
      if (from.counters.size() >= limits_.max_keys) {
        ++dropped_keys_;
        continue;
      }
      it = from.counters.emplace(entry.key, Counter{entry.generation, 0, origin_heard_ns}).first;
    }
    Counter& counter = it->second;
    const uint64_t heard_ns = counter.touched_ns;
    if (entry.generation < counter.generation) continue;  // an expired counter's totals
    if (entry.generation > counter.generation) counter = Counter{entry.generation, 0, heard_ns};
    counter.touched_ns = now_ns;
    if (entry.total <= counter.total) continue;  // duplicate or reordered
    if (rebase) {
      absorbed_ += entry.total - counter.total;
      counter.total = entry.total;
      continue;
    }
    const uint64_t span = heard_ns == 0 || heard_ns > now_ns ? 0 : now_ns - heard_ns;
    out.push_back({entry.key, entry.total - counter.total, span});
    counter.total = entry.total;
  }
  return out;
}

void ConsumptionLedger::expire(uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  std::erase_if(local_, [&](const auto& entry) {
    return now_ns - entry.second.touched_ns > limits_.retention_ns;
  });
  const uint64_t remote_retention = limits_.retention_ns + limits_.resend_window_ns;
  for (auto& [name, origin] : remote_)
    std::erase_if(origin.counters, [&](const auto& entry) {
      return now_ns - entry.second.touched_ns > remote_retention;
    });
}

void ConsumptionLedger::leave_share(const std::string& origin) {
  std::lock_guard lock(mutex_);
  auto it = remote_.find(origin);
  if (it == remote_.end() || it->second.out_of_share) return;
  Origin& from = it->second;
  from.out_of_share = true;
  // A key in use is sent at least every resend window: one started earlier
  // than this was heard before the silence, unless the table was full.
  const uint64_t heard_wall = wall_ns(from.last_heard_ns);
  from.out_since_wall_ns =
      heard_wall > limits_.resend_window_ns ? heard_wall - limits_.resend_window_ns : 0;
}

void ConsumptionLedger::set_wall_clock_offset(int64_t offset_ns) {
  std::lock_guard lock(mutex_);
  wall_clock_offset_ns_ = offset_ns;
}

uint64_t ConsumptionLedger::wall_ns(uint64_t monotonic_ns) const {
  return monotonic_ns + static_cast<uint64_t>(wall_clock_offset_ns_);
}

uint64_t ConsumptionLedger::dropped_keys() const {
  std::lock_guard lock(mutex_);
  return dropped_keys_;
}

uint64_t ConsumptionLedger::absorbed() const {
  std::lock_guard lock(mutex_);
  return absorbed_;
}

uint64_t ConsumptionLedger::last_heard_ns(const std::string& origin) const {
  std::lock_guard lock(mutex_);
  auto it = remote_.find(origin);
  return it == remote_.end() ? 0 : it->second.last_heard_ns;
}

}  // namespace sluice::cluster
