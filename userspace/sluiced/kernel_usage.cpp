#include "kernel_usage.h"

#include <cstring>
#include <ctime>
#include <stdexcept>

#include "daemon.h"
#include "identity.h"
#include "monotonic_clock.h"
#include "rate_headers.h"
#include "request_buckets.h"

namespace sluice {
namespace {

// The address with the bits past `prefix_len` cleared, as the data path
// aggregates sources (sluice_xdp.bpf.c, aggregate()).
Cidr aggregated(Cidr host, uint32_t prefix_len) {
  for (uint32_t bit = prefix_len; bit < host.max_prefix_len(); ++bit)
    host.addr[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  host.prefix_len = host.max_prefix_len();
  return host;
}

// The longest of `cidrs` holding `host`, or nullptr.
template <class T, class CidrOf>
const T* longest_match(const std::vector<T>& items, const Cidr& host, CidrOf cidr_of) {
  const T* best = nullptr;
  for (const auto& item : items)
    if (cidr_contains(cidr_of(item), host) &&
        (!best || cidr_of(item).prefix_len > cidr_of(*best).prefix_len))
      best = &item;
  return best;
}

}  // namespace

std::optional<KernelUsage> kernel_usage(const Daemon& daemon, const std::string& address) {
  if (daemon.interfaces().empty()) return std::nullopt;
  Cidr client;
  try {
    client = Cidr::parse(address);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  const Policy policy = daemon.effective_policy();
  const Cidr source =
      aggregated(client, client.is_v4() ? policy.v4_prefix_len : policy.v6_prefix_len);

  // Resolved as the data path does (resolve_tier): the lists, then the
  // longest prefix, then the default tier.
  KernelUsage usage;
  if (auto penalty = daemon.key_link().penalty_of(client)) {
    // Dropped at the NIC before any list or bucket (escalation).
    const uint64_t now_unix = static_cast<uint64_t>(std::time(nullptr));
    usage.access = "penalty";
    usage.penalty_rule = penalty->rule;
    usage.penalty_expires_in_s =
        penalty->expires_unix > now_unix ? penalty->expires_unix - now_unix : 0;
    return usage;
  }
  const Cidr* denied = longest_match(policy.deny, source, [](const Cidr& c) { return c; });
  const Cidr* allowed = longest_match(policy.allow, source, [](const Cidr& c) { return c; });
  if (denied && (!allowed || denied->prefix_len >= allowed->prefix_len))
    usage.access = "deny";
  else if (allowed)
    usage.access = "allow";
  if (!usage.access.empty()) return usage;  // no bucket: passed or dropped outright
  const PrefixRule* rule =
      longest_match(policy.prefixes, source, [](const PrefixRule& r) { return r.cidr; });
  usage.tier = rule ? rule->tier : policy.default_tier;
  struct sluice_source key {};
  key.family = source.family;
  std::memcpy(key.addr, source.addr.data(), source.is_v4() ? 4 : 16);
  const uint64_t now = monotonic_ns();
  // A live key binding (the same on every interface) puts the address on its key's tier.
  std::optional<struct sluice_key_binding> binding =
      daemon.interfaces().begin()->second.dataplane.binding_of(key);
  if (binding && binding->expires_ns > now) {
    const std::string name = daemon.tier_slots().name_of(binding->tier);
    if (!name.empty()) {
      usage.tier = name;
      usage.key_bound = true;
    }
  }
  const TierSpec* tier = nullptr;
  for (const auto& candidate : policy.tiers)
    if (candidate.name == usage.tier) tier = &candidate;
  if (!tier) return usage;

  for (const auto& [name, attached] : daemon.interfaces()) {
    // The key's bucket when bound, else the address's own.
    std::optional<struct sluice_bucket> bucket;
    if (usage.key_bound) {
      if (auto kb = attached.dataplane.key_bucket_of(binding->key_id))
        bucket = sluice_bucket{.pkt_tat = kb->pkt_tat,
                               .byte_tat = kb->byte_tat,
                               .syn_tat = kb->syn_tat,
                               .policy = 0,
                               .passed = kb->passed,
                               .dropped = kb->dropped};
    } else {
      bucket = attached.dataplane.bucket_of(key);
    }
    struct Meter {
      const char* unit;
      const RateLimit& limit;
      uint32_t spend;
      uint64_t tat;
    };
    const Meter meters[] = {
        {"packets", tier->packets, SLUICE_SPEND_UNIT, bucket ? bucket->pkt_tat : 0},
        {"bytes", tier->bytes, SLUICE_SPEND_BULK, bucket ? bucket->byte_tat : 0},
        {"syns", tier->syns, SLUICE_SPEND_UNIT, bucket ? bucket->syn_tat : 0}};
    for (const auto& meter : meters) {
      if (meter.limit.unlimited()) continue;
      LimitState state;
      if (&meter == &meters[0] && tier->algorithm != SLUICE_ALGO_TOKEN_BUCKET) {
        // The packets/s word under the tier's algorithm: a window state, or a
        // leaky bucket's TAT of its depth (docs/algorithms.md).
        struct sluice_algo algo {};
        sluice_algo_make(&algo, tier->algorithm, meter.limit.tokens, meter.limit.period_ns,
                         meter.limit.burst, SLUICE_SPEND_UNIT);
        state = limit_state(meter.tat, algo, now);
      } else {
        state = limit_state(meter.tat, compile_rate(meter.limit, meter.spend, meter.unit), now);
      }
      usage.limits.push_back(
          KernelLimit{.interface = name,
                      .policy = tier->name + "-" + meter.unit,
                      .unit = meter.unit,
                      .quota = meter.limit.tokens,
                      .window_s = ceil_seconds(meter.limit.period_ns),
                      .burst = meter.limit.burst ? meter.limit.burst : meter.limit.tokens,
                      .remaining = state.remaining,
                      .reset_s = ceil_seconds(state.reset_ns),
                      .shadow = tier->shadow});
    }
  }
  return usage;
}

}  // namespace sluice
