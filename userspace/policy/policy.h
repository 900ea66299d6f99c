// The limiting policy as operators think of it (named tiers, CIDRs, lists),
// and its translation into the data path's map contents.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "cidr.h"
#include "sluice_layout.h"

namespace sluice {

// `tokens` per `period_ns` with a burst of `burst` tokens; tokens == 0 is unlimited.
struct RateLimit {
  uint64_t tokens = 0;
  uint64_t period_ns = SLUICE_NSEC_PER_SEC;
  uint64_t burst = 0;  // 0: one period's worth of tokens

  bool unlimited() const { return tokens == 0; }
  bool operator==(const RateLimit&) const = default;
};

struct TierSpec {
  std::string name;
  RateLimit packets;  // packets/s
  RateLimit bytes;    // bytes/s, L2 frame length
  RateLimit syns;     // new TCP connections (SYN without ACK)/s
  bool shadow = false;
  // SLUICE_ALGO_* of the packets/s meter (bytes/s and SYN/s are token buckets).
  uint32_t algorithm = 0;
  // The tier's limits hold for the whole cluster (docs/kernel-global.md): at
  // least one of the three, packets/s a token or leaky bucket.
  bool global = false;
  bool operator==(const TierSpec&) const = default;
};

struct PrefixRule {
  Cidr cidr;
  std::string tier;
  bool operator==(const PrefixRule&) const = default;
};

struct Policy {
  std::vector<TierSpec> tiers;
  std::string default_tier;
  std::vector<PrefixRule> prefixes;
  std::vector<Cidr> allow;
  std::vector<Cidr> deny;
  uint32_t v4_prefix_len = 32;
  uint32_t v6_prefix_len = 64;
  bool drop_malformed = false;
  // Spoofed-flood defence (docs/spoofed-floods.md), host-wide figures that are
  // split evenly over the CPUs: buckets created per second for new sources, and
  // the packets per second shared by new sources that arrive over that budget.
  RateLimit new_sources{50'000, SLUICE_NSEC_PER_SEC, 50'000};
  RateLimit unadmitted{10'000, SLUICE_NSEC_PER_SEC, 1'000};
  // The data path reads the coarse monotonic clock (cheaper, a tick behind at
  // most); every burst must then cover kCoarseClockTickNs of its rate. Takes
  // effect when the program is loaded, not on a live change.
  bool coarse_clock = false;
  bool operator==(const Policy&) const = default;
};

// A policy that cannot be applied; the message names the offending field.
class PolicyError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Stable tier name -> index assignment, so that per-tier counters keep their
// meaning across changes: a tier keeps its index while it exists, and a new
// tier takes the lowest free one.
class TierSlots {
 public:
  // Returns the index of every name in `names`, assigning new ones; throws
  // PolicyError when more than SLUICE_MAX_TIERS tiers would exist.
  std::map<std::string, uint32_t> assign(const std::vector<std::string>& names) const;
  void commit(const std::map<std::string, uint32_t>& assignment) { index_ = assignment; }
  const std::map<std::string, uint32_t>& current() const { return index_; }
  // Name of a tier index, or "" when unassigned.
  std::string name_of(uint32_t index) const;
  // How a slot no tier holds is shown (metrics label, top): "#<index>"; '#'
  // is not allowed in tier names, so it never meets a real one.
  static std::string unassigned_label(uint32_t index);

 private:
  std::map<std::string, uint32_t> index_;
};

struct LpmEntry {
  struct sluice_lpm_key key;
  uint32_t value;
};

// Map contents for one policy generation.
struct CompiledPolicy {
  struct sluice_config config {};
  std::array<struct sluice_tier, SLUICE_MAX_TIERS> tiers{};
  std::vector<LpmEntry> prefixes;  // -> tier index
  std::vector<LpmEntry> access;    // -> SLUICE_ACCESS_ALLOW / _DENY
  std::map<std::string, uint32_t> tier_index;
  // Slots this policy gives to a tier that did not hold them before (new, or
  // freed by a deleted tier): their counter rows start from zero, so that a
  // tier's counters never carry another tier's packets (Dataplane::apply).
  std::vector<uint32_t> fresh_slots;
};

// Validates the whole policy and translates it; throws PolicyError naming the
// first problem (tier, prefix or list entry) and changes nothing. `cpus` (the
// CPUs that run the data path, at least 1) splits the per-host admission rates.
CompiledPolicy compile_policy(const Policy& policy, const TierSlots& slots, uint32_t cpus);
// Why `tier` cannot be global ("" when it can): it needs a limit (packets/s,
// bytes/s or SYN/s), and its packets/s meter a GCRA one (token_bucket or
// leaky_bucket: a window cannot be charged).
std::string global_tier_problem(const TierSpec& tier);
// A host-wide rate as the share each of `cpus` per-CPU meters enforces.
RateLimit per_cpu_share(const RateLimit& host, uint32_t cpus);

// Converts one rate into the data path's form (`spend`: SLUICE_SPEND_UNIT or
// _BULK); throws PolicyError (with `field` in the message) when out of range.
struct sluice_rate compile_rate(const RateLimit& limit, uint32_t spend, const std::string& field);

// The longest tick CLOCK_MONOTONIC_COARSE can have (HZ=100), twice: a burst
// shorter than this would cap a meter at burst per tick.
inline constexpr uint64_t kCoarseClockTickNs = 20'000'000;

// Longest tier name accepted.
inline constexpr size_t kMaxTierNameLength = 63;

}  // namespace sluice
