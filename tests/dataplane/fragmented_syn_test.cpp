// Real IPv4 fragments from Scapy against a listening socket: a SYN split so
// that its flags sit in a fragment at offset 1 (RFC 1858) is reassembled by
// the kernel, so every SYN-ACK the listener sends is a connection the SYN
// limit let in. Those stay within rate x time + burst (docs/fragments.md).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "attached_lab.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kSynRate = 50, kSynBurst = 10;
constexpr int kPort = 9001;
constexpr int kSyns = 1500;

std::string script_path(const char* name) {
  return std::filesystem::path(__FILE__).parent_path() / name;
}

class FragmentedSyns : public AttachedLab {
 protected:
  FragmentedSyns() : AttachedLab("sfs", 65) {}

  void SetUp() override {
    AttachedLab::SetUp();
    // A listener that answers SYNs for the length of the test, then exits.
    ASSERT_EQ(lab.exec_rx("sh -c 'echo $$ > " + pid_file() +
                          "; exec timeout 60 /usr/bin/python3 -c \"import socket, time; "
                          "s = socket.socket(); s.bind((\\\"\\\", " +
                          std::to_string(kPort) +
                          ")); s.listen(4096); time.sleep(60)\"' >/dev/null 2>&1 &"),
              0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  void TearDown() override {
    run("kill $(cat " + pid_file() + ") 2>/dev/null; rm -f " + pid_file());
    AttachedLab::TearDown();
  }
  std::string pid_file() const { return "/tmp/sluice-" + lab.rx_ns() + "-listener.pid"; }

  void apply_syn_limit(bool drop_malformed) {
    Policy p;
    p.tiers = {TierSpec{.name = "default", .syns = {kSynRate, kSec, kSynBurst}}};
    p.default_tier = p.tiers[0].name;
    p.drop_malformed = drop_malformed;
    apply(p);
  }

  // Sends kSyns fragmented SYNs; returns {seconds sending, SYN-ACKs seen}.
  std::pair<double, uint64_t> flood(const std::string& kind) {
    std::istringstream out(capture("ip netns exec " + lab.tx_ns() + " /usr/bin/python3 " +
                                   script_path("scapy_fragmented_syns.py") + " " + lab.tx_if() +
                                   " " + lab.rx_mac() + " " + kind + " " + std::to_string(kSyns) +
                                   " " + lab.rx_v4() + " " + std::to_string(kPort)));
    double seconds = 0;
    uint64_t synacks = 0;
    out >> seconds >> synacks;
    EXPECT_GT(seconds, 0) << "the Scapy script printed nothing";
    return {seconds, synacks};
  }
};

TEST_F(FragmentedSyns, SplitSynsAreHeldToTheSynLimit) {
  apply_syn_limit(false);
  auto [seconds, synacks] = flood("split");
  double limit = static_cast<double>(kSynRate) * seconds + kSynBurst;
  report_ratio("fragmented SYNs answered (split at 8 bytes)", static_cast<double>(synacks), limit);
  EXPECT_LE(static_cast<double>(synacks), limit * 1.05);
  EXPECT_GT(synacks, 0u) << "the listener answers what the limit lets in";
  EXPECT_GT(counter(SLUICE_CNT_DROP_SYN_RATE), static_cast<uint64_t>(kSyns))
      << "both pieces of each SYN are charged to the SYN meter";
}

TEST_F(FragmentedSyns, PaddedSynsAreHeldToTheSynLimit) {
  apply_syn_limit(false);
  auto [seconds, synacks] = flood("padded");
  double limit = static_cast<double>(kSynRate) * seconds + kSynBurst;
  report_ratio("fragmented SYNs answered (padded to look like ACK)", static_cast<double>(synacks),
               limit);
  EXPECT_LE(static_cast<double>(synacks), limit * 1.05);
}

TEST_F(FragmentedSyns, DropMalformedLetsNoFragmentedSynThrough) {
  apply_syn_limit(true);
  for (const char* kind : {"split", "padded"}) {
    auto [seconds, synacks] = flood(kind);
    EXPECT_EQ(synacks, 0u) << kind;
    EXPECT_GE(counter(SLUICE_CNT_MALFORMED), static_cast<uint64_t>(kSyns)) << kind;
  }
}

}  // namespace
}  // namespace sluice::testing
