// A real sluiced with `attach: {mode: multiprog}`, in libxdp's dispatcher
// beside xdp-filter on the lab's veth: both enforce (counted on the far side),
// and the crash-safety promise holds in this mode too: kill -9 under a flood,
// restart, and nothing beyond the limit gets through (docs/attach-modes.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "daemon_lab.h"
#include "dataplane.h"
#include "sluice_layout.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint16_t kPort = 9322;

class MultiprogDaemon : public ::testing::Test {
 protected:
  MultiprogDaemon() : lab_("sdmp", 227) {}

  void SetUp() override {
    if (!multiprog_supported())
      GTEST_SKIP() << "this kernel does not load extension (freplace) programs: libxdp's "
                      "dispatcher cannot run here";
    if (run("command -v xdp-filter >/dev/null") != 0)
      GTEST_FAIL() << "xdp-filter missing: scripts/install-deps.sh installs xdp-tools";
    // xdp-filter first: it creates the dispatcher Sluice then joins.
    run_or_throw(in_rx("xdp-filter load --mode native " + lab_.lab().rx_if()));
    filter_loaded_ = true;
  }
  void TearDown() override {
    if (lab_.running()) lab_.ctl("detach " + lab_.lab().rx_if());
    if (filter_loaded_) run(in_rx("xdp-filter unload " + lab_.lab().rx_if()));
  }
  std::string in_rx(const std::string& command) {
    return "nsenter --net=/run/netns/" + lab_.lab().rx_ns() + " " + command;
  }

  DaemonLab lab_;
  bool filter_loaded_ = false;
};

TEST_F(MultiprogDaemon, BesideXdpFilterBothEnforceAcrossKillNineAndRestart) {
  lab_.write_config(
      "attach: {mode: multiprog, priority: 60}\n"
      "tiers:\n  std:\n    packets: {rate: 100/s, burst: 500}\n");
  lab_.start();
  json status = lab_.ctl_json("status");
  ASSERT_EQ(status["interfaces"][0]["attach"], "multiprog") << status.dump();
  const std::string loader = capture(in_rx("xdp-loader status " + lab_.lab().rx_if()) + " 2>&1");
  EXPECT_NE(loader.find("xdpfilt"), std::string::npos) << loader;
  EXPECT_NE(loader.find("sluice_xdp"), std::string::npos) << loader;

  const std::string src = lab_.lab().tx_v4();
  const std::string denied = lab_.lab().add_tx_v4(9);
  run_or_throw(in_rx("xdp-filter ip " + denied + " --mode src"));

  UdpCounter counter(lab_.lab().rx_ns(), false, kPort);
  SendReport flood, calm;
  std::thread flooder(
      [&] { flood = send_udp(lab_.lab().tx_ns(), src, lab_.lab().rx_v4(), kPort, 3000, 6000ms); });
  std::thread caller(
      [&] { calm = send_udp(lab_.lab().tx_ns(), denied, lab_.lab().rx_v4(), kPort, 50, 6000ms); });
  std::this_thread::sleep_for(1500ms);
  lab_.kill9();
  const std::string pins = lab_.pin_dir() + "/v" + std::to_string(SLUICE_LAYOUT_VERSION) + "/prog";
  EXPECT_TRUE(std::filesystem::exists(pins)) << "the program's pin outlives the daemon";
  std::this_thread::sleep_for(1000ms);  // enforcement continues with no daemon at all
  lab_.start();
  flooder.join();
  caller.join();
  auto received = counter.stop();

  const double limit = 100 * flood.seconds + 500;
  std::printf("multiprog kill -9 under flood: offered %lu, received %lu, limit allows %.0f\n",
              static_cast<unsigned long>(flood.sent), static_cast<unsigned long>(received[src]),
              limit);
  EXPECT_LE(static_cast<double>(received[src]), limit * 1.05 + 5)
      << "more than the limit got through across kill -9 and restart";
  EXPECT_GE(static_cast<double>(received[src]), limit * 0.9);
  EXPECT_GT(calm.sent, 0u);
  EXPECT_EQ(received[denied], 0u) << "xdp-filter's deny, sent " << calm.sent;

  status = lab_.ctl_json("status");
  EXPECT_EQ(status["interfaces"][0]["adopted"], true) << status.dump();
  EXPECT_EQ(status["interfaces"][0]["attach"], "multiprog") << status.dump();
}

}  // namespace
}  // namespace sluice::testing
