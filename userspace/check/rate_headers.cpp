#include "rate_headers.h"

#include <nlohmann/json.hpp>

namespace sluice {

uint64_t ceil_seconds(uint64_t ns) {
  return ns / SLUICE_NSEC_PER_SEC + (ns % SLUICE_NSEC_PER_SEC ? 1 : 0);
}

HeaderList rate_limit_headers(const LimitReport& report) {
  // Policy names are checked to be letters, digits, '-', '_' and '.', so they
  // need no escaping inside a structured-field string.
  const std::string name = "\"" + report.policy + "\"";
  const std::string remaining = std::to_string(report.state.remaining);
  const std::string reset = std::to_string(ceil_seconds(report.state.reset_ns));
  return {
      {"RateLimit-Policy",
       name + ";q=" + std::to_string(report.quota) + ";w=" + std::to_string(report.window_s)},
      {"RateLimit", name + ";r=" + remaining + ";t=" + reset},
      {"X-RateLimit-Limit", std::to_string(report.quota)},
      {"X-RateLimit-Remaining", remaining},
      {"X-RateLimit-Reset", reset},
  };
}

std::string problem_json(int status, const std::string& title, const std::string& detail,
                         const std::string& policy, uint64_t retry_after_s) {
  nlohmann::json body = {
      {"type", "about:blank"}, {"title", title}, {"status", status}, {"detail", detail}};
  if (!policy.empty()) body["policy"] = policy;
  if (retry_after_s) body["retry_after"] = retry_after_s;
  return body.dump() + "\n";
}

}  // namespace sluice
