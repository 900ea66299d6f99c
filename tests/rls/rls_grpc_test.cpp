// Envoy's rate-limit service over real gRPC: a client built from our proto
// talks to RlsService on loopback, as Envoy's filter would.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "rls_service.h"

namespace sluice {
namespace {

namespace pb = envoy::service::ratelimit::v3;
using Code = pb::RateLimitResponse::Code;

const std::string kSample = std::string(SLUICE_SOURCE_DIR) + "/examples/envoy/ratelimit.yaml";

RlsSettings sample_settings() {
  RlsSettings settings;
  settings.enabled = true;
  settings.listen = "127.0.0.1:0";
  settings.domains = {load_ratelimit_file(kSample)};
  return settings;
}

class RlsGrpcTest : public ::testing::Test {
 protected:
  RlsGrpcTest() : service_(sample_settings(), buckets_) {
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(service_.port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = pb::RateLimitService::NewStub(channel_);
  }

  static pb::RateLimitRequest request(
      const std::string& domain,
      const std::vector<std::vector<std::pair<std::string, std::string>>>& descriptors,
      uint32_t hits = 0) {
    pb::RateLimitRequest out;
    out.set_domain(domain);
    out.set_hits_addend(hits);
    for (const auto& entries : descriptors) {
      auto* d = out.add_descriptors();
      for (const auto& [key, value] : entries) {
        auto* e = d->add_entries();
        e->set_key(key);
        e->set_value(value);
      }
    }
    return out;
  }

  grpc::Status call(const pb::RateLimitRequest& req, pb::RateLimitResponse* resp) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub_->ShouldRateLimit(&context, req, resp);
  }

  // A request that must be answered: proves the service still serves.
  void expect_serving() {
    pb::RateLimitResponse resp;
    ASSERT_TRUE(call(request("edge", {{{"client", "ldap"}}}), &resp).ok());
    EXPECT_EQ(resp.overall_code(), pb::RateLimitResponse::OK);
  }

  RequestBuckets buckets_;
  RlsService service_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RateLimitService::Stub> stub_;
};

std::map<std::string, std::string> headers(const pb::RateLimitResponse& resp) {
  std::map<std::string, std::string> out;
  for (const auto& h : resp.response_headers_to_add()) out[h.key()] = h.value();
  return out;
}

TEST_F(RlsGrpcTest, PerDescriptorHitsAddendTravelsAndReplacesTheRequests) {
  auto req = request(
      "edge", {{{"remote_address", "198.51.100.20"}}, {{"remote_address", "198.51.100.21"}}}, 3);
  req.mutable_descriptors(0)->mutable_hits_addend()->set_value(6);
  pb::RateLimitResponse resp;
  ASSERT_TRUE(call(req, &resp).ok());
  ASSERT_EQ(resp.statuses_size(), 2);
  EXPECT_EQ(resp.statuses(0).limit_remaining(), 4u);  // its own 6 of 10
  EXPECT_EQ(resp.statuses(1).limit_remaining(), 7u);  // the request's 3
}

TEST_F(RlsGrpcTest, EveryFieldOfAnAnswer) {
  pb::RateLimitResponse resp;
  ASSERT_TRUE(
      call(request("edge",
                   {{{"remote_address", "198.51.100.1"}}, {{"client", "ldap"}}, {{"unknown", "x"}}},
                   3),
           &resp)
          .ok());
  EXPECT_EQ(resp.overall_code(), pb::RateLimitResponse::OK);
  ASSERT_EQ(resp.statuses_size(), 3);
  const auto& limited = resp.statuses(0);
  EXPECT_EQ(limited.code(), pb::RateLimitResponse::OK);
  ASSERT_TRUE(limited.has_current_limit());
  EXPECT_EQ(limited.current_limit().name(), "edge.remote_address");
  EXPECT_EQ(limited.current_limit().requests_per_unit(), 10u);
  EXPECT_EQ(limited.current_limit().unit(), pb::RateLimitResponse::RateLimit::SECOND);
  EXPECT_EQ(limited.limit_remaining(), 7u);  // hits_addend 3 of 10
  ASSERT_TRUE(limited.has_duration_until_reset());
  EXPECT_EQ(limited.duration_until_reset().seconds(), 0);
  EXPECT_EQ(limited.duration_until_reset().nanos(), 300'000'000);
  const auto& unlimited = resp.statuses(1);
  EXPECT_EQ(unlimited.limit_remaining(), UINT32_MAX);
  EXPECT_FALSE(unlimited.has_current_limit());
  EXPECT_FALSE(resp.statuses(2).has_current_limit());
  auto h = headers(resp);
  EXPECT_EQ(h["RateLimit-Policy"], "\"edge.remote_address\";q=10;w=1");
  EXPECT_EQ(h["RateLimit"], "\"edge.remote_address\";r=7;t=1");
  EXPECT_EQ(h["X-RateLimit-Limit"], "10");
  EXPECT_EQ(h["X-RateLimit-Remaining"], "7");
  EXPECT_EQ(h["X-RateLimit-Reset"], "1");
  EXPECT_EQ(h.count("Retry-After"), 0u);

  ASSERT_TRUE(call(request("edge", {{{"remote_address", "198.51.100.1"}}}, 8), &resp).ok());
  EXPECT_EQ(resp.overall_code(), pb::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(resp.statuses(0).code(), pb::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(resp.statuses(0).limit_remaining(), 7u);  // the refusal spent nothing
  EXPECT_EQ(headers(resp)["Retry-After"], "1");
}

TEST_F(RlsGrpcTest, ConcurrentClientsNeverAdmitMoreThanTheLimit) {
  // 5 marketing messages a day to one number; 8 threads x 20 attempts.
  std::atomic<int> ok{0}, over{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      auto stub = pb::RateLimitService::NewStub(channel_);
      for (int i = 0; i < 20; ++i) {
        grpc::ClientContext context;
        pb::RateLimitResponse resp;
        auto status = stub->ShouldRateLimit(
            &context,
            request("edge", {{{"message_type", "marketing"}, {"to_number", "2065550100"}},
                             {{"to_number", "2065550100"}}}),
            &resp);
        if (!status.ok())
          ++failed;
        else if (resp.overall_code() == pb::RateLimitResponse::OK)
          ++ok;
        else
          ++over;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(over, 155);
  // The second descriptor (100/day) was charged only for the 5 admitted.
  pb::RateLimitResponse resp;
  ASSERT_TRUE(call(request("edge", {{{"to_number", "2065550100"}}}), &resp).ok());
  EXPECT_EQ(resp.statuses(0).limit_remaining(), 94u);
}

TEST_F(RlsGrpcTest, BadRequestsGetClearErrorsAndTheServiceKeepsServing) {
  pb::RateLimitResponse resp;
  auto status = call(request("", {{{"remote_address", "198.51.100.2"}}}), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "rate limit domain must not be empty");
  expect_serving();

  status = call(request("nope", {{{"remote_address", "198.51.100.2"}}}), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "unknown domain 'nope'");
  expect_serving();

  status = call(request("edge", {}), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  expect_serving();

  std::vector<std::vector<std::pair<std::string, std::string>>> many(
      10000, {{"remote_address", "198.51.100.3"}});
  status = call(request("edge", many), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "10000 descriptors in one request; at most 128");
  expect_serving();

  status = call(request("edge", {{{"remote_address", std::string(64 * 1024, 'x')}}}), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "descriptor 0 entry 0 is longer than 4096 bytes");
  expect_serving();

  // Over the 1 MiB message bound: gRPC itself refuses before parsing.
  status = call(request("edge", {{{"remote_address", std::string(2 << 20, 'x')}}}), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  expect_serving();

  pb::RateLimitRequest override_month = request("edge", {{{"remote_address", "198.51.100.4"}}});
  override_month.mutable_descriptors(0)->mutable_limit()->set_requests_per_unit(5);
  override_month.mutable_descriptors(0)->mutable_limit()->set_unit(envoy::type::v3::MONTH);
  status = call(override_month, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  expect_serving();
  // Nothing above was charged to anyone.
  EXPECT_EQ(buckets_.size(), 0u);
}

TEST_F(RlsGrpcTest, SharesTheBucketStoreItWasGiven) {
  pb::RateLimitResponse resp;
  ASSERT_TRUE(call(request("edge", {{{"remote_address", "198.51.100.5"}}}), &resp).ok());
  ASSERT_EQ(buckets_.size(), 1u);
  const auto entries = buckets_.entries(0);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "rls:edge/remote_address=198.51.100.5\x1frls");
}

TEST_F(RlsGrpcTest, AReloadSwitchesDomains) {
  RlsSettings other = sample_settings();
  other.domains = {
      parse_ratelimit_config("domain: other\ndescriptors:\n  - key: k\n    rate_limit: {unit: "
                             "second, requests_per_unit: 1}\n",
                             "other.yaml")};
  service_.configure(other);
  pb::RateLimitResponse resp;
  EXPECT_EQ(call(request("edge", {{{"client", "ldap"}}}), &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(call(request("other", {{{"k", "v"}}}), &resp).ok());
  EXPECT_EQ(resp.statuses(0).limit_remaining(), 0u);
}

TEST(RlsService, APortInUseIsAnErrorNamingIt) {
  RequestBuckets buckets;
  RlsService first(sample_settings(), buckets);
  RlsSettings taken = sample_settings();
  taken.listen = "127.0.0.1:" + std::to_string(first.port());
  try {
    RlsService second(taken, buckets);
    FAIL() << "two services on one port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(taken.listen), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice
