// The request layer's decision: who is asking (identity.h), which limits
// apply (the tier's windows or the anonymous ones, plus matching endpoint
// rules), and the verdict from the buckets, with what to report.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api_keys.h"
#include "check_policy.h"
#include "global_limits.h"
#include "identity.h"
#include "jwt_verifier.h"
#include "rate_headers.h"
#include "request_buckets.h"
#include "shadow_log.h"

namespace sluice {

struct CheckerConfig {
  CheckPolicy policy;
  JwtSettings jwt;  // algorithm "" : no JWTs
  std::vector<Cidr> trusted_proxies;
  bool operator==(const CheckerConfig&) const = default;
};

enum class Verdict { kAllowed, kRefused, kUnauthorized, kBadRequest };

struct Decision {
  Verdict verdict = Verdict::kAllowed;
  std::string reason;  // for refusals, 401 and 400
  Identity identity;
  std::vector<LimitReport> limits;
  std::optional<size_t> reported;  // the limit closest to running out (or refusing)
  uint64_t retry_after_s = 0;      // when refused: waiting this long admits the next request
  std::vector<std::string> shadow_refusals;  // shadow limits that would have refused
};

// Counters per limit and tier, for Prometheus.
struct RuleCounters {
  uint64_t allowed = 0;
  uint64_t refused = 0;
  uint64_t shadow = 0;  // a shadow limit would have refused
};
using CheckCounters =
    std::map<std::pair<std::string, std::string>, RuleCounters>;  // (policy, tier)

struct Usage {
  Identity identity;
  std::vector<LimitReport> limits;
};

class Checker {
 public:
  using Clock = std::function<uint64_t()>;
  // Defaults: CLOCK_MONOTONIC ns (the kernel layer's time base) and unix seconds.
  explicit Checker(std::shared_ptr<ApiKeyStore> keys, size_t max_buckets = 1 << 20,
                   Clock monotonic_ns = {}, Clock unix_s = {});

  // Validates and switches; throws PolicyError or std::invalid_argument and
  // changes nothing. Buckets are kept.
  void configure(const CheckerConfig& config);
  const CheckerConfig& config() const { return config_; }

  Decision check(const CheckRequest& request);
  // Every limit that applies to who `request` identifies (any endpoint),
  // without spending or creating state.
  std::variant<Usage, IdentityRefusal> usage(const CheckRequest& request) const;

  CheckCounters counters() const;
  // Answers by verdict since start (index: Verdict).
  std::array<uint64_t, 4> verdicts() const;
  ApiKeyStore& keys() { return *keys_; }
  bool has_tier(const std::string& name) const;
  const RequestBuckets& buckets() const { return buckets_; }
  RequestBuckets& buckets() { return buckets_; }
  uint64_t now_ns() const { return monotonic_ns_(); }
  // Shadow refusals are logged at most once per rule per interval (10 s).
  ShadowLog& shadow_log() { return shadow_log_; }
  const ShadowLog& shadow_log() const { return shadow_log_; }

  // Global limits: from now on every admission on a global limit is reported
  // to hooks.admitted and global limits are enforced as hooks.view() says.
  void set_global_hooks(GlobalHooks hooks);
  // Charges `count` requests admitted elsewhere in the cluster to the bucket
  // `key` (client '\x1f' bucket) when that bucket is a global limit here.
  // Returns false when no global limit of the current policy has that bucket.
  // The requests were admitted within the last `span_ns` (0: now).
  bool charge_global(const std::string& key, uint64_t count, uint64_t span_ns = 0);

  // Called with every answer of check() and the monotonic time it was given
  // at (key-bound addresses and escalation, docs/key-binding.md). Any thread.
  using Observer = std::function<void(const Decision&, uint64_t now_ns)>;
  void set_observer(Observer observer);

 private:
  struct State {
    CompiledCheckPolicy policy;
    std::optional<JwtVerifier> jwt;
    std::vector<Cidr> trusted_proxies;
  };
  std::shared_ptr<const State> state() const;
  std::vector<CompiledLimit> limits_for(const State& state, const Identity& identity,
                                        const std::string* method, const std::string* path) const;
  Decision decide(const CheckRequest& request);
  std::shared_ptr<const GlobalHooks> global_hooks() const;
  void localise(std::vector<CompiledLimit>& limits) const;
  void count(const Decision& decision);

  std::shared_ptr<ApiKeyStore> keys_;
  RequestBuckets buckets_;
  Clock monotonic_ns_, unix_s_;
  CheckerConfig config_;
  mutable std::mutex state_mutex_;
  std::shared_ptr<const State> state_;
  std::shared_ptr<const GlobalHooks> global_;
  std::shared_ptr<const Observer> observer_;
  mutable std::mutex counters_mutex_;
  CheckCounters counters_;
  std::array<std::atomic<uint64_t>, 4> verdicts_{};
  ShadowLog shadow_log_{10 * SLUICE_NSEC_PER_SEC};
};

// Picks the limit to report: the refusing one with the longest wait, else the
// one with the fewest requests left (shadow limits only when nothing else).
std::optional<size_t> limit_to_report(const std::vector<LimitReport>& limits, bool refused);

}  // namespace sluice
