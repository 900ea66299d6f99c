// The check and usage API (check_http.h) served for nginx: on loopback TCP, on
// a unix socket, or both, with the API keys, the request buckets (saved every
// second for the next daemon) and the limits from the `check:` section.
#pragma once

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "check_http.h"
#include "check_settings.h"
#include "checker.h"
#include "http_server.h"

namespace sluice {

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
  // The TCP listener's port (0 without one).
  uint16_t port() const { return tcp_ ? tcp_->port() : 0; }

  // New settings (from a reload), all or nothing: the limits and identity
  // settings are compiled and a changed listener bound before anything
  // switches; on any error this throws and nothing has changed. Buckets are
  // kept (keyed by window and rule name, so a tier change keeps consumption).
  // The keys, pepper and state files keep their start values (logged).
  void configure(const CheckSettings& settings);
  const CheckSettings& settings() const { return settings_; }
  // Where /v1/usage reads the kernel layer from (set by the daemon).
  void set_kernel_usage(KernelUsageSource source) { kernel_ = std::move(source); }

  Checker& checker() { return *checker_; }
  const Checker& checker() const { return *checker_; }
  ApiKeyStore& keys() { return *keys_; }
  // Writes the keys file after a change (atomically).
  void save_keys() const { keys_->save(settings_.keys_file); }
  // Writes the request state file now (also done every second and at exit).
  void save_state();

 private:
  std::unique_ptr<HttpServer> listen_tcp(const std::string& listen);
  std::unique_ptr<HttpServer> listen_unix(const std::string& path);
  void respond(const HttpRequest& request, HttpResponse& response);

  boost::asio::io_context& io_;
  CheckSettings settings_;
  std::shared_ptr<ApiKeyStore> keys_;
  std::unique_ptr<Checker> checker_;
  KernelUsageSource kernel_;
  std::unique_ptr<HttpServer> tcp_, unix_;
  std::string boot_id_;
  // The snapshot is written by its own thread: copying and writing 100k
  // buckets takes ~0.1 s, which must not stall the event loop; the buckets'
  // shard locks are each held only while that shard is copied. The same
  // thread writes the shadow log's held-back lines.
  std::mutex save_mutex_;
  std::condition_variable save_wake_;
  bool stopping_ = false;
  std::thread saver_;
  void save_loop();
};

}  // namespace sluice
