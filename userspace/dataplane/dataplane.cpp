#include "dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <thread>

#include "error.h"
#include "libbpf_log.h"
#include "netns.h"
#include "sluice_xdp.skel.h"
#include "source_map_walk.h"

namespace sluice {
namespace {

static_assert(sizeof(struct sluice_rate) == 16);
static_assert(sizeof(struct sluice_tier) == 56);
static_assert(sizeof(struct sluice_config) == 56);
static_assert(sizeof(struct sluice_admission) == 16);
static_assert(sizeof(struct sluice_source) == 20);
static_assert(sizeof(struct sluice_bucket) == 48);
static_assert(sizeof(struct sluice_lpm_key) == 24);
static_assert(sizeof(struct sluice_counter) == 16);
static_assert(sizeof(struct sluice_meta) == 24);

// A switch never reuses the slot that readers of the previous generation may
// still be in: XDP runs one packet in well under a microsecond, so a
// millisecond between switches is a wide margin (userspace cannot wait for RCU).
constexpr auto kSlotGrace = std::chrono::milliseconds(1);

Fd dup_fd(int fd, const std::string& what) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw_last_errno("dup fd of " + what);
  return Fd(copy);
}

void update(int fd, const void* key, const void* value, const std::string& what) {
  if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0) throw_last_errno("update " + what);
}

bool same_intervals(const struct sluice_tier& a, const struct sluice_tier& b) {
  return (a.flags & SLUICE_TIER_F_DEFINED) && (b.flags & SLUICE_TIER_F_DEFINED) &&
         (a.flags & (SLUICE_TIER_ALGO_MASK | SLUICE_TIER_F_WINDOW)) ==
             (b.flags & (SLUICE_TIER_ALGO_MASK | SLUICE_TIER_F_WINDOW)) &&
         a.packets.interval_fp == b.packets.interval_fp &&
         (!(a.flags & SLUICE_TIER_F_WINDOW) || a.packets.tau_ns == b.packets.tau_ns) &&
         a.bytes.interval_fp == b.bytes.interval_fp && a.syns.interval_fp == b.syns.interval_fp;
}

// Stamps `next` with the generation since which each tier's intervals have
// been in force: kept from `current` (the active slot) when they are the same,
// else the generation about to become active. The data path finds the rate a
// bucket's debt was counted in through it (docs/policy-switch.md).
void stamp_rate_since(std::array<struct sluice_tier, SLUICE_MAX_TIERS>& next,
                      const std::array<struct sluice_tier, SLUICE_MAX_TIERS>& current,
                      uint64_t next_generation) {
  for (uint32_t i = 0; i < SLUICE_MAX_TIERS; ++i)
    next[i].rate_since = same_intervals(next[i], current[i])
                             ? current[i].rate_since
                             : static_cast<uint32_t>(next_generation);
}

}  // namespace

uint32_t count_cpu_list(std::string_view list) {
  uint32_t count = 0;
  while (!list.empty() && list.front() != '\n') {
    size_t end = std::min(list.find_first_of(",\n"), list.size());
    std::string_view range = list.substr(0, end);
    unsigned first = 0, last = 0;
    auto dash = range.find('-');
    auto [p1, e1] =
        std::from_chars(range.data(), range.data() + std::min(dash, range.size()), first);
    if (e1 != std::errc() || first > 1u << 20) return 0;
    last = first;
    if (dash != std::string_view::npos) {
      auto [p2, e2] = std::from_chars(range.data() + dash + 1, range.data() + range.size(), last);
      if (e2 != std::errc() || last < first || last > 1u << 20) return 0;
    }
    count += last - first + 1;
    list.remove_prefix(std::min(end + 1, list.size()));
  }
  return count;
}

// Accepted: a CPU brought online later gets a full share until the next apply
// (a policy change or reload recomputes the split).
uint32_t datapath_cpus() {
  std::ifstream online("/sys/devices/system/cpu/online");
  std::string list;
  std::getline(online, list);
  if (uint32_t n = count_cpu_list(list)) return n;
  long configured = sysconf(_SC_NPROCESSORS_ONLN);
  return configured > 0 ? static_cast<uint32_t>(configured) : 1;
}

struct sluice_counter Counters::total(uint32_t counter) const {
  struct sluice_counter sum {};
  for (const auto& row : rows) {
    sum.packets += row.at(counter).packets;
    sum.bytes += row.at(counter).bytes;
  }
  return sum;
}

std::string pin_dir_of(const std::string& ifname, const std::string& bpffs_root) {
  return bpffs_root + "/sluice/" + netns_tag() + "/" + ifname + "/v" +
         std::to_string(SLUICE_LAYOUT_VERSION);
}

std::string legacy_pin_dir_of(const std::string& ifname, const std::string& bpffs_root) {
  return bpffs_root + "/sluice/" + ifname + "/v" + std::to_string(SLUICE_LAYOUT_VERSION);
}

uint32_t Dataplane::maps_id() const {
  struct bpf_map_info info {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(maps_.active.get(), &info, &len) != 0)
    throw_last_errno("inspect map active");
  return info.id;
}

void Dataplane::SkeletonDeleter::operator()(struct sluice_xdp* skel) const {
  sluice_xdp__destroy(skel);
}

Dataplane::Dataplane(Dataplane&&) noexcept = default;
Dataplane& Dataplane::operator=(Dataplane&&) noexcept = default;
Dataplane::~Dataplane() = default;

namespace {

// Lets `map` use the pinned map `fd` instead of creating its own, after
// checking that the pin is what this build's program expects: a map of
// another shape under the same layout version is refused, never guessed at.
void reuse_map(struct bpf_map* map, int fd, const char* name) {
  struct bpf_map_info info {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    throw_last_errno(std::string("inspect pinned map ") + name);
  const bool sized_by_config = std::string_view(name) == "buckets";
  if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
      info.value_size != bpf_map__value_size(map) || info.map_flags != bpf_map__map_flags(map) ||
      (!sized_by_config && info.max_entries != bpf_map__max_entries(map)))
    throw_errno(EPROTO, std::string("pinned map ") + name +
                            " does not match this build's (type, key or value size, flags or "
                            "entries): a layout change without a new SLUICE_LAYOUT_VERSION");
  check_libbpf(bpf_map__reuse_fd(map, fd), std::string("reuse pinned map ") + name);
}

}  // namespace

Dataplane Dataplane::load(const LoadOptions& options) {
  Dataplane dp = load_with(options, nullptr, -1);
  auto& m = dp.maps_;

  // Until a policy is applied: one unlimited tier, default aggregation, pass
  // malformed packets. Both slots, so that the first switch starts from sane data.
  struct sluice_config config {
    .default_tier = 0, .v4_prefix_len = 32, .v6_prefix_len = 64,
    .malformed_verdict = SLUICE_VERDICT_PASS,
  };
  for (uint32_t slot = 0; slot < 2; ++slot) update(m.config.get(), &slot, &config, "map config");
  dp.record_program(options.coarse_clock);
  return dp;
}

uint32_t Dataplane::loaded_version() const {
  if (!skel_) throw_errno(EINVAL, "loaded_version: this program was adopted, not loaded");
  return skel_->rodata->sluice_prog_version;
}

int Dataplane::tc_prog_fd() const {
  if (!skel_) throw_errno(EINVAL, "attach TC: this program was adopted, not loaded");
  return bpf_program__fd(skel_->progs.sluice_tc);
}

Dataplane Dataplane::load_with(const LoadOptions& options, const Maps* reuse, int admission_fd) {
  route_libbpf_logs_to_spdlog();
  Dataplane dp;
  dp.skel_.reset(sluice_xdp__open());
  if (!dp.skel_) throw_last_errno("open BPF object sluice_xdp");
  auto* skel = dp.skel_.get();
  if (options.bucket_entries == 0) throw_errno(EINVAL, "bucket map size must be positive");
  check_libbpf(bpf_map__set_max_entries(skel->maps.sluice_buckets, options.bucket_entries),
               "size bucket map");
  skel->rodata->sluice_use_test_clock = options.test_clock ? 1 : 0;
  skel->rodata->sluice_coarse_clock = options.coarse_clock ? 1 : 0;
  if (reuse) {
#define SLUICE_REUSE_MAP(name) \
  if (reuse->name) reuse_map(skel->maps.sluice_##name, reuse->name.get(), #name);
    SLUICE_PINNED_MAPS(SLUICE_REUSE_MAP)
#undef SLUICE_REUSE_MAP
    if (admission_fd >= 0) reuse_map(skel->maps.sluice_admission, admission_fd, "admission");
  }
  check_libbpf(sluice_xdp__load(skel), "load BPF program sluice_xdp");

  auto& m = dp.maps_;
#define SLUICE_DUP_MAP_FD(name) \
  m.name = dup_fd(bpf_map__fd(skel->maps.sluice_##name), "map " #name);
  SLUICE_PINNED_MAPS(SLUICE_DUP_MAP_FD)
#undef SLUICE_DUP_MAP_FD
  dp.prog_fd_ = dup_fd(bpf_program__fd(skel->progs.sluice_xdp), "program sluice_xdp");
  return dp;
}

void Dataplane::record_program(bool coarse_clock) {
  struct bpf_prog_info info {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd_.get(), &info, &len) != 0)
    throw_last_errno("inspect program sluice_xdp");
  struct sluice_meta meta {
    .layout_version = SLUICE_LAYOUT_VERSION, .prog_version = skel_->rodata->sluice_prog_version,
    .prog_tag = {}, .coarse_clock = coarse_clock ? 1U : 0U, .bucket_entries = bucket_capacity(),
  };
  static_assert(sizeof(meta.prog_tag) == sizeof(info.tag));
  std::memcpy(meta.prog_tag, info.tag, sizeof(meta.prog_tag));
  uint32_t zero = 0;
  update(maps_.meta.get(), &zero, &meta, "map meta");
}

uint64_t Dataplane::generation() const {
  uint32_t zero = 0;
  uint64_t gen = 0;
  if (bpf_map_lookup_elem(maps_.active.get(), &zero, &gen) != 0)
    throw_last_errno("read generation");
  return gen;
}

struct sluice_config Dataplane::active_config() const {
  uint32_t slot = generation() & 1;
  struct sluice_config config {};
  if (bpf_map_lookup_elem(maps_.config.get(), &slot, &config) != 0) throw_last_errno("read config");
  return config;
}

std::array<struct sluice_tier, SLUICE_MAX_TIERS> Dataplane::slot_tiers(uint32_t slot) const {
  std::array<struct sluice_tier, SLUICE_MAX_TIERS> tiers{};
  for (uint32_t i = 0; i < SLUICE_MAX_TIERS; ++i) {
    uint32_t key = slot * SLUICE_MAX_TIERS + i;
    if (bpf_map_lookup_elem(maps_.tiers.get(), &key, &tiers[i]) != 0) throw_last_errno("read tier");
  }
  return tiers;
}

void Dataplane::write_slot_tiers(uint32_t slot,
                                 const std::array<struct sluice_tier, SLUICE_MAX_TIERS>& tiers) {
  for (uint32_t i = 0; i < SLUICE_MAX_TIERS; ++i) {
    uint32_t key = slot * SLUICE_MAX_TIERS + i;
    update(maps_.tiers.get(), &key, &tiers[i], "map tiers");
  }
}

struct sluice_tier Dataplane::active_tier(uint32_t index) const {
  if (index >= SLUICE_MAX_TIERS) throw_errno(EINVAL, "tier index " + std::to_string(index));
  uint32_t key = static_cast<uint32_t>(generation() & 1) * SLUICE_MAX_TIERS + index;
  struct sluice_tier tier {};
  if (bpf_map_lookup_elem(maps_.tiers.get(), &key, &tier) != 0) throw_last_errno("read tier");
  return tier;
}

void Dataplane::write_lpm_slot(int fd, const std::vector<LpmEntry>& entries) {
  std::vector<struct sluice_lpm_key> stale;
  struct sluice_lpm_key key {
  }, next{};
  void* cursor = nullptr;
  while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
    stale.push_back(next);
    key = next;
    cursor = &key;
  }
  for (const auto& old : stale)
    if (bpf_map_delete_elem(fd, &old) != 0 && errno != ENOENT)
      throw_last_errno("clear prefix slot");
  for (const auto& entry : entries) update(fd, &entry.key, &entry.value, "prefix slot");
}

void Dataplane::zero_counter_row(uint32_t row) {
  std::vector<struct sluice_counter> zeros(datapath_cpus());
  for (uint32_t counter = 0; counter < SLUICE_COUNTER_MAX; ++counter) {
    uint32_t key = row * SLUICE_COUNTER_MAX + counter;
    update(maps_.counters.get(), &key, zeros.data(), "map counters");
  }
}

void Dataplane::apply(const CompiledPolicy& policy) {
  const uint64_t next = generation() + 1;
  const uint32_t slot = next & 1;

  auto since = std::chrono::steady_clock::now() - last_switch_;
  if (since < kSlotGrace) std::this_thread::sleep_for(kSlotGrace - since);

  // Everything goes into the inactive slot first; a failure here leaves the
  // active policy untouched.
  // The key maps' flag follows what they hold, not the policy: a daemon that
  // adopted pins with penalties or bindings in them keeps them looked up.
  struct sluice_config config = policy.config;
  config.flags = key_maps_hold_entries() ? config.flags | SLUICE_CONFIG_F_KEY_MAPS
                                         : config.flags & ~SLUICE_CONFIG_F_KEY_MAPS;
  update(maps_.config.get(), &slot, &config, "map config");
  auto tiers = policy.tiers;
  stamp_rate_since(tiers, slot_tiers(slot ^ 1), next);
  write_slot_tiers(slot, tiers);
  write_lpm_slot(maps_.prefix(slot).get(), policy.prefixes);
  write_lpm_slot(maps_.access(slot).get(), policy.access);

  // Before the switch, while no packet is judged by a tier in a fresh slot
  // (only packets in flight under the old generation, if the slot held a
  // tier deleted in this same change, may still land there: accepted).
  for (uint32_t row : policy.fresh_slots) zero_counter_row(row);

  uint32_t zero = 0;
  update(maps_.active.get(), &zero, &next, "map active");
  last_switch_ = std::chrono::steady_clock::now();
  spdlog::debug("policy generation {} active", next);
}

void Dataplane::switch_back() {
  // A fresh generation, not the old number: a bucket that resolved its tier
  // under the abandoned one must resolve it again, also at the next apply().
  const uint64_t next = generation() + 1;
  // The slot switched back to is inactive until the switch below: its tiers
  // get rate_since stamps against the abandoned generation, whose rates the
  // buckets that met it were rescaled to.
  const uint32_t slot = next & 1;
  auto tiers = slot_tiers(slot);
  stamp_rate_since(tiers, slot_tiers(slot ^ 1), next);
  write_slot_tiers(slot, tiers);
  uint32_t zero = 0;
  update(maps_.active.get(), &zero, &next, "map active");
  // Readers may still be in the abandoned slot: the next apply() writes it.
  last_switch_ = std::chrono::steady_clock::now();
  spdlog::info("{}: back on the previous policy (generation {})", ifname_, next);
}

namespace {

// Sums one per-CPU counter slot over all possible CPUs.
struct sluice_counter read_counter(int fd, uint32_t row, uint32_t counter) {
  static const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw_errno(-cpus, "count possible CPUs");
  std::vector<struct sluice_counter> per_cpu(static_cast<size_t>(cpus));
  uint32_t key = row * SLUICE_COUNTER_MAX + counter;
  if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) throw_last_errno("read counters");
  struct sluice_counter sum {};
  for (const auto& c : per_cpu) {
    sum.packets += c.packets;
    sum.bytes += c.bytes;
  }
  return sum;
}

}  // namespace

Counters Dataplane::counters() const {
  Counters out;
  out.rows.resize(SLUICE_COUNTER_ROWS);
  for (uint32_t row = 0; row < SLUICE_COUNTER_ROWS; ++row)
    for (uint32_t counter = 0; counter < SLUICE_COUNTER_MAX; ++counter)
      out.rows[row][counter] = read_counter(maps_.counters.get(), row, counter);
  return out;
}

struct sluice_counter Dataplane::counter_total(uint32_t counter) const {
  if (counter >= SLUICE_COUNTER_MAX) throw_errno(EINVAL, "counter " + std::to_string(counter));
  struct sluice_counter sum {};
  for (uint32_t row = 0; row < SLUICE_COUNTER_ROWS; ++row) {
    auto c = read_counter(maps_.counters.get(), row, counter);
    sum.packets += c.packets;
    sum.bytes += c.bytes;
  }
  return sum;
}

namespace {

// Walks the bucket map in batches, calling visit(keys, values, count) per batch.
template <typename Visit>
void walk_buckets(int fd, Visit visit) {
  walk_source_map<struct sluice_bucket>(fd, "bucket map", visit);
}

}  // namespace

std::vector<SourceEntry> Dataplane::sources() const {
  std::vector<SourceEntry> out;
  walk_buckets(maps_.buckets.get(), [&](const auto& keys, const auto& values, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) out.push_back({keys[i], values[i]});
  });
  return out;
}

uint64_t Dataplane::bucket_count() const {
  uint64_t total = 0;
  walk_buckets(maps_.buckets.get(),
               [&](const auto&, const auto&, uint32_t count) { total += count; });
  return total;
}

std::optional<struct sluice_bucket> Dataplane::bucket_of(const struct sluice_source& source) const {
  struct sluice_bucket bucket {};
  if (bpf_map_lookup_elem(maps_.buckets.get(), &source, &bucket) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_last_errno("read bucket");
  }
  return bucket;
}

uint32_t Dataplane::bucket_capacity() const {
  struct bpf_map_info info {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(maps_.buckets.get(), &info, &len) != 0)
    throw_last_errno("inspect bucket map");
  return info.max_entries;
}

void Dataplane::set_test_clock(uint64_t now_ns) {
  if (!skel_ || !skel_->rodata->sluice_use_test_clock)
    throw_errno(EPERM, "set_test_clock: program was not loaded with test_clock");
  skel_->bss->sluice_test_now_ns = now_ns;
}

}  // namespace sluice
