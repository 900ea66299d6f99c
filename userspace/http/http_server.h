// A small HTTP/1.1 server on the daemon's Boost.Asio loop, for loopback
// clients: Prometheus scrapes now, nginx auth_request checks later. GET and
// HEAD only, no request bodies, bounded header size and read time, keep-alive.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net_address.h"

namespace sluice {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::string version;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string remote_address;  // the connection's peer address ("" when unknown)

  // The value of header `name` (lower case), or "" when absent.
  std::string header(const std::string& name) const;
  // The target without its query string.
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpLimits {
  size_t max_header_bytes = 8192;
  std::chrono::milliseconds read_timeout{5000};  // for each request, idle keep-alive included
  size_t max_connections = 256;
};

class HttpServer {
 public:
  // Binds and starts accepting; throws std::system_error naming the address.
  HttpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             HttpHandler handler, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (useful when asked for port 0).
  uint16_t port() const;
  void close();

  // State shared with the connections (an implementation detail).
  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

const char* http_reason(int status);

}  // namespace sluice
