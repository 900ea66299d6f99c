// sluiced in TC mode: `sluicectl attach --mode tc` limits real traffic, a
// restarted daemon replaces the filter in place and still limits, and
// `detach` leaves the interface without the clsact qdisc sluiced added.
#include <gtest/gtest.h>

#include <memory>

#include "daemon_lab.h"
#include "lab.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
constexpr uint16_t kPort = 9000;

class TcModeTest : public ::testing::Test {
 protected:
  void SetUp() override { lab_ = std::make_unique<DaemonLab>("sdtc", 73); }
  DaemonLab& lab() { return *lab_; }
  // Datagrams from tx that arrive when it sends 1000/s for 1 s, and the seconds sent.
  std::pair<uint64_t, double> flood() {
    UdpCounter counter(lab().lab().rx_ns(), false, kPort);
    auto sent = send_udp(lab().lab().tx_ns(), lab().lab().tx_v4(), lab().lab().rx_v4(), kPort, 1000,
                         1000ms);
    return {counter.stop()[lab().lab().tx_v4()], sent.seconds};
  }
  std::string qdiscs() {
    return capture("tc -n " + lab().lab().rx_ns() + " qdisc show dev " + lab().lab().rx_if());
  }
  std::unique_ptr<DaemonLab> lab_;
};

TEST_F(TcModeTest, AttachLimitRestartDetach) {
  lab().write_config("tiers:\n  std:\n    packets: {rate: 100/s, burst: 10}\n", /*attach=*/false);
  lab().start();
  const std::string rx = lab().lab().rx_if();
  auto attached = lab().ctl_json("attach " + rx + " --mode tc");
  EXPECT_EQ(attached["mode"], "tc");
  EXPECT_NE(qdiscs().find("clsact"), std::string::npos);
  auto [got, seconds] = flood();
  double limit = 100 * seconds + 10;
  EXPECT_NEAR(static_cast<double>(got), limit, 0.1 * limit) << "limited at TC ingress";

  // The filter keeps enforcing over a restart, which replaces it in place.
  EXPECT_EQ(lab().stop(SIGTERM), 0);
  EXPECT_NE(qdiscs().find("clsact"), std::string::npos) << "left enforcing";
  lab().start();
  EXPECT_EQ(lab().ctl_json("status")["interfaces"][0]["mode"], "tc");
  auto [again, seconds_again] = flood();
  double limit_again = 100 * seconds_again + 10;
  EXPECT_NEAR(static_cast<double>(again), limit_again, 0.1 * limit_again) << "after the restart";

  EXPECT_EQ(lab().ctl("detach " + rx).exit_code, 0);
  EXPECT_EQ(qdiscs().find("clsact"), std::string::npos) << "the interface as found: " << qdiscs();
  auto [free, unused] = flood();
  EXPECT_GT(free, 900u) << "nothing limits after detach";
}

// A `shape:` section: on a kernel with fq the daemon shapes and `status`
// shows the rule, and stopping puts the interface's qdiscs back; on one
// without (the build machines'), the daemon refuses to start, says why, and
// leaves neither a qdisc nor an attached program behind.
TEST_F(TcModeTest, ShapeSectionShapesOrRefusesCleanly) {
  const std::string rx = lab().lab().rx_if();
  const std::string before = qdiscs();
  lab().write_config("tiers:\n  std:\n    packets: 100/s\nshape:\n  - {iface: " + rx +
                     ", to: " + lab().lab().tx_v4() + "/32, rate: 8Mbit/s}\n");
  const bool has_fq =
      run("tc -n " + lab().lab().rx_ns() + " qdisc add dev " + rx + " root fq 2>/dev/null") == 0;
  if (has_fq) run_or_throw("tc -n " + lab().lab().rx_ns() + " qdisc del dev " + rx + " root");
  if (!has_fq) {
    EXPECT_NE(lab().start_expecting_exit(), 0);
    EXPECT_NE(lab().log().find("CONFIG_NET_SCH_FQ"), std::string::npos) << lab().log();
    EXPECT_EQ(qdiscs(), before) << "nothing left behind";
    EXPECT_EQ(capture("ip -n " + lab().lab().rx_ns() + " link show dev " + rx).find("xdp"),
              std::string::npos);
    return;
  }
  lab().start();
  auto shaping = lab().ctl_json("status")["shaping"];
  ASSERT_EQ(shaping.size(), 1u);
  EXPECT_EQ(shaping[0]["rules"][0]["rate_bytes"], 1'000'000);
  EXPECT_NE(qdiscs().find("qdisc fq "), std::string::npos) << qdiscs();
  EXPECT_EQ(lab().stop(SIGTERM), 0);
  EXPECT_EQ(qdiscs().find("qdisc fq "), std::string::npos) << "fq removed at exit: " << qdiscs();
}

}  // namespace
}  // namespace sluice::testing
