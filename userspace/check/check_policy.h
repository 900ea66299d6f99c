// The request layer's policy as operators write it (tiers of request windows,
// endpoint rules, anonymous per-address windows) and its compiled form: every
// limit one of the four algorithms of the shared header (sluice_algorithms.h),
// token bucket (GCRA) unless the window or rule names another.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "path_pattern.h"
#include "policy.h"
#include "sluice_algorithms.h"

namespace sluice {

// One window of a tier, e.g. "minute": 1000/min. Buckets are keyed by the
// window's name, not the tier's, so a client moved to another tier keeps what
// it consumed in its "minute" window.
struct RequestWindow {
  std::string name;
  RateLimit limit;
  bool shadow = false;  // count and log what it would refuse, refuse nothing
  bool global = false;  // one limit for the whole cluster (docs/cluster.md)
  uint32_t algorithm = SLUICE_ALGO_TOKEN_BUCKET;  // SLUICE_ALGO_*
  bool operator==(const RequestWindow&) const = default;
};

struct RequestTier {
  std::string name;
  std::vector<RequestWindow> windows;
  bool operator==(const RequestTier&) const = default;
};

// A limit per client on one endpoint: "GET /users/*" 1000/min.
struct EndpointRule {
  std::string name;
  std::string match;  // "METHOD /path/pattern"
  RateLimit limit;
  std::vector<std::string> tiers;  // empty: every client, anonymous ones included
  bool shadow = false;
  bool global = false;
  uint32_t algorithm = SLUICE_ALGO_TOKEN_BUCKET;  // SLUICE_ALGO_*
  bool operator==(const EndpointRule&) const = default;
};

struct CheckPolicy {
  std::vector<RequestTier> tiers;
  std::string default_tier;              // for credentials that name no tier
  std::vector<RequestWindow> anonymous;  // per client address, no credential
  std::vector<EndpointRule> endpoints;
  bool require_credential = false;  // no credential: 401 instead of anonymous limits
  bool operator==(const CheckPolicy&) const = default;
};

// One limit ready for the buckets.
struct CompiledLimit {
  // Part of the bucket key: "w:minute", "e:users-read"; other algorithms than
  // the token bucket add "@<algorithm>/<window ns>", so that a bucket is never
  // read under another algorithm or window than the one that wrote it.
  std::string bucket;
  std::string policy;  // the name in headers: "pro-minute", "users-read"
  // The GCRA meter of token_bucket and leaky_bucket limits, which the buckets
  // run; for window algorithms the token bucket of the same limit, for code
  // that needs a rate (shares across hosts).
  struct sluice_rate rate {};
  // The algorithm (zero: token_bucket) and the window algorithms' limit and
  // window; its `rate` is left empty, `rate` above is the one.
  struct sluice_algo algo {};
  uint64_t quota = 0;     // tokens per window, for RateLimit-Policy q
  uint64_t window_s = 0;  // for RateLimit-Policy w
  bool shadow = false;
  bool global = false;  // charged with the cluster's consumption (checker.h)
};

struct CompiledEndpoint {
  EndpointPattern pattern;
  CompiledLimit limit;
  std::vector<std::string> tiers;
};

struct CompiledCheckPolicy {
  std::vector<std::pair<std::string, std::vector<CompiledLimit>>> tiers;
  std::string default_tier;
  std::vector<CompiledLimit> anonymous;
  std::vector<CompiledEndpoint> endpoints;
  bool require_credential = false;

  // The windows of a tier, or nullptr when there is no such tier.
  const std::vector<CompiledLimit>* tier(const std::string& name) const;
  bool has_tier(const std::string& name) const { return tier(name) != nullptr; }
};

// Validates and compiles; throws PolicyError naming the tier, window or rule.
CompiledCheckPolicy compile_check_policy(const CheckPolicy& policy);

}  // namespace sluice
