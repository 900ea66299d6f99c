// The answer's headers: the IETF pair of draft-ietf-httpapi-ratelimit-headers-11
// (RateLimit-Policy and RateLimit, structured fields), the widespread
// X-RateLimit-*, Retry-After on refusals, and problem+json bodies.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "request_buckets.h"

namespace sluice {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One limit as the answer reports it.
struct LimitReport {
  std::string policy;  // "pro-minute"
  uint64_t quota = 0;
  uint64_t window_s = 0;
  bool shadow = false;
  LimitState state;
};

// Whole seconds, rounded up: waiting that long is always enough.
uint64_t ceil_seconds(uint64_t ns);

// RateLimit-Policy, RateLimit and X-RateLimit-* for `report`; r and
// X-RateLimit-Remaining are the requests left, t and X-RateLimit-Reset the
// seconds until the bucket is full again.
HeaderList rate_limit_headers(const LimitReport& report);
// The same fields appended to a preformatted header block ("Name: value\r\n"
// each), as the check API answers, with no temporaries.
void append_rate_limit_headers(std::string& fields, const LimitReport& report);

// An application/problem+json body (RFC 9457).
std::string problem_json(int status, const std::string& title, const std::string& detail,
                         const std::string& policy = "", uint64_t retry_after_s = 0);

}  // namespace sluice
