// One HTTP connection of HttpServer, for TCP and unix sockets alike (internal
// to the http library). Reads a request under one deadline, answers it under
// another, and repeats while the client keeps the connection alive.
//
// The check API answers every request nginx serves, so the per-request path
// is kept lean: Beast's parser fills a request the session reuses, the handler
// writes into a response the session reuses, the answer is formatted into one
// reused buffer and sent with one write; the sockets and the timer are bound
// to the io_context's own executor (no type-erased executor per operation);
// one timer per connection, re-armed only when it fires before the deadline.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>

#include "http_request_parser.h"
#include "http_server.h"

namespace sluice {

// A session the server may cut off to make room for a new connection. Linked
// into HttpServer::Shared::waiting while it waits for a request head; leaves
// the list by itself when destroyed.
struct Evictable
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  virtual ~Evictable() = default;
  virtual void evict() = 0;
};

struct HttpServer::Shared {
  Shared(HttpResponder r, HttpLimits l) : responder(std::move(r)), limits(std::move(l)) {}
  HttpResponder responder;
  HttpLimits limits;
  std::atomic<size_t> sessions{0};
  // Sessions waiting for a request head (idle keep-alive, or a head still
  // trickling in), the longest waiting first. When every session is taken, a
  // new connection replaces the first of them: thousands of idle or slow
  // connections cannot lock out a client that has a request to send. Only
  // the server's thread touches it.
  boost::intrusive::list<Evictable, boost::intrusive::constant_time_size<false>> waiting;

  // Cuts off the session waiting longest; false when none waits.
  bool evict_oldest_waiting() {
    if (waiting.empty()) return false;
    Evictable& victim = waiting.front();
    waiting.pop_front();
    victim.evict();
    return true;
  }
};

namespace http_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Executor = asio::io_context::executor_type;
using Clock = std::chrono::steady_clock;

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
  using Socket = typename Protocol::socket::template rebind_executor<Executor>::other;

  Session(Socket socket, std::shared_ptr<HttpServer::Shared> shared)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(std::move(shared)) {
    ++shared_->sessions;
    // The peer's IP address, for callers that trust forwarded-for headers only
    // from known proxies; a unix socket peer has none (""). Once per connection.
    if constexpr (std::is_same_v<Protocol, asio::ip::tcp>) {
      boost::system::error_code peer_error;
      auto peer = socket_.remote_endpoint(peer_error);
      if (!peer_error) request_.remote_address = peer.address().to_string();
    }
    out_.reserve(1024);
  }
  ~Session() override { --shared_->sessions; }

  void evict() override {
    beast::error_code ignored;
    socket_.close(ignored);  // the pending read ends with operation_aborted
  }

  void read() {
    const HttpLimits& limits = shared_->limits;
    parser_.emplace(request_);
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(limits.max_header_bytes, ~0U)));
    parser_->body_limit(limits.max_body_bytes);
    // One deadline for the whole request, head and body: trickling bytes
    // (slowloris) does not extend it.
    set_deadline(limits.read_timeout);
    shared_->waiting.push_back(*this);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

 private:
  void on_header(beast::error_code ec) {
    unlink();  // off the waiting list
    if (ec == http::error::header_limit) return respond_and_close(431);
    if (ec == http::error::body_limit) return respond_and_close(413);  // by Content-Length
    if (is_malformed_request(ec)) return respond_and_close(400);
    if (ec) return;  // closed, reset or timed out
    if (request_.target.empty() || request_.target.front() != '/') return respond_and_close(400);
    if (parser_->version() != 10 && parser_->version() != 11) return respond_and_close(400);
    const auto& methods = shared_->limits.methods;
    if (std::find(methods.begin(), methods.end(), request_.method) == methods.end())
      return respond_and_close(405);
    if (parser_->is_done()) return on_request();
    if (parser_->expects_continue()) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (!ec) self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec == http::error::body_limit) return self->respond_and_close(413);
                       if (is_malformed_request(ec)) return self->respond_and_close(400);
                       if (!ec) self->on_request();
                     });
  }

  void on_request() {
    reset_response();
    try {
      shared_->responder(request_, response_);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {}: {}", request_.method, request_.target, e.what());
      reset_response();
      response_.status = 500;
      response_.body = "internal error\n";
    }
    write(parser_->keep_alive(), request_.method == "HEAD");
  }

  void respond_and_close(int status) {
    const auto& refusal = shared_->limits.refusal;
    if (refusal) {
      response_ = refusal(status);
    } else {
      reset_response();
      response_.status = status;
      response_.body = std::string(http_reason(status)) + "\n";
    }
    write(false, false);
  }

  // A default response that keeps its strings' capacity.
  void reset_response() {
    response_.status = 200;
    response_.content_type = "text/plain; charset=utf-8";
    response_.headers.clear();
    response_.body.clear();
    response_.fields.clear();
  }

  void write(bool keep_alive, bool head_only) {
    out_.clear();
    append_response_head(out_, response_, keep_alive);  // HEAD: the length GET would send
    std::array<asio::const_buffer, 2> buffers{
        asio::buffer(out_), head_only ? asio::const_buffer() : asio::buffer(response_.body)};
    set_deadline(shared_->limits.write_timeout);
    asio::async_write(socket_, buffers,
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (!ec && keep_alive) return self->read();
                        beast::error_code ignored;
                        self->socket_.shutdown(asio::socket_base::shutdown_send, ignored);
                        self->socket_.close(ignored);
                        self->timer_.cancel();
                      });
  }

  // The connection closes at `now + timeout` unless set again before. The
  // timer is re-armed only when the deadline moves earlier than it, or when
  // it fires and finds the deadline moved later: not twice per request.
  void set_deadline(std::chrono::milliseconds timeout) {
    deadline_ = Clock::now() + timeout;
    if (!timer_armed_ || deadline_ < timer_.expiry()) arm_timer();
  }

  void arm_timer() {
    timer_armed_ = true;
    timer_.expires_at(deadline_);  // a wait pending ends with operation_aborted
    timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
      if (ec == asio::error::operation_aborted) return;  // re-armed, or the session is gone
      if (auto self = weak.lock()) self->on_timer();
    });
  }

  void on_timer() {
    timer_armed_ = false;
    if (Clock::now() < deadline_) return arm_timer();
    beast::error_code ignored;
    socket_.close(ignored);  // the pending read or write ends with operation_aborted
  }

  Socket socket_;
  asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor> timer_;
  Clock::time_point deadline_{};
  bool timer_armed_ = false;
  beast::flat_buffer buffer_;
  HttpRequest request_;    // reused by each request of the connection
  HttpResponse response_;  // reused likewise
  std::string out_;        // the answer's head, reused likewise
  std::optional<RequestParser> parser_;
  std::shared_ptr<HttpServer::Shared> shared_;
};

}  // namespace http_detail
}  // namespace sluice
