#include "interface_lock.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "error.h"
#include "netns.h"

namespace sluice {

InterfaceLock InterfaceLock::acquire(const std::string& ifname, const std::string& dir) {
  InterfaceLock lock;
  std::error_code ec;
  // Keyed by namespace: two namespaces may each have an interface of this name.
  const std::string ns_dir = dir + "/" + netns_tag();
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
    char holder[32] = {};
    ssize_t n = ::pread(fd.get(), holder, sizeof(holder) - 1, 0);
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (err == EWOULDBLOCK)
      throw_errno(EBUSY,
                  ifname + " is managed by another sluiced (pid " + pid + ", lock " + path + ")");
    throw_errno(err, "lock " + path);
  }
  // Record who holds it, for the message a second daemon prints.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) (void)!::pwrite(fd.get(), pid.data(), pid.size(), 0);
  lock.fd_ = std::move(fd);
  return lock;
}

}  // namespace sluice
