// The daemon's request-layer services: the HTTP check API, Envoy's
// rate-limit service and the cluster's metrics. They share one bucket store,
// so a client limited through two of them is limited once.
#include <spdlog/spdlog.h>

#include "cluster_wiring.h"
#include "daemon.h"
#include "kernel_usage.h"

namespace sluice {

std::unique_ptr<CheckService> Daemon::start_check(const CheckSettings& settings) {
  auto service = std::make_unique<CheckService>(io_, settings);
  service->set_kernel_usage(
      [this](const std::string& address) { return kernel_usage(*this, address); });
  return service;
}

void Daemon::start_rls(const RlsSettings& settings) {
  // Envoy's rate-limit service spends from the HTTP check's buckets, so that
  // one client limited through both answers is limited once.
  RequestBuckets* buckets = check_ ? &check_->checker().buckets() : nullptr;
  if (!buckets) {
    rls_buckets_ = std::make_unique<RequestBuckets>();
    buckets = rls_buckets_.get();
  }
  rls_ = std::make_unique<RlsService>(settings, *buckets);
  spdlog::info("rls: envoy.service.ratelimit.v3.RateLimitService on {} ({} domain(s))",
               settings.listen, settings.domains.size());
}

void Daemon::reconfigure_rls(const RlsSettings& settings) {
  // Validated with the file; a removed `rls:` keeps serving the old domains until restart.
  if (rls_ && settings.enabled) rls_->configure(settings);
  if (settings.enabled != bool(rls_) || (rls_ && settings.listen != rls_->listen()))
    spdlog::warn("rls: enabling, disabling or moving the listener takes effect at the next start");
}

std::string Daemon::cluster_metrics() const {
  if (!cluster_) return "";
  return cluster_metrics_text(*cluster_, check_ ? &check_->checker().config() : nullptr);
}

}  // namespace sluice
