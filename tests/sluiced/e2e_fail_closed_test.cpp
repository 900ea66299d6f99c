// Commits that fail closed, against a real sluiced: an apply that the kernel
// refuses on one interface, a read-only and a full state directory. Each time
// the kernel must keep running the previous policy (read back from the pinned
// maps), the state file must stay as it was, and the client must hear why.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon_lab.h"
#include "dataplane.h"
#include "fd.h"

namespace sluice::testing {
namespace {

using nlohmann::json;

const std::string kPolicy = "tiers:\n  std:\n    packets: {rate: 200/s, burst: 50}\n";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr const char* kLab = "sdfail";

Fd pinned(const std::string& ifname, const std::string& object) {
  // Pins are keyed by the daemon's namespace: name them from inside it.
  std::string path;
  in_netns(std::string(kLab) + "-rx", [&] { path = pin_dir_of(ifname) + "/" + object; });
  Fd fd(bpf_obj_get(path.c_str()));
  if (!fd) ADD_FAILURE() << "open " << path << ": " << std::strerror(errno);
  return fd;
}

// The tier the kernel enforces now on `ifname`, read from the active slot of its pins.
struct sluice_tier active_tier(const std::string& ifname, uint32_t index) {
  uint32_t zero = 0;
  uint64_t generation = 0;
  struct sluice_tier tier {};
  if (bpf_map_lookup_elem(pinned(ifname, "active").get(), &zero, &generation) != 0)
    ADD_FAILURE() << ifname << ": read generation: " << std::strerror(errno);
  uint32_t key = static_cast<uint32_t>(generation & 1) * SLUICE_MAX_TIERS + index;
  if (bpf_map_lookup_elem(pinned(ifname, "tiers").get(), &key, &tier) != 0)
    ADD_FAILURE() << ifname << ": read tier: " << std::strerror(errno);
  return tier;
}

// The same limits. rate_since is bookkeeping: a switch back stamps it anew
// (so that buckets rescaled to the abandoned rates are rescaled back).
bool same(struct sluice_tier a, struct sluice_tier b) {
  a.rate_since = b.rate_since = 0;
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

bool has_temporary(const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".tmp") return true;
  return false;
}

class FailClosedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (netns, XDP, mounts)";
    lab_ = std::make_unique<DaemonLab>(kLab, 224);
    state_dir_ = lab_->dir() + "/lib";
    std::filesystem::create_directories(state_dir_);
    lab_->write_config(kPolicy);
  }
  void TearDown() override {
    if (mounted_) ::umount2(state_dir_.c_str(), MNT_DETACH);
    lab_.reset();  // stops the daemon, removes the lab's pins, namespaces and files
    std::error_code ec;
    std::filesystem::remove_all(pin_dir_of(kSecond), ec);
  }
  DaemonLab& lab() { return *lab_; }
  uint32_t std_index() { return lab().ctl_json("tier list")["tiers"][0]["index"].get<uint32_t>(); }
  void mount_state_dir(const std::string& how) {
    ASSERT_EQ(run(how), 0) << how;
    mounted_ = true;
  }

  // Sorts after the lab's "sdfail-r": the second interface a commit reaches.
  static constexpr const char* kSecond = "sdfail-s";
  std::unique_ptr<DaemonLab> lab_;
  std::string state_dir_;
  bool mounted_ = false;
};

TEST_F(FailClosedTest, AnApplyRefusedOnTheSecondInterfaceLeavesBothOnThePreviousPolicy) {
  // Two sets of maps, so that one can refuse while the other applied (shared
  // maps apply once for both: docs/map-sharing.md).
  std::string yaml = lab().config_text();
  const std::string buckets = "  buckets: 65536\n";
  yaml.replace(yaml.find(buckets), buckets.size(), buckets + "  sharing: per_interface\n");
  lab().write_raw_config(yaml);
  lab().start();
  const std::string first = lab().lab().rx_if();
  ASSERT_EQ(lab().lab().exec_rx(std::string("ip link add ") + kSecond + " type veth peer name " +
                                kSecond + "p"),
            0);
  ASSERT_EQ(lab().lab().exec_rx(std::string("ip link set ") + kSecond + " up"), 0);
  ASSERT_EQ(lab().ctl(std::string("attach ") + kSecond + " --mode generic").exit_code, 0);
  const uint32_t index = std_index();
  const struct sluice_tier first_before = active_tier(first, index);
  const struct sluice_tier second_before = active_tier(kSecond, index);
  const std::string state_before = read_file(lab().state_path());
  const json tiers_before = lab().ctl_json("tier list");

  // A frozen map refuses every update from userspace: the kernel itself
  // refuses the second interface's apply, after the first one went through.
  Fd config = pinned(kSecond, "config");
  ASSERT_EQ(bpf_map_freeze(config.get()), 0) << std::strerror(errno);

  CommandResult refused = lab().ctl("tier set std --packets 999/s");
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.err.find(std::string(kSecond) + ": applying the policy failed"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("back on the previous policy"), std::string::npos) << refused.err;

  EXPECT_TRUE(same(active_tier(first, index), first_before))
      << first << " must be switched back to the previous policy";
  EXPECT_TRUE(same(active_tier(kSecond, index), second_before));
  EXPECT_EQ(read_file(lab().state_path()), state_before) << "nothing may be persisted";
  EXPECT_EQ(lab().ctl_json("tier list"), tiers_before);

  // Without the broken interface the same change goes through, onto the slot
  // the aborted commit had written.
  ASSERT_EQ(lab().ctl(std::string("detach ") + kSecond).exit_code, 0);
  ASSERT_EQ(lab().ctl("tier set std --packets 999/s").exit_code, 0);
  EXPECT_FALSE(same(active_tier(first, index), first_before));
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"][0]["packets"]["tokens"], 999);
}

TEST_F(FailClosedTest, AReadOnlyStateDirectoryKeepsEnforcingAndRefusesLiveChanges) {
  // Root ignores mode bits: a read-only bind mount is what refuses root.
  mount_state_dir("mount --bind " + state_dir_ + " " + state_dir_ +
                  " && mount -o remount,bind,ro " + state_dir_);
  lab().start();  // a state file that cannot be written is no reason not to enforce
  const std::string iface = lab().lab().rx_if();
  EXPECT_NE(lab().log().find("cannot save the state file"), std::string::npos) << lab().log();
  json status = lab().ctl_json("status");
  ASSERT_EQ(status["interfaces"].size(), 1u);
  const struct sluice_tier before = active_tier(iface, std_index());

  CommandResult refused = lab().ctl("tier set std --packets 999/s");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("cannot save the state file"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("Read-only file system"), std::string::npos) << refused.err;
  EXPECT_TRUE(same(active_tier(iface, std_index()), before)) << "still the last good policy";
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"][0]["packets"]["tokens"], 200);
  EXPECT_FALSE(std::filesystem::exists(lab().state_path()));
  EXPECT_FALSE(has_temporary(state_dir_));
}

TEST_F(FailClosedTest, AFullStateDirectoryRefusesTheChangeAndLeavesNoTemporary) {
  // One page: the state file written at start fills it, the next one has no room.
  mount_state_dir("mount -t tmpfs -o size=4k sluice-e2e-full " + state_dir_);
  lab().start();
  const std::string iface = lab().lab().rx_if();
  const std::string state_before = read_file(lab().state_path());
  ASSERT_FALSE(state_before.empty());
  const struct sluice_tier before = active_tier(iface, std_index());

  CommandResult refused = lab().ctl("tier set std --packets 999/s");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("No space left on device"), std::string::npos) << refused.err;
  EXPECT_TRUE(same(active_tier(iface, std_index()), before)) << "still the last good policy";
  EXPECT_EQ(read_file(lab().state_path()), state_before);
  EXPECT_FALSE(has_temporary(state_dir_));
  EXPECT_TRUE(lab().running());
}

}  // namespace
}  // namespace sluice::testing
