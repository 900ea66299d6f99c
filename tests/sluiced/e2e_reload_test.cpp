// A reload of a big invalid file against a real sluiced: the daemon keeps
// answering `status` while the file is read and validated, refuses it with a
// line, and gives the memory back afterwards.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "daemon_lab.h"
#include "sluice_layout.h"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Resident memory of a process, in KiB.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::string address(const char* base, uint32_t n) {
  return std::string(base) + std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255) + "/32";
}

TEST(ReloadTest, AHugeInvalidFileNeitherStallsStatusNorKeepsTheMemory) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (netns, XDP)";
  DaemonLab lab("sdrld", 225);
  const std::string policy = "tiers:\n  std:\n    packets: {rate: 200/s, burst: 50}\n";
  lab.write_config(policy);
  lab.start();
  const long rss_before = rss_kib(lab.pid());

  // Every list within its own limit, so the whole file is read and built;
  // together allow and deny are too many, which only validation finds.
  std::string big = policy + "prefixes:\n";
  for (uint32_t i = 0; i < SLUICE_MAX_PREFIX_ENTRIES; ++i)
    big += "  " + address("10.1.", i) + ": std\n";
  big += "allow:\n";
  for (uint32_t i = 0; i < SLUICE_MAX_LIST_ENTRIES; ++i) big += "  - " + address("10.2.", i) + "\n";
  big += "deny:\n";
  for (uint32_t i = 0; i < SLUICE_MAX_LIST_ENTRIES; ++i) big += "  - " + address("10.3.", i) + "\n";
  lab.write_config(big);
  std::ifstream written(lab.config_path());
  std::string line;
  int allow_line = 0;
  while (std::getline(written, line) && line != "allow:") ++allow_line;
  const int first_allowed = allow_line + 2;  // 1-based, the list's first entry

  std::atomic<bool> reloading = true;
  CommandResult reload;
  const auto started = Clock::now();
  std::thread reloader([&] {
    reload = lab.ctl("reload");
    reloading = false;
  });
  std::chrono::duration<double> slowest{0};
  int answered = 0;
  while (reloading) {
    const auto asked = Clock::now();
    CommandResult status = lab.ctl("status --json");
    const auto took = Clock::now() - asked;
    if (!reloading) break;  // the answer may have waited for the reload's commit
    EXPECT_EQ(status.exit_code, 0) << status.err;
    slowest = std::max(slowest, std::chrono::duration<double>(took));
    ++answered;
    std::this_thread::sleep_for(50ms);
  }
  reloader.join();
  const double reload_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const long rss_after = rss_kib(lab.pid());
  std::printf(
      "reload of %.1f MB refused in %.2f s; status answered %d times meanwhile, slowest "
      "%.3f s; daemon RSS %ld KiB before, %ld KiB after\n",
      static_cast<double>(big.size()) / 1e6, reload_seconds, answered, slowest.count(), rss_before,
      rss_after);

  EXPECT_EQ(reload.exit_code, 1) << reload.out;
  EXPECT_NE(reload.err.find(":" + std::to_string(first_allowed) + ":"), std::string::npos)
      << "the refusal names the line of the allow list: " << reload.err;
  EXPECT_NE(reload.err.find("allow/deny: at most 65536 entries together"), std::string::npos)
      << reload.err;
  EXPECT_GE(answered, 1) << "the reload was too quick to observe status meanwhile";
  EXPECT_LT(slowest.count(), 1.0) << "status waited for the reload";
  EXPECT_LT(rss_after, rss_before + 32 * 1024) << "the refused file's memory was kept";
  EXPECT_EQ(lab.ctl_json("status")["counts"]["prefixes"], 0) << "the running policy is unchanged";
}

}  // namespace
}  // namespace sluice::testing
