// One daemon per interface: an flock(2) on
// /run/sluice/interfaces/net<inode>/<iface>.lock (netns.h),
// held while the daemon manages the interface. A second sluiced (say, started
// by hand with another --socket) would otherwise adopt the same pins and the
// two would overwrite each other's policy. The kernel drops the lock when the
// holder dies, so kill -9 and restart are unaffected. A daemon of an older
// version, which locked /run/sluice/interfaces/<iface>.lock, is looked for too
// (an upgrade that starts the new daemon before the old one has stopped).
#pragma once

#include <string>

#include "fd.h"

namespace sluice {

class InterfaceLock {
 public:
  static constexpr const char* kDefaultDir = "/run/sluice/interfaces";

  InterfaceLock() = default;
  // Throws std::system_error(EBUSY) naming the holder's pid when another
  // process holds the lock. When the lock directory cannot be created (a
  // read-only /run), logs a warning and returns an empty lock.
  static InterfaceLock acquire(const std::string& ifname, const std::string& dir = kDefaultDir);

  bool held() const { return fd_.valid(); }

 private:
  Fd fd_;
};

}  // namespace sluice
