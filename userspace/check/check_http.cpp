#include "check_http.h"

#include <nlohmann/json.hpp>

#include "http_fields.h"

namespace sluice {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One query parameter, percent-decoded; nullopt when absent or malformed.
std::optional<std::string> query_param(const std::string& target, const std::string& name) {
  auto question = target.find('?');
  if (question == std::string::npos) return std::nullopt;
  std::string_view query(target);
  query.remove_prefix(question + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name || eq == std::string_view::npos) continue;
    std::string value;
    std::string_view raw = pair.substr(eq + 1);
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%') {
        if (i + 2 >= raw.size()) return std::nullopt;
        int high = hex_digit(raw[i + 1]), low = hex_digit(raw[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        value += static_cast<char>(high * 16 + low);
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

CheckRequest check_request(const CheckSettings& settings, const HttpRequest& request) {
  CheckRequest out;
  out.method = request.header("x-original-method");
  out.uri = request.header("x-original-uri");
  for (const auto& [name, value] : request.headers) {
    if (name == settings.key_header) out.api_key = value;
    if (name == "authorization") out.authorization = value;
  }
  out.real_ip = request.header("x-real-ip");
  out.forwarded_for = request.header("x-forwarded-for");
  out.peer = request.remote_address;
  return out;
}

const std::string& client_label(const Identity& identity) {
  switch (identity.kind) {
    case Identity::Kind::kKey:
      return identity.key_id;
    case Identity::Kind::kJwt:
      return identity.client;
    case Identity::Kind::kAddress:
      return identity.address;
  }
  return identity.address;
}

// A problem+json answer, written into `response`.
void problem(HttpResponse& response, int status, int real_status, const std::string& title,
             const std::string& detail) {
  response.status = status;
  response.content_type = "application/problem+json";
  append_field(response.fields, "X-Sluice-Status", static_cast<uint64_t>(real_status));
  response.body = problem_json(real_status, title, detail);
}

HttpResponse problem(int status, int real_status, const std::string& title,
                     const std::string& detail) {
  HttpResponse response;
  problem(response, status, real_status, title, detail);
  return response;
}

// Every check nginx forwards comes here: the headers are appended straight
// into the response the HTTP session reuses, without temporaries.
void answer_check(Checker& checker, const CheckSettings& settings, const HttpRequest& request,
                  HttpResponse& response) {
  const Decision decision = checker.check(check_request(settings, request));
  switch (decision.verdict) {
    case Verdict::kBadRequest:
      // nginx turns a 400 from an auth subrequest into a 500: 403 carries it.
      return problem(response, 403, 400, "Bad Request", decision.reason);
    case Verdict::kUnauthorized:
      return problem(response, 401, 401, "Unauthorized", decision.reason);
    case Verdict::kAllowed:
    case Verdict::kRefused:
      break;
  }
  std::string& fields = response.fields;
  if (decision.reported) append_rate_limit_headers(fields, decision.limits[*decision.reported]);
  append_field(fields, "X-Sluice-Client", client_label(decision.identity));
  append_field(fields, "X-Sluice-Tier",
               decision.identity.tier.empty() ? "anonymous" : decision.identity.tier);
  if (decision.verdict == Verdict::kAllowed) {
    append_field(fields, "X-Sluice-Status", "200");
    response.status = 200;
    return;
  }
  const std::string& policy = decision.limits[*decision.reported].policy;
  response.status = 403;
  response.content_type = "application/problem+json";
  append_field(fields, "X-Sluice-Status", "429");
  append_field(fields, "X-Sluice-Policy", policy);
  append_field(fields, "Retry-After", decision.retry_after_s);
  response.body =
      problem_json(429, "Too Many Requests", decision.reason, policy, decision.retry_after_s);
}

HttpResponse answer_usage(Checker& checker, const CheckSettings& settings,
                          const HttpRequest& request, const KernelUsageSource& kernel) {
  CheckRequest who = check_request(settings, request);
  auto explicit_address = query_param(request.target, "address");
  if (auto key = query_param(request.target, "key")) {
    who = CheckRequest{};
    who.api_key = *key;
  } else if (explicit_address) {
    // An explicit address is looked up as it is: the caller is the operator's proxy.
    who = CheckRequest{};
    who.real_ip = *explicit_address;
  }
  auto result = checker.usage(who);
  if (auto* refusal = std::get_if<IdentityRefusal>(&result)) {
    int status = refusal->status;
    return problem(status, status, status == 400 ? "Bad Request" : "Unauthorized", refusal->reason);
  }
  const auto& usage = std::get<Usage>(result);
  nlohmann::json limits = nlohmann::json::array();
  for (const auto& limit : usage.limits)
    limits.push_back({{"policy", limit.policy},
                      {"layer", "request"},
                      {"limit", limit.quota},
                      {"window_s", limit.window_s},
                      {"remaining", limit.state.remaining},
                      {"reset_s", ceil_seconds(limit.state.reset_ns)},
                      {"shadow", limit.shadow}});
  nlohmann::json body = {{"client", client_label(usage.identity)},
                         {"tier", usage.identity.tier.empty() ? "anonymous" : usage.identity.tier}};
  // The kernel layer judges addresses: the one asked about, else the one the
  // proxy forwarded with the credential.
  std::string address = usage.identity.address;
  if (explicit_address) {
    auto parsed = client_address(*explicit_address);
    if (!parsed) return problem(400, 400, "Bad Request", "address= is not an IP address");
    address = *parsed;
  }
  if (!address.empty()) body["address"] = address;
  if (kernel && !address.empty()) {
    if (auto layer = kernel(address)) {
      body["kernel"] = {{"tier", layer->tier}, {"access", layer->access}};
      if (layer->key_bound) body["kernel"]["key_bound"] = true;
      if (layer->access == "penalty")
        body["kernel"]["penalty"] = {{"rule", layer->penalty_rule},
                                     {"expires_in_s", layer->penalty_expires_in_s}};
      for (const auto& limit : layer->limits)
        limits.push_back({{"policy", limit.policy},
                          {"layer", "kernel"},
                          {"interface", limit.interface},
                          {"unit", limit.unit},
                          {"limit", limit.quota},
                          {"window_s", limit.window_s},
                          {"burst", limit.burst},
                          {"remaining", limit.remaining},
                          {"reset_s", limit.reset_s},
                          {"shadow", limit.shadow}});
    }
  }
  body["limits"] = limits;
  return HttpResponse{
      .status = 200, .content_type = "application/json", .body = body.dump(2) + "\n"};
}

}  // namespace

void respond_check_http(Checker& checker, const CheckSettings& settings, const HttpRequest& request,
                        HttpResponse& response, const KernelUsageSource& kernel) {
  const std::string_view target = request.target;
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/v1/check") {
    if (request.method != "GET" && request.method != "POST" && request.method != "HEAD") {
      response.status = 405;
      response.body = "GET or POST\n";
      return;
    }
    return answer_check(checker, settings, request, response);
  }
  if (path == "/v1/usage") {
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.body = "GET\n";
      return;
    }
    response = answer_usage(checker, settings, request, kernel);
    return;
  }
  // Prometheus: the daemon's main /metrics endpoint carries the check counters.
  response.status = 404;
  response.body = "not found: /v1/check and /v1/usage live here\n";
}

HttpResponse handle_check_http(Checker& checker, const CheckSettings& settings,
                               const HttpRequest& request, const KernelUsageSource& kernel) {
  HttpResponse response;
  respond_check_http(checker, settings, request, response, kernel);
  // The fields one by one (sent the same: `headers` go before `fields`).
  for (auto& field : split_fields(response.fields)) response.headers.push_back(std::move(field));
  response.fields.clear();
  return response;
}

// nginx asks with GET (auth_request sends no body); POST with a small body
// is accepted for other proxies. nginx keeps a pool of keep-alive sessions
// per worker, so more sessions than the metrics listener allows.
HttpLimits check_http_limits() {
  return HttpLimits{.max_body_bytes = 4096,
                    .max_connections = 1024,
                    .methods = {"GET", "HEAD", "POST"},
                    // A request the server refuses before any handler sees it
                    // (a control character in a header, say) answers like any
                    // other refusal: a 403 carrying the real status.
                    .refusal = [](int status) {
                      return problem(403, status, http_reason(status),
                                     "the request is malformed or too large");
                    }};
}

}  // namespace sluice
