// The XDP program attached natively to a veth in a namespace lab, judged by
// what arrives on the far side of real UDP and TCP traffic.
#include <gtest/gtest.h>

#include <filesystem>

#include "attached_lab.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint16_t kPort = 9000;

// The limit every test sets for the default tier: 400 packets/s, burst 40.
constexpr uint64_t kRate = 400, kBurst = 40;

class XdpLab : public AttachedLab {
 protected:
  XdpLab() : AttachedLab("sxl", 61) {}

  Policy policy() {
    Policy p;
    p.tiers = {TierSpec{.name = "default", .packets = {kRate, kSec, kBurst}},
               TierSpec{.name = "syn", .syns = {50, kSec, 10}}};
    p.default_tier = p.tiers[0].name;
    return p;
  }
  static double expected(const SendReport& r) { return kRate * r.seconds + kBurst; }
};

TEST_F(XdpLab, AttachesNativelyToVeth) {
  in_netns(lab.rx_ns(), [&] { EXPECT_EQ(dataplane.attached_mode(), XdpMode::kNative); });
  EXPECT_NE(capture("ip -n " + lab.rx_ns() + " link show dev " + lab.rx_if()).find("xdp"),
            std::string::npos);
}

TEST_F(XdpLab, UdpFloodArrivesAtRateTimesTimePlusBurst) {
  apply(policy());
  UdpCounter counter(lab.rx_ns(), false, kPort);
  auto sent =
      send_udp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), kPort, 10 * kRate, milliseconds(2500));
  auto got = counter.stop()[lab.tx_v4()];
  double limit = expected(sent);
  report_ratio("IPv4 UDP flood at 10x", static_cast<double>(got), limit);
  EXPECT_NEAR(static_cast<double>(got), limit, 0.05 * limit)
      << "sent " << sent.sent << " in " << sent.seconds << " s";
  EXPECT_GT(dataplane.counter_total(SLUICE_CNT_DROP_PKT_RATE).packets, sent.sent / 2);
}

TEST_F(XdpLab, SecondSourceKeepsItsFullRateWhileTheFirstFloods) {
  apply(policy());
  std::string legit = lab.add_tx_v4(7);
  UdpCounter counter(lab.rx_ns(), false, kPort);
  SendReport flood;
  std::thread flooder([&] {
    flood = send_udp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), kPort, 10 * kRate, milliseconds(2500));
  });
  auto calm = send_udp(lab.tx_ns(), legit, lab.rx_v4(), kPort, kRate / 2, milliseconds(2500));
  flooder.join();
  auto counts = counter.stop();
  EXPECT_GE(counts[legit], calm.sent * 99 / 100) << "the legitimate source under its limit";
  EXPECT_NEAR(static_cast<double>(counts[lab.tx_v4()]), expected(flood), 0.05 * expected(flood));
  report_ratio("IPv4 flooder beside a legitimate source", static_cast<double>(counts[lab.tx_v4()]),
               expected(flood));
  report_ratio("IPv4 legitimate source (limit = what it sent)", static_cast<double>(counts[legit]),
               static_cast<double>(calm.sent));
}

TEST_F(XdpLab, AllowListedSourceIsUntouched) {
  Policy p = policy();
  p.allow = {Cidr::parse(lab.tx_v4() + "/32")};
  apply(p);
  UdpCounter counter(lab.rx_ns(), false, kPort);
  auto sent =
      send_udp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), kPort, 10 * kRate, milliseconds(2000));
  EXPECT_GE(counter.stop()[lab.tx_v4()], sent.sent * 99 / 100);
}

TEST_F(XdpLab, DenyListedSourceGetsNothingThrough) {
  Policy p = policy();
  p.deny = {Cidr::parse(lab.tx_v4() + "/32"), Cidr::parse("2001:db8:61::/64")};
  apply(p);
  UdpCounter counter(lab.rx_ns(), false, kPort);
  auto sent = send_udp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), kPort, 2 * kRate, milliseconds(2000));
  EXPECT_EQ(counter.stop()[lab.tx_v4()], 0u);
  EXPECT_GE(dataplane.counter_total(SLUICE_CNT_DROP_DENY).packets, sent.sent);
}

TEST_F(XdpLab, Ipv6FloodIsLimitedPerSlash64AndOtherPrefixesKeepTheirRate) {
  apply(policy());
  std::string other_64 = lab.add_tx_v6(7);  // 2001:db8:61:7::1, a different /64
  UdpCounter counter(lab.rx_ns(), true, kPort);
  SendReport flood;
  std::thread flooder([&] {
    flood = send_udp(lab.tx_ns(), lab.tx_v6(), lab.rx_v6(), kPort, 10 * kRate, milliseconds(2500));
  });
  auto calm = send_udp(lab.tx_ns(), other_64, lab.rx_v6(), kPort, kRate / 2, milliseconds(2500));
  flooder.join();
  auto counts = counter.stop();
  EXPECT_NEAR(static_cast<double>(counts[lab.tx_v6()]), expected(flood), 0.05 * expected(flood));
  EXPECT_GE(counts[other_64], calm.sent * 99 / 100);
  report_ratio("IPv6 /64 flood at 10x", static_cast<double>(counts[lab.tx_v6()]), expected(flood));
  report_ratio("IPv6 other /64 (limit = what it sent)", static_cast<double>(counts[other_64]),
               static_cast<double>(calm.sent));
}

TEST_F(XdpLab, TcpConnectionRateIsHeldToTheSynLimit) {
  Policy p = policy();
  p.default_tier = "syn";  // 50 new connections/s, burst 10, packets unlimited
  apply(p);
  TcpAcceptCounter server(lab.rx_ns(), false, kPort);
  auto attempts =
      connect_tcp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), kPort, 250, milliseconds(3000));
  uint64_t accepted = server.stop();
  double limit = 50 * attempts.seconds + 10;
  EXPECT_NEAR(static_cast<double>(accepted), limit, 0.05 * limit) << attempts.sent << " attempts";
  report_ratio("TCP connections at 5x the SYN limit", static_cast<double>(accepted), limit);
  EXPECT_GT(dataplane.counter_total(SLUICE_CNT_DROP_SYN_RATE).packets, attempts.sent / 2);
}

TEST(XdpLabLifecycle, DetachLeavesNoProgramAndTheLabIsRemoved) {
  std::string rx_ns, rx_if;
  {
    VethLab lab("sxd", 62);
    rx_ns = lab.rx_ns();
    rx_if = lab.rx_if();
    auto dataplane = Dataplane::load(LoadOptions{.bucket_entries = 1024});
    in_netns(rx_ns, [&] {
      dataplane.attach(rx_if, XdpMode::kNative);
      dataplane.pin();
    });
    EXPECT_NE(capture("ip -n " + rx_ns + " link show dev " + rx_if).find("xdp"), std::string::npos);
    in_netns(rx_ns, [&] { dataplane.detach(); });
    EXPECT_EQ(capture("ip -n " + rx_ns + " link show dev " + rx_if).find("xdp"), std::string::npos);
    in_netns(rx_ns, [&] { EXPECT_FALSE(std::filesystem::exists(pin_dir_of(rx_if))); });
  }
  EXPECT_EQ(capture("ip netns list").find(rx_ns), std::string::npos);
}

}  // namespace
}  // namespace sluice::testing
