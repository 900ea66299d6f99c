// The `multiprog` attach mode: Sluice in libxdp's dispatcher beside
// xdp-filter (Debian's xdp-tools) on the same veth. Both must enforce, judged
// by what arrives on the far side: xdp-filter's denied source gets nothing
// through, Sluice's flooder gets its limit. Also: the program survives its
// Dataplane (a daemon's exit) and is adopted from its pins.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "attached_lab.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint16_t kPort = 9000;
constexpr uint64_t kRate = 400, kBurst = 40;
// xdp-filter's programs run at priority 10; Sluice after them.
constexpr uint32_t kSluicePriority = 60;

class MultiprogLab : public ::testing::Test {
 protected:
  MultiprogLab() : lab("smp", 171) {}

  void SetUp() override {
    // Not a pass: the coexistence is unverified on such a kernel (the lab
    // machine's refuses BPF_PROG_TYPE_EXT), and the skip says so.
    if (!multiprog_supported())
      GTEST_SKIP() << "this kernel does not load extension (freplace) programs: libxdp's "
                      "dispatcher cannot run here (MultiprogRefused covers this case)";
    if (run("command -v xdp-filter >/dev/null") != 0)
      GTEST_FAIL() << "xdp-filter missing: scripts/install-deps.sh installs xdp-tools";
    // nsenter --net keeps this mount namespace, so xdp-filter and libxdp share
    // the host's bpffs with this process (`ip netns exec` would remount /sys).
    run_or_throw(in_rx("xdp-filter load --mode native " + lab.rx_if()));
    filter_loaded = true;
  }
  void TearDown() override {
    if (dataplane.attached()) in_netns(lab.rx_ns(), [&] { dataplane.detach(); });
    if (filter_loaded) run(in_rx("xdp-filter unload " + lab.rx_if()));
  }
  std::string in_rx(const std::string& command) const {
    return "nsenter --net=/run/netns/" + lab.rx_ns() + " " + command;
  }
  Policy policy() const {
    Policy p;
    p.tiers = {TierSpec{.name = "default", .packets = {kRate, kSec, kBurst}}};
    p.default_tier = p.tiers[0].name;
    return p;
  }
  void attach_sluice() {
    auto compiled = compile_policy(policy(), slots, datapath_cpus());
    dataplane.apply(compiled);
    slots.commit(compiled.tier_index);
    in_netns(lab.rx_ns(), [&] {
      dataplane.attach_multiprog(lab.rx_if(), XdpMode::kNative, kSluicePriority);
      dataplane.pin();
    });
  }
  std::string dispatcher_status() const {
    return capture(in_rx("xdp-loader status " + lab.rx_if()) + " 2>&1");
  }
  // A flood from the lab's first address (Sluice's to limit) while a second
  // address that xdp-filter denies sends well under the limit.
  void expect_both_enforce(const std::string& denied) {
    UdpCounter counter(lab.rx_ns(), false, kPort);
    SendReport flood;
    std::thread flooder([&] {
      flood =
          send_udp(lab.tx_ns(), lab.tx_v4(), lab.rx_v4(), kPort, 10 * kRate, milliseconds(2500));
    });
    auto calm = send_udp(lab.tx_ns(), denied, lab.rx_v4(), kPort, kRate / 2, milliseconds(2500));
    flooder.join();
    auto counts = counter.stop();
    double limit = kRate * flood.seconds + kBurst;
    report_ratio("multiprog: flood beside xdp-filter", static_cast<double>(counts[lab.tx_v4()]),
                 limit);
    EXPECT_NEAR(static_cast<double>(counts[lab.tx_v4()]), limit, 0.05 * limit)
        << "Sluice's limit, sent " << flood.sent;
    EXPECT_GT(calm.sent, 0u);
    EXPECT_EQ(counts[denied], 0u) << "xdp-filter's deny, sent " << calm.sent;
  }

  VethLab lab;
  bool filter_loaded = false;
  Dataplane dataplane = Dataplane::load(LoadOptions{.bucket_entries = 65536});
  TierSlots slots;
};

TEST_F(MultiprogLab, SluiceAndXdpFilterBothEnforceOnOneVeth) {
  attach_sluice();
  EXPECT_TRUE(dataplane.multiprog());
  std::string status = dispatcher_status();
  EXPECT_NE(status.find("xdpfilt"), std::string::npos) << status;
  EXPECT_NE(status.find("sluice_xdp"), std::string::npos) << status;

  std::string denied = lab.add_tx_v4(7);
  run_or_throw(in_rx("xdp-filter ip " + denied + " --mode src"));
  expect_both_enforce(denied);
  // xdp-filter runs first and drops the denied source: Sluice never saw it,
  // while it did judge (and drop) the flood.
  EXPECT_GT(dataplane.counter_total(SLUICE_CNT_DROP_PKT_RATE).packets, 0u);
}

TEST_F(MultiprogLab, AProgramLeftInTheDispatcherIsAdoptedAndKeepsEnforcing) {
  attach_sluice();
  const uint64_t generation = dataplane.generation();
  // A daemon that exits keeps the program enforcing for the next one.
  dataplane.release_keep_attached();
  dataplane = Dataplane::load(LoadOptions{.bucket_entries = 1024});
  ASSERT_NE(dispatcher_status().find("sluice_xdp"), std::string::npos);

  std::optional<Dataplane> adopted;
  in_netns(lab.rx_ns(), [&] { adopted = Dataplane::adopt(lab.rx_if()); });
  ASSERT_TRUE(adopted.has_value());
  EXPECT_TRUE(adopted->multiprog());
  EXPECT_TRUE(adopted->attached());
  EXPECT_EQ(adopted->generation(), generation) << "the policy the first program ran";
  EXPECT_EQ(adopted->bucket_capacity(), 65536u) << "the pinned maps, not fresh ones";
  dataplane = std::move(*adopted);

  std::string denied = lab.add_tx_v4(8);
  run_or_throw(in_rx("xdp-filter ip " + denied + " --mode src"));
  expect_both_enforce(denied);

  // Detaching removes Sluice from the dispatcher and its pins, and leaves
  // xdp-filter in place.
  in_netns(lab.rx_ns(), [&] { dataplane.detach(); });
  std::string status = dispatcher_status();
  EXPECT_EQ(status.find("sluice_xdp"), std::string::npos) << status;
  EXPECT_NE(status.find("xdpfilt"), std::string::npos) << status;
  in_netns(lab.rx_ns(), [&] { EXPECT_FALSE(std::filesystem::exists(pin_dir_of(lab.rx_if()))); });
}

// Where the kernel cannot run the dispatcher, multiprog is refused with a
// message that says why, and nothing is left on the interface (libxdp alone
// would quietly attach the program by itself, taking the interface).
TEST(MultiprogRefused, WithoutExtensionProgramsNothingIsAttached) {
  if (multiprog_supported()) GTEST_SKIP() << "this kernel runs the dispatcher: see MultiprogLab";
  VethLab lab("smr", 172);
  Dataplane dataplane = Dataplane::load(LoadOptions{.bucket_entries = 1024});
  try {
    in_netns(lab.rx_ns(), [&] { dataplane.attach_multiprog(lab.rx_if(), XdpMode::kNative, 60); });
    FAIL() << "attached";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("use attach: direct"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(dataplane.attached());
  std::string link = capture("ip -n " + lab.rx_ns() + " link show " + lab.rx_if());
  EXPECT_EQ(link.find("xdp"), std::string::npos) << link;
  // The direct link still works on the same interface.
  in_netns(lab.rx_ns(), [&] { dataplane.attach(lab.rx_if(), XdpMode::kNative); });
  EXPECT_TRUE(dataplane.attached());
  in_netns(lab.rx_ns(), [&] { dataplane.detach(); });
}

}  // namespace
}  // namespace sluice::testing
