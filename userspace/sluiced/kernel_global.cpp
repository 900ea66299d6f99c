#include "kernel_global.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace sluice {
namespace {

constexpr char kKernelKeyPrefix[] =
    "\x1e"
    "kernel ";

}  // namespace

std::string kernel_global_key(const struct sluice_source& source) {
  char text[INET6_ADDRSTRLEN] = {};
  const int family = source.family == SLUICE_FAMILY_V4 ? AF_INET : AF_INET6;
  inet_ntop(family, source.addr, text, sizeof(text));
  return kKernelKeyPrefix + std::string(text);
}

std::optional<struct sluice_source> parse_kernel_global_key(const std::string& key) {
  const std::string prefix = kKernelKeyPrefix;
  if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  const std::string address = key.substr(prefix.size());
  struct sluice_source source {};
  if (inet_pton(AF_INET, address.c_str(), source.addr) == 1) {
    source.family = SLUICE_FAMILY_V4;
    return source;
  }
  std::memset(source.addr, 0, sizeof(source.addr));
  if (inet_pton(AF_INET6, address.c_str(), source.addr) == 1) {
    source.family = SLUICE_FAMILY_V6;
    return source;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, uint64_t>> KernelGlobal::poll(KernelGlobalMaps& maps,
                                                                 uint64_t now_ns) {
  const auto counts = maps.usage();
  std::lock_guard lock(mutex_);
  const bool first = !polled_;
  if (first) {
    maps.clear_remote();
    remote_.clear();
    polled_ = true;
  }
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [source, count] : counts) {
    const std::string key = kernel_global_key(source);
    auto it = usage_.find(key);
    if (it == usage_.end()) {
      if (usage_.size() >= limits_.max_sources) {
        ++counters_.refused;
        continue;
      }
      it = usage_.emplace(key, Usage{source, first ? count : 0, now_ns}).first;
    }
    Usage& usage = it->second;
    // Lower: the LRU evicted the entry and the program started it again.
    const uint64_t growth = count >= usage.last ? count - usage.last : count;
    usage.last = count;
    if (growth == 0) continue;
    usage.touched_ns = now_ns;
    counters_.reported += growth;
    out.emplace_back(key, growth);
  }
  return out;
}

bool KernelGlobal::charge(const std::string& key, uint64_t count, uint64_t span_ns,
                          uint64_t now_ns) {
  const auto source = parse_kernel_global_key(key);
  if (!source) return false;
  if (count == 0) return true;
  std::lock_guard lock(mutex_);
  auto it = remote_.find(key);
  if (it == remote_.end()) {
    if (remote_.size() >= limits_.max_sources) {
      ++counters_.refused;
      return true;
    }
    it = remote_.emplace(key, Remote{*source}).first;
  }
  Remote& remote = it->second;
  const uint64_t since = now_ns - std::min(span_ns, now_ns);
  remote.since_ns = remote.dirty ? std::min(remote.since_ns, since) : since;
  remote.total += count;
  remote.dirty = true;
  remote.touched_ns = now_ns;
  counters_.charged += count;
  return true;
}

void KernelGlobal::flush(KernelGlobalMaps& maps, uint64_t now_ns) {
  std::vector<std::pair<struct sluice_source, struct sluice_global_remote>> writes;
  std::vector<struct sluice_source> forget_remote, forget_usage;
  {
    std::lock_guard lock(mutex_);
    if (!polled_) return;  // the maps are cleared at the first poll
    for (auto it = remote_.begin(); it != remote_.end();) {
      Remote& remote = it->second;
      if (remote.dirty) {
        writes.push_back({remote.source, {remote.total, remote.since_ns}});
        remote.dirty = false;
      } else if (now_ns - remote.touched_ns > limits_.retention_ns) {
        forget_remote.push_back(remote.source);
        it = remote_.erase(it);
        continue;
      }
      ++it;
    }
    for (auto it = usage_.begin(); it != usage_.end();) {
      if (now_ns - it->second.touched_ns > limits_.retention_ns) {
        forget_usage.push_back(it->second.source);
        it = usage_.erase(it);
      } else {
        ++it;
      }
    }
    counters_.sources = remote_.size();
  }
  for (const auto& [source, remote] : writes) maps.write_remote(source, remote);
  for (const auto& source : forget_remote) maps.forget_remote(source);
  // A packet admitted between the last poll and this delete is not reported:
  // at most what an idle source sends in that instant.
  for (const auto& source : forget_usage) maps.forget_usage(source);
}

KernelGlobalCounters KernelGlobal::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace sluice
