#include "units.h"

#include <array>
#include <cctype>
#include <utility>

namespace sluice {
namespace {

using u128 = unsigned __int128;
constexpr uint64_t kNsPerSec = SLUICE_NSEC_PER_SEC;

[[noreturn]] void reject(std::string_view text, const std::string& why) {
  throw UnitError("'" + std::string(text) + "': " + why);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

// A unit as a fraction: value * numerator / denominator tokens.
struct Unit {
  std::string_view name;
  uint64_t numerator;
  uint64_t denominator;
};

constexpr std::array kCountUnits{
    Unit{"", 1, 1},        Unit{"k", 1000, 1},       Unit{"K", 1000, 1},
    Unit{"M", 1000000, 1}, Unit{"G", 1000000000, 1},
};

// Decimal and binary byte sizes, and bit sizes (8 bits per token). "Mb" and
// friends are refused on purpose: half the world reads them as bits.
constexpr std::array kByteUnits{
    Unit{"", 1, 1},
    Unit{"B", 1, 1},
    Unit{"KB", 1000, 1},
    Unit{"kB", 1000, 1},
    Unit{"MB", 1000000, 1},
    Unit{"GB", 1000000000, 1},
    Unit{"KiB", 1024, 1},
    Unit{"MiB", 1048576, 1},
    Unit{"GiB", 1073741824, 1},
    Unit{"bit", 1, 8},
    Unit{"kbit", 1000, 8},
    Unit{"Kbit", 1000, 8},
    Unit{"Mbit", 1000000, 8},
    Unit{"Gbit", 1000000000, 8},
};

struct PeriodUnit {
  std::string_view name;
  uint64_t seconds;
};

constexpr std::array kPeriodUnits{
    PeriodUnit{"s", 1},       PeriodUnit{"sec", 1},      PeriodUnit{"second", 1},
    PeriodUnit{"seconds", 1}, PeriodUnit{"m", 60},       PeriodUnit{"min", 60},
    PeriodUnit{"minute", 60}, PeriodUnit{"minutes", 60}, PeriodUnit{"h", 3600},
    PeriodUnit{"hr", 3600},   PeriodUnit{"hour", 3600},  PeriodUnit{"hours", 3600},
    PeriodUnit{"d", 86400},   PeriodUnit{"day", 86400},  PeriodUnit{"days", 86400},
};

// An exact decimal: digits / 10^scale.
struct Decimal {
  uint64_t digits = 0;
  uint64_t scale = 1;
};

// Reads a non-negative decimal number from the front of `text`.
Decimal take_number(std::string_view& text, std::string_view whole, const std::string& expected) {
  if (!text.empty() && text.front() == '-') reject(whole, "must not be negative");
  Decimal out;
  size_t i = 0;
  bool seen_digit = false, seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (c == '_' || c == ',') continue;  // 1_000_000, 1,000,000
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    seen_digit = true;
    if (out.digits > (UINT64_MAX - 9) / 10 || (seen_point && out.scale > UINT64_MAX / 10))
      reject(whole, "number is too large");
    out.digits = out.digits * 10 + static_cast<uint64_t>(c - '0');
    if (seen_point) out.scale *= 10;
  }
  if (!seen_digit) reject(whole, "expected " + expected);
  text.remove_prefix(i);
  return out;
}

template <size_t N>
const Unit& find_unit(const std::array<Unit, N>& units, std::string_view name,
                      std::string_view whole, const std::string& accepted) {
  for (const auto& unit : units)
    if (unit.name == name) return unit;
  reject(whole, "unknown unit '" + std::string(name) + "' (use " + accepted + ")");
}

const char* kByteUnitHelp = "B, KB, MB, GB, KiB, MiB, GiB, kbit, Mbit or Gbit";
const char* kCountUnitHelp = "a plain number, or k, M, G";

// amount * unit, which must come out as a whole number of tokens.
uint64_t scale_amount(const Decimal& amount, const Unit& unit, std::string_view whole) {
  u128 numerator = static_cast<u128>(amount.digits) * unit.numerator;
  u128 denominator = static_cast<u128>(amount.scale) * unit.denominator;
  if (numerator % denominator != 0) reject(whole, "must come out as a whole number of units");
  u128 value = numerator / denominator;
  if (value > UINT64_MAX) reject(whole, "number is too large");
  return static_cast<uint64_t>(value);
}

uint64_t parse_amount(std::string_view& rest, std::string_view whole, RateKind kind,
                      const std::string& expected) {
  Decimal amount = take_number(rest, whole, expected);
  size_t unit_end = 0;
  while (unit_end < rest.size() && std::isalpha(static_cast<unsigned char>(rest[unit_end])))
    ++unit_end;
  std::string_view unit_name = rest.substr(0, unit_end);
  rest.remove_prefix(unit_end);
  const Unit& unit = kind == RateKind::kBytes
                         ? find_unit(kByteUnits, unit_name, whole, kByteUnitHelp)
                         : find_unit(kCountUnits, unit_name, whole, kCountUnitHelp);
  return scale_amount(amount, unit, whole);
}

}  // namespace

RateLimit parse_rate(std::string_view text, RateKind kind) {
  const std::string_view whole = trim(text);
  if (whole == "unlimited") return RateLimit{};
  const std::string expected = kind == RateKind::kBytes
                                   ? "a rate like '10MB/s', '100Mbit/s', '1GB/hour' or 'unlimited'"
                                   : "a rate like '100/s', '6000/min', '1000/hour' or 'unlimited'";
  std::string_view rest = whole;
  RateLimit limit;
  limit.tokens = parse_amount(rest, whole, kind, expected);
  rest = trim(rest);
  if (rest.empty() || rest.front() != '/') reject(whole, "expected " + expected);
  rest = trim(rest.substr(1));

  uint64_t count = 1;
  if (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
    Decimal number = take_number(rest, whole, expected);
    if (number.scale != 1 || number.digits == 0)
      reject(whole, "the period count must be a whole number above zero");
    count = number.digits;
    rest = trim(rest);
  }
  uint64_t unit_seconds = 0;
  for (const auto& [name, seconds] : kPeriodUnits)
    if (name == rest) unit_seconds = seconds;
  if (!unit_seconds)
    reject(whole, "unknown period '" + std::string(rest) + "' (use s, min, hour or day)");
  if (count > 86400 / unit_seconds || count * unit_seconds > 86400)
    reject(whole, "periods longer than one day are not supported");
  limit.period_ns = count * unit_seconds * kNsPerSec;
  if (limit.tokens == 0)
    reject(whole,
           "a rate of zero would drop everything; use a deny entry to block a source, or "
           "'unlimited' for no limit");
  return limit;
}

uint64_t parse_burst(std::string_view text, RateKind kind) {
  const std::string_view whole = trim(text);
  std::string_view rest = whole;
  const std::string expected =
      kind == RateKind::kBytes ? "a size like '64KB' or '1MB'" : "a number of packets like '200'";
  uint64_t burst = parse_amount(rest, whole, kind, expected);
  if (!trim(rest).empty()) reject(whole, "expected " + expected);
  if (burst == 0) reject(whole, "a burst must be at least 1");
  return burst;
}

uint64_t parse_duration_seconds(std::string_view text) {
  const std::string_view whole = trim(text);
  std::string_view rest = whole;
  const std::string expected = "a duration like '90s', '10m', '2h' or '1d'";
  Decimal number = take_number(rest, whole, expected);
  if (number.scale != 1) reject(whole, "expected a whole number in " + expected);
  rest = trim(rest);
  uint64_t unit_seconds = rest.empty() ? 1 : 0;
  for (const auto& [name, seconds] : kPeriodUnits)
    if (name == rest) unit_seconds = seconds;
  if (!unit_seconds)
    reject(whole, "unknown unit '" + std::string(rest) + "' (expected " + expected + ")");
  // Ten years is far beyond any sane TTL and keeps the arithmetic clear of overflow.
  constexpr uint64_t kMaxSeconds = 10ULL * 365 * 86400;
  if (number.digits > kMaxSeconds / unit_seconds) reject(whole, "longer than ten years");
  if (number.digits == 0) reject(whole, "must be longer than zero");
  return number.digits * unit_seconds;
}

std::string format_burst(uint64_t burst, RateKind kind) {
  if (kind == RateKind::kPackets || burst == 0) return std::to_string(burst);
  for (const auto& [name, size] : {std::pair<const char*, uint64_t>{"GB", 1000000000},
                                   {"MB", 1000000},
                                   {"KB", 1000},
                                   {"GiB", 1ULL << 30},
                                   {"MiB", 1ULL << 20},
                                   {"KiB", 1ULL << 10}})
    if (burst % size == 0) return std::to_string(burst / size) + name;
  return std::to_string(burst) + "B";
}

std::string format_rate(const RateLimit& limit, RateKind kind) {
  if (limit.unlimited()) return "unlimited";
  std::string period;
  uint64_t seconds = limit.period_ns / kNsPerSec;
  if (limit.period_ns % kNsPerSec != 0) {
    period = std::to_string(limit.period_ns) + "ns";  // not writable in the config; show raw
  } else {
    for (const auto& [name, size] :
         {std::pair<const char*, uint64_t>{"day", 86400}, {"hour", 3600}, {"min", 60}, {"s", 1}}) {
      if (seconds % size == 0) {
        period = (seconds == size ? "" : std::to_string(seconds / size)) + name;
        break;
      }
    }
  }
  return format_burst(limit.tokens, kind) + "/" + period;
}

std::string format_duration(uint64_t seconds) {
  if (seconds == 0) return "0s";
  std::string out;
  for (const auto& [name, size] :
       {std::pair<const char*, uint64_t>{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}}) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + name;
      seconds %= size;
    }
  }
  return out;
}

}  // namespace sluice
