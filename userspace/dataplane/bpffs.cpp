#include "bpffs.h"

#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "error.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

namespace sluice {

void ensure_bpffs(const std::string& mount_point) {
  struct statfs fs {};
  if (statfs(mount_point.c_str(), &fs) == 0 &&
      static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC)
    return;
  if (mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700") != 0)
    throw_last_errno("mount bpffs at " + mount_point);
  spdlog::info("mounted bpffs at {}", mount_point);
}

}  // namespace sluice
