// sluiced in TC mode: `sluicectl attach --mode tc` limits real traffic, a
// restarted daemon replaces the filter in place and still limits, and
// `detach` leaves the interface without the clsact qdisc sluiced added.
#include <gtest/gtest.h>

#include <memory>

#include "daemon_lab.h"
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

}  // namespace
}  // namespace sluice::testing
