#include "rate_headers.h"

#include <nlohmann/json.hpp>

#include "http_fields.h"

namespace sluice {

uint64_t ceil_seconds(uint64_t ns) {
  return ns / SLUICE_NSEC_PER_SEC + (ns % SLUICE_NSEC_PER_SEC ? 1 : 0);
}

void append_rate_limit_headers(std::string& fields, const LimitReport& report) {
  // Policy names are checked to be letters, digits, '-', '_' and '.', so they
  // need no escaping inside a structured-field string.
  const uint64_t remaining = report.state.remaining;
  const uint64_t reset = ceil_seconds(report.state.reset_ns);
  fields.append("RateLimit-Policy: \"").append(report.policy).append("\";q=");
  append_number(fields, report.quota);
  fields.append(";w=");
  append_number(fields, report.window_s);
  fields.append("\r\nRateLimit: \"").append(report.policy).append("\";r=");
  append_number(fields, remaining);
  fields.append(";t=");
  append_number(fields, reset);
  fields.append("\r\n");
  append_field(fields, "X-RateLimit-Limit", report.quota);
  append_field(fields, "X-RateLimit-Remaining", remaining);
  append_field(fields, "X-RateLimit-Reset", reset);
}

HeaderList rate_limit_headers(const LimitReport& report) {
  // The same lines as the check API sends, split into name and value.
  std::string fields;
  append_rate_limit_headers(fields, report);
  return split_fields(fields);
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
