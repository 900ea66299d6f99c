// Human units for limits and durations as operators write them in the YAML
// file and on the sluicectl command line: "100/s", "6000/min", "10MB/s",
// "100Mbit/s", "1000/hour", "unlimited"; bursts "2000", "64KB"; TTLs "30s", "2h".
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "policy.h"

namespace sluice {

// What a rate counts: decides which units are accepted.
enum class RateKind {
  kPackets,  // plain counts with optional k/M/G: "100/s", "10k/s"
  kBytes,    // byte or bit sizes: "10MB/s", "64KiB/s", "100Mbit/s"
};

// A value that does not parse; the message says what was expected.
class UnitError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Parses "<amount>/<period>" or "unlimited" into a RateLimit (burst left 0).
// <period> is s|sec|second, min|minute, h|hour or d|day, optionally with a
// count ("100/10s"). Rejects zero, negative and fractional token counts.
RateLimit parse_rate(std::string_view text, RateKind kind);

// Parses a burst size: a plain count for packets, a byte size for bytes.
uint64_t parse_burst(std::string_view text, RateKind kind);

// Parses a duration: "90" (seconds), "30s", "10m", "2h", "1d"; must be > 0.
uint64_t parse_duration_seconds(std::string_view text);

// The inverse of parse_rate, in the largest exact unit: "6000/min", "10MB/s".
std::string format_rate(const RateLimit& limit, RateKind kind);
// A burst as parse_burst reads it back.
std::string format_burst(uint64_t burst, RateKind kind);
// "1h30m", "45s".
std::string format_duration(uint64_t seconds);

}  // namespace sluice
