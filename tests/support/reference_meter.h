// A plain token bucket kept in exact rational arithmetic, the model the GCRA
// meter in sluice_bucket.h is checked against. Deliberately a different
// formulation (a token level refilled over time, not a theoretical arrival time).
#pragma once

#include <cstdint>

namespace sluice::testing {

class ReferenceBucket {
 public:
  // `tokens` per `period_ns`, holding at most `burst` tokens; starts full.
  // tokens == 0: unlimited.
  ReferenceBucket(uint64_t tokens, uint64_t period_ns, uint64_t burst);

  // Would spending n tokens at `now_ns` succeed? Does not change the level.
  bool allows(uint64_t now_ns, uint64_t n);
  // Spends n tokens at `now_ns` if the level allows; returns whether it did.
  bool spend(uint64_t now_ns, uint64_t n);

 private:
  void refill(uint64_t now_ns);

  // The level is kept in units of 1/period_ns token, so refills are exact.
  unsigned __int128 level_;
  unsigned __int128 capacity_;
  uint64_t tokens_, period_ns_, last_ns_ = 0;
  bool started_ = false;
};

}  // namespace sluice::testing
