#include "policy.h"

#include <algorithm>
#include <set>

#include "algorithm.h"
#include "sluice_algorithms.h"

namespace sluice {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw PolicyError(message);
}

void check_tier_name(const std::string& name) {
  if (name.empty()) fail("tier name must not be empty");
  if (name.size() > kMaxTierNameLength)
    fail("tier name '" + name + "' is longer than " + std::to_string(kMaxTierNameLength) +
         " characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) fail("tier name '" + name + "' may only contain letters, digits, '-', '_' and '.'");
  }
}

// Rules longer than the aggregation prefix cannot be honoured: every address of
// an aggregate shares one bucket, so it must share one verdict too.
void check_within_aggregation(const Cidr& cidr, const Policy& policy, const std::string& what) {
  uint32_t aggregation = cidr.is_v4() ? policy.v4_prefix_len : policy.v6_prefix_len;
  if (cidr.prefix_len > aggregation)
    fail(what + " " + cidr.to_string() + " is longer than the " + (cidr.is_v4() ? "IPv4" : "IPv6") +
         " aggregation prefix /" + std::to_string(aggregation) + ": sources are limited per /" +
         std::to_string(aggregation) + ", so rules cannot be finer than that");
}

// With the coarse clock, time moves in ticks: a meter whose burst is less than a
// tick's worth of its rate would pass only `burst` per tick. Returns the burst
// the limit needs to cover a tick, or 0 when it covers one (or is unlimited).
uint64_t burst_short_of_a_tick(const RateLimit& limit) {
  if (limit.unlimited()) return 0;
  uint64_t burst = limit.burst ? limit.burst : limit.tokens;
  unsigned __int128 needed =
      (static_cast<unsigned __int128>(limit.tokens) * kCoarseClockTickNs + limit.period_ns - 1) /
      limit.period_ns;
  return burst < needed ? static_cast<uint64_t>(needed) : 0;
}

// The packets/s limit as its GCRA meter runs it: a leaky bucket's depth is one
// unless given; a window counts per window (a coarse clock only moves its
// boundaries by a tick), so it has no burst to cover a tick with.
RateLimit packet_meter(const TierSpec& tier) {
  if (is_window_algorithm(tier.algorithm)) return RateLimit{0, SLUICE_NSEC_PER_SEC, 0};
  RateLimit meter = tier.packets;
  if (tier.algorithm == SLUICE_ALGO_LEAKY_BUCKET && !meter.burst) meter.burst = 1;
  return meter;
}

bool covers_a_tick(const TierSpec& tier) {
  return !burst_short_of_a_tick(packet_meter(tier)) && !burst_short_of_a_tick(tier.bytes) &&
         !burst_short_of_a_tick(tier.syns);
}

void check_covers_a_tick(const TierSpec& tier) {
  auto check = [&](const RateLimit& limit, const char* what) {
    uint64_t needed = burst_short_of_a_tick(limit);
    if (needed)
      fail("tier '" + tier.name + "' " + what + ": with clock: coarse the burst must cover " +
           std::to_string(kCoarseClockTickNs / 1'000'000) + " ms of the rate (at least " +
           std::to_string(needed) + "), got " +
           std::to_string(limit.burst ? limit.burst : limit.tokens));
  };
  check(packet_meter(tier), "packets");
  check(tier.bytes, "bytes");
  check(tier.syns, "syn");
}

// The packets/s meter under the tier's algorithm (docs/algorithms.md): a GCRA
// rate for token_bucket and leaky_bucket (depth one unless a burst is given),
// or, for a window algorithm, the window and its limit in the same 16 bytes
// (struct sluice_tier's union), flagged SLUICE_TIER_F_WINDOW. Sets the
// algorithm's bits in *flags.
struct sluice_rate compile_tier_packets(const TierSpec& tier, const std::string& field,
                                        uint32_t* flags) {
  std::string problem = algorithm_limit_problem(tier.packets, tier.algorithm);
  if (!problem.empty()) fail(field + ": " + problem);
  *flags = tier.algorithm << SLUICE_TIER_ALGO_SHIFT;
  struct sluice_rate rate =
      compile_rate(is_window_algorithm(tier.algorithm) ? tier.packets : packet_meter(tier),
                   SLUICE_SPEND_UNIT, field);
  if (!is_window_algorithm(tier.algorithm) || tier.packets.unlimited()) return rate;
  *flags |= SLUICE_TIER_F_WINDOW;
  struct sluice_tier window {};
  window.packet_window.window_ns = tier.packets.period_ns;
  window.packet_window.limit = tier.packets.tokens;
  return window.packets;
}

}  // namespace

std::string global_tier_problem(const TierSpec& tier) {
  if (tier.packets.unlimited() && tier.bytes.unlimited() && tier.syns.unlimited())
    return "a global tier needs a limit to share (packets, bytes or syn)";
  if (is_window_algorithm(tier.algorithm))
    return "a global tier's packets/s meter must be token_bucket or leaky_bucket (the cluster "
           "charges what the peers admitted into a GCRA bucket; a window cannot be charged)";
  return "";
}

std::map<std::string, uint32_t> TierSlots::assign(const std::vector<std::string>& names) const {
  std::map<std::string, uint32_t> next;
  std::set<uint32_t> used;
  for (const auto& name : names) {
    auto it = index_.find(name);
    if (it != index_.end()) {
      next[name] = it->second;
      used.insert(it->second);
    }
  }
  uint32_t candidate = 0;
  for (const auto& name : names) {
    if (next.count(name)) continue;
    while (used.count(candidate)) ++candidate;
    if (candidate >= SLUICE_MAX_TIERS)
      fail("too many tiers: at most " + std::to_string(SLUICE_MAX_TIERS) + " can exist");
    next[name] = candidate;
    used.insert(candidate);
  }
  return next;
}

std::string TierSlots::unassigned_label(uint32_t index) {
  // Appended, not "#" + to_string(): GCC 12 at -O3 reports a false -Wrestrict
  // (bug 105651) for the latter.
  std::string text = "#";
  text += std::to_string(index);
  return text;
}

std::string TierSlots::name_of(uint32_t index) const {
  for (const auto& [name, i] : index_)
    if (i == index) return name;
  return "";
}

struct sluice_rate compile_rate(const RateLimit& limit, uint32_t spend, const std::string& field) {
  struct sluice_rate rate {};
  if (limit.unlimited()) return rate;
  if (limit.burst > (1ULL << 32))
    fail(field + ": burst " + std::to_string(limit.burst) + " is larger than 2^32");
  uint64_t burst = limit.burst ? limit.burst : limit.tokens;
  if (limit.period_ns == 0 ||
      static_cast<unsigned __int128>(limit.tokens) * SLUICE_NSEC_PER_SEC / limit.period_ns >
          100'000'000'000ULL)
    fail(field + ": rate is above the supported maximum of 10^11 per second");
  if (sluice_rate_make(&rate, limit.tokens, limit.period_ns, burst, spend) != 0)
    fail(field + ": rate must be between 1 per day and 10^11 per second");
  return rate;
}

RateLimit per_cpu_share(const RateLimit& host, uint32_t cpus) {
  if (host.unlimited() || cpus == 0) return host;
  RateLimit share = host;
  share.tokens = std::max<uint64_t>(1, host.tokens / cpus);
  uint64_t burst = host.burst ? host.burst : host.tokens;
  share.burst = std::max<uint64_t>(1, burst / cpus);
  return share;
}

// A host-wide rate as the per-CPU share each CPU's meter enforces.
static struct sluice_rate per_cpu_rate(const RateLimit& host, uint32_t cpus,
                                       const std::string& field) {
  return compile_rate(per_cpu_share(host, cpus), SLUICE_SPEND_UNIT, field);
}

CompiledPolicy compile_policy(const Policy& policy, const TierSlots& slots, uint32_t cpus) {
  CompiledPolicy out;
  if (cpus == 0) fail("admission: the CPU count to split the budget over must be at least 1");
  if (policy.v4_prefix_len < 1 || policy.v4_prefix_len > 32)
    fail("ipv4_prefix: must be 1..32, got " + std::to_string(policy.v4_prefix_len));
  if (policy.v6_prefix_len < 1 || policy.v6_prefix_len > 128)
    fail("ipv6_prefix: must be 1..128, got " + std::to_string(policy.v6_prefix_len));
  if (policy.tiers.empty()) fail("tiers: at least one tier is required");

  std::vector<std::string> names;
  for (const auto& tier : policy.tiers) {
    check_tier_name(tier.name);
    if (std::find(names.begin(), names.end(), tier.name) != names.end())
      fail("tier '" + tier.name + "' is defined twice");
    names.push_back(tier.name);
  }
  out.tier_index = slots.assign(names);
  for (const auto& [name, index] : out.tier_index)
    if (slots.name_of(index) != name) out.fresh_slots.push_back(index);

  for (const auto& tier : policy.tiers) {
    if (policy.coarse_clock) check_covers_a_tick(tier);
    auto& slot = out.tiers[out.tier_index.at(tier.name)];
    std::string field = "tier '" + tier.name + "'";
    slot.packets = compile_tier_packets(tier, field + " packets", &slot.flags);
    slot.bytes = compile_rate(tier.bytes, SLUICE_SPEND_BULK, field + " bytes");
    slot.syns = compile_rate(tier.syns, SLUICE_SPEND_UNIT, field + " syn");
    // Per-tier clock: a tier whose bursts cover a tick is judged by the cheap
    // coarse clock even under `clock: precise` (docs/tier-clock.md).
    slot.flags |= SLUICE_TIER_F_DEFINED | (tier.shadow ? SLUICE_TIER_F_SHADOW : 0) |
                  (covers_a_tick(tier) ? SLUICE_TIER_F_COARSE_OK : 0);
    if (tier.global) {
      std::string problem = global_tier_problem(tier);
      if (!problem.empty()) fail(field + " global: " + problem);
      slot.flags |= SLUICE_TIER_F_GLOBAL;
    }
  }

  auto tier_of = [&](const std::string& name, const std::string& field) {
    auto it = out.tier_index.find(name);
    if (it == out.tier_index.end()) fail(field + ": unknown tier '" + name + "'");
    return it->second;
  };
  out.config.default_tier = tier_of(policy.default_tier, "default_tier");
  out.config.v4_prefix_len = policy.v4_prefix_len;
  out.config.v6_prefix_len = policy.v6_prefix_len;
  out.config.malformed_verdict = policy.drop_malformed ? SLUICE_VERDICT_DROP : SLUICE_VERDICT_PASS;
  out.config.new_sources = per_cpu_rate(policy.new_sources, cpus, "new_sources");
  out.config.unadmitted = per_cpu_rate(policy.unadmitted, cpus, "unadmitted");

  std::set<Cidr> seen;
  for (const auto& rule : policy.prefixes) {
    std::string field = "prefix " + rule.cidr.to_string();
    if (!seen.insert(rule.cidr).second) fail(field + " is assigned twice");
    check_within_aggregation(rule.cidr, policy, "prefix");
    out.prefixes.push_back({rule.cidr.lpm_key(), tier_of(rule.tier, field)});
  }
  if (out.prefixes.size() > SLUICE_MAX_PREFIX_ENTRIES)
    fail("prefixes: at most " + std::to_string(SLUICE_MAX_PREFIX_ENTRIES) + " entries");

  // Deny wins over allow for the same prefix; otherwise the longest prefix wins,
  // which the trie gives us for free.
  std::set<Cidr> denied, allowed;
  for (const auto& cidr : policy.deny) {
    if (!denied.insert(cidr).second) fail("deny " + cidr.to_string() + " is listed twice");
    check_within_aggregation(cidr, policy, "deny");
  }
  for (const auto& cidr : policy.allow) {
    if (!allowed.insert(cidr).second) fail("allow " + cidr.to_string() + " is listed twice");
    check_within_aggregation(cidr, policy, "allow");
  }
  for (const auto& cidr : denied) out.access.push_back({cidr.lpm_key(), SLUICE_ACCESS_DENY});
  for (const auto& cidr : allowed)
    if (!denied.count(cidr)) out.access.push_back({cidr.lpm_key(), SLUICE_ACCESS_ALLOW});
  if (out.access.size() > SLUICE_MAX_LIST_ENTRIES)
    fail("allow/deny: at most " + std::to_string(SLUICE_MAX_LIST_ENTRIES) + " entries together");
  return out;
}

}  // namespace sluice
