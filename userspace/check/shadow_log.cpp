#include "shadow_log.h"

#include <spdlog/spdlog.h>

#include "sluice_bucket.h"

namespace sluice {

void ShadowLog::write(const std::string& rule, Rule& state, uint64_t now_ns) {
  const double seconds = static_cast<double>(interval_ns_) / SLUICE_NSEC_PER_SEC;
  if (state.held == 1)
    spdlog::info("shadow: '{}' would have refused {}", rule, state.last_client);
  else
    spdlog::info("shadow: '{}' would have refused {} requests (one line per {:g} s; latest: {})",
                 rule, state.held, seconds, state.last_client);
  ++lines_;
  state.held = 0;
  state.quiet_until = now_ns + interval_ns_;
}

void ShadowLog::note(const std::string& rule, const std::string& client, uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  Rule& state = rules_[rule];
  ++state.held;
  state.last_client = client;
  if (now_ns >= state.quiet_until) write(rule, state, now_ns);
}

void ShadowLog::flush(uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  for (auto& [rule, state] : rules_)
    if (state.held && now_ns >= state.quiet_until) write(rule, state, now_ns);
}

void ShadowLog::set_interval(uint64_t interval_ns) {
  std::lock_guard lock(mutex_);
  interval_ns_ = interval_ns;
}

uint64_t ShadowLog::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

}  // namespace sluice
