// `sluicectl simulate` run as a user runs it (the real binary, no daemon): the
// classic cases come out as the four algorithms promise, and a bad arrivals
// file or rate is refused with a message that says what is wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "daemon_lab.h"

namespace sluice::testing {
namespace {

using nlohmann::json;

int admitted(const json& scenario, const char* algorithm) {
  int n = 0;
  for (const auto& verdict : scenario["admitted"][algorithm]) n += verdict.get<bool>();
  return n;
}

json simulate(const std::string& args) {
  CommandResult r = run_captured(std::string(SLUICECTL_BIN) + " --json simulate " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

class ArrivalsFile {
 public:
  explicit ArrivalsFile(const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("sluice-arrivals-" + std::to_string(::getpid()))) {
    std::ofstream(path_) << text;
  }
  ~ArrivalsFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(SimulateCli, TwentyRequestsInOneSecondAgainstTenPerSecond) {
  json classic = simulate("");
  ASSERT_EQ(classic.size(), 3u);
  const json& twenty = classic[0];
  ASSERT_EQ(twenty["arrivals_ms"].size(), 20u);
  // Token bucket: the burst (one second's worth, 10) plus what refills in the
  // 950 ms the requests span (9).
  EXPECT_EQ(admitted(twenty, "token_bucket"), 19);
  EXPECT_EQ(admitted(twenty, "fixed_window"), 10);
  EXPECT_EQ(admitted(twenty, "sliding_window"), 10);
  // Leaky bucket as a meter: one every 100 ms, so every other request.
  EXPECT_EQ(admitted(twenty, "leaky_bucket"), 10);
  for (size_t i = 0; i < 20; ++i)
    EXPECT_EQ(twenty["admitted"]["leaky_bucket"][i].get<bool>(), i % 2 == 0) << i;
}

TEST(SimulateCli, OnlyTheFixedWindowAdmitsTwiceAcrossABoundary) {
  json classic = simulate("");
  const json& straddle = classic[1];
  EXPECT_EQ(admitted(straddle, "fixed_window"), 2);
  EXPECT_EQ(admitted(straddle, "sliding_window"), 1);
  EXPECT_EQ(admitted(straddle, "token_bucket"), 1);
  EXPECT_EQ(admitted(straddle, "leaky_bucket"), 1);

  const json& bursts = classic[2];
  EXPECT_EQ(admitted(bursts, "fixed_window"), 20);  // 2x the limit within 2 ms
  EXPECT_EQ(admitted(bursts, "sliding_window"), 10);
  EXPECT_EQ(admitted(bursts, "token_bucket"), 10);
}

TEST(SimulateCli, ReplaysAnArrivalsFileSortedByTime) {
  ArrivalsFile file("# ms\n300\n0\n100\n200.5\n");
  json result = simulate("--rate 2/s --arrivals " + file.path());
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0]["arrivals_ms"], json::parse("[0.0, 100.0, 200.5, 300.0]"));
  EXPECT_EQ(admitted(result[0], "fixed_window"), 2);
  EXPECT_EQ(admitted(result[0], "token_bucket"), 2);
}

TEST(SimulateCli, RefusesABadArrivalsLineByNumber) {
  ArrivalsFile file("10\nsoon\n");
  CommandResult r =
      run_captured(std::string(SLUICECTL_BIN) + " simulate --arrivals " + file.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(":2: expected a time in ms, got 'soon'"), std::string::npos) << r.err;
}

TEST(SimulateCli, RefusesABadRate) {
  ArrivalsFile file("10\n");
  CommandResult r =
      run_captured(std::string(SLUICECTL_BIN) + " simulate --rate fast --arrivals " + file.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--rate"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sluice::testing
