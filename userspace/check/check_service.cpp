#include "check_service.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "net_address.h"
#include "request_state.h"

namespace sluice {

std::unique_ptr<HttpServer> CheckService::listen_tcp(const std::string& listen) {
  if (listen.empty()) return nullptr;
  return std::make_unique<HttpServer>(
      io_, parse_listen_address(listen),
      [this](const HttpRequest& r, HttpResponse& out) { respond(r, out); }, check_http_limits());
}

std::unique_ptr<HttpServer> CheckService::listen_unix(const std::string& path) {
  if (path.empty()) return nullptr;
  auto server = std::make_unique<HttpServer>(
      io_, boost::asio::local::stream_protocol::endpoint(path),
      [this](const HttpRequest& r, HttpResponse& out) { respond(r, out); }, check_http_limits());
  // nginx's workers run as another user (www-data): they must be able to
  // connect. No wider than the loopback port, which every local user reaches.
  if (::chmod(path.c_str(), 0666) != 0)
    throw std::system_error(errno, std::generic_category(), "chmod " + path);
  return server;
}

void CheckService::respond(const HttpRequest& request, HttpResponse& response) {
  respond_check_http(*checker_, settings_, request, response, kernel_);
}

CheckService::CheckService(boost::asio::io_context& io, const CheckSettings& settings)
    : io_(io),
      settings_(settings),
      keys_(std::make_shared<ApiKeyStore>(load_or_create_pepper(settings.pepper_file))),
      boot_id_(current_boot_id()) {
  keys_->load(settings_.keys_file);
  checker_ = std::make_unique<Checker>(keys_);
  checker_->configure(settings_.checker);
  size_t restored = load_request_state(settings_.state_file, checker_->buckets(), boot_id_);
  if (restored)
    spdlog::info("request state {}: {} buckets restored", settings_.state_file, restored);
  tcp_ = listen_tcp(settings_.listen);
  unix_ = listen_unix(settings_.socket);
  saver_ = std::thread([this] { save_loop(); });
  if (tcp_) spdlog::info("check API on http://{}/v1/check", settings_.listen);
  if (unix_) spdlog::info("check API on unix socket {} (/v1/check)", settings_.socket);
  spdlog::info("check API: {} keys", keys_->list().size());
}
CheckService::~CheckService() {
  {
    std::lock_guard lock(save_mutex_);
    stopping_ = true;
  }
  save_wake_.notify_all();
  if (saver_.joinable()) saver_.join();
  tcp_.reset();  // no check runs any more: the last snapshot is final
  unix_.reset();
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
    checker_->shadow_log().flush(checker_->now_ns());
    lock.lock();
  }
}

void CheckService::configure(const CheckSettings& settings) {
  // 1. Everything that can fail, before anything switches.
  Checker trial(keys_, 1);
  trial.configure(settings.checker);  // compiles the policy, loads the JWT key
  std::unique_ptr<HttpServer> tcp, unix_socket;
  const bool new_tcp = settings.listen != settings_.listen;
  const bool new_unix = settings.socket != settings_.socket;
  if (new_tcp) {
    // The same port on another address binds beside the old one; the very
    // same endpoint cannot change, so only a real move lands here.
    tcp = listen_tcp(settings.listen);
  }
  if (new_unix && !settings.socket.empty()) unix_socket = listen_unix(settings.socket);
  // 2. Switch: nothing below throws.
  checker_->configure(settings.checker);
  if (new_tcp) {
    tcp_ = std::move(tcp);
    spdlog::info("check API now on {}",
                 settings.listen.empty() ? "no TCP address" : settings.listen);
  }
  if (new_unix) {
    unix_ = std::move(unix_socket);
    spdlog::info("check API now on {}",
                 settings.socket.empty() ? "no unix socket" : "unix socket " + settings.socket);
  }
  for (auto [name, now, next] :
       {std::tuple{"keys_file", settings_.keys_file, settings.keys_file},
        std::tuple{"pepper_file", settings_.pepper_file, settings.pepper_file},
        std::tuple{"state_file", settings_.state_file, settings.state_file}})
    if (now != next)
      spdlog::warn("check.{} changed to {}: takes effect at the next start", name, next);
  const CheckSettings kept = settings_;
  settings_ = settings;
  settings_.keys_file = kept.keys_file;
  settings_.pepper_file = kept.pepper_file;
  settings_.state_file = kept.state_file;
}

}  // namespace sluice
