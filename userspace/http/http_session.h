// One HTTP connection of HttpServer, for TCP and unix sockets alike (internal
// to the http library). Reads a request under one deadline, answers it under
// another, and repeats while the client keeps the connection alive.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>

#include "http_server.h"

namespace sluice {

// A session the server may cut off to make room for a new connection.
struct Evictable {
  virtual ~Evictable() = default;
  virtual void evict() = 0;
};

struct HttpServer::Shared {
  Shared(HttpHandler h, HttpLimits l) : handler(std::move(h)), limits(std::move(l)) {}
  HttpHandler handler;
  HttpLimits limits;
  std::atomic<size_t> sessions{0};
  // Sessions waiting for a request head (idle keep-alive, or a head still
  // trickling in), the longest waiting first. When every session is taken, a
  // new connection replaces the first of them: thousands of idle or slow
  // connections cannot lock out a client that has a request to send.
  std::mutex waiting_mutex;
  std::list<std::weak_ptr<Evictable>> waiting;

  // Cuts off the session waiting longest; false when none waits.
  bool evict_oldest_waiting() {
    std::shared_ptr<Evictable> victim;
    {
      std::lock_guard lock(waiting_mutex);
      while (!victim && !waiting.empty()) {
        victim = waiting.front().lock();
        waiting.pop_front();
      }
    }
    if (victim) victim->evict();
    return victim != nullptr;
  }
};

namespace http_detail {

namespace beast = boost::beast;
namespace http = beast::http;

// Parse errors are the client's fault (400); end of stream, timeouts and
// resets end the session without an answer.
inline bool is_malformed_request(const beast::error_code& ec) {
  static const auto& category = http::make_error_code(http::error::bad_method).category();
  return ec.category() == category && ec != http::error::end_of_stream &&
         ec != http::error::partial_message && ec != http::error::need_more;
}

// Sessions run on the server's one event-loop thread (evict() is called from
// its accept handler and closes the socket directly).
template <class Protocol>
class Session : public Evictable, public std::enable_shared_from_this<Session<Protocol>> {
 public:
  Session(typename Protocol::socket socket, std::shared_ptr<HttpServer::Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    ++shared_->sessions;
  }
  ~Session() override {
    stop_waiting();
    --shared_->sessions;
  }

  void evict() override {
    waiting_.reset();  // already off the list
    beast::error_code ignored;
    stream_.socket().close(ignored);  // the pending read ends with operation_aborted
  }

  void read() {
    const HttpLimits& limits = shared_->limits;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(limits.max_header_bytes, ~0U)));
    parser_->body_limit(limits.max_body_bytes);
    // One deadline for the whole request, head and body: trickling bytes
    // (slowloris) does not extend it.
    stream_.expires_after(limits.read_timeout);
    {
      std::lock_guard lock(shared_->waiting_mutex);
      waiting_ = shared_->waiting.insert(shared_->waiting.end(), this->weak_from_this());
    }
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

 private:
  void stop_waiting() {
    if (!waiting_) return;
    std::lock_guard lock(shared_->waiting_mutex);
    shared_->waiting.erase(*waiting_);
    waiting_.reset();
  }

  void on_header(beast::error_code ec) {
    stop_waiting();
    if (ec == http::error::header_limit) return respond_and_close(431);
    if (ec == http::error::body_limit) return respond_and_close(413);  // by Content-Length
    if (is_malformed_request(ec)) return respond_and_close(400);
    if (ec) return;  // closed, reset or timed out
    const auto& head = parser_->get();
    if (head.target().empty() || head.target().front() != '/') return respond_and_close(400);
    if (head.version() != 10 && head.version() != 11) return respond_and_close(400);
    const auto& methods = shared_->limits.methods;
    if (std::find(methods.begin(), methods.end(), std::string(head.method_string())) ==
        methods.end())
      return respond_and_close(405);
    if (parser_->is_done()) return on_request();
    // curl and others wait (a second, for curl) for this before they send a body.
    if (beast::iequals(head[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, head.version());
      return http::async_write(stream_, *continue_,
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (!ec) self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec == http::error::body_limit) return self->respond_and_close(413);
                       if (is_malformed_request(ec)) return self->respond_and_close(400);
                       if (!ec) self->on_request();
                     });
  }

  void on_request() {
    auto message = parser_->release();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.version = message.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    for (const auto& field : message) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(message.body());
    // The peer's IP address, for callers that trust forwarded-for headers only
    // from known proxies; a unix socket peer has none ("").
    if constexpr (std::is_same_v<Protocol, boost::asio::ip::tcp>) {
      boost::system::error_code peer_error;
      auto peer = stream_.socket().remote_endpoint(peer_error);
      if (!peer_error) request.remote_address = peer.address().to_string();
    }

    HttpResponse response;
    try {
      response = shared_->handler(request);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {}: {}", request.method, request.target, e.what());
      response = HttpResponse{.status = 500, .body = "internal error\n"};
    }
    write(std::move(response), message.keep_alive(), request.method == "HEAD");
  }

  void respond_and_close(int status) {
    const auto& refusal = shared_->limits.refusal;
    write(refusal ? refusal(status)
                  : HttpResponse{.status = status, .body = std::string(http_reason(status)) + "\n"},
          false, false);
  }

  void write(HttpResponse response, bool keep_alive, bool head_only) {
    response_.emplace();
    auto& out = *response_;
    out.version(11);
    out.result(static_cast<unsigned>(response.status));
    out.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) out.insert(name, value);
    out.set(http::field::connection, keep_alive ? "keep-alive" : "close");
    // HEAD: the length of what GET would send, and no body.
    out.content_length(response.body.size());
    if (!head_only) out.body() = std::move(response.body);
    stream_.expires_after(shared_->limits.write_timeout);
    http::async_write(stream_, out,
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (!ec && keep_alive) return self->read();
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
                        self->stream_.close();
                      });
  }

  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::optional<http::response<http::empty_body>> continue_;
  std::shared_ptr<HttpServer::Shared> shared_;
  std::optional<std::list<std::weak_ptr<Evictable>>::iterator> waiting_;
};

}  // namespace http_detail
}  // namespace sluice
