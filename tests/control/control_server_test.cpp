// The control socket server against hostile clients: malformed, oversized,
// slow, too many, and not root. The loop must keep serving everyone else.
#include "control_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <thread>

#include "control_client.h"
#include "fd.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Fd connect_raw(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::system_error(errno, std::generic_category(), "connect " + path);
  return fd;
}

void send_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may cut us off mid-way; that is the point
    done += static_cast<size_t>(n);
  }
}

// Reads one response line (or until EOF) with a deadline.
Response read_response(int fd, std::chrono::milliseconds timeout = 5s) {
  struct timeval tv {
    static_cast<time_t>(timeout.count() / 1000),
        static_cast<suseconds_t>((timeout.count() % 1000) * 1000)
  };
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string reply;
  char buffer[4096];
  while (reply.find('\n') == std::string::npos) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  if (reply.empty()) throw std::runtime_error("no response");
  return parse_response(reply.substr(0, reply.find('\n')));
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-ctl-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    path_ = (dir_ / "run" / "test.sock").string();
    server_ = std::make_unique<ControlServer>(
        io_, path_,
        [this](const Request& request, const PeerCredentials&, ControlServer::Reply reply) {
          handle(request, std::move(reply));
        });
    thread_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  void TearDown() override {
    boost::asio::post(io_, [this] {
      server_.reset();
      io_.stop();
    });
    thread_.join();
    std::filesystem::remove_all(dir_);
  }

  void handle(const Request& request, ControlServer::Reply reply) {
    if (request.command == "echo") return reply(encode_ok(request.args));
    if (request.command == "throw") throw std::runtime_error("boom");
    if (request.command == "refuse") throw ControlError(errc::kConflict, "no");
    if (request.command == "later") {
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, 300ms);
      timer->async_wait([timer, reply](boost::system::error_code) {
        reply(encode_ok({{"late", true}}));
      });
      return;
    }
    reply(encode_error(errc::kUnknownCommand, request.command));
  }

  Response call(const std::string& command, const nlohmann::json& args = nlohmann::json::object()) {
    return call_daemon(path_, command, args, 3s);
  }

  boost::asio::io_context io_;
  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
};

TEST_F(ControlServerTest, ServesRequestsOnA0600Socket) {
  Response r = call("echo", {{"x", 7}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(r.result["x"], 7);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(call("later").result["late"]);
}

TEST_F(ControlServerTest, HandlerErrorsBecomeErrorResponses) {
  Response r = call("throw");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, errc::kInternal);
  EXPECT_EQ(r.error_message, "boom");
  EXPECT_EQ(call("refuse").error_code, errc::kConflict);
  EXPECT_TRUE(call("echo").ok) << "the server survives a throwing handler";
}

TEST_F(ControlServerTest, MalformedRequestGetsBadRequest) {
  for (const char* garbage : {"hello\n", "{\"version\":1}\n", "\x01\x02\xff\n", "[]\n"}) {
    Fd fd = connect_raw(path_);
    send_all(fd.get(), garbage);
    Response r = read_response(fd.get());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, errc::kBadRequest) << garbage;
  }
  EXPECT_TRUE(call("echo").ok);
}

TEST_F(ControlServerTest, RequestWithoutNewlineBeforeEofIsServed) {
  Fd fd = connect_raw(path_);
  send_all(fd.get(), R"({"version":1,"command":"echo","args":{"y":1}})");
  ::shutdown(fd.get(), SHUT_WR);
  Response r = read_response(fd.get());
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(r.result["y"], 1);
}

TEST_F(ControlServerTest, OversizedRequestIsRefused) {
  Fd fd = connect_raw(path_);
  std::string huge = R"({"version":1,"command":"echo","args":{"pad":")" +
                     std::string(kMaxRequestBytes + 1000, 'x');
  std::thread sender([&] { send_all(fd.get(), huge + "\"}}\n"); });
  Response r = read_response(fd.get());
  ::shutdown(fd.get(), SHUT_RDWR);
  sender.join();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, errc::kTooLarge);
  EXPECT_TRUE(call("echo").ok);
}

TEST_F(ControlServerTest, SlowClientIsCutOffAndDoesNotBlockOthers) {
  Fd slow = connect_raw(path_);
  send_all(slow.get(), R"({"version":1,"comm)");
  auto start = Clock::now();
  EXPECT_TRUE(call("echo").ok);
  EXPECT_LT(Clock::now() - start, 500ms) << "a slow client held up another";
  Response r = read_response(slow.get(), kRequestTimeout + 3s);
  auto waited = Clock::now() - start;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, errc::kTimeout);
  EXPECT_GE(waited, kRequestTimeout - 100ms);
  EXPECT_LT(waited, kRequestTimeout + 1500ms);
}

TEST_F(ControlServerTest, TooManyConnectionsGetBusyAndRecover) {
  std::vector<Fd> idle;
  for (int i = 0; i < ControlServer::kMaxConnections; ++i) idle.push_back(connect_raw(path_));
  std::this_thread::sleep_for(200ms);  // let the server accept them all
  Response r = call("echo");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, errc::kBusy);
  idle.clear();
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(call("echo").ok);
}

TEST_F(ControlServerTest, PeersOtherThanRootAreRefusedEvenOnAnOpenSocket) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);  // as if an operator loosened it
  ::chmod(std::filesystem::path(path_).parent_path().c_str(), 0755);
  ::chmod(dir_.c_str(), 0755);
  pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    try {
      Response r = call_daemon(path_, "echo", {}, 3s);
      ::_exit(!r.ok && r.error_code == errc::kPermissionDenied ? 0 : 11);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      ::_exit(12);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setuid failed, 11: not refused, 12: no answer";
}

TEST_F(ControlServerTest, RefusesToStealALiveSocketAndReplacesAStaleOne) {
  try {
    ControlServer second(io_, path_,
                         [](const Request&, const PeerCredentials&, ControlServer::Reply) {});
    FAIL() << "a second server took over a live socket";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE) << e.what();
  }
  // A socket file nobody listens on, as kill -9 leaves behind.
  const std::string stale = (dir_ / "stale.sock").string();
  {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", stale.c_str());
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
  }
  boost::asio::io_context other;
  EXPECT_NO_THROW(ControlServer(
      other, stale, [](const Request&, const PeerCredentials&, ControlServer::Reply) {}));
}

TEST(ControlClient, ExplainsAMissingDaemon) {
  try {
    call_daemon("/nonexistent/sluiced.sock", "status", {}, 1s);
    FAIL();
  } catch (const ClientError& e) {
    EXPECT_EQ(e.kind(), ClientError::Kind::kUnreachable);
    EXPECT_NE(std::string(e.what()).find("sluiced is not running"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice
