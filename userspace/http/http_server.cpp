#include "http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <istream>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace sluice {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string HttpRequest::header(const std::string& name) const {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return "";
}

const char* http_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

struct HttpServer::Shared {
  Shared(asio::io_context& io, HttpHandler h, HttpLimits l)
      : io(io), acceptor(io), handler(std::move(h)), limits(l) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  HttpHandler handler;
  HttpLimits limits;
  std::atomic<size_t> connections{0};
};

namespace {

// One connection: read a request head, answer, repeat while kept alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<HttpServer::Shared> shared)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(shared->limits.max_header_bytes),
        shared_(std::move(shared)) {
    ++shared_->connections;
  }
  ~Session() { --shared_->connections; }

  void read() {
    auto self = shared_from_this();
    timer_.expires_after(shared_->limits.read_timeout);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) {
        boost::system::error_code ignored;
        self->socket_.close(ignored);  // slow or idle client: cut off
      }
    });
    asio::async_read_until(socket_, buffer_, "\r\n\r\n",
                           [self](const boost::system::error_code& ec, size_t bytes) {
                             self->timer_.cancel();
                             self->on_head(ec, bytes);
                           });
  }

 private:
  void on_head(const boost::system::error_code& ec, size_t bytes) {
    if (ec == asio::error::not_found) return respond_and_close(431);  // head over the limit
    if (ec) return;                                                   // closed, reset or timed out
    HttpRequest request;
    if (!parse(bytes, request)) return respond_and_close(400);
    boost::system::error_code peer_error;
    auto peer = socket_.remote_endpoint(peer_error);
    if (!peer_error) request.remote_address = peer.address().to_string();
    buffer_.consume(bytes);
    const std::string length = request.header("content-length");
    if ((!length.empty() && length != "0") || !request.header("transfer-encoding").empty())
      return respond_and_close(413);
    if (request.method != "GET" && request.method != "HEAD") return respond_and_close(405);

    HttpResponse response;
    try {
      response = shared_->handler(request);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {}: {}", request.method, request.target, e.what());
      response = HttpResponse{.status = 500, .body = "internal error\n"};
    }
    bool keep_alive = request.version == "HTTP/1.1" && request.header("connection") != "close";
    if (request.method == "HEAD") response.body.clear();
    write(response, keep_alive);
  }

  bool parse(size_t bytes, HttpRequest& request) {
    std::string head(asio::buffers_begin(buffer_.data()),
                     asio::buffers_begin(buffer_.data()) + bytes);
    size_t line_end = head.find("\r\n");
    std::string line = head.substr(0, line_end);
    auto first = line.find(' '), second = line.rfind(' ');
    if (first == std::string::npos || second == first) return false;
    request.method = line.substr(0, first);
    request.target = line.substr(first + 1, second - first - 1);
    request.version = line.substr(second + 1);
    if (request.version != "HTTP/1.1" && request.version != "HTTP/1.0") return false;
    if (request.target.empty() || request.target.front() != '/') return false;
    size_t at = line_end + 2;
    while (at < head.size()) {
      size_t end = head.find("\r\n", at);
      if (end == std::string::npos || end == at) break;
      std::string field = head.substr(at, end - at);
      auto colon = field.find(':');
      if (colon == std::string::npos || colon == 0) return false;
      std::string name = field.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      std::string value = field.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t") + 1);
      request.headers.emplace_back(std::move(name), std::move(value));
      at = end + 2;
    }
    return true;
  }

  void respond_and_close(int status) {
    write(HttpResponse{.status = status, .body = std::string(http_reason(status)) + "\n"}, false);
  }

  void write(const HttpResponse& response, bool keep_alive) {
    out_ =
        "HTTP/1.1 " + std::to_string(response.status) + " " + http_reason(response.status) + "\r\n";
    out_ += "Content-Type: " + response.content_type + "\r\n";
    out_ += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    for (const auto& [name, value] : response.headers) out_ += name + ": " + value + "\r\n";
    out_ += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    out_ += response.body;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_),
                      [self, keep_alive](const boost::system::error_code& ec, size_t) {
                        if (!ec && keep_alive) return self->read();
                        boost::system::error_code ignored;
                        self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
                        self->socket_.close(ignored);
                      });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  std::string out_;
  std::shared_ptr<HttpServer::Shared> shared_;
};

// Accepts connections until the acceptor is closed; over max_connections a
// new connection is closed at once rather than queued.
void accept_loop(std::shared_ptr<HttpServer::Shared> shared) {
  shared->acceptor.async_accept([shared](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !shared->acceptor.is_open()) return;
    if (!ec) {
      if (shared->connections >= shared->limits.max_connections) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), shared)->read();
      }
    }
    accept_loop(shared);
  });
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& endpoint, HttpHandler handler,
                       HttpLimits limits)
    : shared_(std::make_shared<Shared>(io, std::move(handler), limits)) {
  boost::system::error_code ec;
  auto& acceptor = shared_->acceptor;
  std::string where = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec.value(), std::generic_category(), "listen on " + where);
  accept_loop(shared_);
}

HttpServer::~HttpServer() {
  close();
}

uint16_t HttpServer::port() const {
  return shared_->acceptor.local_endpoint().port();
}

void HttpServer::close() {
  boost::system::error_code ignored;
  shared_->acceptor.close(ignored);
}

}  // namespace sluice
