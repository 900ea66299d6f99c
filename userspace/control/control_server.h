// The daemon's end of the control socket, on the daemon's one event loop
// (Boost.Asio). Every connection carries one request and one response. The
// server never blocks the loop and never lets one client hurt the daemon:
// requests are size-limited, slow clients are cut off by deadlines, at most
// kMaxConnections are served at once, peers other than root (or the daemon's
// own user) are refused even if the socket's mode was loosened.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>

#include "control_protocol.h"

namespace sluice {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class ControlServer {
 public:
  static constexpr int kMaxConnections = 32;

  // Sends the encoded response (encode_ok / encode_error) and closes.
  using Reply = std::function<void(std::string)>;
  // Called on the event loop for each well-formed request; may reply later
  // (e.g. after a timer), but must reply exactly once. Exceptions become
  // error responses: ControlError keeps its code, anything else is "internal".
  using Handler = std::function<void(const Request&, const PeerCredentials&, Reply)>;

  // Creates the socket at `path` (mode 0600, parent created 0755). Refuses to
  // steal the socket of a daemon that still answers there; a stale one is replaced.
  ControlServer(boost::asio::io_context& io, std::string path, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Stops accepting and removes the socket file; open sessions finish.
  void close();
  const std::string& path() const { return path_; }

 private:
  class Session;
  void accept_next();

  boost::asio::io_context& io_;
  std::string path_;
  Handler handler_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<int> active_sessions_ = std::make_shared<int>(0);
  bool closed_ = false;
};

}  // namespace sluice
