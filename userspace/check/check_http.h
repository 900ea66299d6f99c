// The check and usage API's answers, for nginx auth_request (no I/O, so that
// tests call them directly; CheckService puts them on the HTTP server):
//
//   GET|POST /v1/check  X-Original-Method, X-Original-URI, the key header or
//                       Authorization, X-Real-IP / X-Forwarded-For
//     200  allowed, with RateLimit-Policy, RateLimit, X-RateLimit-*
//     403  refused, X-Sluice-Status: 429, Retry-After, the same headers
//          (nginx accepts only 2xx, 401 and 403 from an auth subrequest)
//     401  a missing or bad credential where one is required
//     403  X-Sluice-Status: 400 for a malformed request (CR/LF, ../ tricks)
//   GET /v1/usage?key=…|?address=…  (or the same credential headers)
//     JSON: for each limit that applies, in both layers (the request layer's
//     and, for the client's address, the kernel's), limit, window, remaining
//     and reset.
// Prometheus counters are on the daemon's main /metrics endpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "check_settings.h"
#include "checker.h"
#include "http_server.h"

namespace sluice {

// One kernel-layer limit that applies to an address, read from a data plane.
struct KernelLimit {
  std::string interface;
  std::string policy;  // "<tier>-packets", "<tier>-bytes", "<tier>-syns"
  std::string unit;    // "packets", "bytes", "syns"
  uint64_t quota = 0;  // per window
  uint64_t window_s = 0;
  uint64_t burst = 0;
  uint64_t remaining = 0;  // of the burst, now
  uint64_t reset_s = 0;    // until the bucket is full again
  bool shadow = false;
};

struct KernelUsage {
  std::string tier;    // the kernel tier the address falls in
  std::string access;  // "allow" or "deny" when a list names it, "penalty" when penalised, else ""
  std::vector<KernelLimit> limits;
  std::string penalty_rule;  // the escalation rule that penalised it (access "penalty")
  uint64_t penalty_expires_in_s = 0;
  // The address is bound to a key (docs/key-binding.md): `tier` is the key's
  // kernel tier and the limits are the key's bucket, shared by its addresses.
  bool key_bound = false;
};

// The kernel layer for an address ("198.18.0.1", "2001:db8::/64"); nullopt
// when nothing enforces there. Provided by the daemon, which owns the data planes.
using KernelUsageSource = std::function<std::optional<KernelUsage>(const std::string& address)>;

// The answer to one HTTP request to the check listener, written into
// `response` (a default one, perhaps reused: see HttpResponder).
void respond_check_http(Checker& checker, const CheckSettings& settings, const HttpRequest& request,
                        HttpResponse& response, const KernelUsageSource& kernel = {});
// The same, as a new response with every field in `headers`.
HttpResponse handle_check_http(Checker& checker, const CheckSettings& settings,
                               const HttpRequest& request, const KernelUsageSource& kernel = {});

// The check listener's HTTP limits: GET, HEAD and small POSTs, more sessions
// than a metrics listener (nginx keeps keep-alive pools per worker), and the
// server's own refusals written as 403s carrying the real status.
HttpLimits check_http_limits();

}  // namespace sluice
