#include "metrics_service.h"

namespace sluice {

MetricsService::MetricsService(boost::asio::io_context& io, const std::string& listen,
                               SnapshotSource source)
    : source_(std::move(source)),
      server_(std::make_unique<HttpServer>(io, parse_listen_address(listen),
                                           [this](const HttpRequest& r) { return handle(r); })) {}

HttpResponse MetricsService::handle(const HttpRequest& request) const {
  if (request.path() != "/metrics") return HttpResponse{.status = 404, .body = "try /metrics\n"};
  return HttpResponse{.content_type = "text/plain; version=0.0.4; charset=utf-8", .body = render()};
}

uint64_t OccupancyCache::get(const std::string& ifname, const Dataplane& dataplane) {
  auto now = std::chrono::steady_clock::now();
  auto& cached = entries_[ifname];
  if (cached.taken == std::chrono::steady_clock::time_point{} || now - cached.taken > kMaxAge) {
    cached.count = dataplane.bucket_count();
    cached.taken = now;
  }
  return cached.count;
}

}  // namespace sluice
