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

// CLOCK_REALTIME minus `monotonic` (read just before): what turns a
// monotonic time into wall-clock time, comparable between hosts (to NTP's
// precision). Read it again from time to time so that a clock step or slew
// is followed.
inline int64_t wall_clock_offset_ns(uint64_t monotonic) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t wall =
      static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
  return static_cast<int64_t>(wall - monotonic);
}

}  // namespace sluice
