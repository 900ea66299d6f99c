#include "check_service.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "net_address.h"
#include "request_state.h"

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

std::string client_label(const Identity& identity) {
  switch (identity.kind) {
    case Identity::Kind::kKey:
      return identity.key_id;
    case Identity::Kind::kJwt:
      return identity.client;
    case Identity::Kind::kAddress:
      return identity.address;
  }
  return "";
}

HttpResponse problem(int status, int real_status, const std::string& title,
                     const std::string& detail) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/problem+json";
  response.headers.emplace_back("X-Sluice-Status", std::to_string(real_status));
  response.body = problem_json(real_status, title, detail);
  return response;
}

HttpResponse answer_check(Checker& checker, const CheckSettings& settings,
                          const HttpRequest& request) {
  const Decision decision = checker.check(check_request(settings, request));
  switch (decision.verdict) {
    case Verdict::kBadRequest:
      // nginx turns a 400 from an auth subrequest into a 500: 403 carries it.
      return problem(403, 400, "Bad Request", decision.reason);
    case Verdict::kUnauthorized:
      return problem(401, 401, "Unauthorized", decision.reason);
    case Verdict::kAllowed:
    case Verdict::kRefused:
      break;
  }
  HttpResponse response;
  if (decision.reported) response.headers = rate_limit_headers(decision.limits[*decision.reported]);
  response.headers.emplace_back("X-Sluice-Client", client_label(decision.identity));
  response.headers.emplace_back(
      "X-Sluice-Tier", decision.identity.tier.empty() ? "anonymous" : decision.identity.tier);
  if (decision.verdict == Verdict::kAllowed) {
    response.headers.emplace_back("X-Sluice-Status", "200");
    response.status = 200;
    return response;
  }
  const std::string& policy = decision.limits[*decision.reported].policy;
  response.status = 403;
  response.content_type = "application/problem+json";
  response.headers.emplace_back("X-Sluice-Status", "429");
  response.headers.emplace_back("X-Sluice-Policy", policy);
  response.headers.emplace_back("Retry-After", std::to_string(decision.retry_after_s));
  response.body =
      problem_json(429, "Too Many Requests", decision.reason, policy, decision.retry_after_s);
  return response;
}

HttpResponse answer_usage(Checker& checker, const CheckSettings& settings,
                          const HttpRequest& request) {
  CheckRequest who = check_request(settings, request);
  if (auto key = query_param(request.target, "key")) {
    who = CheckRequest{};
    who.api_key = *key;
  } else if (auto address = query_param(request.target, "address")) {
    // An explicit address is looked up as it is: the caller is the operator's proxy.
    who = CheckRequest{};
    who.peer = "";
    who.real_ip = *address;
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
                         {"tier", usage.identity.tier.empty() ? "anonymous" : usage.identity.tier},
                         {"limits", limits}};
  return HttpResponse{
      .status = 200, .content_type = "application/json", .body = body.dump(2) + "\n"};
}

// Prometheus text for the request layer, served on the check listener so that
// this library needs nothing of the metrics one.
HttpResponse answer_metrics(const Checker& checker) {
  std::string out;
  out += "# HELP sluice_check_answers_total Check API answers by verdict.\n";
  out += "# TYPE sluice_check_answers_total counter\n";
  const char* names[] = {"allowed", "refused", "unauthorized", "bad_request"};
  const auto verdicts = checker.verdicts();
  for (size_t i = 0; i < verdicts.size(); ++i)
    out += std::string("sluice_check_answers_total{verdict=\"") + names[i] + "\"} " +
           std::to_string(verdicts[i]) + "\n";
  out +=
      "# HELP sluice_check_rule_requests_total Requests per limit and tier: allowed, "
      "refused by this limit, or refused by this shadow limit (not enforced).\n";
  out += "# TYPE sluice_check_rule_requests_total counter\n";
  for (const auto& [key, counter] : checker.counters()) {
    const std::string labels = "policy=\"" + key.first + "\",tier=\"" + key.second + "\"";
    out += "sluice_check_rule_requests_total{" + labels + ",result=\"allowed\"} " +
           std::to_string(counter.allowed) + "\n";
    out += "sluice_check_rule_requests_total{" + labels + ",result=\"refused\"} " +
           std::to_string(counter.refused) + "\n";
    out += "sluice_check_rule_requests_total{" + labels + ",result=\"shadow\"} " +
           std::to_string(counter.shadow) + "\n";
  }
  out += "# HELP sluice_check_buckets Request buckets in memory.\n";
  out += "# TYPE sluice_check_buckets gauge\n";
  out += "sluice_check_buckets " + std::to_string(checker.buckets().size()) + "\n";
  out +=
      "# HELP sluice_check_bucket_overflows_total Checks judged on an unstored bucket "
      "because the table was full.\n";
  out += "# TYPE sluice_check_bucket_overflows_total counter\n";
  out +=
      "sluice_check_bucket_overflows_total " + std::to_string(checker.buckets().overflows()) + "\n";
  return HttpResponse{.status = 200, .content_type = "text/plain; version=0.0.4", .body = out};
}

}  // namespace

HttpResponse handle_check_http(Checker& checker, const CheckSettings& settings,
                               const HttpRequest& request) {
  const std::string path = request.path();
  if (path == "/v1/check") {
    if (request.method != "GET" && request.method != "POST" && request.method != "HEAD")
      return HttpResponse{.status = 405, .body = "GET or POST\n"};
    return answer_check(checker, settings, request);
  }
  if (path == "/v1/usage") {
    if (request.method != "GET" && request.method != "HEAD")
      return HttpResponse{.status = 405, .body = "GET\n"};
    return answer_usage(checker, settings, request);
  }
  if (path == "/metrics") return answer_metrics(checker);
  return HttpResponse{.status = 404,
                      .body = "not found: /v1/check, /v1/usage and /metrics live here\n"};
}

// nginx asks with GET (auth_request sends no body); POST with a small body
// is accepted for other proxies. nginx keeps a pool of keep-alive sessions
// per worker, so more sessions than the metrics listener allows.
static HttpLimits check_http_limits() {
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

CheckService::CheckService(boost::asio::io_context& io, const CheckSettings& settings)
    : settings_(settings),
      keys_(std::make_shared<ApiKeyStore>(load_or_create_pepper(settings.pepper_file))),
      boot_id_(current_boot_id()) {
  keys_->load(settings_.keys_file);
  checker_ = std::make_unique<Checker>(keys_);
  checker_->configure(settings_.checker);
  size_t restored = load_request_state(settings_.state_file, checker_->buckets(), boot_id_);
  if (restored)
    spdlog::info("request state {}: {} buckets restored", settings_.state_file, restored);
  server_ = std::make_unique<HttpServer>(
      io, parse_listen_address(settings_.listen),
      [this](const HttpRequest& request) {
        return handle_check_http(*checker_, settings_, request);
      },
      check_http_limits());
  saver_ = std::thread([this] { save_loop(); });
  spdlog::info("check API on http://{}/v1/check ({} keys)", settings_.listen, keys_->list().size());
}

CheckService::~CheckService() {
  {
    std::lock_guard lock(save_mutex_);
    stopping_ = true;
  }
  save_wake_.notify_all();
  if (saver_.joinable()) saver_.join();
  server_.reset();  // no check runs any more: the last snapshot is final
  save_state();
}

void CheckService::save_state() {
  try {
    save_request_state(settings_.state_file, checker_->buckets(), checker_->now_ns(), boot_id_);
  } catch (const std::exception& e) {
    spdlog::error("saving the request state failed: {}", e.what());
  }
}

void CheckService::save_loop() {
  // Every second: a daemon killed outright loses at most a second of consumption.
  std::unique_lock lock(save_mutex_);
  while (!save_wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
    lock.unlock();
    save_state();
    lock.lock();
  }
}

void CheckService::configure(const CheckSettings& settings) {
  checker_->configure(settings.checker);
  settings_.checker = settings.checker;
}

}  // namespace sluice
