// The maps where the request layer reaches into the data path: key-bound
// addresses, the keys' buckets and penalised addresses (bpf/sluice_keys.bpf.h).
#include <bpf/bpf.h>

#include <cerrno>

#include "dataplane.h"
#include "error.h"
#include "source_map_walk.h"

namespace sluice {
namespace {

static_assert(sizeof(struct sluice_key_binding) == 24);
static_assert(sizeof(struct sluice_key_bucket) == 40);
static_assert(sizeof(struct sluice_penalty) == 16);

// Every entry of a hash map keyed by struct sluice_source.
template <typename Value>
std::vector<std::pair<struct sluice_source, Value>> read_all(int fd, const std::string& what) {
  std::vector<std::pair<struct sluice_source, Value>> out;
  walk_source_map<Value>(
      fd, "map " + what,
      [&](const auto& keys, const auto& values, uint32_t count) {
        for (uint32_t i = 0; i < count; ++i) out.emplace_back(keys[i], values[i]);
      },
      4096);
  return out;
}

bool map_has_entries(const Fd& map, size_t key_size) {
  std::vector<uint8_t> key(key_size);
  if (bpf_map_get_next_key(map.get(), nullptr, key.data()) == 0) return true;
  if (errno == ENOENT) return false;
  throw_last_errno("look for entries in a key map");
}

}  // namespace

bool Dataplane::key_maps_hold_entries() const {
  return map_has_entries(maps_.penalties, sizeof(struct sluice_source)) ||
         map_has_entries(maps_.key_bindings, sizeof(struct sluice_source));
}

// Both slots: the inactive one becomes active at the next apply() or
// switch_back(), and must not then hide entries written before it.
void Dataplane::set_key_maps_flag(bool on) {
  for (uint32_t slot = 0; slot < 2; ++slot) {
    struct sluice_config config {};
    if (bpf_map_lookup_elem(maps_.config.get(), &slot, &config) != 0)
      throw_last_errno("read config");
    const uint32_t flags =
        on ? config.flags | SLUICE_CONFIG_F_KEY_MAPS : config.flags & ~SLUICE_CONFIG_F_KEY_MAPS;
    if (flags == config.flags) continue;
    config.flags = flags;
    if (bpf_map_update_elem(maps_.config.get(), &slot, &config, BPF_ANY) != 0)
      throw_last_errno("write config");
  }
}

void Dataplane::write_bindings(const std::vector<BindingEntry>& entries) {
  if (entries.empty()) return;
  set_key_maps_flag(true);  // before the entries: the program must never skip one
  std::vector<struct sluice_source> keys;
  std::vector<struct sluice_key_binding> values;
  for (const auto& e : entries) {
    keys.push_back(e.source);
    values.push_back(e.binding);
  }
  uint32_t count = keys.size();
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  if (bpf_map_update_batch(maps_.key_bindings.get(), keys.data(), values.data(), &count, &opts) !=
      0)
    throw_last_errno("write " + std::to_string(keys.size()) + " key bindings (" +
                     std::to_string(count) + " written)");
}

void Dataplane::delete_bindings(const std::vector<struct sluice_source>& sources) {
  // One at a time: a batch delete stops at the first source already gone.
  for (const auto& source : sources)
    if (bpf_map_delete_elem(maps_.key_bindings.get(), &source) != 0 && errno != ENOENT)
      throw_last_errno("delete key binding");
  if (!key_maps_hold_entries()) set_key_maps_flag(false);
}

std::vector<BindingEntry> Dataplane::bindings() const {
  std::vector<BindingEntry> out;
  for (const auto& [source, binding] :
       read_all<struct sluice_key_binding>(maps_.key_bindings.get(), "key_bindings"))
    out.push_back({source, binding});
  return out;
}

std::optional<struct sluice_key_binding> Dataplane::binding_of(
    const struct sluice_source& source) const {
  struct sluice_key_binding binding {};
  if (bpf_map_lookup_elem(maps_.key_bindings.get(), &source, &binding) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_last_errno("read key binding");
  }
  return binding;
}

std::optional<struct sluice_key_bucket> Dataplane::key_bucket_of(uint64_t key_id) const {
  struct sluice_key_bucket bucket {};
  if (bpf_map_lookup_elem(maps_.key_buckets.get(), &key_id, &bucket) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_last_errno("read key bucket");
  }
  return bucket;
}

void Dataplane::write_penalty(const PenaltyEntry& entry) {
  set_key_maps_flag(true);
  if (bpf_map_update_elem(maps_.penalties.get(), &entry.source, &entry.penalty, BPF_ANY) != 0)
    throw_last_errno("write penalty");
}

bool Dataplane::delete_penalty(const struct sluice_source& source) {
  if (bpf_map_delete_elem(maps_.penalties.get(), &source) != 0) {
    if (errno == ENOENT) return false;
    throw_last_errno("delete penalty");
  }
  if (!key_maps_hold_entries()) set_key_maps_flag(false);
  return true;
}

std::vector<PenaltyEntry> Dataplane::penalties() const {
  std::vector<PenaltyEntry> out;
  for (const auto& [source, penalty] :
       read_all<struct sluice_penalty>(maps_.penalties.get(), "penalties"))
    out.push_back({source, penalty});
  return out;
}

}  // namespace sluice
