// Configurations of any size: counts over the data path's limits and files
// over the size limit are refused quickly, before a node tree is built, and
// every refusal names a line.
#include "config_limits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "config_file.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

ConfigError refusal(const std::string& yaml) {
  try {
    parse_config(yaml, "big.yaml");
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted";
  return ConfigError("", 0, 0, "", "");
}

std::string ipv4(uint32_t n) {
  return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
         std::to_string(n & 255) + "/32";
}

std::string deny_list(uint32_t entries) {
  std::string yaml = "tiers:\n  std:\n    packets: 100/s\ndeny:\n";  // entry i on line 5 + i
  for (uint32_t i = 0; i < entries; ++i) yaml += "  - " + ipv4(i) + "\n";
  return yaml;
}

TEST(ConfigLimits, SeventyTiersAreRefusedAtTheLineOfTheSixtyFifth) {
  std::string yaml = "default_tier: t0\ntiers:\n";  // tier i on line 3 + i
  for (int i = 0; i < 70; ++i) yaml += "  t" + std::to_string(i) + ":\n    packets: 100/s\n";
  // Each tier takes two lines here.
  ConfigError e = refusal(yaml);
  EXPECT_EQ(e.line(), 3 + 2 * 64) << e.what();
  EXPECT_EQ(e.field(), "tiers") << e.what();
  EXPECT_EQ(e.reason(), "too many tiers: at most 64 can exist") << e.what();
}

TEST(ConfigLimits, SixtyFourTiersAreFine) {
  std::string yaml = "default_tier: t0\ntiers:\n";
  for (int i = 0; i < 64; ++i) yaml += "  t" + std::to_string(i) + ": {packets: 100/s}\n";
  EXPECT_EQ(parse_config(yaml, "ok.yaml").policy.tiers.size(), 64u);
}

TEST(ConfigLimits, ADenyListOverTheLimitNamesTheFirstEntryTooMany) {
  const std::string yaml = deny_list(SLUICE_MAX_LIST_ENTRIES + 10);
  ConfigError e = refusal(yaml);
  EXPECT_EQ(e.line(), 5 + SLUICE_MAX_LIST_ENTRIES) << e.what();
  EXPECT_EQ(e.field(), "deny") << e.what();
  EXPECT_EQ(e.reason(), "too many entries: at most 65536 are allowed") << e.what();
  // At the limit the same list is valid.
  EXPECT_EQ(parse_config(deny_list(SLUICE_MAX_LIST_ENTRIES), "ok.yaml").policy.deny.size(),
            size_t{SLUICE_MAX_LIST_ENTRIES});
}

TEST(ConfigLimits, TooManyPrefixesNameALine) {
  std::string yaml = "tiers:\n  std:\nprefixes:\n";  // prefix i on line 4 + i
  for (uint32_t i = 0; i <= SLUICE_MAX_PREFIX_ENTRIES; ++i) yaml += "  " + ipv4(i) + ": std\n";
  ConfigError e = refusal(yaml);
  EXPECT_EQ(e.line(), 4 + SLUICE_MAX_PREFIX_ENTRIES) << e.what();
  EXPECT_EQ(e.field(), "prefixes") << e.what();
}

TEST(ConfigLimits, AllowAndDenyTogetherOverTheLimitNameALine) {
  std::string yaml = deny_list(SLUICE_MAX_LIST_ENTRIES) + "allow:\n  - 192.0.2.0/24\n";
  ConfigError e = refusal(yaml);
  EXPECT_GT(e.line(), 0) << e.what();
  EXPECT_EQ(e.reason(), "allow/deny: at most 65536 entries together") << e.what();
}

// The 50 MB file of the issue took 13.5 s and 2.2 GB to be refused: now the
// size alone refuses it, after reading 16 MiB and building nothing.
TEST(ConfigLimits, AFileOverTheSizeLimitIsRefusedQuicklyWithALine) {
  char path[] = "/tmp/sluice-big-config-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  {
    std::ofstream out(path);
    out << "tiers:\n  std:\n    packets: 100/s\ndeny:\n";
    for (uint32_t i = 0; i < 2'600'000; ++i) out << "  - " << ipv4(i) << "\n";  // ~50 MB
  }
  ASSERT_GT(std::filesystem::file_size(path), 40u << 20);
  const auto start = Clock::now();
  try {
    load_config_file(path);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("50 MB file refused in %.3f s: %s\n", seconds, e.what());
    EXPECT_LT(seconds, 2.0);
    EXPECT_GT(e.line(), 800'000) << e.what();  // the line where the 16 MiB are reached
    EXPECT_NE(e.reason().find("goes past 16 MiB"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sluice
