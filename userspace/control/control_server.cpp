#include "control_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>

#include "error.h"

namespace sluice {
namespace {

using boost::asio::local::stream_protocol;
using error_code = boost::system::error_code;

// Is a daemon still answering on `path`? A plain connect() tells, without
// speaking the protocol.
bool someone_listens(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  bool connected = ::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return connected;
}

}  // namespace

class ControlServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream_protocol::socket socket, Handler handler, std::shared_ptr<int> active)
      : socket_(std::move(socket)),
        deadline_(socket_.get_executor()),
        buffer_(kMaxRequestBytes),
        handler_(std::move(handler)),
        active_(std::move(active)) {
    ++*active_;
  }
  ~Session() { --*active_; }

  void start(bool over_capacity) {
    if (over_capacity)
      return send(encode_error(errc::kBusy, "too many control connections; retry"));
    PeerCredentials peer;
    if (!read_peer(peer)) return send(encode_error(errc::kInternal, "cannot identify the peer"));
    if (peer.uid != 0 && peer.uid != ::geteuid()) {
      spdlog::warn("control: refused uid {} (pid {})", peer.uid, peer.pid);
      return send(encode_error(errc::kPermissionDenied, "the control socket is for root only"));
    }
    peer_ = peer;
    deadline_.expires_after(kRequestTimeout);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->request_read_) return;
      self->timed_out_ = true;
      error_code ignored;
      self->socket_.cancel(ignored);
    });
    boost::asio::async_read_until(
        socket_, buffer_, '\n',
        [self = shared_from_this()](error_code ec, size_t length) { self->on_read(ec, length); });
  }

 private:
  bool read_peer(PeerCredentials& peer) {
    struct ucred cred {};
    socklen_t len = sizeof(cred);
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
      return false;
    peer = {cred.pid, cred.uid, cred.gid};
    return true;
  }

  void on_read(error_code ec, size_t length) {
    request_read_ = true;
    deadline_.cancel();
    if (timed_out_)
      return send(encode_error(
          errc::kTimeout,
          "request not received within " + std::to_string(kRequestTimeout.count()) + " ms"));
    if (ec == boost::asio::error::not_found)
      return send(encode_error(
          errc::kTooLarge, "request larger than " + std::to_string(kMaxRequestBytes) + " bytes"));
    std::string line;
    if (ec == boost::asio::error::eof) {
      // The client closed its side without a newline: take what it sent.
      line.assign(boost::asio::buffers_begin(buffer_.data()),
                  boost::asio::buffers_end(buffer_.data()));
      if (line.empty()) return;
    } else if (ec) {
      return;  // reset by peer and the like: nobody to answer
    } else {
      line.assign(boost::asio::buffers_begin(buffer_.data()),
                  boost::asio::buffers_begin(buffer_.data()) + static_cast<ptrdiff_t>(length));
    }
    dispatch(line);
  }

  void dispatch(const std::string& line) {
    auto self = shared_from_this();
    try {
      Request request = parse_request(line);
      spdlog::debug("control: {} from uid {} pid {}", request.command, peer_.uid, peer_.pid);
      handler_(request, peer_, [self](std::string response) { self->send(std::move(response)); });
    } catch (const ControlError& e) {
      send(encode_error(e.code(), e.what()));
    } catch (const std::exception& e) {
      spdlog::error("control: request failed: {}", e.what());
      send(encode_error(errc::kInternal, e.what()));
    }
  }

  void send(std::string response) {
    if (replied_) return;  // a handler replying twice is a bug; the client got its answer
    replied_ = true;
    out_ = std::move(response);
    deadline_.expires_after(kResponseTimeout);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close();
    });
    boost::asio::async_write(socket_, boost::asio::buffer(out_),
                             [self = shared_from_this()](error_code, size_t) {
                               self->deadline_.cancel();
                               self->close();
                             });
  }

  void close() {
    error_code ignored;
    socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  stream_protocol::socket socket_;
  boost::asio::steady_timer deadline_;
  boost::asio::streambuf buffer_;
  Handler handler_;
  std::shared_ptr<int> active_;
  PeerCredentials peer_;
  std::string out_;
  bool request_read_ = false;
  bool timed_out_ = false;
  bool replied_ = false;
};

ControlServer::ControlServer(boost::asio::io_context& io, std::string path, Handler handler)
    : io_(io),
      path_(std::move(path)),
      handler_(std::move(handler)),
      acceptor_(io),
      retry_timer_(io) {
  if (path_.empty() || path_.size() >= sizeof(sockaddr_un::sun_path))
    throw_errno(ENAMETOOLONG, "control socket path '" + path_ + "'");
  std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent)) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw std::system_error(ec, "create directory " + parent.string());
    ::chmod(parent.c_str(), 0755);
  }
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw_errno(EEXIST, "control socket path " + path_ + " exists and is not a socket");
    if (someone_listens(path_))
      throw_errno(EADDRINUSE, "another sluiced is already serving " + path_);
    ::unlink(path_.c_str());  // left behind by a daemon that was killed
  }

  error_code ec;
  acceptor_.open(stream_protocol(), ec);
  if (ec) throw std::system_error(ec, "create control socket");
  // Bind with a umask that leaves 0600, so the socket is never briefly open to all.
  mode_t old_mask = ::umask(0177);
  acceptor_.bind(stream_protocol::endpoint(path_), ec);
  ::umask(old_mask);
  if (ec) throw std::system_error(ec, "bind control socket " + path_);
  ::chmod(path_.c_str(), 0600);
  acceptor_.listen(kMaxConnections, ec);
  if (ec) throw std::system_error(ec, "listen on control socket " + path_);
  spdlog::info("control socket {} (mode 0600)", path_);
  accept_next();
}

ControlServer::~ControlServer() {
  close();
}

void ControlServer::close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  ::unlink(path_.c_str());
}

void ControlServer::accept_next() {
  acceptor_.async_accept([this](error_code ec, stream_protocol::socket socket) {
    if (ec == boost::asio::error::operation_aborted || closed_) return;
    if (ec) {
      // EMFILE and friends: log and back off, so that the loop does not spin.
      spdlog::warn("control: accept failed: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([this](error_code wait_ec) {
        if (!wait_ec && !closed_) accept_next();
      });
      return;
    } else {
      bool over = *active_sessions_ >= kMaxConnections;
      std::make_shared<Session>(std::move(socket), handler_, active_sessions_)->start(over);
    }
    accept_next();
  });
}

}  // namespace sluice
