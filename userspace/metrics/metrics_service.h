// Serves GET /metrics (Prometheus text) on the daemon's event loop. What is
// rendered comes from a snapshot source the composition root provides, so this
// library knows nothing of the daemon.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "http_server.h"
#include "metrics.h"

namespace sluice {

class MetricsService {
 public:
  using SnapshotSource = std::function<MetricsSnapshot()>;

  // Listens on `listen` ("127.0.0.1:9464"); throws std::system_error naming it.
  MetricsService(boost::asio::io_context& io, const std::string& listen, SnapshotSource source);
  uint16_t port() const { return server_->port(); }

  // What a scrape returns now.
  std::string render() const { return render_metrics(source_()); }

 private:
  HttpResponse handle(const HttpRequest& request) const;

  SnapshotSource source_;
  std::unique_ptr<HttpServer> server_;
};

// The bucket map occupancy is a walk of the map, so it is refreshed at most
// every kMaxAge per interface, not per scrape.
class OccupancyCache {
 public:
  static constexpr auto kMaxAge = std::chrono::seconds(10);
  uint64_t get(const std::string& ifname, const Dataplane& dataplane);

 private:
  struct Entry {
    uint64_t count = 0;
    std::chrono::steady_clock::time_point taken{};
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace sluice
