// The decision of Envoy's rate-limit protocol, on plain structs (no gRPC, so
// it is testable alone): which configured limit each descriptor matches, the
// verdict from the request buckets shared with the HTTP check, and what to
// report (statuses and headers).
//
// Matching follows envoyproxy/ratelimit: a descriptor's entries walk the
// domain's tree one level per entry; at each level an exact key+value wins,
// then a value ending in '*' (prefix, first listed wins), then the key alone.
// The limit is the one of the node the last entry lands on; no node, or a
// node without rate_limit, means no limit (OK). Each distinct descriptor is
// its own bucket (key-only rules count every value apart).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "rate_headers.h"
#include "request_buckets.h"
#include "rls_config.h"

namespace sluice {

// Bounds on one request; beyond them it is refused as invalid.
inline constexpr size_t kRlsMaxDescriptors = 128;
inline constexpr size_t kRlsMaxEntries = 32;            // per descriptor
inline constexpr size_t kRlsMaxEntryBytes = 4096;       // per key and per value
inline constexpr size_t kRlsMaxMessageBytes = 1 << 20;  // the whole gRPC message

struct RlsEntry {
  std::string key;
  std::string value;
};

// A limit the proxy chose instead of the configured one (Envoy's `limit`);
// `unit` is Envoy's RateLimitUnit number.
struct RlsOverride {
  uint32_t requests_per_unit = 0;
  int unit = 0;
};

struct RlsDescriptorRequest {
  std::vector<RlsEntry> entries;
  std::optional<RlsOverride> limit;
  // Envoy's per-descriptor hits_addend: replaces the request's (0 means 1, as there).
  std::optional<uint64_t> hits_addend;
};

struct RlsRequest {
  std::string domain;
  std::vector<RlsDescriptorRequest> descriptors;
  uint32_t hits_addend = 0;  // 0 means 1
};

enum class RlsCode { kUnknown = 0, kOk = 1, kOverLimit = 2 };  // Envoy's numbers

struct RlsLimitInfo {
  std::string name;
  uint32_t requests_per_unit = 0;
  RlsUnit unit = RlsUnit::kSecond;
};

struct RlsStatus {
  RlsCode code = RlsCode::kOk;
  std::optional<RlsLimitInfo> current_limit;  // none: no limit applied
  uint32_t limit_remaining = 0;               // UINT32_MAX for unlimited
  uint64_t duration_until_reset_ns = 0;       // until the bucket is full again
};

struct RlsResponse {
  RlsCode overall_code = RlsCode::kOk;
  std::vector<RlsStatus> statuses;  // one per request descriptor
  HeaderList response_headers;      // RateLimit-Policy, RateLimit, X-RateLimit-*, Retry-After
};

// A request the service cannot answer: `not_found` for an unknown domain,
// otherwise invalid (empty domain, no descriptors, too many, empty keys...).
class RlsRequestError : public std::invalid_argument {
 public:
  RlsRequestError(bool not_found, const std::string& message)
      : std::invalid_argument(message), not_found_(not_found) {}
  bool not_found() const { return not_found_; }

 private:
  bool not_found_;
};

// Answers by outcome since start, for metrics.
struct RlsCounters {
  uint64_t ok = 0;
  uint64_t over_limit = 0;
  uint64_t shadow = 0;  // descriptors a shadow_mode limit would have refused
  uint64_t invalid = 0;
};

class RlsLimiter {
 public:
  using Clock = std::function<uint64_t()>;
  // `buckets` is the store shared with the HTTP check; it must outlive this.
  // Default clock: CLOCK_MONOTONIC ns, the check's time base.
  explicit RlsLimiter(RequestBuckets& buckets, Clock monotonic_ns = {});
  ~RlsLimiter();

  // Validates and switches to `domains`; throws RlsConfigError naming the file
  // and changes nothing. Buckets are kept (a changed rate carries them over).
  void configure(const std::vector<RlsDomain>& domains);

  // Thread-safe. Throws RlsRequestError.
  RlsResponse should_rate_limit(const RlsRequest& request);

  RlsCounters counters() const;

  struct Compiled;  // the domains' matching trees (rls_limiter.cpp)

 private:
  std::shared_ptr<const Compiled> compiled() const;

  RequestBuckets& buckets_;
  Clock monotonic_ns_;
  mutable std::mutex compiled_mutex_;
  std::shared_ptr<const Compiled> compiled_;
  std::array<std::atomic<uint64_t>, 4> counters_{};
};

// Compiles without switching: the validation that configure() runs, for the
// configuration loader. Throws RlsConfigError.
void validate_rls_domains(const std::vector<RlsDomain>& domains);

}  // namespace sluice
