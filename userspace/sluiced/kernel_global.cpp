#include "kernel_global.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace sluice {
namespace {

// Each meter's key prefix, in GlobalMeter's order: the packets one is what
// builds before bytes and SYNs were global sent.
constexpr const char* kKernelKeyPrefixes[] = {
    "\x1e"
    "kernel ",
    "\x1e"
    "kernel-bytes ",
    "\x1e"
    "kernel-syns ",
};

std::optional<struct sluice_source> parse_address(const std::string& address) {
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

}  // namespace

__u64& count_of(struct sluice_global_count& count, GlobalMeter meter) {
  switch (meter) {
    case GlobalMeter::kBytes:
      return count.bytes;
    case GlobalMeter::kSyns:
      return count.syns;
    default:
      return count.packets;
  }
}

__u64 count_of(const struct sluice_global_count& count, GlobalMeter meter) {
  return count_of(const_cast<struct sluice_global_count&>(count), meter);
}

std::string kernel_global_key(const struct sluice_source& source, GlobalMeter meter) {
  char text[INET6_ADDRSTRLEN] = {};
  const int family = source.family == SLUICE_FAMILY_V4 ? AF_INET : AF_INET6;
  inet_ntop(family, source.addr, text, sizeof(text));
  return kKernelKeyPrefixes[static_cast<int>(meter)] + std::string(text);
}

std::optional<KernelGlobalKey> parse_kernel_global_key(const std::string& key) {
  for (GlobalMeter meter : kGlobalMeters) {
    const std::string prefix = kKernelKeyPrefixes[static_cast<int>(meter)];
    if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0) continue;
    if (auto source = parse_address(key.substr(prefix.size())))
      return KernelGlobalKey{*source, meter};
    return std::nullopt;
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
      it = usage_.emplace(key, Usage{source, first ? count : sluice_global_count{}, now_ns}).first;
    }
    Usage& usage = it->second;
    // Any count lower: the LRU evicted the entry and the program started it
    // again, so every count it holds is new.
    bool evicted = false;
    for (GlobalMeter meter : kGlobalMeters)
      evicted = evicted || count_of(count, meter) < count_of(usage.last, meter);
    const struct sluice_global_count from = evicted ? sluice_global_count{} : usage.last;
    usage.last = count;
    for (GlobalMeter meter : kGlobalMeters) {
      const uint64_t growth = count_of(count, meter) - count_of(from, meter);
      if (growth == 0) continue;
      usage.touched_ns = now_ns;
      count_of(counters_.reported, meter) += growth;
      out.emplace_back(meter == GlobalMeter::kPackets ? key : kernel_global_key(source, meter),
                       growth);
    }
  }
  return out;
}

bool KernelGlobal::charge(const std::string& key, uint64_t count, uint64_t span_ns,
                          uint64_t now_ns) {
  const auto parsed = parse_kernel_global_key(key);
  if (!parsed) return false;
  if (count == 0) return true;
  // One entry per source for its three meters, under the packets key.
  const std::string source_key = kernel_global_key(parsed->source);
  std::lock_guard lock(mutex_);
  auto it = remote_.find(source_key);
  if (it == remote_.end()) {
    if (remote_.size() >= limits_.max_sources) {
      ++counters_.refused;
      return true;
    }
    it = remote_.emplace(source_key, Remote{parsed->source}).first;
  }
  Remote& remote = it->second;
  const uint64_t since = now_ns - std::min(span_ns, now_ns);
  remote.since_ns = remote.dirty ? std::min(remote.since_ns, since) : since;
  count_of(remote.total, parsed->meter) += count;
  remote.dirty = true;
  remote.touched_ns = now_ns;
  count_of(counters_.charged, parsed->meter) += count;
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
