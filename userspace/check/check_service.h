// The check and usage API on the daemon's HTTP server, for nginx auth_request:
//
//   GET|POST /v1/check  X-Original-Method, X-Original-URI, the key header or
//                       Authorization, X-Real-IP / X-Forwarded-For
//     200  allowed, with RateLimit-Policy, RateLimit, X-RateLimit-*
//     403  refused, X-Sluice-Status: 429, Retry-After, the same headers
//          (nginx accepts only 2xx, 401 and 403 from an auth subrequest)
//     401  a missing or bad credential where one is required
//     403  X-Sluice-Status: 400 for a malformed request (CR/LF, ../ tricks)
//   GET /v1/usage?key=…|?address=…  (or the same credential headers)
//     JSON: for each limit that applies, limit, window, remaining and reset.
//   GET /metrics  Prometheus: answers by verdict, requests per limit and tier
//                 (allowed, refused, shadow), buckets in memory.
#pragma once

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "check_settings.h"
#include "checker.h"
#include "http_server.h"

namespace sluice {

// The answer to one HTTP request to the check listener (no I/O: testable).
HttpResponse handle_check_http(Checker& checker, const CheckSettings& settings,
                               const HttpRequest& request);

class CheckService {
 public:
  // Loads the pepper and the keys file, configures the checker and listens;
  // throws (std::system_error naming the file or address, PolicyError).
  // Restores the request buckets saved by an earlier daemon of this boot.
  CheckService(boost::asio::io_context& io, const CheckSettings& settings);
  // Saves the request buckets for the next daemon.
  ~CheckService();
  CheckService(const CheckService&) = delete;
  CheckService& operator=(const CheckService&) = delete;
  uint16_t port() const { return server_->port(); }

  // New limits and identity settings (from a reload); the listener, key
  // header and files keep their start values. Throws and changes nothing.
  void configure(const CheckSettings& settings);
  Checker& checker() { return *checker_; }
  ApiKeyStore& keys() { return *keys_; }
  // Writes the keys file after a change (atomically).
  void save_keys() const { keys_->save(settings_.keys_file); }
  // Writes the request state file now (also done every second and at exit).
  void save_state();

 private:
  CheckSettings settings_;
  std::shared_ptr<ApiKeyStore> keys_;
  std::unique_ptr<Checker> checker_;
  std::unique_ptr<HttpServer> server_;
  std::string boot_id_;
  // The snapshot is written by its own thread: copying and writing 100k
  // buckets takes ~0.1 s, which must not stall the event loop; the buckets'
  // shard locks are each held only while that shard is copied.
  std::mutex save_mutex_;
  std::condition_variable save_wake_;
  bool stopping_ = false;
  std::thread saver_;
  void save_loop();
};

}  // namespace sluice
