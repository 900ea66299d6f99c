// The daemon's request-layer services: the HTTP check API, Envoy's
// rate-limit service and the cluster's metrics. They share one bucket store,
// so a client limited through two of them is limited once.
#include <spdlog/spdlog.h>

#include <ctime>

#include "cluster_wiring.h"
#include "daemon.h"
#include "kernel_usage.h"
#include "monotonic_clock.h"

namespace sluice {

std::unique_ptr<CheckService> Daemon::start_check(const CheckSettings& settings) {
  auto service = std::make_unique<CheckService>(io_, settings);
  service->set_kernel_usage(
      [this](const std::string& address) { return kernel_usage(*this, address); });
  service->checker().set_observer(
      [this](const Decision& decision, uint64_t now_ns) { key_link_.observe(decision, now_ns); });
  return service;
}

std::vector<Dataplane*> Daemon::dataplanes() {
  std::vector<Dataplane*> out;
  for (auto& [name, attached] : interfaces_) out.push_back(&attached.dataplane);
  return out;
}

void Daemon::configure_key_link() {
  KeyLinkView view;
  view.binding = base_.key_binding;
  view.escalation = base_.escalation;
  const Policy policy = effective_policy();
  view.v4_prefix_len = policy.v4_prefix_len;
  view.v6_prefix_len = policy.v6_prefix_len;
  view.exempt = policy.allow;
  view.exempt.insert(view.exempt.end(), base_.key_binding.proxies.begin(),
                     base_.key_binding.proxies.end());
  const auto& trusted = base_.check.checker.trusted_proxies;
  view.exempt.insert(view.exempt.end(), trusted.begin(), trusted.end());
  // Request tier -> kernel tier: named in key_binding.tiers, else the same name.
  const auto& indices = slots_.current();
  for (const auto& request_tier : base_.check.checker.policy.tiers) {
    auto named = base_.key_binding.tiers.find(request_tier.name);
    const std::string& kernel =
        named != base_.key_binding.tiers.end() ? named->second : request_tier.name;
    auto index = indices.find(kernel);
    if (index == indices.end()) continue;
    for (const auto& tier : policy.tiers) {
      if (tier.name != kernel) continue;
      const uint64_t rank = tier.packets.unlimited() ? UINT64_MAX
                                                     : tier.packets.tokens * SLUICE_NSEC_PER_SEC /
                                                           tier.packets.period_ns;
      view.kernel_tier[request_tier.name] = {index->second, rank};
    }
  }
  key_link_.configure(std::move(view));
}

void Daemon::schedule_key_link_flush() {
  key_link_timer_.expires_after(std::chrono::milliseconds(100));
  key_link_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    if (key_link_.active()) {
      key_link_.flush(dataplanes(), monotonic_ns());
    }
    schedule_key_link_flush();
  });
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

std::string Daemon::rls_metrics() const {
  if (!rls_) return "";
  const RlsCounters c = rls_->limiter().counters();
  std::string out =
      "# HELP sluice_rls_requests_total ShouldRateLimit calls answered, by overall code "
      "(invalid: INVALID_ARGUMENT or NOT_FOUND).\n# TYPE sluice_rls_requests_total counter\n";
  for (const auto& [code, value] : {std::pair<const char*, uint64_t>{"ok", c.ok},
                                    {"over_limit", c.over_limit},
                                    {"invalid", c.invalid}})
    out += std::string("sluice_rls_requests_total{code=\"") + code + "\"} " +
           std::to_string(value) + "\n";
  out +=
      "# HELP sluice_rls_shadow_total Descriptors a shadow_mode limit would have refused.\n"
      "# TYPE sluice_rls_shadow_total counter\nsluice_rls_shadow_total " +
      std::to_string(c.shadow) + "\n";
  return out;
}

std::string Daemon::cluster_metrics() const {
  if (!cluster_) return "";
  return cluster_metrics_text(*cluster_, check_ ? &check_->checker().config() : nullptr) +
         kernel_global_metrics();
}

}  // namespace sluice
