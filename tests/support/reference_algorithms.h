// Reference models of the four algorithms of bpf/sluice_algorithms.h, each
// written the way a textbook states it (a level that drains, a counter per
// window number, an exact rational estimate) and not as the header computes
// it, so that the tests compare two independent formulations.
#pragma once

#include <cstdint>
#include <map>

#include "reference_meter.h"

namespace sluice::testing {

// A bucket of `depth` requests that drains `tokens` per `period_ns`; a
// request is admitted when it fits without overflowing. Starts empty.
class ReferenceLeakyBucket {
 public:
  ReferenceLeakyBucket(uint64_t tokens, uint64_t period_ns, uint64_t depth);
  bool spend(uint64_t now_ns, uint64_t n);

 private:
  // Water in units of 1/period_ns request, so that draining is exact.
  unsigned __int128 level_ = 0;
  unsigned __int128 depth_;
  uint64_t tokens_, period_ns_, last_ns_ = 0;
};

// At most `limit` per window [k * window_ns, (k + 1) * window_ns).
class ReferenceFixedWindow {
 public:
  ReferenceFixedWindow(uint64_t limit, uint64_t window_ns) : limit_(limit), window_ns_(window_ns) {}
  bool spend(uint64_t now_ns, uint64_t n);

 private:
  std::map<uint64_t, uint64_t> admitted_;  // window number -> admitted in it
  uint64_t limit_, window_ns_;
};

// Admitted when previous x (window - elapsed) / window + current + n <= limit,
// in exact rational arithmetic, with the counts of every window kept.
class ReferenceSlidingWindow {
 public:
  ReferenceSlidingWindow(uint64_t limit, uint64_t window_ns)
      : limit_(limit), window_ns_(window_ns) {}
  bool spend(uint64_t now_ns, uint64_t n);

 private:
  std::map<uint64_t, uint64_t> admitted_;
  uint64_t limit_, window_ns_;
};

}  // namespace sluice::testing
