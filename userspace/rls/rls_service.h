// Envoy's rate-limit service over gRPC:
// envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit, answered by
// RlsLimiter on the request buckets shared with the HTTP check. gRPC's own
// threads serve the calls (callback API), apart from the daemon's event loop.
//
// Errors travel as gRPC statuses: INVALID_ARGUMENT for an empty domain, no
// descriptors, too many, empty or oversized entries, an unsupported override
// unit; NOT_FOUND for an unknown domain; RESOURCE_EXHAUSTED (from gRPC) for a
// message over 1 MiB. Plaintext: listen on loopback or a trusted network.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "request_buckets.h"
#include "rls_limiter.h"
#include "rls_settings.h"

namespace sluice {

class RlsService {
 public:
  // Configures the limiter with settings.domains and listens on
  // settings.listen (port 0: any free port); throws std::runtime_error naming
  // the address, or RlsConfigError. `buckets` must outlive the service.
  RlsService(const RlsSettings& settings, RequestBuckets& buckets, RlsLimiter::Clock clock = {});
  // Stops listening; calls in flight get 200 ms to finish, then are cancelled.
  ~RlsService();
  RlsService(const RlsService&) = delete;
  RlsService& operator=(const RlsService&) = delete;

  uint16_t port() const;
  const std::string& listen() const;  // as configured at start
  // New domains (from a reload); the address keeps its start value. Throws
  // RlsConfigError and changes nothing.
  void configure(const RlsSettings& settings);
  RlsLimiter& limiter();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
