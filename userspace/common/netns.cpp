#include "netns.h"

#include <sys/stat.h>

#include "error.h"

namespace sluice {

std::string netns_tag() {
  // thread-self, not self: a thread switched with setns (the test labs' in_netns)
  // is in another namespace than the process's first thread.
  struct stat st {};
  if (::stat("/proc/thread-self/ns/net", &st) != 0)
    throw_last_errno("identify the network namespace (/proc/thread-self/ns/net)");
  return "net" + std::to_string(st.st_ino);
}

}  // namespace sluice
