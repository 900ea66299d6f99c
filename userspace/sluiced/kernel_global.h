// The daemon's half of global kernel tiers (docs/kernel-global.md): every
// poll it reads what the program admitted per source of a global tier
// (absolute per-CPU counts of packets, bytes and SYNs, summed) and hands the
// growth of each to the consumption sync; what the peers admitted arrives through charge() on the
// sync's thread and is written, as absolute totals, into the map the program charges back from. The
// maps are reached through KernelGlobalMaps, so that the logic is tested without a kernel.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice_layout.h"

namespace sluice {

// The meters of a global tier, as struct sluice_global_count holds them.
enum class GlobalMeter { kPackets, kBytes, kSyns };
inline constexpr GlobalMeter kGlobalMeters[] = {GlobalMeter::kPackets, GlobalMeter::kBytes,
                                                GlobalMeter::kSyns};
__u64& count_of(struct sluice_global_count& count, GlobalMeter meter);
__u64 count_of(const struct sluice_global_count& count, GlobalMeter meter);

// The consumption key of a source of a global tier, one per meter: "\x1e"
// "kernel " and the (aggregated) address for packets, e.g. "\x1ekernel
// 198.18.0.1" (the key of builds before bytes and SYNs were global),
// "\x1ekernel-bytes " and "\x1ekernel-syns " for the others. An older peer
// parses none of the new two as a kernel key and hands them to its checker,
// which ignores keys without '\x1f': every request-layer key (client '\x1f'
// limit) holds one, and no kernel key does, so the two kinds of keys cannot
// collide in the G-counter.
std::string kernel_global_key(const struct sluice_source& source,
                              GlobalMeter meter = GlobalMeter::kPackets);
struct KernelGlobalKey {
  struct sluice_source source;
  GlobalMeter meter;
};
// The source and meter of a kernel key; nullopt for any other key.
std::optional<KernelGlobalKey> parse_kernel_global_key(const std::string& key);

// The global maps of every set of data path maps (Dataplane implements them
// in dataplane_global.cpp; tests fake them).
class KernelGlobalMaps {
 public:
  virtual ~KernelGlobalMaps() = default;
  virtual std::vector<std::pair<struct sluice_source, struct sluice_global_count>> usage() = 0;
  virtual void forget_usage(const struct sluice_source& source) = 0;
  virtual void write_remote(const struct sluice_source& source,
                            const struct sluice_global_remote& remote) = 0;
  virtual void forget_remote(const struct sluice_source& source) = 0;
  virtual void clear_remote() = 0;
};

struct KernelGlobalCounters {
  struct sluice_global_count reported {};  // this host admitted, handed to the sync
  struct sluice_global_count charged {};   // the peers admitted, written for the program
  uint64_t refused = 0;                    // sources not tracked: the table was full
  uint64_t sources = 0;                    // sources with a remote total now
};

class KernelGlobal {
 public:
  struct Limits {
    size_t max_sources = SLUICE_MAX_GLOBAL_SOURCES;
    uint64_t retention_ns = 300'000'000'000;  // an idle source is forgotten after
  };
  explicit KernelGlobal(Limits limits) : limits_(limits) {}
  KernelGlobal() : KernelGlobal(Limits{}) {}

  // Reads the program's counts and returns each source's growth since the
  // last poll, as (key, count): one key per meter that grew. The first poll only takes the counts
  // as they are (an adopted program's were reported by the daemon before) and clears the remote
  // totals (ours restart at zero: the peers' earlier consumption was charged, or is too old to
  // matter). A count lower than the last one is an entry the LRU evicted and the program created
  // again.
  std::vector<std::pair<std::string, uint64_t>> poll(KernelGlobalMaps& maps, uint64_t now_ns);

  // `count` packets, bytes or SYNs (the key's meter) the peers admitted from
  // a kernel key's source within the last `span_ns`. Any thread. False when `key` is not a kernel
  // key.
  bool charge(const std::string& key, uint64_t count, uint64_t span_ns, uint64_t now_ns);

  // Writes the remote totals that changed since the last flush; forgets
  // sources idle for the retention time, in the maps too.
  void flush(KernelGlobalMaps& maps, uint64_t now_ns);

  KernelGlobalCounters counters() const;

 private:
  struct Usage {
    struct sluice_source source {};
    struct sluice_global_count last {};  // the program's counts at the last poll
    uint64_t touched_ns = 0;
  };
  struct Remote {
    struct sluice_source source {};
    struct sluice_global_count total {};
    uint64_t since_ns = 0;  // the earliest the unwritten part may have happened
    bool dirty = false;
    uint64_t touched_ns = 0;
  };

  Limits limits_;
  mutable std::mutex mutex_;
  bool polled_ = false;
  std::map<std::string, Usage> usage_;  // by key, as the program counts
  std::map<std::string, Remote> remote_;
  KernelGlobalCounters counters_;
};

}  // namespace sluice
