#include "key_link.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <ctime>

#include "identity.h"

namespace sluice {
namespace {

uint64_t unix_seconds() {
  return static_cast<uint64_t>(std::time(nullptr));
}

// Every 50 flushes (5 s at the daemon's 100 ms): look for leftovers in the maps.
constexpr uint64_t kSweepEvery = 50;

}  // namespace

struct sluice_source source_of(const Cidr& host, uint32_t v4_prefix_len, uint32_t v6_prefix_len) {
  Cidr masked = host;
  const uint32_t keep = host.is_v4() ? v4_prefix_len : v6_prefix_len;
  for (uint32_t bit = keep; bit < masked.max_prefix_len(); ++bit)
    masked.addr[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  struct sluice_source source {};
  source.family = masked.family;
  std::memcpy(source.addr, masked.addr.data(), masked.is_v4() ? 4 : 16);
  return source;
}

void KeyLink::configure(KeyLinkView view) {
  std::lock_guard lock(mutex_);
  const uint64_t ttl_ns = view.binding.ttl_s * SLUICE_NSEC_PER_SEC;
  if (!view.binding.enabled) {
    bindings_.reset();  // what is in the maps expires by itself
  } else if (!bindings_ || bindings_->ttl_ns() != ttl_ns || !view_ ||
             view_->binding.max_bindings != view.binding.max_bindings) {
    bindings_ = std::make_unique<KeyBindings>(ttl_ns, view.binding.max_bindings);
  }
  if (!view.escalation.enabled)
    escalation_.reset();
  else if (!escalation_)
    escalation_ = std::make_unique<Escalation>(view.escalation.max_penalties);
  view_ = std::make_shared<const KeyLinkView>(std::move(view));
}

bool KeyLink::active() const {
  std::lock_guard lock(mutex_);
  return bindings_ || escalation_ || !penalties_.empty();
}

bool KeyLink::exempt(const Cidr& host) const {
  for (const auto& cidr : view_->exempt)
    if (cidr_contains(cidr, host)) return true;
  return false;
}

void KeyLink::observe(const Decision& decision, uint64_t now_ns) {
  const Identity& identity = decision.identity;
  if (identity.address.empty()) return;
  if (decision.verdict != Verdict::kAllowed && decision.verdict != Verdict::kRefused) return;
  Cidr host;
  try {
    host = Cidr::parse(identity.address);
  } catch (const std::invalid_argument&) {
    return;
  }
  std::lock_guard lock(mutex_);
  if (!view_ || exempt(host)) return;
  const auto source = source_of(host, view_->v4_prefix_len, view_->v6_prefix_len);
  if (decision.verdict == Verdict::kAllowed)
    bind(identity, host, source, now_ns);
  else
    escalate(identity, source, now_ns);
}

void KeyLink::bind(const Identity& identity, const Cidr&, const struct sluice_source& source,
                   uint64_t now_ns) {
  // Only credentials the check accepted bind: an unknown key was refused
  // with 401 before it got here, so random keys cannot fill the table.
  if (!bindings_ || identity.kind == Identity::Kind::kAddress) return;
  auto tier = view_->kernel_tier.find(identity.tier);
  if (tier == view_->kernel_tier.end()) return;  // no kernel tier for its request tier
  const BindRequest request{.source = source,
                            .key_id = key_bucket_id(identity.client),
                            .tier = tier->second.index,
                            .rank = tier->second.rank};
  switch (bindings_->bind(request, now_ns)) {
    case KeyBindings::Outcome::kFull:
      ++counters_.bind_refused_full;
      break;
    case KeyBindings::Outcome::kKept:
      ++counters_.bind_kept;
      break;
    default:
      break;
  }
}

void KeyLink::escalate(const Identity& identity, const struct sluice_source& source,
                       uint64_t now_ns) {
  if (!escalation_ || penalties_.count(source)) return;
  const EscalationRule& rule = view_->escalation.rule_for(identity.tier);
  if (!escalation_->refused(source, rule, now_ns)) return;
  if (penalties_.size() >= view_->escalation.max_penalties) return;
  PenaltyInfo penalty{.source = source,
                      .address = identity.address,
                      .tier = identity.tier,
                      .rule = rule.describe(),
                      .expires_ns = now_ns + rule.penalty_s * SLUICE_NSEC_PER_SEC,
                      .expires_unix = unix_seconds() + rule.penalty_s};
  penalties_[source] = penalty;
  new_penalties_.push_back(penalty);
  ++counters_.escalations;
}

void KeyLink::flush(const std::vector<Dataplane*>& dataplanes, uint64_t now_ns) {
  KeyBindings::Batch batch;
  std::vector<PenaltyInfo> added, expired;
  bool sweep = false;
  {
    std::lock_guard lock(mutex_);
    if (bindings_) batch = bindings_->take_batch(now_ns);
    added.swap(new_penalties_);
    for (auto it = penalties_.begin(); it != penalties_.end();) {
      if (it->second.expires_ns > now_ns) {
        ++it;
        continue;
      }
      expired.push_back(it->second);
      it = penalties_.erase(it);
    }
    sweep = ++flushes_ % kSweepEvery == 0;
  }
  for (const auto& p : added)
    spdlog::warn("penalty: {} dropped at the NIC for {}s ({}{})", p.address,
                 p.expires_ns > now_ns ? (p.expires_ns - now_ns) / SLUICE_NSEC_PER_SEC : 0, p.rule,
                 p.tier.empty() ? "" : ", tier " + p.tier);
  for (const auto& p : expired) spdlog::info("penalty of {} expired", p.address);
  std::vector<BindingEntry> writes;
  for (const auto& [source, binding] : batch.writes) writes.push_back({source, binding});
  uint64_t errors = 0;
  for (Dataplane* dp : dataplanes) {
    try {
      dp->delete_bindings(batch.deletes);
      dp->write_bindings(writes);
      for (const auto& p : added)
        dp->write_penalty({p.source, {.expires_ns = p.expires_ns, .dropped = 0}});
      for (const auto& p : expired) dp->delete_penalty(p.source);
      if (sweep) sweep_maps({dp}, now_ns);
    } catch (const std::exception& e) {
      ++errors;
      spdlog::error("{}: key bindings and penalties: {}", dp->ifname(), e.what());
    }
  }
  std::lock_guard lock(mutex_);
  counters_.map_errors += errors;
}

void KeyLink::sweep_maps(const std::vector<Dataplane*>& dataplanes, uint64_t now_ns) {
  for (Dataplane* dp : dataplanes) {
    std::vector<struct sluice_source> stale;
    for (const auto& entry : dp->bindings())
      if (entry.binding.expires_ns <= now_ns) stale.push_back(entry.source);
    dp->delete_bindings(stale);
    for (const auto& entry : dp->penalties()) {
      if (entry.penalty.expires_ns <= now_ns) {
        std::lock_guard lock(mutex_);
        if (!penalties_.count(entry.source)) dp->delete_penalty(entry.source);
        continue;
      }
      std::lock_guard lock(mutex_);
      if (penalties_.count(entry.source)) continue;
      // Left by an earlier daemon (or another interface's): shown and expired as ours.
      Cidr host;
      host.family = entry.source.family;
      host.prefix_len = host.max_prefix_len();
      std::memcpy(host.addr.data(), entry.source.addr, host.is_v4() ? 4 : 16);
      penalties_[entry.source] =
          PenaltyInfo{.source = entry.source,
                      .address = host.to_string(),
                      .tier = "",
                      .rule = "(set by an earlier daemon)",
                      .expires_ns = entry.penalty.expires_ns,
                      .expires_unix = unix_seconds() +
                                      (entry.penalty.expires_ns - now_ns) / SLUICE_NSEC_PER_SEC};
    }
  }
}

std::vector<PenaltyInfo> KeyLink::penalties() const {
  std::lock_guard lock(mutex_);
  std::vector<PenaltyInfo> out;
  for (const auto& [source, penalty] : penalties_) out.push_back(penalty);
  return out;
}

bool KeyLink::lift(const Cidr& address, const std::vector<Dataplane*>& dataplanes) {
  struct sluice_source source {};
  bool found = false;
  {
    std::lock_guard lock(mutex_);
    const uint32_t v4 = view_ ? view_->v4_prefix_len : 32, v6 = view_ ? view_->v6_prefix_len : 64;
    source = source_of(address, v4, v6);
    found = penalties_.erase(source) > 0;
    std::erase_if(new_penalties_, [&](const PenaltyInfo& p) {
      return std::memcmp(&p.source, &source, sizeof(source)) == 0;
    });
    if (escalation_) escalation_->forget(source);
  }
  // Also one that an earlier daemon left and the sweep has not shown yet.
  for (Dataplane* dp : dataplanes) found = dp->delete_penalty(source) || found;
  return found;
}

std::optional<PenaltyInfo> KeyLink::penalty_of(const Cidr& address) const {
  std::lock_guard lock(mutex_);
  const uint32_t v4 = view_ ? view_->v4_prefix_len : 32, v6 = view_ ? view_->v6_prefix_len : 64;
  auto it = penalties_.find(source_of(address, v4, v6));
  if (it == penalties_.end()) return std::nullopt;
  return it->second;
}

KeyLinkCounters KeyLink::counters() const {
  std::lock_guard lock(mutex_);
  KeyLinkCounters out = counters_;
  out.bindings = bindings_ ? bindings_->size() : 0;
  out.penalties = penalties_.size();
  return out;
}

std::string key_link_metrics(const KeyLinkCounters& c) {
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  metric("sluice_key_bindings", "gauge", "Addresses bound to an API key or JWT subject now.",
         c.bindings);
  metric("sluice_key_binding_refused_total", "counter", "Bindings not made: the table was full.",
         c.bind_refused_full);
  metric("sluice_key_binding_kept_total", "counter",
         "Claims of a second key on a bound address refused (its tier was not higher).",
         c.bind_kept);
  metric("sluice_penalties", "gauge", "Addresses in the kernel penalty map now.", c.penalties);
  metric("sluice_escalations_total", "counter", "Addresses penalised after too many refusals.",
         c.escalations);
  metric("sluice_key_link_map_errors_total", "counter",
         "Failed writes of bindings or penalties to the maps.", c.map_errors);
  return out;
}

}  // namespace sluice
