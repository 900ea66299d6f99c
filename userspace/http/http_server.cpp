#include "http_server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <system_error>
#include <type_traits>

#include "http_fields.h"
#include "http_session.h"

namespace sluice {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace local = asio::local;

const std::string& HttpRequest::header(std::string_view name) const {
  static const std::string absent;
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return absent;
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

void append_response_head(std::string& out, const HttpResponse& response, bool keep_alive) {
  // What Beast's serializer wrote for the same response, byte for byte.
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<unsigned>(response.status));
  out.push_back(' ');
  const auto reason = boost::beast::http::obsolete_reason(
      static_cast<boost::beast::http::status>(static_cast<unsigned>(response.status)));
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  append_field(out, "Content-Type", response.content_type);
  for (const auto& [name, value] : response.headers) append_field(out, name, value);
  out.append(response.fields);
  out.append(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  append_field(out, "Content-Length", response.body.size());
  out.append("\r\n");
}

// The accepting side, one per server, over TCP or a unix socket.
struct HttpServer::Listener {
  virtual ~Listener() = default;
  virtual uint16_t port() const = 0;
  virtual void close() = 0;
};

namespace {

template <class Protocol>
class ListenerOf final : public HttpServer::Listener,
                         public std::enable_shared_from_this<ListenerOf<Protocol>> {
 public:
  ListenerOf(asio::io_context& io, std::shared_ptr<HttpServer::Shared> shared)
      : io_(io), acceptor_(io), backoff_(io), shared_(std::move(shared)) {}

  void listen(const typename Protocol::endpoint& endpoint, const std::string& where) {
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec && std::is_same_v<Protocol, tcp>)
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::system_error(ec.value(), std::generic_category(), "listen on " + where);
    where_ = where;
    if constexpr (std::is_same_v<Protocol, tcp>)
      where_ = where.substr(0, where.rfind(':') + 1) + std::to_string(port());
  }

  void accept() {
    // The session's socket on the io_context's own executor, not a type-erased one.
    acceptor_.async_accept(
        io_.get_executor(),
        [self = this->shared_from_this()](const boost::system::error_code& ec, Socket socket) {
          self->on_accept(ec, std::move(socket));
        });
  }

  uint16_t port() const override {
    if constexpr (std::is_same_v<Protocol, tcp>) {
      boost::system::error_code ec;
      auto endpoint = acceptor_.local_endpoint(ec);
      return ec ? 0 : endpoint.port();
    }
    return 0;
  }

  void close() override {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    backoff_.cancel();
  }

 private:
  using Socket = typename http_detail::Session<Protocol>::Socket;

  void on_accept(const boost::system::error_code& ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // The listener stays readable while the error lasts (the connection is
      // still queued): accepting again at once would spin the loop.
      if (!failing_)
        spdlog::warn("http: accept on {}: {}; retrying every {} ms", where_, ec.message(),
                     shared_->limits.accept_backoff.count());
      failing_ = true;
      backoff_.expires_after(shared_->limits.accept_backoff);
      backoff_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->accept();
      });
      return;
    }
    if (failing_) spdlog::info("http: accepting on {} again", where_);
    failing_ = false;
    // At the limit, a connection waiting for a request makes room; when
    // every session is busy answering, the new connection is closed.
    if (shared_->sessions >= shared_->limits.max_connections && !shared_->evict_oldest_waiting()) {
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<http_detail::Session<Protocol>>(std::move(socket), shared_)->read();
    }
    accept();
  }

  asio::io_context& io_;
  typename Protocol::acceptor acceptor_;
  asio::steady_timer backoff_;
  std::shared_ptr<HttpServer::Shared> shared_;
  std::string where_;
  bool failing_ = false;
};

// Unix sockets leave a file behind; this one also removes it when closed.
class UnixListener final : public HttpServer::Listener {
 public:
  UnixListener(std::shared_ptr<ListenerOf<local::stream_protocol>> inner, std::string path)
      : inner_(std::move(inner)), path_(std::move(path)) {}
  ~UnixListener() override { close(); }
  uint16_t port() const override { return 0; }
  void close() override {
    if (path_.empty()) return;
    inner_->close();
    ::unlink(path_.c_str());
    path_.clear();
  }

 private:
  std::shared_ptr<ListenerOf<local::stream_protocol>> inner_;
  std::string path_;
};

}  // namespace

namespace {
HttpResponder responder_of(HttpHandler handler) {
  return [handler = std::move(handler)](const HttpRequest& request, HttpResponse& response) {
    response = handler(request);
  };
}
}  // namespace

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& endpoint, HttpHandler handler,
                       HttpLimits limits)
    : HttpServer(io, endpoint, responder_of(std::move(handler)), std::move(limits)) {}

HttpServer::HttpServer(asio::io_context& io, const local::stream_protocol::endpoint& endpoint,
                       HttpHandler handler, HttpLimits limits)
    : HttpServer(io, endpoint, responder_of(std::move(handler)), std::move(limits)) {}

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& endpoint, HttpResponder responder,
                       HttpLimits limits)
    : shared_(std::make_shared<Shared>(std::move(responder), std::move(limits))) {
  auto listener = std::make_shared<ListenerOf<tcp>>(io, shared_);
  listener->listen(endpoint,
                   endpoint.address().to_string() + ":" + std::to_string(endpoint.port()));
  listener->accept();
  listener_ = listener;
}

HttpServer::HttpServer(asio::io_context& io, const local::stream_protocol::endpoint& endpoint,
                       HttpResponder responder, HttpLimits limits)
    : shared_(std::make_shared<Shared>(std::move(responder), std::move(limits))) {
  const std::string path = endpoint.path();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw std::system_error(EEXIST, std::generic_category(),
                              "listen on " + path + ": not a socket");
    ::unlink(path.c_str());  // left by an earlier run
  }
  auto listener = std::make_shared<ListenerOf<local::stream_protocol>>(io, shared_);
  listener->listen(endpoint, path);
  listener->accept();
  listener_ = std::make_shared<UnixListener>(listener, path);
}

HttpServer::~HttpServer() {
  close();
}

uint16_t HttpServer::port() const {
  return listener_->port();
}

size_t HttpServer::sessions() const {
  return shared_->sessions;
}

void HttpServer::close() {
  listener_->close();
}

}  // namespace sluice
