// The egress shaper's program through BPF_PROG_TEST_RUN with a test clock:
// the departure times it hands out pace a class at its rate, the horizon
// bounds them, and other destinations get none.
#include "shaper.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "attached_lab.h"
#include "error.h"
#include "packet_builder.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kRateBytes = 1'000'000;  // 1 MB/s: a 1000-byte frame takes 1 ms
constexpr uint64_t kMs = 1'000'000;

struct Departure {
  int action;
  uint64_t tstamp;  // 0: sent at once
};

class ShaperProgram : public ::testing::Test {
 protected:
  // Runs one frame at `now`; `tstamp` is the departure time it asks for already.
  Departure send(const std::vector<uint8_t>& frame, uint64_t now, uint64_t tstamp = 0) {
    shaper.set_test_clock(now);
    struct __sk_buff in {
    }, out{};
    in.tstamp = tstamp;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &in, .ctx_out = &out,
                .ctx_size_in = sizeof(in), .ctx_size_out = sizeof(out), .repeat = 1);
    check_libbpf(bpf_prog_test_run_opts(shaper.prog_fd(), &opts), "BPF_PROG_TEST_RUN (shaper)");
    return {static_cast<int>(opts.retval), out.tstamp};
  }
  Shaper shaper = Shaper::load({{Cidr::parse("198.18.0.2/32"), kRateBytes, 2000 * kMs}}, true);
  std::vector<uint8_t> shaped =
      PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp().payload(958).build();
  std::vector<uint8_t> other =
      PacketBuilder().ipv4("198.18.0.1", "198.18.0.3").udp().payload(958).build();
};

TEST_F(ShaperProgram, PacesABurstOneFrameTimeApart) {
  ASSERT_EQ(shaped.size(), 1000u);
  EXPECT_EQ(send(shaped, kEpoch).tstamp, 0u) << "an idle class sends at once";
  for (uint64_t i = 1; i <= 100; ++i) {
    Departure d = send(shaped, kEpoch);
    EXPECT_EQ(d.action, TC_ACT_OK);
    EXPECT_EQ(d.tstamp, kEpoch + i * kMs) << "frame " << i;
  }
}

TEST_F(ShaperProgram, AFloodAtTwiceTheRateDepartsAtTheRate) {
  // 2000 frames/s for 1 s: the departure times span what the rate allows.
  uint64_t first = 0, last = 0, sent = 0;
  for (uint64_t t = 0; t < 1000 * kMs; t += kMs / 2) {
    Departure d = send(shaped, kEpoch + t);
    ASSERT_EQ(d.action, TC_ACT_OK);
    uint64_t leaves = d.tstamp ? d.tstamp : kEpoch + t;
    if (!first) first = leaves;
    last = leaves;
    ++sent;
  }
  double rate = static_cast<double>((sent - 1) * shaped.size()) /
                (static_cast<double>(last - first) / SLUICE_NSEC_PER_SEC);
  report_ratio("EDT shaper program: departure rate of a 2x flood", rate, kRateBytes);
  EXPECT_NEAR(rate, kRateBytes, 0.01 * kRateBytes);
  auto stats = shaper.stats().at(0);
  EXPECT_EQ(stats.delayed, sent - 1);
  EXPECT_EQ(stats.dropped, 0u);
}

TEST_F(ShaperProgram, DropsWhatWouldLeaveBeyondTheHorizon) {
  int dropped = 0;
  for (int i = 0; i < 2100; ++i) dropped += send(shaped, kEpoch).action == TC_ACT_SHOT;
  // 2 s of horizon hold 2000 frames after the first.
  EXPECT_EQ(dropped, 2100 - 2001);
  EXPECT_EQ(shaper.stats().at(0).dropped, 99u);
  // Time moves on: the class drains and takes frames again.
  EXPECT_EQ(send(shaped, kEpoch + 1000 * kMs).action, TC_ACT_OK);
}

TEST_F(ShaperProgram, OtherDestinationsAreNotDelayed) {
  for (int i = 0; i < 50; ++i) send(shaped, kEpoch);
  for (int i = 0; i < 50; ++i) {
    Departure d = send(other, kEpoch);
    EXPECT_EQ(d.action, TC_ACT_OK);
    EXPECT_EQ(d.tstamp, 0u);
  }
}

TEST_F(ShaperProgram, ASocketsOwnLaterDepartureIsKept) {
  send(shaped, kEpoch);  // the class's clock is now kEpoch
  // TCP's pacing already asked for later than the class would.
  EXPECT_EQ(send(shaped, kEpoch, kEpoch + 500 * kMs).tstamp, kEpoch + 500 * kMs);
}

TEST(ShaperRules, AreCheckedBeforeAnythingLoads) {
  auto rule = [](const char* to, uint64_t rate) { return ShapeRule{Cidr::parse(to), rate}; };
  EXPECT_THROW(Shaper::validate({}), std::invalid_argument);
  EXPECT_THROW(Shaper::validate({rule("10.0.0.0/8", 0)}), std::invalid_argument);
  EXPECT_THROW(Shaper::validate({rule("10.0.0.0/8", 1), rule("10.0.0.0/8", 2)}),
               std::invalid_argument);
  EXPECT_NO_THROW(Shaper::validate({rule("10.0.0.0/8", 1), rule("2001:db8::/32", 2)}));
}

}  // namespace
}  // namespace sluice::testing
