// Errors at the library boundary: std::system_error carrying what was being
// done to what, plus the errno text.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace sluice {

// Throws std::system_error(err, what). `err` is a positive errno value.
[[noreturn]] void throw_errno(int err, const std::string& what);

// Reads errno now (call right after the failing call) and throws.
[[noreturn]] inline void throw_last_errno(const std::string& what) {
  throw_errno(errno, what);
}

// libbpf returns -errno from most calls; turn a negative result into a throw.
inline int check_libbpf(int rc, const std::string& what) {
  if (rc < 0) throw_errno(-rc, what);
  return rc;
}

}  // namespace sluice
