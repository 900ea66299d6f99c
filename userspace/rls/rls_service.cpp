#include "rls_service.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

namespace sluice {
namespace {

namespace pb = envoy::service::ratelimit::v3;

RlsRequest from_proto(const pb::RateLimitRequest& in) {
  RlsRequest out;
  out.domain = in.domain();
  out.hits_addend = in.hits_addend();
  // Bounds are checked by the limiter; copying a request over them would be
  // wasted work, so stop at one past the bound (the limiter still refuses it).
  const int count = std::min<int>(in.descriptors_size(), kRlsMaxDescriptors + 1);
  out.descriptors.reserve(count);
  for (int i = 0; i < count; ++i) {
    const auto& descriptor = in.descriptors(i);
    RlsDescriptorRequest d;
    d.entries.reserve(descriptor.entries_size());
    for (const auto& entry : descriptor.entries())
      d.entries.push_back({entry.key(), entry.value()});
    if (descriptor.has_limit())
      d.limit = RlsOverride{descriptor.limit().requests_per_unit(), descriptor.limit().unit()};
    if (descriptor.has_hits_addend()) d.hits_addend = descriptor.hits_addend().value();
    out.descriptors.push_back(std::move(d));
  }
  if (in.descriptors_size() > count) out.descriptors.resize(in.descriptors_size());
  return out;
}

void to_proto(const RlsResponse& in, pb::RateLimitResponse& out) {
  out.set_overall_code(static_cast<pb::RateLimitResponse::Code>(in.overall_code));
  for (const auto& status : in.statuses) {
    auto* s = out.add_statuses();
    s->set_code(static_cast<pb::RateLimitResponse::Code>(status.code));
    if (status.current_limit) {
      auto* limit = s->mutable_current_limit();
      limit->set_name(status.current_limit->name);
      limit->set_requests_per_unit(status.current_limit->requests_per_unit);
      limit->set_unit(
          static_cast<pb::RateLimitResponse::RateLimit::Unit>(status.current_limit->unit));
      auto* reset = s->mutable_duration_until_reset();
      reset->set_seconds(
          static_cast<int64_t>(status.duration_until_reset_ns / SLUICE_NSEC_PER_SEC));
      reset->set_nanos(static_cast<int32_t>(status.duration_until_reset_ns % SLUICE_NSEC_PER_SEC));
    }
    s->set_limit_remaining(status.limit_remaining);
  }
  for (const auto& [name, value] : in.response_headers) {
    auto* header = out.add_response_headers_to_add();
    header->set_key(name);
    header->set_value(value);
  }
}

class RateLimitServiceImpl final : public pb::RateLimitService::CallbackService {
 public:
  explicit RateLimitServiceImpl(RlsLimiter& limiter) : limiter_(limiter) {}

  grpc::ServerUnaryReactor* ShouldRateLimit(grpc::CallbackServerContext* context,
                                            const pb::RateLimitRequest* request,
                                            pb::RateLimitResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    try {
      to_proto(limiter_.should_rate_limit(from_proto(*request)), *response);
      reactor->Finish(grpc::Status::OK);
    } catch (const RlsRequestError& e) {
      spdlog::debug("rls: refused a request: {}", e.what());
      reactor->Finish(grpc::Status(
          e.not_found() ? grpc::StatusCode::NOT_FOUND : grpc::StatusCode::INVALID_ARGUMENT,
          e.what()));
    } catch (const std::exception& e) {
      spdlog::error("rls: {}", e.what());
      reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL, e.what()));
    }
    return reactor;
  }

 private:
  RlsLimiter& limiter_;
};

}  // namespace

struct RlsService::Impl {
  Impl(RequestBuckets& buckets, RlsLimiter::Clock clock)
      : limiter(buckets, std::move(clock)), service(limiter) {}
  RlsLimiter limiter;
  RateLimitServiceImpl service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string listen;
};

RlsService::RlsService(const RlsSettings& settings, RequestBuckets& buckets,
                       RlsLimiter::Clock clock)
    : impl_(std::make_unique<Impl>(buckets, std::move(clock))) {
  impl_->limiter.configure(settings.domains);
  impl_->listen = settings.listen;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(settings.listen, grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(&impl_->service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kRlsMaxMessageBytes));
  // gRPC sets SO_REUSEPORT by default: a second daemon would then share the
  // port silently instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0)
    throw std::runtime_error("rls: cannot listen on " + settings.listen +
                             " (address in use, or not a host:port)");
}

RlsService::~RlsService() {
  // Calls in flight get a moment to finish; then they are cancelled, so that
  // an idle proxy connection does not hold up the daemon's exit (gRPC would
  // otherwise wait for it for seconds).
  if (impl_ && impl_->server)
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
}

uint16_t RlsService::port() const {
  return static_cast<uint16_t>(impl_->port);
}

void RlsService::configure(const RlsSettings& settings) {
  impl_->limiter.configure(settings.domains);
}

const std::string& RlsService::listen() const {
  return impl_->listen;
}

RlsLimiter& RlsService::limiter() {
  return impl_->limiter;
}

}  // namespace sluice
