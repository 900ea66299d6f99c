#include "interface_lock.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "error.h"
#include "netns.h"

namespace sluice {
namespace {

// The pid a holder wrote in its lock file ("?" when there is none).
std::string holder_pid(int fd) {
  char holder[32] = {};
  ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
  std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "?" : pid;
}

// Daemons before namespaced locks took <dir>/<iface>.lock in every namespace.
// One may still run during an upgrade, and it holds only that file: refuse to
// manage the interface beside it. An old daemon in another namespace (its
// pid's ns/net differs from ours) manages another interface of the same name
// and is no conflict; one whose namespace cannot be told is assumed to be ours.
// Only looked at, never taken: two new daemons in two namespaces must not
// collide on it again.
void refuse_an_older_holder(const std::string& ifname, const std::string& dir,
                            const std::string& tag) {
  const std::string path = dir + "/" + ifname + ".lock";
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return;                                        // no old daemon ever ran here
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return;  // a stale file; closing unlocks
  const std::string pid = holder_pid(fd.get());
  struct stat st {};
  if (pid != "?" && ::stat(("/proc/" + pid + "/ns/net").c_str(), &st) == 0 &&
      "net" + std::to_string(st.st_ino) != tag)
    return;
  throw_errno(EBUSY, ifname + " is managed by an older sluiced (pid " + pid + ", lock " + path +
                         "): stop it before starting this one");
}

}  // namespace

InterfaceLock InterfaceLock::acquire(const std::string& ifname, const std::string& dir) {
  InterfaceLock lock;
  std::error_code ec;
  // Keyed by namespace: two namespaces may each have an interface of this name.
  const std::string tag = netns_tag();
  refuse_an_older_holder(ifname, dir, tag);
  const std::string ns_dir = dir + "/" + tag;
  std::filesystem::create_directories(ns_dir, ec);
  const std::string path = ns_dir + "/" + ifname + ".lock";
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    spdlog::warn("{}: cannot open lock {} ({}); not guarding against a second daemon", ifname, path,
                 std::strerror(errno));
    return lock;
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK)
      throw_errno(EBUSY, ifname + " is managed by another sluiced (pid " + holder_pid(fd.get()) +
                             ", lock " + path + ")");
    throw_errno(err, "lock " + path);
  }
  // Record who holds it, for the message a second daemon prints.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) (void)!::pwrite(fd.get(), pid.data(), pid.size(), 0);
  lock.fd_ = std::move(fd);
  return lock;
}

}  // namespace sluice
