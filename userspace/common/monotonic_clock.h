// CLOCK_MONOTONIC in nanoseconds: the clock of the data path's
// bpf_ktime_get_ns, so times the daemon writes into maps and the times the
// program reads agree (the coarse clock is at most a tick behind).
#pragma once

#include <cstdint>
#include <ctime>

namespace sluice {

inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace sluice
