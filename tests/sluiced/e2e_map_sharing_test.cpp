// One budget per host (docs/map-sharing.md): a source arriving over two
// uplinks gets its limit once with `maps.sharing: shared` (the default) and
// once per uplink with `per_interface`; and two namespaces with an interface
// of the same name each keep their own pins and locks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "daemon_lab.h"
#include "sluice_layout.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint16_t kPort = 9341;
constexpr uint64_t kRate = 1000;  // packets/s of the tier
constexpr uint64_t kBurst = 500;

std::string pins_of(const std::string& netns, const std::string& ifname) {
  struct stat st {};
  if (::stat(("/run/netns/" + netns).c_str(), &st) != 0) return "/nonexistent";
  return "/sys/fs/bpf/sluice/net" + std::to_string(st.st_ino) + "/" + ifname;
}

std::string mac_of(const std::string& netns, const std::string& ifname) {
  std::string mac =
      capture("ip netns exec " + netns + " cat /sys/class/net/" + ifname + "/address");
  while (!mac.empty() && (mac.back() == '\n' || mac.back() == ' ')) mac.pop_back();
  return mac;
}

// A DaemonLab with a second veth pair between the same two namespaces: the
// tx side reaches 198.18.<subnet+1>.2 over it, from the first pair's address,
// so one source (tx_v4) arrives at the daemon's namespace over two uplinks.
class TwoUplinks : public ::testing::Test {
 protected:
  static constexpr int kSubnet = 186;
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (netns, XDP)";
    lab_ = std::make_unique<DaemonLab>("sdtwo", kSubnet);
    VethLab& l = lab_->lab();
    tx2_ = l.tx_if() + "2";
    rx2_ = l.rx_if() + "2";
    const std::string net = "198.18." + std::to_string(kSubnet + 1) + ".";
    rx2_v4_ = net + "2";
    run_or_throw("ip link add " + tx2_ + " netns " + l.tx_ns() + " type veth peer name " + rx2_ +
                 " netns " + l.rx_ns());
    run_or_throw("ip -n " + l.tx_ns() + " addr add " + net + "1/24 dev " + tx2_);
    run_or_throw("ip -n " + l.rx_ns() + " addr add " + rx2_v4_ + "/24 dev " + rx2_);
    run_or_throw("ip -n " + l.tx_ns() + " link set " + tx2_ + " up");
    run_or_throw("ip -n " + l.rx_ns() + " link set " + rx2_ + " up");
    run_or_throw("ip -n " + l.tx_ns() + " neigh replace " + rx2_v4_ + " lladdr " +
                 mac_of(l.rx_ns(), rx2_) + " dev " + tx2_ + " nud permanent");
    // The source's address is routed back over the first uplink: a strict
    // reverse-path filter would drop what arrives over the second.
    for (const std::string dev : {"all", "default", rx2_.c_str()})
      run_or_throw("ip netns exec " + l.rx_ns() + " sysctl -qw net.ipv4.conf." + dev +
                   ".rp_filter=0");
  }
  void TearDown() override {
    if (!lab_) return;
    lab_->stop();
    std::error_code ec;
    std::filesystem::remove_all(pins_of(lab_->lab().rx_ns(), rx2_), ec);
  }

  void write_config(const std::string& sharing) {
    DaemonLab& lab = *lab_;
    lab.write_raw_config(
        "interfaces:\n  - {name: " + lab.lab().rx_if() + ", mode: native}\n  - {name: " + rx2_ +
        ", mode: native}\n" + "control:\n  socket: " + lab.socket_path() +
        "\nstate_file: " + lab.state_path() + "\nlog_level: debug\nmaps:\n  buckets: 65536\n" +
        sharing + "tiers:\n  std:\n    packets: {rate: " + std::to_string(kRate) +
        "/s, burst: " + std::to_string(kBurst) + "}\n");
  }

  // Sends 1500/s over each uplink for `seconds` from one source; returns what
  // the far side received from it and the seconds the sending lasted.
  std::pair<uint64_t, double> flood_both(std::chrono::milliseconds duration) {
    VethLab& l = lab_->lab();
    const std::string src = l.tx_v4();
    UdpCounter counter(l.rx_ns(), false, kPort);
    SendReport first, second;
    std::thread a([&] { first = send_udp(l.tx_ns(), src, l.rx_v4(), kPort, 1500, duration); });
    std::thread b([&] { second = send_udp(l.tx_ns(), src, rx2_v4_, kPort, 1500, duration); });
    a.join();
    b.join();
    auto counts = counter.stop();
    EXPECT_GT(first.sent, 0u);
    EXPECT_GT(second.sent, 0u);
    return {counts[src], std::max(first.seconds, second.seconds)};
  }

  std::unique_ptr<DaemonLab> lab_;
  std::string tx2_, rx2_, rx2_v4_;
};

TEST_F(TwoUplinks, SharedMapsGiveASourceOneBudgetOverBothUplinks) {
  write_config("");  // shared is the default
  lab_->start();
  auto status = lab_->ctl_json("status");
  ASSERT_EQ(status["interfaces"].size(), 2u);
  EXPECT_EQ(status["interfaces"][0]["maps_id"], status["interfaces"][1]["maps_id"])
      << "both interfaces on one set of maps";

  auto [received, seconds] = flood_both(3000ms);
  const double expected = static_cast<double>(kRate) * seconds + kBurst;
  std::printf("shared: %lu received over %.3f s from 2 x 1500/s; one budget allows %.0f\n",
              static_cast<unsigned long>(received), seconds, expected);
  EXPECT_GE(static_cast<double>(received), 0.95 * expected);
  EXPECT_LE(static_cast<double>(received), 1.05 * expected) << "limited once, not per uplink";

  // kill -9 and restart: both interfaces adopt their pins, still one set of maps.
  lab_->kill9();
  lab_->start();
  status = lab_->ctl_json("status");
  ASSERT_EQ(status["interfaces"].size(), 2u);
  EXPECT_TRUE(status["interfaces"][0]["adopted"].get<bool>());
  EXPECT_TRUE(status["interfaces"][1]["adopted"].get<bool>());
  EXPECT_EQ(status["interfaces"][0]["maps_id"], status["interfaces"][1]["maps_id"]);
}

TEST_F(TwoUplinks, PerInterfaceMapsGiveASourceABudgetPerUplink) {
  write_config("  sharing: per_interface\n");
  lab_->start();
  auto status = lab_->ctl_json("status");
  ASSERT_EQ(status["interfaces"].size(), 2u);
  EXPECT_NE(status["interfaces"][0]["maps_id"], status["interfaces"][1]["maps_id"]);

  auto [received, seconds] = flood_both(3000ms);
  const double expected = 2 * (static_cast<double>(kRate) * seconds + kBurst);
  std::printf("per_interface: %lu received over %.3f s from 2 x 1500/s; two budgets allow %.0f\n",
              static_cast<unsigned long>(received), seconds, expected);
  EXPECT_GE(static_cast<double>(received), 0.95 * expected);
  EXPECT_LE(static_cast<double>(received), 1.05 * expected);
}

// Two daemons, each in its own namespace with an interface called `uplink0`:
// before pins and locks were keyed by namespace, the second took the first's
// lock (or adopted its pins). Both start, pin apart and enforce.
TEST(NamespacedPins, SameInterfaceNameInTwoNamespacesDoesNotCollide) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (netns, XDP)";
  DaemonLab a("sdnsa", 188), b("sdnsb", 189);
  const std::string name = "uplink0";
  std::vector<std::string> pins;
  for (DaemonLab* lab : {&a, &b}) {
    const std::string& ns = lab->lab().rx_ns();
    run_or_throw("ip -n " + ns + " link set " + lab->lab().rx_if() + " down");
    run_or_throw("ip -n " + ns + " link set " + lab->lab().rx_if() + " name " + name);
    run_or_throw("ip -n " + ns + " link set " + name + " up");
    pins.push_back(pins_of(ns, name));
    lab->write_config("tiers:\n  std:\n    packets: {rate: 1000/s, burst: 500}\n");
    std::string config = lab->config_text();
    const std::string from = "name: " + lab->lab().rx_if();
    config.replace(config.find(from), from.size(), "name: " + name);
    lab->write_raw_config(config);
  }
  struct RemovePins {
    std::vector<std::string>& dirs;
    ~RemovePins() {
      std::error_code ec;
      for (const auto& dir : dirs) std::filesystem::remove_all(dir, ec);
    }
  } remove_pins{pins};
  ASSERT_NE(pins[0], pins[1]);

  a.start();
  b.start();  // failed with EBUSY on the shared /run/sluice/interfaces/uplink0.lock
  const std::string version = "/v" + std::to_string(SLUICE_LAYOUT_VERSION) + "/link";
  EXPECT_TRUE(std::filesystem::exists(pins[0] + version)) << pins[0];
  EXPECT_TRUE(std::filesystem::exists(pins[1] + version)) << pins[1];

  for (DaemonLab* lab : {&a, &b}) {
    VethLab& l = lab->lab();
    UdpCounter counter(l.rx_ns(), false, kPort);
    SendReport sent = send_udp(l.tx_ns(), l.tx_v4(), l.rx_v4(), kPort, 3000, 2000ms);
    auto counts = counter.stop();
    const double expected = 1000 * sent.seconds + 500;
    std::printf("%s: %lu of %lu received in %.3f s; the limit allows %.0f\n", l.rx_ns().c_str(),
                static_cast<unsigned long>(counts[l.tx_v4()]),
                static_cast<unsigned long>(sent.sent), sent.seconds, expected);
    EXPECT_GE(static_cast<double>(counts[l.tx_v4()]), 0.95 * expected) << l.rx_ns();
    EXPECT_LE(static_cast<double>(counts[l.tx_v4()]), 1.05 * expected) << l.rx_ns();
  }

  // A restart of one adopts its own pins, not the other namespace's.
  a.kill9();
  a.start();
  auto status = a.ctl_json("status");
  ASSERT_EQ(status["interfaces"].size(), 1u);
  EXPECT_TRUE(status["interfaces"][0]["adopted"].get<bool>());
  EXPECT_TRUE(b.running());
}

}  // namespace
}  // namespace sluice::testing
