// The egress shaper on the sending veth of a namespace lab: a shaped UDP
// flow leaves at the configured rate (counted on the far side), a flow to
// another destination is not delayed, the horizon bounds the delay, and the
// interface's qdiscs are as before once the shaper is gone.
//
// Everything that needs packets held until their departure time needs the
// fq qdisc; on a kernel built without it (CONFIG_NET_SCH_FQ, as the build
// machines' 6.18 is) those tests are skipped and say so, and what the
// program computes is checked through BPF_PROG_TEST_RUN (tests/bpf/shaper_test.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <thread>

#include "attached_lab.h"
#include "shaper.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr uint16_t kPort = 9000;
constexpr uint64_t kRateBytes = 1'000'000;  // 8 Mbit/s
constexpr size_t kPayload = 1000;
// What the shaper charges per datagram: payload, UDP, IPv4 and Ethernet headers.
constexpr uint64_t kFrameBytes = kPayload + 8 + 20 + 14;

class ShaperLab : public ::testing::Test {
 protected:
  ShaperLab() : lab("sts", 72) {
    lab.exec_rx("ip addr add " + other_dst() + "/24 dev " + lab.rx_if());
  }
  void TearDown() override {
    if (shaper) in_netns(lab.tx_ns(), [&] { shaper->detach(); });
  }
  void shape(uint64_t horizon_ns = SLUICE_SHAPE_DEFAULT_HORIZON_NS) {
    std::vector<ShapeRule> rules = {{Cidr::parse(lab.rx_v4() + "/32"), kRateBytes, horizon_ns}};
    shaper.emplace(Shaper::load(rules));
    in_netns(lab.tx_ns(), [&] { shaper->attach(lab.tx_if()); });
  }
  // Whether this kernel has fq: try it on the lab's interface, then undo.
  bool kernel_has_fq() {
    std::string dev = lab.tx_if();
    bool has = run("tc -n " + lab.tx_ns() + " qdisc add dev " + dev + " root fq 2>/dev/null") == 0;
    if (has) run_or_throw("tc -n " + lab.tx_ns() + " qdisc del dev " + dev + " root");
    return has;
  }

  std::string other_dst() const { return "198.18.72.3"; }
  std::string qdiscs() {
    return capture("tc -n " + lab.tx_ns() + " qdisc show dev " + lab.tx_if());
  }
  // Average ping round trip to `dst` in ms (20 pings, 20 ms apart).
  double ping_ms(const std::string& dst) {
    std::string out = capture("ip netns exec " + lab.tx_ns() + " ping -q -c 20 -i 0.02 " + dst);
    double min = 0, avg = -1;
    auto at = out.find("rtt min/avg/max/mdev = ");
    if (at != std::string::npos) std::sscanf(out.c_str() + at + 23, "%lf/%lf", &min, &avg);
    return avg;
  }
  // Floods the shaped destination with `rate` datagrams/s in the background.
  std::thread flood(uint64_t rate, milliseconds duration) {
    return std::thread([=, this] {
      send_udp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), kPort, rate, duration, kPayload);
    });
  }

  VethLab lab;
  std::optional<Shaper> shaper;
};

TEST_F(ShaperLab, InstallsFqAndLeavesTheInterfaceAsFound) {
  if (!kernel_has_fq()) GTEST_SKIP() << "this kernel has no fq qdisc (CONFIG_NET_SCH_FQ)";
  const std::string before = qdiscs();
  ASSERT_EQ(before.find("qdisc fq "), std::string::npos) << before;
  shape();
  EXPECT_TRUE(shaper->installed_fq());
  EXPECT_NE(qdiscs().find("qdisc fq "), std::string::npos) << qdiscs();
  EXPECT_NE(qdiscs().find("clsact"), std::string::npos) << qdiscs();
  in_netns(lab.tx_ns(), [&] { shaper->detach(); });
  shaper.reset();
  EXPECT_EQ(qdiscs(), before);
}

TEST_F(ShaperLab, RefusesToReplaceAnOperatorsQdisc) {
  run_or_throw("tc -n " + lab.tx_ns() + " qdisc add dev " + lab.tx_if() + " root handle 1: htb");
  const std::string before = qdiscs();
  Shaper s = Shaper::load({{Cidr::parse(lab.rx_v4() + "/32"), kRateBytes}});
  in_netns(lab.tx_ns(), [&] { EXPECT_THROW(s.attach(lab.tx_if()), std::system_error); });
  EXPECT_EQ(qdiscs(), before) << "nothing half-applied";
}

TEST_F(ShaperLab, WithoutFqTheErrorSaysSoAndNothingIsLeft) {
  if (kernel_has_fq()) GTEST_SKIP() << "this kernel has fq";
  const std::string before = qdiscs();
  Shaper s = Shaper::load({{Cidr::parse(lab.rx_v4() + "/32"), kRateBytes}});
  try {
    in_netns(lab.tx_ns(), [&] { s.attach(lab.tx_if()); });
    ADD_FAILURE() << "attached without fq";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("CONFIG_NET_SCH_FQ"), std::string::npos) << e.what();
  }
  EXPECT_EQ(qdiscs(), before) << "no clsact, no qdisc left behind";
}

TEST_F(ShaperLab, ShapedFlowLeavesAtTheConfiguredRate) {
  if (!kernel_has_fq()) GTEST_SKIP() << "this kernel has no fq qdisc (CONFIG_NET_SCH_FQ)";
  shape();
  UdpCounter counter(lab.rx_ns(), false, kPort);
  // Twice the rate for 3 s; measured from 0.5 s to 2.5 s, in steady state.
  std::thread sender = flood(2 * kRateBytes / kFrameBytes, milliseconds(3000));
  std::this_thread::sleep_for(milliseconds(500));
  uint64_t first = counter.received_from(lab.tx_v4());
  auto t0 = Clock::now();
  std::this_thread::sleep_for(milliseconds(2000));
  uint64_t last = counter.received_from(lab.tx_v4());
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  sender.join();
  counter.stop();
  double rate = static_cast<double>((last - first) * kFrameBytes) / seconds;
  report_ratio("EDT shaper: shaped flow's bytes/s", rate, kRateBytes);
  EXPECT_NEAR(rate, kRateBytes, 0.05 * kRateBytes);
  auto stats = shaper->stats().at(0);
  EXPECT_GT(stats.delayed, stats.passed) << "paced by departure times, not let through";
}

TEST_F(ShaperLab, UnshapedFlowIsNotDelayed) {
  if (!kernel_has_fq()) GTEST_SKIP() << "this kernel has no fq qdisc (CONFIG_NET_SCH_FQ)";
  shape();
  double idle_shaped = ping_ms(lab.rx_v4());
  std::thread sender = flood(2 * kRateBytes / kFrameBytes, milliseconds(2500));
  std::this_thread::sleep_for(milliseconds(300));
  double unshaped = ping_ms(other_dst());
  double shaped = ping_ms(lab.rx_v4());
  sender.join();
  std::printf(
      "[figure] EDT shaper ping under a shaped flood: unshaped %.3f ms, shaped %.3f ms "
      "(idle %.3f ms)\n",
      unshaped, shaped, idle_shaped);
  ASSERT_GT(unshaped, 0);
  EXPECT_LT(unshaped, 2.0) << "another destination's packets wait for no departure time";
  EXPECT_GT(shaped, 20.0) << "the shaped destination's packets queue behind the flood";
}

TEST_F(ShaperLab, PacketsBeyondTheHorizonAreDropped) {
  if (!kernel_has_fq()) GTEST_SKIP() << "this kernel has no fq qdisc (CONFIG_NET_SCH_FQ)";
  constexpr uint64_t kHorizonNs = 20'000'000;  // 20 ms
  shape(kHorizonNs);
  std::thread sender = flood(3 * kRateBytes / kFrameBytes, milliseconds(2000));
  std::this_thread::sleep_for(milliseconds(300));
  double shaped = ping_ms(lab.rx_v4());
  sender.join();
  auto stats = shaper->stats().at(0);
  std::printf(
      "[figure] EDT shaper, 20 ms horizon: ping %.3f ms; passed %llu delayed %llu "
      "dropped %llu\n",
      shaped, static_cast<unsigned long long>(stats.passed),
      static_cast<unsigned long long>(stats.delayed),
      static_cast<unsigned long long>(stats.dropped));
  EXPECT_GT(stats.dropped, stats.delayed / 3) << "a third of a 3x flood is over the horizon";
  EXPECT_LT(shaped, 25.0) << "no packet waits past the horizon";
}

}  // namespace
}  // namespace sluice::testing
