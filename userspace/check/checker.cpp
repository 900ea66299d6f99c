#include "checker.h"

#include <algorithm>
#include <ctime>

#include "monotonic_clock.h"

namespace sluice {
namespace {

uint64_t unix_now_s() {
  return static_cast<uint64_t>(std::time(nullptr));
}

bool is_method(const std::string& method) {
  if (method.empty() || method.size() > 16) return false;
  for (char c : method)
    if (c < 'A' || c > 'Z') return false;
  return true;
}

std::string tier_label(const Identity& identity) {
  return identity.tier.empty() ? "anonymous" : identity.tier;
}

}  // namespace

std::optional<size_t> limit_to_report(const std::vector<LimitReport>& limits, bool refused) {
  std::optional<size_t> best;
  auto better = [&](size_t i) {
    if (!best) return true;
    const auto& a = limits[i];
    const auto& b = limits[*best];
    if (a.shadow != b.shadow) return !a.shadow;
    if (refused) return a.state.retry_after_ns > b.state.retry_after_ns;
    if (a.state.remaining != b.state.remaining) return a.state.remaining < b.state.remaining;
    return a.state.reset_ns > b.state.reset_ns;
  };
  for (size_t i = 0; i < limits.size(); ++i) {
    if (refused && (limits[i].state.allowed || limits[i].shadow)) continue;
    if (better(i)) best = i;
  }
  return best;
}

Checker::Checker(std::shared_ptr<ApiKeyStore> keys, size_t max_buckets, Clock monotonic_ns,
                 Clock unix_s)
    : keys_(std::move(keys)),
      buckets_(max_buckets),
      monotonic_ns_(monotonic_ns ? std::move(monotonic_ns) : Clock(sluice::monotonic_ns)),
      unix_s_(unix_s ? std::move(unix_s) : Clock(unix_now_s)),
      state_(std::make_shared<State>()) {}

void Checker::configure(const CheckerConfig& config) {
  auto next = std::make_shared<State>();
  next->policy = compile_check_policy(config.policy);
  if (!config.jwt.algorithm.empty()) next->jwt.emplace(config.jwt);
  next->trusted_proxies = config.trusted_proxies;
  std::lock_guard lock(state_mutex_);
  state_ = std::move(next);
  config_ = config;
}

std::shared_ptr<const Checker::State> Checker::state() const {
  std::lock_guard lock(state_mutex_);
  return state_;
}

bool Checker::has_tier(const std::string& name) const {
  return state()->policy.has_tier(name);
}

std::vector<CompiledLimit> Checker::limits_for(const State& state, const Identity& identity,
                                               const std::string* method,
                                               const std::string* path) const {
  std::vector<CompiledLimit> limits;
  if (identity.tier.empty()) {
    limits = state.policy.anonymous;
  } else if (const auto* windows = state.policy.tier(identity.tier)) {
    limits = *windows;
  }
  for (const auto& endpoint : state.policy.endpoints) {
    const auto& tiers = endpoint.tiers;
    if (!tiers.empty() && std::find(tiers.begin(), tiers.end(), identity.tier) == tiers.end())
      continue;
    if (method && !endpoint.pattern.matches(*method, *path)) continue;
    limits.push_back(endpoint.limit);
  }
  return limits;
}

Decision Checker::check(const CheckRequest& request) {
  Decision decision = decide(request);
  ++verdicts_[static_cast<size_t>(decision.verdict)];
  std::shared_ptr<const Observer> observer;
  {
    std::lock_guard lock(state_mutex_);
    observer = observer_;
  }
  if (observer) (*observer)(decision, monotonic_ns_());
  return decision;
}

std::array<uint64_t, 4> Checker::verdicts() const {
  std::array<uint64_t, 4> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = verdicts_[i].load();
  return out;
}

Decision Checker::decide(const CheckRequest& request) {
  Decision decision;
  auto current = state();
  if (!is_method(request.method)) {
    decision.verdict = Verdict::kBadRequest;
    decision.reason = "X-Original-Method is missing or not a method";
    return decision;
  }
  auto path = normalize_path(request.uri);
  if (!path) {
    decision.verdict = Verdict::kBadRequest;
    decision.reason = "X-Original-URI refused: " + path.refusal.reason;
    return decision;
  }
  IdentitySources sources{keys_.get(), current->jwt ? &*current->jwt : nullptr, &current->policy,
                          &current->trusted_proxies};
  auto resolved = resolve_identity(request, sources, unix_s_());
  if (auto* refusal = std::get_if<IdentityRefusal>(&resolved)) {
    decision.verdict = refusal->status == 400 ? Verdict::kBadRequest : Verdict::kUnauthorized;
    decision.reason = refusal->reason;
    return decision;
  }
  decision.identity = std::get<Identity>(resolved);

  auto limits = limits_for(*current, decision.identity, &request.method, &*path.path);
  localise(limits);
  const auto states = buckets_.check_and_spend(decision.identity.client, limits, monotonic_ns_());
  bool refused = false;
  for (size_t i = 0; i < limits.size(); ++i) {
    decision.limits.push_back(
        {limits[i].policy, limits[i].quota, limits[i].window_s, limits[i].shadow, states[i]});
    if (states[i].allowed) continue;
    if (limits[i].shadow) {
      decision.shadow_refusals.push_back(limits[i].policy);
    } else {
      refused = true;
      decision.retry_after_s =
          std::max(decision.retry_after_s, ceil_seconds(states[i].retry_after_ns));
    }
  }
  decision.verdict = refused ? Verdict::kRefused : Verdict::kAllowed;
  if (auto global = global_hooks(); global && !refused)
    for (size_t i = 0; i < limits.size(); ++i)
      if (limits[i].global && states[i].allowed)
        global->admitted(bucket_key(decision.identity.client, limits[i]));
  decision.reported = limit_to_report(decision.limits, refused);
  if (refused)
    decision.reason = "limit '" + decision.limits[*decision.reported].policy + "' exceeded";
  const uint64_t now = monotonic_ns_();
  for (const auto& name : decision.shadow_refusals)
    shadow_log_.note(name, decision.identity.client, now);
  count(decision);
  return decision;
}

std::variant<Usage, IdentityRefusal> Checker::usage(const CheckRequest& request) const {
  auto current = state();
  IdentitySources sources{keys_.get(), current->jwt ? &*current->jwt : nullptr, &current->policy,
                          &current->trusted_proxies};
  auto resolved = resolve_identity(request, sources, unix_s_());
  if (auto* refusal = std::get_if<IdentityRefusal>(&resolved)) return *refusal;
  Usage usage{std::get<Identity>(resolved), {}};
  auto limits = limits_for(*current, usage.identity, nullptr, nullptr);
  localise(limits);
  const auto states = buckets_.peek(usage.identity.client, limits, monotonic_ns_());
  for (size_t i = 0; i < limits.size(); ++i)
    usage.limits.push_back(
        {limits[i].policy, limits[i].quota, limits[i].window_s, limits[i].shadow, states[i]});
  return usage;
}

void Checker::count(const Decision& decision) {
  const std::string tier = tier_label(decision.identity);
  std::lock_guard lock(counters_mutex_);
  for (const auto& limit : decision.limits) {
    auto& counter = counters_[{limit.policy, tier}];
    if (decision.verdict == Verdict::kAllowed) ++counter.allowed;
    if (decision.verdict == Verdict::kRefused && !limit.state.allowed && !limit.shadow)
      ++counter.refused;
    if (limit.shadow && !limit.state.allowed) ++counter.shadow;
  }
}

void Checker::set_global_hooks(GlobalHooks hooks) {
  std::lock_guard lock(state_mutex_);
  global_ = std::make_shared<const GlobalHooks>(std::move(hooks));
}

void Checker::set_observer(Observer observer) {
  std::lock_guard lock(state_mutex_);
  observer_ = std::make_shared<const Observer>(std::move(observer));
}

std::shared_ptr<const GlobalHooks> Checker::global_hooks() const {
  std::lock_guard lock(state_mutex_);
  return global_;
}

void Checker::localise(std::vector<CompiledLimit>& limits) const {
  auto global = global_hooks();
  if (!global) return;
  bool any = std::any_of(limits.begin(), limits.end(), [](const auto& l) { return l.global; });
  if (!any) return;
  const GlobalView view = global->view();
  for (auto& limit : limits) limit = local_part(limit, view);
}

bool Checker::charge_global(const std::string& key, uint64_t count, uint64_t span_ns) {
  const auto separator = key.find('\x1f');
  if (separator == std::string::npos) return false;
  const std::string client = key.substr(0, separator);
  const std::string bucket = key.substr(separator + 1);
  auto current = state();
  const CompiledLimit* found = nullptr;
  auto search = [&](const std::vector<CompiledLimit>& limits) {
    for (const auto& limit : limits)
      if (!found && limit.global && limit.bucket == bucket) found = &limit;
  };
  for (const auto& [name, windows] : current->policy.tiers) search(windows);
  search(current->policy.anonymous);
  for (const auto& endpoint : current->policy.endpoints)
    if (!found && endpoint.limit.global && endpoint.limit.bucket == bucket) found = &endpoint.limit;
  if (!found) return false;
  std::vector<CompiledLimit> limit{*found};
  localise(limit);
  buckets_.charge(client, limit.front(), count, monotonic_ns_(), span_ns);
  return true;
}

CheckCounters Checker::counters() const {
  std::lock_guard lock(counters_mutex_);
  return counters_;
}

}  // namespace sluice
