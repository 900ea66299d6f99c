// Serves GET /metrics (Prometheus text) on the daemon's event loop, from the
// daemon's data planes and policy. The bucket map occupancy is a walk of the
// map, so it is refreshed at most every kOccupancyMaxAge, not per scrape.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "http_server.h"
#include "metrics.h"

namespace sluice {

class Daemon;

class MetricsService {
 public:
  static constexpr auto kOccupancyMaxAge = std::chrono::seconds(10);

  // Listens on `listen` ("127.0.0.1:9464"); throws std::system_error naming it.
  MetricsService(boost::asio::io_context& io, const std::string& listen, const Daemon& daemon);
  uint16_t port() const { return server_->port(); }

  // What a scrape returns now.
  std::string render();

 private:
  HttpResponse handle(const HttpRequest& request);
  uint64_t occupancy(const std::string& ifname, const Dataplane& dataplane);

  const Daemon& daemon_;
  struct Occupancy {
    uint64_t count = 0;
    std::chrono::steady_clock::time_point taken{};
  };
  std::map<std::string, Occupancy> occupancy_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace sluice
