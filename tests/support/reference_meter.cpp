#include "reference_meter.h"

#include <algorithm>

namespace sluice::testing {

ReferenceBucket::ReferenceBucket(uint64_t tokens, uint64_t period_ns, uint64_t burst)
    : level_(static_cast<unsigned __int128>(burst) * period_ns),
      capacity_(static_cast<unsigned __int128>(burst) * period_ns),
      tokens_(tokens),
      period_ns_(period_ns) {}

void ReferenceBucket::refill(uint64_t now_ns) {
  if (started_ && now_ns > last_ns_) {
    unsigned __int128 gained = static_cast<unsigned __int128>(now_ns - last_ns_) * tokens_;
    level_ = std::min(capacity_, level_ + gained);
  }
  if (!started_ || now_ns > last_ns_) last_ns_ = now_ns;
  started_ = true;
}

bool ReferenceBucket::allows(uint64_t now_ns, uint64_t n) {
  if (tokens_ == 0) return true;
  refill(now_ns);
  return level_ >= static_cast<unsigned __int128>(n) * period_ns_;
}

bool ReferenceBucket::spend(uint64_t now_ns, uint64_t n) {
  if (!allows(now_ns, n)) return false;
  if (tokens_ != 0) level_ -= static_cast<unsigned __int128>(n) * period_ns_;
  return true;
}

}  // namespace sluice::testing
