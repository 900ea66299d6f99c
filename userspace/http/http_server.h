// The daemon's HTTP/1.1 server (Boost.Beast's parser on its Boost.Asio loop), for
// local clients: Prometheus scrapes now, the check API for nginx and Envoy
// next. Listens on TCP or on a unix socket path. Keep-alive; every request has
// a read deadline (idle keep-alive included) and every response a write
// deadline, so neither a slow sender nor a client that never reads holds a
// session; header size, body size and the number of sessions are bounded.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net_address.h"

namespace sluice {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::string version;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;                                          // at most HttpLimits::max_body_bytes
  std::string remote_address;  // the connection's peer address ("" when unknown)

  // The value of header `name` (lower case), or "" when absent.
  const std::string& header(std::string_view name) const;
  // The target without its query string.
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // More header lines, preformatted ("Name: value\r\n" each, http_fields.h),
  // written after `headers`: a handler that answers often appends here and,
  // with a response the server reuses, allocates nothing.
  std::string fields;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// A handler that writes into the response the session reuses for every
// request of a connection (it arrives as a default HttpResponse whose
// strings keep their capacity).
using HttpResponder = std::function<void(const HttpRequest&, HttpResponse&)>;

struct HttpLimits {
  size_t max_header_bytes = 8192;  // request line and fields; over it: 431
  size_t max_body_bytes = 0;       // over it: 413 (0: no request bodies)
  // For each request, from the moment the server waits for it (so idle
  // keep-alive included) to its last body byte: a slow sender is cut off.
  std::chrono::milliseconds read_timeout{5000};
  // For each response: a client that does not read what it asked for is cut off.
  std::chrono::milliseconds write_timeout{5000};
  // Over it, a new connection replaces the session that has waited longest
  // for a request head (idle or trickling); with none waiting it is closed.
  size_t max_connections = 256;
  std::vector<std::string> methods = {"GET", "HEAD"};  // served; others get 405
  // After a failed accept (EMFILE, ENFILE, ENOBUFS...): wait this long before
  // accepting again, rather than spin on a listener that stays readable.
  std::chrono::milliseconds accept_backoff{100};
  // Writes the server's own refusals (400, 405, 413, 431), which reach no
  // handler; unset: the status and its reason. A listener that nginx asks with
  // auth_request sets it, since nginx turns any such status into a 500.
  std::function<HttpResponse(int status)> refusal;
};

// Runs on one thread: the io_context's (sessions and the list of waiting
// sessions are not locked). Give that io_context concurrency hint 1.
class HttpServer {
 public:
  // Binds and starts accepting; throws std::system_error naming the address.
  HttpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             HttpHandler handler, HttpLimits limits = {});
  HttpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             HttpResponder responder, HttpLimits limits = {});
  // Listens on a unix socket path. A socket file left at `path` by an earlier
  // run is replaced; any other file there is an error. Removed on close().
  HttpServer(boost::asio::io_context& io,
             const boost::asio::local::stream_protocol::endpoint& endpoint, HttpHandler handler,
             HttpLimits limits = {});
  HttpServer(boost::asio::io_context& io,
             const boost::asio::local::stream_protocol::endpoint& endpoint, HttpResponder responder,
             HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound TCP port (useful when asked for port 0); 0 on a unix socket.
  uint16_t port() const;
  // Sessions open now (any thread may ask).
  size_t sessions() const;
  // Stops accepting; sessions in progress finish on their own deadlines.
  void close();

  // Implementation details, shared with the sessions.
  struct Shared;
  struct Listener;

 private:
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Listener> listener_;
};

const char* http_reason(int status);

// Appends the status line and header of `response` to `out` as the server
// sends them: Content-Type, `headers`, `fields`, Connection, Content-Length
// (of `body`, also for HEAD), then the blank line; not the body.
void append_response_head(std::string& out, const HttpResponse& response, bool keep_alive);

}  // namespace sluice
