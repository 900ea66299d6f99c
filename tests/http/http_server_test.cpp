// The HTTP listener against a raw socket client: answers, keep-alive, and
// every way a client can misbehave.
#include "http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <thread>

namespace sluice {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  std::unique_ptr<HttpServer> server;
  std::thread loop;

  void start(HttpLimits limits = {}) {
    server = std::make_unique<HttpServer>(
        io, parse_listen_address("127.0.0.1:0"),
        [](const HttpRequest& r) {
          if (r.path() != "/hello") return HttpResponse{.status = 404, .body = "no\n"};
          return HttpResponse{.headers = {{"X-Seen-Agent", r.header("user-agent")}},
                              .body = "hi\n"};
        },
        limits);
    loop = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    io.stop();
    if (loop.joinable()) loop.join();
  }

  int connect_client() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server->port());
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  // Reads one response (headers and Content-Length body), or what came before close.
  static std::string read_response(int fd) {
    std::string in;
    char buffer[4096];
    for (;;) {
      auto head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        auto at = in.find("Content-Length: ");
        size_t length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 16));
        if (in.size() >= head_end + 4 + length) return in.substr(0, head_end + 4 + length);
      }
      ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n <= 0) return in;
      in.append(buffer, static_cast<size_t>(n));
    }
  }
  std::string exchange(const std::string& request) {
    int fd = connect_client();
    EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string response = read_response(fd);
    ::close(fd);
    return response;
  }
};

TEST_F(HttpServerTest, AnswersAndKeepsTheConnectionAlive) {
  start();
  int fd = connect_client();
  for (int i = 0; i < 3; ++i) {
    std::string request = "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: test/1\r\n\r\n";
    ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string response = read_response(fd);
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
    EXPECT_NE(response.find("X-Seen-Agent: test/1\r\n"), std::string::npos);
    EXPECT_NE(response.find("Connection: keep-alive"), std::string::npos);
    EXPECT_EQ(response.substr(response.size() - 3), "hi\n");
  }
  ::close(fd);
}

TEST_F(HttpServerTest, RefusesWhatItDoesNotServe) {
  start();
  EXPECT_EQ(exchange("GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(exchange("POST /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(
      exchange("GET /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").rfind("HTTP/1.1 413", 0),
      0u);
  EXPECT_EQ(exchange("garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(exchange("GET hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(exchange("GET /hello HTTP/9\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  std::string huge = "GET /hello HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(exchange(huge).rfind("HTTP/1.1 431", 0), 0u);
  // Still serving after all that.
  EXPECT_EQ(exchange("GET /hello HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(HttpServerTest, CutsOffASlowClient) {
  start(HttpLimits{.read_timeout = std::chrono::milliseconds(200)});
  int fd = connect_client();
  std::string partial = "GET /hello HTTP/1.1\r\n";
  ASSERT_GT(::write(fd, partial.data(), partial.size()), 0);
  auto begin = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(::read(fd, &c, 1), 0) << "closed without an answer";
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(2));
  ::close(fd);
  EXPECT_EQ(exchange("GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(ListenAddress, ParsesBothFamiliesAndRejectsNonsense) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:9464").port(), 9464);
  EXPECT_TRUE(parse_listen_address("[::1]:80").address().is_v6());
  EXPECT_THROW(parse_listen_address("localhost:80"), std::invalid_argument);
  EXPECT_THROW(parse_listen_address("127.0.0.1"), std::invalid_argument);
  EXPECT_THROW(parse_listen_address("127.0.0.1:99999"), std::invalid_argument);
  EXPECT_THROW(parse_listen_address("127.0.0.1:12ab"), std::invalid_argument);
}

}  // namespace
}  // namespace sluice
