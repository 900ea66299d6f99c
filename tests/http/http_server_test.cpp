// The HTTP server against raw socket clients, over TCP and a unix socket:
// answers, keep-alive, bodies, and every way a client can misbehave (slow
// heads, pipelining without reading, oversized heads and bodies, too many
// connections) or the host can fail (accept out of file descriptors).
#include "http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace sluice {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  std::unique_ptr<HttpServer> server;
  std::thread loop;

  void start(HttpLimits limits = {}) {
    server = std::make_unique<HttpServer>(io, parse_listen_address("127.0.0.1:0"), handler,
                                          std::move(limits));
    loop = std::thread([this] { io.run(); });
  }
  // /hello answers, /big sends 64 KiB, /echo returns method and body.
  static HttpResponse handler(const HttpRequest& r) {
    if (r.path() == "/big") return HttpResponse{.body = std::string(64 * 1024, 'x')};
    if (r.path() == "/echo") return HttpResponse{.body = r.method + " " + r.body};
    if (r.path() != "/hello") return HttpResponse{.status = 404, .body = "no\n"};
    return HttpResponse{.headers = {{"X-Seen-Agent", r.header("user-agent")}}, .body = "hi\n"};
  }
  // Waits until the server holds `n` sessions; false after `limit`.
  bool sessions_become(size_t n, std::chrono::milliseconds limit = std::chrono::seconds(3)) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (server->sessions() != n) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  void TearDown() override {
    io.stop();
    if (loop.joinable()) loop.join();
  }

  sockaddr_in server_address() const {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server->port());
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return to;
  }
  // A connected client; `receive_buffer` bytes of socket buffer when not 0.
  int connect_client(int receive_buffer = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    sockaddr_in to = server_address();
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
  // Sends `request` on `fd` and reads one response.
  static std::string ask(int fd, const std::string& request) {
    EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    return read_response(fd);
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
    std::string response = ask(fd, request);
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

// A client that pipelines requests and never reads: the responses fill the
// socket buffers, the write deadline passes, the session goes.
TEST_F(HttpServerTest, ClosesAPipeliningClientThatNeverReads) {
  start(HttpLimits{.write_timeout = std::chrono::milliseconds(300)});
  int fd = connect_client(4096);
  std::string requests;
  for (int i = 0; i < 400; ++i) requests += "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";  // 25 MiB asked
  ASSERT_EQ(::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(requests.size()));
  ASSERT_TRUE(sessions_become(1));
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(sessions_become(0, std::chrono::seconds(3))) << "the session outlived its deadline";
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(2));
  ::close(fd);
  EXPECT_EQ(exchange("GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
}

// Slowloris: a head sent a byte at a time never completes within the read
// deadline, however steadily the bytes come.
TEST_F(HttpServerTest, CutsOffAHeadThatTrickles) {
  start(HttpLimits{.read_timeout = std::chrono::milliseconds(300)});
  int fd = connect_client();
  const std::string head = "GET /hello HTTP/1.1\r\nX-Slow: " + std::string(200, 'a');
  auto begin = std::chrono::steady_clock::now();
  bool closed = false;
  for (char c : head) {
    if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
      closed = true;
      break;
    }
    char in;
    if (::recv(fd, &in, 1, MSG_DONTWAIT) == 0) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(1000));
  ::close(fd);
  EXPECT_TRUE(sessions_become(0));
}

TEST_F(HttpServerTest, RefusesAHeadOfManyFieldsOverTheLimit) {
  start(HttpLimits{.max_header_bytes = 1024});
  std::string request = "GET /hello HTTP/1.1\r\n";
  for (int i = 0; i < 50; ++i)
    request += "X-Field-" + std::to_string(i) + ": " + std::string(30, 'v') + "\r\n";
  EXPECT_EQ(exchange(request + "\r\n").rfind("HTTP/1.1 431", 0), 0u);
  EXPECT_EQ(exchange("GET /hello HTTP/1.1\r\nX-Small: 1\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(HttpServerTest, ServesPostWithABoundedBody) {
  start(HttpLimits{.max_body_bytes = 16, .methods = {"GET", "HEAD", "POST"}});
  std::string ok = exchange("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  EXPECT_EQ(ok.substr(ok.size() - 15), "POST 0123456789");
  EXPECT_EQ(exchange("POST /echo HTTP/1.1\r\nContent-Length: 17\r\n\r\n").rfind("HTTP/1.1 413", 0),
            0u);
  std::string chunked = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n" +
                        std::string(16, 'c') + "\r\n1\r\nc\r\n0\r\n\r\n";
  EXPECT_EQ(exchange(chunked).rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_EQ(exchange("PUT /echo HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  // A client that waits for "100 Continue" before it sends the body gets it.
  int fd = connect_client();
  std::string head = "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
  ASSERT_EQ(::write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  char buffer[64];
  ssize_t n = ::read(fd, buffer, sizeof(buffer));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(::write(fd, "body", 4), 4);
  std::string answer = read_response(fd);
  EXPECT_EQ(answer.substr(answer.size() - 9), "POST body") << answer;
  ::close(fd);
}

TEST_F(HttpServerTest, HeadSendsTheLengthButNoBody) {
  start();
  int fd = connect_client();
  std::string requests = "HEAD /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::write(fd, requests.data(), requests.size()), static_cast<ssize_t>(requests.size()));
  // Content-Length: 3 but no body: the next bytes are the GET's answer.
  std::string in;
  char buffer[4096];
  while (in.find("hi\n") == std::string::npos) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    ASSERT_GT(n, 0) << in;
    in.append(buffer, static_cast<size_t>(n));
  }
  auto second = in.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << in;
  EXPECT_NE(in.substr(0, second).find("Content-Length: 3\r\n"), std::string::npos) << in;
  EXPECT_EQ(in.substr(0, second).find("hi\n"), std::string::npos) << in;
  ::close(fd);
}

TEST_F(HttpServerTest, KeepsOneSessionForManyRequestsAndClosesHttp10) {
  start();
  int fd = connect_client();
  for (int i = 0; i < 5; ++i) {
    std::string request = "GET /hello HTTP/1.1\r\n\r\n";
    EXPECT_EQ(ask(fd, request).rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_EQ(server->sessions(), 1u) << "request " << i;
  }
  std::string last = "GET /hello HTTP/1.0\r\n\r\n";
  EXPECT_NE(ask(fd, last).find("Connection: close\r\n"), std::string::npos);
  char c;
  EXPECT_EQ(::read(fd, &c, 1), 0) << "HTTP/1.0 without keep-alive: closed";
  ::close(fd);
  EXPECT_TRUE(sessions_become(0));
}

// At the limit, a new connection takes the place of the session idle longest;
// when every session is busy sending a response, it is closed at once.
TEST_F(HttpServerTest, ANewConnectionReplacesTheLongestIdleSessionAtTheLimit) {
  start(HttpLimits{.write_timeout = std::chrono::seconds(3), .max_connections = 2});
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(connect_client());
    std::string request = "GET /hello HTTP/1.1\r\n\r\n";
    EXPECT_EQ(ask(held.back(), request).rfind("HTTP/1.1 200", 0), 0u);
  }
  ASSERT_TRUE(sessions_become(2));
  EXPECT_EQ(exchange("GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u)
      << "a third client is served";
  char c;
  EXPECT_EQ(::read(held[0], &c, 1), 0) << "the longest idle session made room";
  EXPECT_EQ(ask(held[1], "GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u)
      << "the other one is still served";
  for (int fd : held) ::close(fd);
  ASSERT_TRUE(sessions_become(0));

  // Two sessions busy writing 25 MiB to clients that do not read: nothing to evict.
  std::vector<int> busy;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(connect_client(4096));
    std::string requests;
    for (int n = 0; n < 400; ++n) requests += "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_EQ(::send(busy.back(), requests.data(), requests.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(requests.size()));
  }
  ASSERT_TRUE(sessions_become(2));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both are writing now
  int over = connect_client();
  EXPECT_EQ(::read(over, &c, 1), 0) << "the third connection is closed at once";
  ::close(over);
  for (int fd : busy) ::close(fd);
}

// 10,000 idle connections and slow heads against a server of 1,024 sessions:
// a normal client is still answered promptly, and the sessions (so the
// memory) stay bounded.
TEST_F(HttpServerTest, TenThousandIdleOrSlowConnectionsDoNotLockOutANormalClient) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // 10,000 client ends and up to 1,024 server ones in this one process.
  rlimit wide = saved;
  wide.rlim_cur = std::max<rlim_t>(saved.rlim_cur, 12000);
  if (wide.rlim_max < wide.rlim_cur) wide.rlim_max = wide.rlim_cur;  // needs CAP_SYS_RESOURCE
  if (setrlimit(RLIMIT_NOFILE, &wide) != 0)
    GTEST_SKIP() << "cannot raise RLIMIT_NOFILE to 12000 (hard limit " << saved.rlim_max << ")";
  start(HttpLimits{.read_timeout = std::chrono::seconds(30), .max_connections = 1024});
  auto memory_kib = [] {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0L;
  };
  const long before = memory_kib();
  std::vector<int> crowd;
  for (int i = 0; i < 10000; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0) << "client " << i;
    sockaddr_in to = server_address();
    ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to));           // EINPROGRESS
    if (i % 2) ::send(fd, "GET /hello HTTP/1.1\r\nHo", 24, MSG_NOSIGNAL);  // a slow head
    crowd.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LE(server->sessions(), 1024u + 64u) << "sessions bounded";
  for (int round = 0; round < 5; ++round) {
    auto begin = std::chrono::steady_clock::now();
    EXPECT_EQ(exchange("GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(500));
  }
  const long grown = memory_kib() - before;
  EXPECT_LT(grown, 64 * 1024) << "KiB grown for 10k connections";
  for (int fd : crowd) ::close(fd);
  EXPECT_TRUE(sessions_become(0, std::chrono::seconds(10)));
  setrlimit(RLIMIT_NOFILE, &saved);
}

// Out of file descriptors, accept fails while the connection stays queued:
// the server waits and retries instead of spinning, and serves it once fds
// are free again.
TEST_F(HttpServerTest, BacksOffWhileAcceptFails) {
  start(HttpLimits{.accept_backoff = std::chrono::milliseconds(50)});
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit tight = saved;
  tight.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<int> filler;
  for (int fd; (fd = ::dup(client)) >= 0;) filler.push_back(fd);
  sockaddr_in to = server_address();
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);

  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  getrusage(RUSAGE_SELF, &after);
  auto cpu_us = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1'000'000L + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  EXPECT_LT(cpu_us(after) - cpu_us(before), 100'000L) << "CPU spent while accept fails";
  EXPECT_EQ(server->sessions(), 0u);

  for (int fd : filler) ::close(fd);
  setrlimit(RLIMIT_NOFILE, &saved);
  timeval tv{3, 0};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string request = "GET /hello HTTP/1.1\r\n\r\n";
  EXPECT_EQ(ask(client, request).rfind("HTTP/1.1 200", 0), 0u);
  ::close(client);
}

TEST_F(HttpServerTest, ListensOnAUnixSocket) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("sluice-http-" + std::to_string(getpid())))
          .string();
  {
    std::ofstream(path) << "not a socket";
    EXPECT_THROW(HttpServer(io, boost::asio::local::stream_protocol::endpoint(path), handler),
                 std::system_error);
    std::filesystem::remove(path);
  }
  // A socket file left by an earlier run (bound, never unlinked) is replaced.
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::snprintf(to.sun_path, sizeof(to.sun_path), "%s", path.c_str());
  int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(::bind(stale, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  ::close(stale);
  ASSERT_TRUE(std::filesystem::exists(path));
  server = std::make_unique<HttpServer>(io, boost::asio::local::stream_protocol::endpoint(path),
                                        handler);
  loop = std::thread([this] { io.run(); });
  EXPECT_EQ(server->port(), 0);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (int i = 0; i < 2; ++i) {
    std::string request = "GET /hello HTTP/1.1\r\nUser-Agent: nginx\r\n\r\n";
    std::string response = ask(fd, request);
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
    EXPECT_NE(response.find("X-Seen-Agent: nginx\r\n"), std::string::npos);
  }
  ::close(fd);
  server->close();
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file goes with the listener";
}

// The server formats its answers itself (one buffer, one write); they must be
// what Beast's serializer wrote for the same response, byte for byte.
TEST(ResponseHead, IsWhatBeastsSerializerWrites) {
  namespace http = boost::beast::http;
  HttpResponse response{
      .status = 429,
      .content_type = "application/problem+json",
      .headers = {{"X-One", "1"}, {"Retry-After", "30"}},
      .body = "{}\n",
      .fields = "RateLimit: \"free-minute\";r=0;t=30\r\nX-Sluice-Status: 429\r\n"};
  for (bool keep_alive : {true, false}) {
    http::response<http::string_body> beast;
    beast.version(11);
    beast.result(static_cast<unsigned>(response.status));
    beast.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) beast.insert(name, value);
    beast.insert("RateLimit", "\"free-minute\";r=0;t=30");
    beast.insert("X-Sluice-Status", "429");
    beast.set(http::field::connection, keep_alive ? "keep-alive" : "close");
    beast.content_length(response.body.size());
    beast.body() = response.body;
    std::ostringstream written;
    written << beast;
    std::string ours;
    append_response_head(ours, response, keep_alive);
    EXPECT_EQ(ours + response.body, written.str());
  }
  std::string ok;
  append_response_head(ok, HttpResponse{.status = 200}, true);
  EXPECT_EQ(ok,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Connection: keep-alive\r\nContent-Length: 0\r\n\r\n");
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
