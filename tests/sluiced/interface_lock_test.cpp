// One daemon per interface, across an upgrade: the lock of this version
// (<dir>/net<inode>/<iface>.lock) and the one daemons before namespaced locks
// took (<dir>/<iface>.lock). An old daemon still running during an upgrade
// holds only the old file; a new daemon that did not look at it would manage
// the same interface beside it, each overwriting the other's policy.
#include "interface_lock.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>

#include "fd.h"

namespace sluice {
namespace {

class InterfaceLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/sluice-lock-test-XXXXXX";
    ASSERT_NE(::mkdtemp(path), nullptr);
    dir_ = path;
  }
  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string legacy_path(const std::string& ifname) const { return dir_ + "/" + ifname + ".lock"; }

  // What a daemon before namespaced locks did: an exclusive flock on
  // <dir>/<iface>.lock with its pid written in it, held by another process
  // (optionally in a network namespace of its own) until the test ends.
  void old_daemon_holds(const std::string& ifname, bool own_namespace) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    child_ = ::fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      ::close(ready[0]);
      if (own_namespace && ::unshare(CLONE_NEWNET) != 0) ::_exit(1);
      int fd = ::open(legacy_path(ifname).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) ::_exit(2);
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) ::_exit(3);
      char ok = 1;
      if (::write(ready[1], &ok, 1) != 1) ::_exit(4);
      ::pause();
      ::_exit(0);
    }
    ::close(ready[1]);
    char ok = 0;
    ASSERT_EQ(::read(ready[0], &ok, 1), 1) << "the stand-in for an old daemon did not start";
    ::close(ready[0]);
  }

  std::string dir_;
  pid_t child_ = -1;
};

int error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code().value();
  }
  return 0;
}

TEST_F(InterfaceLockTest, ASecondDaemonForTheSameInterfaceIsRefused) {
  InterfaceLock first = InterfaceLock::acquire("veth0", dir_);
  ASSERT_TRUE(first.held());
  EXPECT_EQ(error_of([&] { InterfaceLock::acquire("veth0", dir_); }), EBUSY);
  InterfaceLock other = InterfaceLock::acquire("veth1", dir_);
  EXPECT_TRUE(other.held()) << "another interface is not a conflict";
}

TEST_F(InterfaceLockTest, AnOldDaemonOnThisInterfaceInThisNamespaceIsNotManagedBeside) {
  old_daemon_holds("veth0", /*own_namespace=*/false);
  std::string message;
  try {
    InterfaceLock::acquire("veth0", dir_);
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EBUSY);
    message = e.what();
  }
  EXPECT_NE(message.find("older sluiced"), std::string::npos) << message;
  EXPECT_NE(message.find("pid " + std::to_string(child_)), std::string::npos) << message;
  EXPECT_NE(message.find(legacy_path("veth0")), std::string::npos) << message;
  EXPECT_TRUE(InterfaceLock::acquire("veth1", dir_).held())
      << "the old daemon's lock names one interface";
}

TEST_F(InterfaceLockTest, AnOldDaemonInAnotherNamespaceIsNoConflict) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  old_daemon_holds("eth0", /*own_namespace=*/true);
  EXPECT_TRUE(InterfaceLock::acquire("eth0", dir_).held());
}

TEST_F(InterfaceLockTest, AnOldLockFileNobodyHoldsIsNoConflict) {
  {
    Fd stale(::open(legacy_path("veth0").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(stale);
    ASSERT_EQ(::pwrite(stale.get(), "12345\n", 6, 0), 6);
  }
  EXPECT_TRUE(InterfaceLock::acquire("veth0", dir_).held());
}

}  // namespace
}  // namespace sluice
