// bpffs helpers: pins need a BPF filesystem, which `ip netns exec` and some
// container runtimes do not provide.
#pragma once

#include <string>

namespace sluice {

// Mounts bpffs at `mount_point` unless one is already there.
void ensure_bpffs(const std::string& mount_point);

}  // namespace sluice
