#include "reference_algorithms.h"

namespace sluice::testing {

using u128 = unsigned __int128;

ReferenceLeakyBucket::ReferenceLeakyBucket(uint64_t tokens, uint64_t period_ns, uint64_t depth)
    : depth_(static_cast<u128>(depth) * period_ns), tokens_(tokens), period_ns_(period_ns) {}

bool ReferenceLeakyBucket::spend(uint64_t now_ns, uint64_t n) {
  if (now_ns > last_ns_) {
    u128 drained = static_cast<u128>(now_ns - last_ns_) * tokens_;
    level_ = drained >= level_ ? 0 : level_ - drained;
    last_ns_ = now_ns;
  }
  u128 water = static_cast<u128>(n) * period_ns_;
  if (level_ + water > depth_) return false;
  level_ += water;
  return true;
}

bool ReferenceFixedWindow::spend(uint64_t now_ns, uint64_t n) {
  uint64_t& count = admitted_[now_ns / window_ns_];
  if (count + n > limit_) return false;
  count += n;
  return true;
}

bool ReferenceSlidingWindow::spend(uint64_t now_ns, uint64_t n) {
  uint64_t window = now_ns / window_ns_;
  uint64_t elapsed = now_ns % window_ns_;
  uint64_t previous = window > 0 && admitted_.count(window - 1) ? admitted_[window - 1] : 0;
  uint64_t& current = admitted_[window];
  // previous * (W - e) / W + current + n <= limit, multiplied out by W.
  u128 estimate = static_cast<u128>(previous) * (window_ns_ - elapsed) +
                  static_cast<u128>(current + n) * window_ns_;
  if (estimate > static_cast<u128>(limit_) * window_ns_) return false;
  current += n;
  return true;
}

}  // namespace sluice::testing
