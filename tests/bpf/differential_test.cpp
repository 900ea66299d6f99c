// Thousands of random packets at random times through the XDP program and
// through a C++ model built on the reference bucket: the verdicts must agree.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <map>
#include <random>

#include "packet_builder.h"
#include "reference_meter.h"
#include "xdp_harness.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;

struct ModelTier {
  RateLimit packets, bytes, syns;
};

// The data path's decision, restated: every meter is checked first and spent
// only when all of them allow the packet.
class ModelSource {
 public:
  explicit ModelSource(const ModelTier& t)
      : packets_(t.packets.tokens, t.packets.period_ns, t.packets.burst),
        bytes_(t.bytes.tokens, t.bytes.period_ns, t.bytes.burst),
        syns_(t.syns.tokens, t.syns.period_ns, t.syns.burst) {}

  bool judge(uint64_t now, uint64_t len, bool syn) {
    if (syn && !syns_.allows(now, 1)) return false;
    if (!packets_.allows(now, 1) || !bytes_.allows(now, len)) return false;
    if (syn) syns_.spend(now, 1);
    packets_.spend(now, 1);
    bytes_.spend(now, len);
    return true;
  }

 private:
  ReferenceBucket packets_, bytes_, syns_;
};

TEST(Differential, RandomTrafficGetsTheModelsVerdicts) {
  // Intervals are whole nanoseconds, so the model and GCRA agree exactly.
  const ModelTier basic{{1000, kSec, 10}, {1'000'000, kSec, 20'000}, {100, kSec, 3}};
  const ModelTier premium{{20'000, kSec, 50}, {0, kSec, 0}, {500, kSec, 5}};
  Policy policy;
  policy.tiers = {TierSpec{"basic", basic.packets, basic.bytes, basic.syns, false},
                  TierSpec{"premium", premium.packets, premium.bytes, premium.syns, false}};
  policy.default_tier = "basic";
  policy.prefixes = {{Cidr::parse("198.18.200.0/24"), "premium"},
                     {Cidr::parse("2001:db8:200::/48"), "premium"}};
  XdpHarness harness;
  harness.apply(policy);

  const std::vector<std::string> sources = {"198.18.0.1",      "198.18.0.2",    "198.18.200.1",
                                            "198.18.200.77",   "2001:db8:1::1", "2001:db8:1::2",
                                            "2001:db8:200::9", "2001:db8:2::1"};
  // Sources sharing a /64 share a model too, as they share a bucket.
  auto model_key = [](const std::string& s) {
    return s.find(':') == std::string::npos ? s : s.substr(0, s.rfind("::"));
  };
  std::map<std::string, ModelSource> models;
  std::mt19937_64 rng(1128);
  uint64_t now = kEpoch;
  int passed = 0, dropped = 0;
  for (int i = 0; i < 20'000; ++i) {
    now += rng() % 400'000;  // mean gap 200 us: several sources go over their limits
    const std::string& src = sources[rng() % sources.size()];
    bool v6 = src.find(':') != std::string::npos;
    PacketBuilder b;
    if (rng() % 4 == 0) b.vlan(0x8100, 5);
    if (v6)
      b.ipv6(src);
    else
      b.ipv4(src);
    int kind = static_cast<int>(rng() % 4);
    bool syn = kind == 0;
    if (kind == 0) b.tcp(kTcpSyn);
    if (kind == 1) b.tcp(kTcpAck);
    if (kind == 2) b.udp();
    if (kind == 3) b.icmp();
    b.payload(rng() % 1400);
    auto frame = b.build();

    bool premium_source =
        src.find(".200.") != std::string::npos || src.find(":200:") != std::string::npos;
    auto [it, fresh] = models.try_emplace(model_key(src), premium_source ? premium : basic);
    bool expect_pass = it->second.judge(now, frame.size(), syn);
    int verdict = harness.run(frame, now);
    ASSERT_EQ(verdict == XDP_PASS, expect_pass)
        << "packet " << i << " from " << src << " len " << frame.size() << " syn " << syn;
    (expect_pass ? passed : dropped)++;
  }
  // The run is only meaningful if both verdicts occurred many times.
  EXPECT_GT(passed, 1000);
  EXPECT_GT(dropped, 1000);
}

}  // namespace
}  // namespace sluice::testing
