// Global kernel tiers in the daemon (docs/kernel-global.md): the poll, on a
// thread of its own, that reads the program's counts, shares them and writes
// the peers' totals back; the view of the cluster the tiers are localised by,
// and the loop's timer that re-commits when it changes; the tiers' overshoot
// bounds for /metrics.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <ctime>
#include <set>

#include "cluster_metrics.h"
#include "control_protocol.h"
#include "daemon.h"
#include "global_tiers.h"
#include "kernel_global.h"
#include "monotonic_clock.h"
#include "share.h"

namespace sluice {
namespace {

// The global maps of every distinct set of data path maps: interfaces that
// share maps are read and written once.
class DataplaneGlobalMaps : public KernelGlobalMaps {
 public:
  explicit DataplaneGlobalMaps(const std::vector<Dataplane*>& dataplanes) {
    std::set<uint32_t> seen;
    for (Dataplane* dp : dataplanes)
      if (seen.insert(dp->maps_id()).second) dataplanes_.push_back(dp);
  }
  std::vector<std::pair<struct sluice_source, struct sluice_global_count>> usage() override {
    std::map<std::string, std::pair<struct sluice_source, struct sluice_global_count>> sums;
    for (Dataplane* dp : dataplanes_)
      for (const auto& entry : dp->global_usage()) {
        auto& sum = sums[kernel_global_key(entry.source)];
        sum.first = entry.source;
        for (GlobalMeter meter : kGlobalMeters)
          count_of(sum.second, meter) += count_of(entry.admitted, meter);
      }
    std::vector<std::pair<struct sluice_source, struct sluice_global_count>> out;
    for (const auto& [key, sum] : sums) out.push_back(sum);
    return out;
  }
  void forget_usage(const struct sluice_source& source) override {
    for (Dataplane* dp : dataplanes_) dp->forget_global_usage(source);
  }
  void write_remote(const struct sluice_source& source,
                    const struct sluice_global_remote& remote) override {
    for (Dataplane* dp : dataplanes_) dp->write_global_remote(source, remote);
  }
  void forget_remote(const struct sluice_source& source) override {
    for (Dataplane* dp : dataplanes_) dp->forget_global_remote(source);
  }
  void clear_remote() override {
    for (Dataplane* dp : dataplanes_) dp->clear_global_remote();
  }

 private:
  std::vector<Dataplane*> dataplanes_;
};

bool has_global_tier(const Policy& policy) {
  for (const auto& tier : policy.tiers)
    if (tier.global) return true;
  return false;
}

}  // namespace

GlobalTierView Daemon::global_view() const {
  if (!cluster_) return {};
  return {cluster_->share(), std::max<size_t>(1, cluster_->counted_members())};
}

Policy Daemon::localised(const Policy& policy) {
  global_view_ = global_view();
  global_tiers_ = has_global_tier(policy);
  if (global_tiers_)
    spdlog::info("global tiers localised for {} counted member(s), share {:.2f}",
                 global_view_.members, global_view_.share);
  return localise_global_tiers(policy, global_view_);
}

// Poll period: a quarter of the sync interval, so that the kernel adds at most
// half an interval to the sync delay (a count waits for a poll, a remote
// total for a flush).
std::chrono::nanoseconds Daemon::kernel_global_period() const {
  const uint64_t interval = base_.cluster.sync_interval_ns;
  return std::chrono::nanoseconds(std::max<uint64_t>(5'000'000, interval / 4));
}

void Daemon::schedule_kernel_global() {
  kernel_global_timer_.expires_after(kernel_global_period());
  kernel_global_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    kernel_global_tick();
    schedule_kernel_global();
  });
}

// On kernel_global_poller_'s thread, every kernel_global_period().
void Daemon::kernel_global_poll() {
  if (!cluster_ || !kernel_global_) return;
  const uint64_t now = monotonic_ns();
  try {
    std::lock_guard dataplanes_lock(dataplanes_mutex_);
    DataplaneGlobalMaps maps(dataplanes());
    for (const auto& [key, count] : kernel_global_->poll(maps, now)) cluster_->record(key, count);
    kernel_global_->flush(maps, now);
  } catch (const std::exception& e) {
    spdlog::warn("global tiers: {}", e.what());
  }
}

// On the loop: members joined, left or became unreachable, and every global
// tier's local part (burst / members, rate x share) changes with them.
void Daemon::kernel_global_tick() {
  if (!cluster_) return;
  if (global_tiers_ && global_view() != global_view_ && !reloading_) {
    const GlobalTierView before = global_view_;
    try {
      commit(base_, edits_, /*starting=*/false);
    } catch (const std::exception& e) {
      global_view_ = before;
      spdlog::error("global tiers: applying the cluster's view failed: {}", e.what());
    }
  }
  refresh_global_beat(/*stopping=*/false);
}

// The beat goes stale after the sync timeout: when the peers stop counting
// this host in their shares (docs/kernel-global.md, "An orphaned program").
void Daemon::refresh_global_beat(bool stopping) {
  struct sluice_global_beat beat {};
  if (cluster_ && global_tiers_) {
    beat.beat_ns = stopping ? SLUICE_GLOBAL_BEAT_STOPPED : monotonic_ns();
    beat.stale_after_ns = cluster::sync_timeout_ns(base_.cluster.sync_interval_ns);
    beat.factor = orphan_factor(global_view_);
  } else if (!beating_) {
    return;  // all zero already
  }
  std::set<uint32_t> seen;
  try {
    for (Dataplane* dp : dataplanes())
      if (seen.insert(dp->maps_id()).second) dp->write_global_beat(beat);
    beating_ = beat.beat_ns != 0;
  } catch (const std::exception& e) {
    spdlog::warn("global tiers: {}", e.what());
  }
  if (stopping && beat.beat_ns)
    spdlog::info(
        "global tiers: the program left attached holds each source to 1/{} of the limit until "
        "a sluiced beats again",
        std::max<size_t>(1, global_view_.members));
}

namespace {

// A global tier's meter for the metrics: its unit and its limit.
struct MeterOfTier {
  GlobalMeter meter;
  const char* unit;  // metric name suffix: packets, bytes, syns
  const char* what;  // for HELP
  const RateLimit& (*limit)(const TierSpec&);
};
constexpr MeterOfTier kTierMeters[] = {
    {GlobalMeter::kPackets, "packets", "Packets",
     [](const TierSpec& t) -> const RateLimit& { return t.packets; }},
    {GlobalMeter::kBytes, "bytes", "Bytes",
     [](const TierSpec& t) -> const RateLimit& { return t.bytes; }},
    {GlobalMeter::kSyns, "syns", "SYNs",
     [](const TierSpec& t) -> const RateLimit& { return t.syns; }},
};

}  // namespace

// Per meter: what was reported and charged, and each global tier's bound (the
// packets series as they were before bytes and SYNs were global, the bytes and
// SYN series beside them, under their own names).
std::string Daemon::kernel_global_metrics() const {
  if (!cluster_ || !kernel_global_) return "";
  const auto c = kernel_global_->counters();
  std::string out;
  for (const auto& m : kTierMeters) {
    out += fmt::format(
        "# HELP sluice_cluster_kernel_{0}_total {1} of global tiers: admitted here and shared "
        "(reported), admitted by the peers and charged here (charged).\n"
        "# TYPE sluice_cluster_kernel_{0}_total counter\n",
        m.unit, m.what);
    out += fmt::format("sluice_cluster_kernel_{}_total{{direction=\"reported\"}} {}\n", m.unit,
                       count_of(c.reported, m.meter));
    out += fmt::format("sluice_cluster_kernel_{}_total{{direction=\"charged\"}} {}\n", m.unit,
                       count_of(c.charged, m.meter));
  }
  out +=
      "# HELP sluice_cluster_kernel_sources Sources of global tiers with the peers' totals.\n"
      "# TYPE sluice_cluster_kernel_sources gauge\n";
  out += fmt::format("sluice_cluster_kernel_sources {}\n", c.sources);
  const size_t members = std::max<size_t>(1, cluster_->counted_members());
  const double delay_s = kernel_sync_delay_s();
  const Policy policy = effective_policy();
  for (const auto& m : kTierMeters) {
    out += fmt::format(
        "# HELP sluice_cluster_overshoot_bound_{0} Most a global tier can admit per source "
        "beyond rate*t+burst over a busy period, fleet-wide, in {0} (docs/kernel-global.md).\n"
        "# TYPE sluice_cluster_overshoot_bound_{0} gauge\n",
        m.unit);
    for (const auto& tier : policy.tiers) {
      const RateLimit& limit = m.limit(tier);
      if (!tier.global || limit.unlimited()) continue;
      const double rate =
          1e9 * static_cast<double>(limit.tokens) / static_cast<double>(limit.period_ns);
      const double burst = static_cast<double>(limit.burst ? limit.burst : limit.tokens);
      out += fmt::format("sluice_cluster_overshoot_bound_{}{{tier=\"{}\"}} {:.1f}\n", m.unit,
                         tier.name, cluster::overshoot_bound(members, rate, burst, delay_s));
    }
  }
  return out;
}

// D of the bound: the sync interval (two with Redis, whose readers poll), plus
// a poll period for a count to be read and one for a total to be written.
double Daemon::kernel_sync_delay_s() const {
  const double interval = static_cast<double>(base_.cluster.sync_interval_ns) / 1e9;
  const double poll = static_cast<double>(kernel_global_period().count()) / 1e9;
  const double intervals = base_.cluster.sync == cluster::SyncMode::kRedis ? 2.0 : 1.0;
  return intervals * interval + 2 * poll;
}

}  // namespace sluice
