// The state file's writes on a directory that refuses them: the previous file
// stays, no temporary is left behind, and the error says what happened.
#include "state_file.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

PersistedState state_with_denies(int count) {
  PersistedState state;
  for (int i = 0; i < count; ++i)
    state.edits.deny.put(
        Cidr::parse("198.18." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "/32"),
        0);
  return state;
}

// A one-page tmpfs: any state file of more than 4 KiB does not fit.
class FullDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    char path[] = "/tmp/sluice-state-full-XXXXXX";
    ASSERT_NE(::mkdtemp(path), nullptr);
    dir_ = path;
    ASSERT_EQ(::mount("sluice-state-test", dir_.c_str(), "tmpfs", 0, "size=4k"), 0)
        << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
  bool mounted_ = false;
};

TEST_F(FullDirectory, AStateThatDoesNotFitLeavesThePreviousFileAndNoTemporary) {
  const std::string path = (dir_ / "state.json").string();
  save_state(path, state_with_denies(2));
  const std::string before = read_file(path);

  try {
    save_state(path, state_with_denies(500));  // ~20 KB of JSON
    FAIL() << "a state file larger than the filesystem was written";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOSPC) << e.what();
    EXPECT_NE(std::string(e.what()).find(path + ".tmp"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp")) << "a failed write left its temporary";
  ASSERT_TRUE(load_state(path).has_value());
  EXPECT_EQ(load_state(path)->edits.deny.set.size(), 2u);
}

}  // namespace
}  // namespace sluice
