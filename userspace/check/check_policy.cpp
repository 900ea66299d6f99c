#include "check_policy.h"

#include <algorithm>
#include <set>

#include "algorithm.h"

namespace sluice {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw PolicyError(message);
}

// Names travel in structured-field strings and bucket keys: keep them plain.
void check_name(const std::string& name, const std::string& what) {
  if (name.empty() || name.size() > 63)
    fail(what + " name '" + name + "' must be 1..63 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) fail(what + " name '" + name + "' may only contain letters, digits, '-', '_' and '.'");
  }
}

// The limit under its algorithm. Window algorithms count whole requests per
// period and have no burst: a configured burst is an error, not ignored.
struct sluice_algo compile_algo(const RateLimit& limit, uint32_t algorithm,
                                const std::string& field) {
  std::string problem = algorithm_limit_problem(limit, algorithm);
  if (!problem.empty()) fail(field + ": " + problem);
  struct sluice_algo algo {};
  sluice_algo_make(&algo, algorithm, limit.tokens, limit.period_ns, limit.burst, SLUICE_SPEND_UNIT);
  return algo;
}

CompiledLimit compile_limit(const RateLimit& limit, uint32_t algorithm, std::string bucket,
                            std::string policy, bool shadow, bool global,
                            const std::string& field) {
  if (limit.unlimited()) fail(field + ": a request limit needs a rate");
  CompiledLimit out;
  out.bucket = std::move(bucket);
  out.policy = std::move(policy);
  out.algo = compile_algo(limit, algorithm, field);
  // The cluster shares token-bucket consumption only (RequestBuckets::charge).
  if (global && algorithm != SLUICE_ALGO_TOKEN_BUCKET)
    fail(field + ": global limits use token_bucket (" + std::string(algorithm_name(algorithm)) +
         " is not shared across the cluster yet)");
  RateLimit meter = limit;
  if (algorithm == SLUICE_ALGO_LEAKY_BUCKET && !meter.burst) meter.burst = 1;  // its depth
  out.rate = compile_rate(meter, SLUICE_SPEND_UNIT, field);
  out.algo.rate = {};
  if (algorithm != SLUICE_ALGO_TOKEN_BUCKET)
    out.bucket += "@" + std::string(algorithm_name(algorithm));
  if (out.algo.window_ns) out.bucket += "/" + std::to_string(out.algo.window_ns);
  out.quota = limit.tokens;
  out.window_s =
      std::max<uint64_t>(1, (limit.period_ns + SLUICE_NSEC_PER_SEC - 1) / SLUICE_NSEC_PER_SEC);
  out.shadow = shadow;
  out.global = global;
  return out;
}

std::vector<CompiledLimit> compile_windows(const std::vector<RequestWindow>& windows,
                                           const std::string& owner, const std::string& field) {
  std::vector<CompiledLimit> out;
  std::set<std::string> seen;
  for (const auto& window : windows) {
    check_name(window.name, field + " window");
    if (!seen.insert(window.name).second)
      fail(field + " window '" + window.name + "' is defined twice");
    out.push_back(compile_limit(window.limit, window.algorithm, "w:" + window.name,
                                owner + "-" + window.name, window.shadow, window.global,
                                field + " window '" + window.name + "'"));
  }
  return out;
}

}  // namespace

const std::vector<CompiledLimit>* CompiledCheckPolicy::tier(const std::string& name) const {
  for (const auto& [tier_name, limits] : tiers)
    if (tier_name == name) return &limits;
  return nullptr;
}

CompiledCheckPolicy compile_check_policy(const CheckPolicy& policy) {
  CompiledCheckPolicy out;
  out.require_credential = policy.require_credential;
  std::set<std::string> tier_names;
  for (const auto& tier : policy.tiers) {
    check_name(tier.name, "check tier");
    if (!tier_names.insert(tier.name).second)
      fail("check tier '" + tier.name + "' is defined twice");
    out.tiers.emplace_back(
        tier.name, compile_windows(tier.windows, tier.name, "check tier '" + tier.name + "'"));
  }
  if (!policy.tiers.empty()) {
    out.default_tier = policy.default_tier.empty() && policy.tiers.size() == 1
                           ? policy.tiers.front().name
                           : policy.default_tier;
    if (!tier_names.count(out.default_tier))
      fail("check default_tier: '" + out.default_tier + "' is not a check tier");
  } else if (!policy.default_tier.empty()) {
    fail("check default_tier: '" + policy.default_tier + "' is not a check tier");
  }
  out.anonymous = compile_windows(policy.anonymous, "anonymous", "check anonymous");

  std::set<std::string> rule_names;
  for (const auto& rule : policy.endpoints) {
    check_name(rule.name, "endpoint rule");
    const std::string field = "endpoint rule '" + rule.name + "'";
    if (!rule_names.insert(rule.name).second) fail(field + " is defined twice");
    for (const auto& tier : rule.tiers)
      if (!tier_names.count(tier)) fail(field + ": unknown check tier '" + tier + "'");
    EndpointPattern pattern = [&] {
      try {
        return EndpointPattern::parse(rule.match);
      } catch (const std::invalid_argument& e) {
        fail(field + " match: " + e.what());
      }
    }();
    out.endpoints.push_back({std::move(pattern),
                             compile_limit(rule.limit, rule.algorithm, "e:" + rule.name, rule.name,
                                           rule.shadow, rule.global, field),
                             rule.tiers});
  }
  return out;
}

}  // namespace sluice
