// The maps of global tiers (bpf/sluice_global.bpf.h, docs/kernel-global.md):
// the program's per-CPU admitted counts, read and summed here, and the peers'
// totals written here for the program to charge back.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include "dataplane.h"
#include "error.h"

namespace sluice {

static_assert(sizeof(struct sluice_global_count) == 24);
static_assert(sizeof(struct sluice_global_remote) == 32);
static_assert(sizeof(struct sluice_global_beat) == 24);

bool Dataplane::pinned_later(const Fd* fd) const {
  return fd == &maps_.meta || fd == &maps_.global_usage || fd == &maps_.global_remote ||
         fd == &maps_.global_charged || fd == &maps_.global_beat;
}

std::vector<Dataplane::GlobalUsage> Dataplane::global_usage() const {
  std::vector<GlobalUsage> out;
  if (!maps_.global_usage) return out;
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw_errno(-cpus, "count the possible CPUs");
  // A per-CPU map's value is one slot per possible CPU (rounded up to 8
  // bytes, which a sluice_global_count is already).
  constexpr uint32_t kBatch = 1024;
  std::vector<struct sluice_source> keys(kBatch);
  std::vector<struct sluice_global_count> values(static_cast<size_t>(kBatch) *
                                                 static_cast<size_t>(cpus));
  struct sluice_source in_batch {
  }, out_batch{};
  for (bool first = true;; first = false) {
    uint32_t count = kBatch;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int rc = bpf_map_lookup_batch(maps_.global_usage.get(), first ? nullptr : &in_batch, &out_batch,
                                  keys.data(), values.data(), &count, &opts);
    int err = rc < 0 ? errno : 0;
    if (rc < 0 && err != ENOENT) throw_errno(err, "read map global_usage");
    for (uint32_t i = 0; i < count; ++i) {
      struct sluice_global_count sum {};
      for (int cpu = 0; cpu < cpus; ++cpu) {
        const auto& slot = values[static_cast<size_t>(i) * cpus + cpu];
        sum.packets += slot.packets;
        sum.bytes += slot.bytes;
        sum.syns += slot.syns;
      }
      out.push_back({keys[i], sum});
    }
    if (err == ENOENT) return out;
    in_batch = out_batch;
  }
}

void Dataplane::forget_global_usage(const struct sluice_source& source) {
  if (maps_.global_usage && bpf_map_delete_elem(maps_.global_usage.get(), &source) != 0 &&
      errno != ENOENT)
    throw_last_errno("delete from map global_usage");
}

void Dataplane::write_global_remote(const struct sluice_source& source,
                                    const struct sluice_global_remote& remote) {
  if (!maps_.global_remote || !maps_.global_charged) return;
  // The charged entry first: a total the program sees always has one. An
  // existing entry keeps its value (the program owns it).
  const struct sluice_global_count none {};
  if (bpf_map_update_elem(maps_.global_charged.get(), &source, &none, BPF_NOEXIST) != 0 &&
      errno != EEXIST)
    throw_last_errno("write map global_charged");
  if (bpf_map_update_elem(maps_.global_remote.get(), &source, &remote, BPF_ANY) != 0)
    throw_last_errno("write map global_remote");
}

void Dataplane::forget_global_remote(const struct sluice_source& source) {
  // The total first: without it the program charges nothing, so deleting the
  // charged entry next cannot make it charge a total twice.
  for (const Fd* fd : {&maps_.global_remote, &maps_.global_charged})
    if (*fd && bpf_map_delete_elem(fd->get(), &source) != 0 && errno != ENOENT)
      throw_last_errno("delete from the global maps");
}

void Dataplane::clear_global_remote() {
  for (const Fd* fd : {&maps_.global_remote, &maps_.global_charged}) {
    if (!*fd) continue;
    struct sluice_source key {};
    while (bpf_map_get_next_key(fd->get(), nullptr, &key) == 0)
      if (bpf_map_delete_elem(fd->get(), &key) != 0 && errno != ENOENT)
        throw_last_errno("clear the global maps");
  }
}

std::optional<struct sluice_global_count> Dataplane::global_charged(
    const struct sluice_source& source) const {
  struct sluice_global_count charged {};
  if (!maps_.global_charged ||
      bpf_map_lookup_elem(maps_.global_charged.get(), &source, &charged) != 0)
    return std::nullopt;
  return charged;
}

void Dataplane::write_global_beat(const struct sluice_global_beat& beat) {
  const uint32_t zero = 0;
  if (maps_.global_beat && bpf_map_update_elem(maps_.global_beat.get(), &zero, &beat, BPF_ANY) != 0)
    throw_last_errno("write map global_beat");
}

std::optional<struct sluice_global_beat> Dataplane::global_beat() const {
  const uint32_t zero = 0;
  struct sluice_global_beat beat {};
  if (!maps_.global_beat || bpf_map_lookup_elem(maps_.global_beat.get(), &zero, &beat) != 0)
    return std::nullopt;
  return beat;
}

}  // namespace sluice
