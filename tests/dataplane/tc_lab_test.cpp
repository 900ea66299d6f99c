// The program attached at TC ingress (clsact) on a veth in a namespace lab:
// real traffic counted on the far side, the GRO/TSO super-packets of a TCP
// bulk transfer charged per wire segment, and the interface left as found.
#include <gtest/gtest.h>

#include "attached_lab.h"
#include "tcp_bulk.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint16_t kPort = 9000;

class TcLab : public ::testing::Test {
 protected:
  TcLab() : lab("stc", 71) {}
  void TearDown() override {
    in_netns(lab.rx_ns(), [&] { dataplane.detach(); });
  }
  void attach() {
    in_netns(lab.rx_ns(), [&] { dataplane.attach(lab.rx_if(), XdpMode::kTc); });
  }
  void apply(uint64_t rate, uint64_t burst) {
    Policy p;
    p.tiers = {TierSpec{.name = "default", .packets = {rate, kSec, burst}}};
    p.default_tier = p.tiers[0].name;
    auto compiled = compile_policy(p, slots, datapath_cpus());
    dataplane.apply(compiled);
    slots.commit(compiled.tier_index);
  }
  std::string qdiscs() {
    return capture("tc -n " + lab.rx_ns() + " qdisc show dev " + lab.rx_if());
  }
  std::string ingress_filters() {
    return capture("tc -n " + lab.rx_ns() + " filter show dev " + lab.rx_if() + " ingress");
  }

  VethLab lab;
  Dataplane dataplane = Dataplane::load(LoadOptions{.bucket_entries = 65536});
  TierSlots slots;
};

TEST_F(TcLab, AttachesAsAClsactFilterAndRemovesTheQdiscItAdded) {
  ASSERT_EQ(qdiscs().find("clsact"), std::string::npos);
  attach();
  in_netns(lab.rx_ns(), [&] { EXPECT_EQ(dataplane.attached_mode(), XdpMode::kTc); });
  EXPECT_NE(qdiscs().find("clsact"), std::string::npos);
  EXPECT_NE(ingress_filters().find("sluice_tc"), std::string::npos) << ingress_filters();
  EXPECT_EQ(capture("ip -n " + lab.rx_ns() + " link show dev " + lab.rx_if()).find("xdp"),
            std::string::npos);
  in_netns(lab.rx_ns(), [&] { dataplane.detach(); });
  EXPECT_EQ(qdiscs().find("clsact"), std::string::npos) << qdiscs();
}

TEST_F(TcLab, KeepsAClsactQdiscItFoundAndRemovesOnlyItsFilter) {
  run_or_throw("tc -n " + lab.rx_ns() + " qdisc add dev " + lab.rx_if() + " clsact");
  attach();
  in_netns(lab.rx_ns(), [&] { dataplane.detach(); });
  EXPECT_NE(qdiscs().find("clsact"), std::string::npos) << qdiscs();
  EXPECT_EQ(ingress_filters().find("sluice_tc"), std::string::npos) << ingress_filters();
}

TEST_F(TcLab, UdpFloodArrivesAtRateTimesTimePlusBurst) {
  constexpr uint64_t kRate = 400, kBurst = 40;
  apply(kRate, kBurst);
  attach();
  UdpCounter counter(lab.rx_ns(), false, kPort);
  auto sent =
      send_udp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), kPort, 10 * kRate, milliseconds(2500));
  auto got = static_cast<double>(counter.stop()[lab.tx_v4()]);
  double limit = kRate * sent.seconds + kBurst;
  report_ratio("TC ingress: IPv4 UDP flood at 10x", got, limit);
  EXPECT_NEAR(got, limit, 0.05 * limit) << "sent " << sent.sent << " in " << sent.seconds << " s";
  EXPECT_GT(dataplane.counter_total(SLUICE_CNT_DROP_PKT_RATE).packets, sent.sent / 2);
}

// TSO on the sender hands the receiving veth GSO super-packets of several
// segments. Charged one token each, TCP would get through many times the
// limit (15 segments per skb were measured here); charged per segment, the
// segments that arrive stay within it.
TEST_F(TcLab, TcpBulkTransferIsLimitedInWireSegments) {
  constexpr uint64_t kRate = 2000, kBurst = 200;
  apply(kRate, kBurst);
  attach();
  auto bulk =
      tcp_bulk(lab.tx_ns(), lab.tx_v4(), lab.rx_ns(), lab.rx_v4(), kPort, milliseconds(3000));
  ASSERT_GT(bulk.mss, 0);
  // Every segment carries at most one MSS of payload.
  double segments = static_cast<double>(bulk.bytes) / bulk.mss;
  double limit = kRate * bulk.seconds + kBurst;
  auto skbs = static_cast<double>(dataplane.counter_total(SLUICE_CNT_PASSED).packets);
  report_ratio("TC ingress: TCP bulk, wire segments received", segments, limit);
  std::printf("[figure] TC ingress TCP bulk: %.0f segments in %.0f passed skbs (%.1f per skb)\n",
              segments, skbs, segments / skbs);
  EXPECT_LE(segments, 1.05 * limit);
  // A policer drops whole super-packets, and TCP backs off from each loss: it
  // uses well under the limit (about 45% here), but it must keep moving.
  EXPECT_GE(segments, 0.2 * limit) << "the transfer kept moving";
  EXPECT_GT(segments, 1.5 * skbs) << "the receiver saw GSO super-packets";
}

}  // namespace
}  // namespace sluice::testing
