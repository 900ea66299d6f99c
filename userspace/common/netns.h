// The network namespace the calling thread is in, as a name for paths. Pins
// under /sys/fs/bpf and locks under /run are shared by every namespace of the
// host (both are mounts of the host, and `sluiced --netns` keeps them), while
// interface names are only unique within one namespace: two namespaces with
// an `eth0` each would otherwise take each other's pins and locks.
#pragma once

#include <string>

namespace sluice {

// "net<inode>": the inode of /proc/thread-self/ns/net, which identifies the
// namespace for as long as it exists. Throws std::system_error when /proc is
// not mounted.
std::string netns_tag();

}  // namespace sluice
