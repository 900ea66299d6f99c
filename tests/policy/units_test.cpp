// Human units: every accepted spelling, and a clear refusal for the rest.
#include "units.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;

TEST(ConfigUnits, PacketRates) {
  EXPECT_EQ(parse_rate("100/s", RateKind::kPackets), (RateLimit{100, kSec, 0}));
  EXPECT_EQ(parse_rate("6000/min", RateKind::kPackets), (RateLimit{6000, 60 * kSec, 0}));
  EXPECT_EQ(parse_rate("1000/hour", RateKind::kPackets), (RateLimit{1000, 3600 * kSec, 0}));
  EXPECT_EQ(parse_rate("5/day", RateKind::kPackets), (RateLimit{5, 86400 * kSec, 0}));
  EXPECT_EQ(parse_rate(" 10k / s ", RateKind::kPackets), (RateLimit{10000, kSec, 0}));
  EXPECT_EQ(parse_rate("1.5M/s", RateKind::kPackets), (RateLimit{1'500'000, kSec, 0}));
  EXPECT_EQ(parse_rate("100/10s", RateKind::kPackets), (RateLimit{100, 10 * kSec, 0}));
  EXPECT_EQ(parse_rate("1_000/second", RateKind::kPackets), (RateLimit{1000, kSec, 0}));
  EXPECT_TRUE(parse_rate("unlimited", RateKind::kPackets).unlimited());
}

TEST(ConfigUnits, ByteRates) {
  EXPECT_EQ(parse_rate("10MB/s", RateKind::kBytes).tokens, 10'000'000u);
  EXPECT_EQ(parse_rate("64KiB/s", RateKind::kBytes).tokens, 65'536u);
  EXPECT_EQ(parse_rate("100Mbit/s", RateKind::kBytes).tokens, 12'500'000u);
  EXPECT_EQ(parse_rate("1GB/hour", RateKind::kBytes), (RateLimit{1'000'000'000, 3600 * kSec, 0}));
  EXPECT_EQ(parse_rate("1500/s", RateKind::kBytes).tokens, 1500u);
  EXPECT_EQ(parse_rate("1500B/s", RateKind::kBytes).tokens, 1500u);
}

void expect_unit_error(std::string_view text, RateKind kind, const std::string& fragment) {
  try {
    parse_rate(text, kind);
    ADD_FAILURE() << "'" << text << "' was accepted";
  } catch (const UnitError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message for '" << text << "': " << e.what();
  }
}

TEST(ConfigUnits, RefusesBadRates) {
  expect_unit_error("-5/s", RateKind::kPackets, "must not be negative");
  expect_unit_error("0/s", RateKind::kPackets, "rate of zero");
  expect_unit_error("100", RateKind::kPackets, "expected a rate like '100/s'");
  expect_unit_error("100/fortnight", RateKind::kPackets, "unknown period 'fortnight'");
  expect_unit_error("100/2day", RateKind::kPackets, "longer than one day");
  expect_unit_error("10MB/s", RateKind::kPackets, "unknown unit 'MB'");
  expect_unit_error("10Mb/s", RateKind::kBytes, "unknown unit 'Mb'");
  expect_unit_error("1.5/s", RateKind::kPackets, "whole number");
  expect_unit_error("abc", RateKind::kBytes, "expected a rate like '10MB/s'");
  expect_unit_error("99999999999999999999/s", RateKind::kPackets, "too large");
  expect_unit_error("", RateKind::kPackets, "expected a rate");
}

TEST(ConfigUnits, Bursts) {
  EXPECT_EQ(parse_burst("200", RateKind::kPackets), 200u);
  EXPECT_EQ(parse_burst("2k", RateKind::kPackets), 2000u);
  EXPECT_EQ(parse_burst("64KB", RateKind::kBytes), 64'000u);
  EXPECT_THROW(parse_burst("0", RateKind::kPackets), UnitError);
  EXPECT_THROW(parse_burst("-1", RateKind::kPackets), UnitError);
  EXPECT_THROW(parse_burst("10/s", RateKind::kPackets), UnitError);
}

TEST(ConfigUnits, Durations) {
  EXPECT_EQ(parse_duration_seconds("90"), 90u);
  EXPECT_EQ(parse_duration_seconds("30s"), 30u);
  EXPECT_EQ(parse_duration_seconds("10m"), 600u);
  EXPECT_EQ(parse_duration_seconds("2h"), 7200u);
  EXPECT_EQ(parse_duration_seconds("1d"), 86400u);
  EXPECT_THROW(parse_duration_seconds("0s"), UnitError);
  EXPECT_THROW(parse_duration_seconds("-5m"), UnitError);
  EXPECT_THROW(parse_duration_seconds("5 weeks"), UnitError);
  EXPECT_THROW(parse_duration_seconds("100000d"), UnitError);
  EXPECT_EQ(format_duration(5430), "1h30m30s");
}

TEST(ConfigUnits, FormatRoundTrips) {
  for (const char* text : {"100/s", "6000/min", "1000/hour", "5/day", "100/10s"})
    EXPECT_EQ(format_rate(parse_rate(text, RateKind::kPackets), RateKind::kPackets), text);
  for (const char* text : {"10MB/s", "64KiB/s", "1GB/hour", "1234B/s"})
    EXPECT_EQ(format_rate(parse_rate(text, RateKind::kBytes), RateKind::kBytes), text);
  EXPECT_EQ(format_rate(RateLimit{}, RateKind::kBytes), "unlimited");
  EXPECT_EQ(format_burst(64000, RateKind::kBytes), "64KB");
}

}  // namespace
}  // namespace sluice
