// Upgrades that keep state: a sluiced of a build whose program has another
// version takes over the pins of a running one under a flood and replaces the
// program in place (bpf_link_update) on the same maps: the flooder stays
// limited, no fresh burst passes, and status shows the new program. Settings
// that apply only at load are reported by reload and status until applied.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "daemon_lab.h"
#include "sluice_layout.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint16_t kPort = 9323;

class UpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (netns, XDP)";
    lab_ = std::make_unique<DaemonLab>("sdupg", 226);
  }
  json program() { return lab_->ctl_json("status")["interfaces"][0]["program"]; }
  std::unique_ptr<DaemonLab> lab_;
};

TEST_F(UpgradeTest, ANewProgramVersionReplacesTheOldInPlaceUnderAFlood) {
  DaemonLab& lab = *lab_;
  lab.write_config("tiers:\n  std:\n    packets: {rate: 200/s, burst: 400}\n");
  lab.start();
  const json before = program();
  ASSERT_NE(before["version"], SLUICE_NEXT_PROG_VERSION);
  EXPECT_EQ(before["tag"].get<std::string>().size(), 16u);

  const std::string src = lab.lab().tx_v4();
  UdpCounter counter(lab.lab().rx_ns(), false, kPort);
  SendReport sent;
  std::thread sender(
      [&] { sent = send_udp(lab.lab().tx_ns(), src, lab.lab().rx_v4(), kPort, 1000, 5000ms); });
  std::this_thread::sleep_for(2500ms);  // the burst of 400 is long spent
  EXPECT_EQ(lab.stop(SIGTERM), 0);      // leaves the program enforcing
  lab.use_binary(SLUICED_NEXT_BIN);
  lab.start();
  sender.join();
  const uint64_t received = counter.stop()[src];

  // 200/s x 5 s + one burst of 400; a reset bucket would pass another 400.
  const double due = 200 * sent.seconds + 400;
  std::printf("upgrade under a flood: sent %lu, received %lu, due %.0f\n",
              static_cast<unsigned long>(sent.sent), static_cast<unsigned long>(received), due);
  EXPECT_LE(static_cast<double>(received), due + 60) << "no fresh burst";
  EXPECT_GE(static_cast<double>(received), due * 0.9) << "no stall either";

  const json iface = lab.ctl_json("status")["interfaces"][0];
  EXPECT_EQ(iface["adopted"], true);
  EXPECT_EQ(iface["program"]["version"], SLUICE_NEXT_PROG_VERSION);
  EXPECT_EQ(iface["program"]["clock"], "precise");
  EXPECT_NE(iface["upgrade"].get<std::string>().find("buckets, lists and counters kept"),
            std::string::npos)
      << iface.dump();
  EXPECT_NE(lab.log().find("in place; buckets, lists and counters kept"), std::string::npos)
      << lab.log();
  CommandResult table = lab.ctl("status");
  EXPECT_NE(table.out.find(std::to_string(SLUICE_NEXT_PROG_VERSION)), std::string::npos)
      << table.out;
}

// Layout 5 changed only the global maps' values: pins of layout 4 are adopted
// without them (the program is replaced in place and its fresh global maps
// pinned), so the flooder keeps its bucket. The pins of this build, moved to
// where a layout 4 build leaves them, stand in for that build's.
TEST_F(UpgradeTest, PinsOfTheLayoutBeforeAreAdoptedWithFreshGlobalMaps) {
  DaemonLab& lab = *lab_;
  lab.write_config("tiers:\n  std:\n    packets: {rate: 200/s, burst: 400}\n");
  lab.start();
  const std::string src = lab.lab().tx_v4();
  UdpCounter counter(lab.lab().rx_ns(), false, kPort);
  SendReport sent;
  std::thread sender(
      [&] { sent = send_udp(lab.lab().tx_ns(), src, lab.lab().rx_v4(), kPort, 1000, 5000ms); });
  std::this_thread::sleep_for(2500ms);  // the burst of 400 is long spent
  EXPECT_EQ(lab.stop(SIGTERM), 0);
  const std::string current = lab.pin_dir() + "/v" + std::to_string(SLUICE_LAYOUT_VERSION);
  const std::string previous = lab.pin_dir() + "/v4";
  static_assert(SLUICE_LAYOUT_VERSION == 5, "which layout is adoptable now?");
  std::filesystem::rename(current, previous);
  lab.start();
  sender.join();
  const uint64_t received = counter.stop()[src];

  const double due = 200 * sent.seconds + 400;
  std::printf("layout 4 pins adopted under a flood: sent %lu, received %lu, due %.0f\n",
              static_cast<unsigned long>(sent.sent), static_cast<unsigned long>(received), due);
  EXPECT_LE(static_cast<double>(received), due + 60) << "no fresh burst: the buckets were kept";
  EXPECT_GE(static_cast<double>(received), due * 0.9) << "no stall either";
  const json iface = lab.ctl_json("status")["interfaces"][0];
  EXPECT_EQ(iface["adopted"], true);
  EXPECT_NE(iface.value("upgrade", "").find("buckets, lists and counters kept"), std::string::npos)
      << iface.dump();
  EXPECT_NE(lab.log().find("adopting the pins of layout 4"), std::string::npos) << lab.log();
  EXPECT_FALSE(std::filesystem::exists(previous));
  for (const char* map : {"link", "buckets", "global_usage", "global_remote", "global_charged"})
    EXPECT_TRUE(std::filesystem::exists(current + "/" + map)) << map;
}

TEST_F(UpgradeTest, LoadTimeSettingsAreReportedUntilApplied) {
  DaemonLab& lab = *lab_;
  const std::string tiers = "tiers:\n  std:\n    packets: {rate: 200/s, burst: 400}\n";
  lab.write_config(tiers);
  lab.start();
  const std::string before_tag = program()["tag"];
  // Write the same file with a coarse clock and a larger bucket map.
  std::string file = lab.config_text();
  file.replace(file.find("buckets: 65536"), 14, "buckets: 131072");
  lab.write_raw_config(file + "clock: coarse\n");

  json reloaded = lab.ctl_json("reload");
  ASSERT_EQ(reloaded["pending"].size(), 2u) << reloaded.dump();
  json status = lab.ctl_json("status")["interfaces"][0];
  ASSERT_EQ(status["pending"].size(), 2u) << status.dump();
  for (const auto& pending : status["pending"]) {
    if (pending["setting"] == "clock") {
      EXPECT_EQ(pending["file"], "coarse");
      EXPECT_EQ(pending["running"], "precise");
      EXPECT_NE(pending["applies"].get<std::string>().find("restart"), std::string::npos);
    } else {
      EXPECT_EQ(pending["setting"], "maps.buckets");
      EXPECT_EQ(pending["file"], "131072");
      EXPECT_EQ(pending["running"], "65536");
      EXPECT_NE(pending["applies"].get<std::string>().find("detach"), std::string::npos);
    }
  }
  EXPECT_NE(lab.ctl("status").out.find("clock"), std::string::npos) << lab.ctl("status").out;

  // A restart applies the clock in place; the bucket map keeps its size.
  EXPECT_EQ(lab.stop(SIGTERM), 0);
  lab.start();
  status = lab.ctl_json("status")["interfaces"][0];
  EXPECT_EQ(status["program"]["clock"], "coarse");
  EXPECT_EQ(status["bucket_capacity"], 65536);
  ASSERT_EQ(status["pending"].size(), 1u) << status.dump();
  EXPECT_EQ(status["pending"][0]["setting"], "maps.buckets");
}

// Pins of a build before the global maps (docs/kernel-global.md) have
// none: they are adopted, the new program replaces the old in place on the
// pinned maps, and its own global maps are pinned beside them.
TEST_F(UpgradeTest, PinsWithoutTheGlobalMapsAreAdoptedAndCompleted) {
  DaemonLab& lab = *lab_;
  lab.write_config("tiers:\n  std:\n    packets: {rate: 200/s, burst: 400}\n");
  lab.start();
  const std::string version_dir = lab.pin_dir() + "/v" + std::to_string(SLUICE_LAYOUT_VERSION);
  EXPECT_EQ(lab.stop(SIGTERM), 0);  // leaves the program enforcing
  for (const char* name : {"global_usage", "global_remote", "global_charged", "global_beat"})
    ASSERT_TRUE(std::filesystem::remove(version_dir + "/" + name)) << version_dir << "/" << name;
  lab.use_binary(SLUICED_NEXT_BIN);
  lab.start();
  EXPECT_EQ(program()["version"], SLUICE_NEXT_PROG_VERSION);
  for (const char* name : {"global_usage", "global_remote", "global_charged", "global_beat"})
    EXPECT_TRUE(std::filesystem::exists(version_dir + "/" + name)) << name << " pinned again";
}

}  // namespace
}  // namespace sluice::testing
