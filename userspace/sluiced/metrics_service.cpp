#include "metrics_service.h"

#include "daemon.h"

#ifndef PROJECT_VERSION
#define PROJECT_VERSION "unknown"
#endif

namespace sluice {

MetricsService::MetricsService(boost::asio::io_context& io, const std::string& listen,
                               const Daemon& daemon)
    : daemon_(daemon),
      server_(std::make_unique<HttpServer>(io, parse_listen_address(listen),
                                           [this](const HttpRequest& r) { return handle(r); })) {}

HttpResponse MetricsService::handle(const HttpRequest& request) {
  if (request.path() != "/metrics") return HttpResponse{.status = 404, .body = "try /metrics\n"};
  return HttpResponse{.content_type = "text/plain; version=0.0.4; charset=utf-8", .body = render()};
}

uint64_t MetricsService::occupancy(const std::string& ifname, const Dataplane& dataplane) {
  auto now = std::chrono::steady_clock::now();
  auto& cached = occupancy_[ifname];
  if (cached.taken == std::chrono::steady_clock::time_point{} ||
      now - cached.taken > kOccupancyMaxAge) {
    cached.count = dataplane.bucket_count();
    cached.taken = now;
  }
  return cached.count;
}

std::string MetricsService::render() {
  MetricsSnapshot s;
  s.version = PROJECT_VERSION;
  s.uptime_seconds = std::chrono::duration<double>(daemon_.uptime()).count();
  for (const auto& [name, index] : daemon_.tier_slots().current()) s.tier_names[index] = name;
  Policy policy = daemon_.effective_policy();
  s.tiers = policy.tiers.size();
  s.prefixes = policy.prefixes.size();
  s.allow_entries = policy.allow.size();
  s.deny_entries = policy.deny.size();
  for (const auto& [name, attached] : daemon_.interfaces()) {
    const Dataplane& dp = attached.dataplane;
    InterfaceMetrics i;
    i.name = name;
    i.attach_mode = to_string(dp.attached_mode());
    i.policy_generation = dp.generation();
    i.malformed_dropped = dp.active_config().malformed_verdict == SLUICE_VERDICT_DROP;
    i.counters = dp.counters();
    i.buckets_in_use = occupancy(name, dp);
    i.bucket_capacity = dp.bucket_capacity();
    s.interfaces.push_back(std::move(i));
  }
  return render_metrics(s);
}

}  // namespace sluice
