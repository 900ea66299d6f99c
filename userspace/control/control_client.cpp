#include "control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fd.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until `fd` is ready for `events` or the deadline passes.
void wait_for(int fd, short events, Clock::time_point deadline, const std::string& path) {
  for (;;) {
    struct pollfd pfd {
      fd, events, 0
    };
    int rc = ::poll(&pfd, 1, remaining_ms(deadline));
    if (rc > 0) return;
    if (rc == 0)
      throw ClientError(ClientError::Kind::kTimeout,
                        "sluiced at " + path + " did not answer in time");
    if (errno != EINTR)
      throw ClientError(ClientError::Kind::kUnreachable,
                        "poll: " + std::string(std::strerror(errno)));
  }
}

Fd connect_to(const std::string& path) {
  struct sockaddr_un addr {};
  if (path.size() >= sizeof(addr.sun_path))
    throw ClientError(ClientError::Kind::kUnreachable, "socket path too long: " + path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    throw ClientError(ClientError::Kind::kUnreachable,
                      "socket: " + std::string(std::strerror(errno)));
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    if (err == EACCES || err == EPERM)
      throw ClientError(ClientError::Kind::kPermission,
                        "permission denied on " + path +
                            ": the control socket is root-only; run sluicectl as root");
    if (err == ENOENT || err == ECONNREFUSED)
      throw ClientError(
          ClientError::Kind::kUnreachable,
          "sluiced is not running (nothing listens on " + path + "); start it, or pass --socket");
    throw ClientError(ClientError::Kind::kUnreachable,
                      "cannot connect to " + path + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace

Response call_daemon(const std::string& socket_path, const std::string& command,
                     const nlohmann::json& args, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Fd fd = connect_to(socket_path);
  const std::string request = encode_request(command, args);
  size_t sent = 0;
  while (sent < request.size()) {
    wait_for(fd.get(), POLLOUT, deadline, socket_path);
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    // The daemon may answer and hang up before reading everything (busy,
    // refused, too large): read its answer rather than report a broken pipe.
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) break;
    if (n < 0)
      throw ClientError(ClientError::Kind::kUnreachable,
                        "send to sluiced: " + std::string(std::strerror(errno)));
    sent += static_cast<size_t>(n);
  }

  std::string reply;
  char buffer[65536];
  while (reply.find('\n') == std::string::npos) {
    wait_for(fd.get(), POLLIN, deadline, socket_path);
    ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw ClientError(ClientError::Kind::kUnreachable,
                        "read from sluiced: " + std::string(std::strerror(errno)));
    if (n == 0) break;
    reply.append(buffer, static_cast<size_t>(n));
    if (reply.size() > kMaxResponseBytes)
      throw ClientError(ClientError::Kind::kProtocol, "response from sluiced is too large");
  }
  if (reply.empty())
    throw ClientError(ClientError::Kind::kProtocol,
                      "sluiced closed the connection without answering");
  try {
    return parse_response(reply.substr(0, reply.find('\n')));
  } catch (const ControlError& e) {
    throw ClientError(ClientError::Kind::kProtocol, e.what());
  }
}

}  // namespace sluice
