// sluice-rls-bench: Envoy's rate-limit service (gRPC) against the HTTP check
// API for nginx, with the same rule, in one run: checks/s and latency
// percentiles per interface. Each client thread keeps one connection (a gRPC
// channel, or an HTTP/1.1 keep-alive socket) and sends one check after the
// other, as a proxy's worker would; thread t is client address 198.18.0.t.
//
//   sluice-rls-bench --grpc 127.0.0.1:8081 --http 127.0.0.1:9465 --threads 4 --seconds 5
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

namespace {

namespace pb = envoy::service::ratelimit::v3;
using Clock = std::chrono::steady_clock;

struct Result {
  std::vector<uint64_t> latencies_ns;
  uint64_t ok = 0, over = 0, errors = 0;
};

std::string address_of(int thread) {
  return "198.18.0." + std::to_string(thread + 1);
}

// Runs `one` (returns 0 ok, 1 over limit, 2 error) on `threads` threads for `seconds`.
Result run(int threads, double seconds, const std::function<std::function<int()>(int)>& make) {
  std::vector<Result> per_thread(threads);
  std::vector<std::thread> workers;
  std::atomic<bool> go{false};
  const auto end_after = std::chrono::duration<double>(seconds);
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto one = make(t);
      while (!go) std::this_thread::yield();
      const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(end_after);
      Result& r = per_thread[t];
      r.latencies_ns.reserve(1 << 20);
      for (auto start = Clock::now(); start < end; start = Clock::now()) {
        const int outcome = one();
        r.latencies_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
        (outcome == 0 ? r.ok : outcome == 1 ? r.over : r.errors)++;
      }
    });
  go = true;
  for (auto& w : workers) w.join();
  Result all;
  for (auto& r : per_thread) {
    all.latencies_ns.insert(all.latencies_ns.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    all.ok += r.ok;
    all.over += r.over;
    all.errors += r.errors;
  }
  std::sort(all.latencies_ns.begin(), all.latencies_ns.end());
  return all;
}

double percentile_us(const std::vector<uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = std::min(sorted.size() - 1, static_cast<size_t>(p / 100.0 * sorted.size()));
  return sorted[index] / 1000.0;
}

void report(const char* name, const Result& r, double seconds) {
  std::printf(
      "%-5s checks/s %9.0f  p50 %7.1f us  p90 %7.1f us  p99 %7.1f us  p99.9 %7.1f us  "
      "max %8.1f us  ok %lu over %lu errors %lu\n",
      name, r.latencies_ns.size() / seconds, percentile_us(r.latencies_ns, 50),
      percentile_us(r.latencies_ns, 90), percentile_us(r.latencies_ns, 99),
      percentile_us(r.latencies_ns, 99.9),
      r.latencies_ns.empty() ? 0 : r.latencies_ns.back() / 1000.0, r.ok, r.over, r.errors);
}

std::function<int()> grpc_client(const std::string& target, const std::string& domain,
                                 const std::string& key, int thread) {
  // One channel per thread: separate connections, like separate Envoy workers.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  auto stub = std::shared_ptr<pb::RateLimitService::Stub>(pb::RateLimitService::NewStub(channel));
  auto request = std::make_shared<pb::RateLimitRequest>();
  request->set_domain(domain);
  auto* entry = request->add_descriptors()->add_entries();
  entry->set_key(key);
  entry->set_value(address_of(thread));
  return [stub, request, channel] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(20));
    pb::RateLimitResponse response;
    if (!stub->ShouldRateLimit(&context, *request, &response).ok()) return 2;
    return response.overall_code() == pb::RateLimitResponse::OK ? 0 : 1;
  };
}

// An HTTP/1.1 keep-alive client of the check API, as nginx's auth_request asks.
class HttpCheckClient {
 public:
  HttpCheckClient(const std::string& target, int thread) {
    const auto colon = target.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(colon + 1))));
    inet_pton(AF_INET, target.substr(0, colon).c_str(), &addr.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      throw std::runtime_error("cannot connect to " + target);
    request_ =
        "GET /v1/check HTTP/1.1\r\nHost: sluice\r\nX-Original-Method: GET\r\n"
        "X-Original-URI: /\r\nX-Real-IP: " +
        address_of(thread) + "\r\n\r\n";
  }
  ~HttpCheckClient() { ::close(fd_); }

  int check() {
    if (::send(fd_, request_.data(), request_.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request_.size()))
      return 2;
    buffer_.clear();
    char chunk[4096];
    size_t header_end = std::string::npos;
    size_t body = 0;
    while (true) {
      if (header_end == std::string::npos) {
        header_end = buffer_.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          const auto cl = buffer_.find("Content-Length: ");
          body =
              cl != std::string::npos && cl < header_end ? std::stoul(buffer_.substr(cl + 16)) : 0;
        }
      }
      if (header_end != std::string::npos && buffer_.size() >= header_end + 4 + body) break;
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return 2;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    if (buffer_.compare(0, 12, "HTTP/1.1 200") == 0) return 0;
    return buffer_.compare(0, 12, "HTTP/1.1 403") == 0 ? 1 : 2;
  }

 private:
  int fd_ = -1;
  std::string request_, buffer_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Envoy's rate-limit service (gRPC) against the HTTP check API"};
  std::string grpc_target, http_target, domain = "bench", key = "remote_address";
  int threads = 4;
  double seconds = 5;
  app.add_option("--grpc", grpc_target, "host:port of the rate-limit service");
  app.add_option("--http", http_target, "host:port of the check API");
  app.add_option("--domain", domain, "rate-limit domain");
  app.add_option("--key", key, "descriptor key (value: the thread's address)");
  app.add_option("--threads", threads, "client threads, one connection each")
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", seconds, "per interface")->check(CLI::Range(0.1, 600.0));
  CLI11_PARSE(app, argc, argv);
  std::printf("threads %d, %.1f s per interface, one check at a time per thread\n", threads,
              seconds);
  if (!grpc_target.empty())
    report("grpc",
           run(threads, seconds, [&](int t) { return grpc_client(grpc_target, domain, key, t); }),
           seconds);
  if (!http_target.empty())
    report("http",
           run(threads, seconds,
               [&](int t) {
                 auto client = std::make_shared<HttpCheckClient>(http_target, t);
                 return std::function<int()>([client] { return client->check(); });
               }),
           seconds);
  return 0;
}
