// Limits checked while a configuration file is read, before anything big is
// built: the file's size, and the length of the collections that the kernel
// maps bound (tiers, prefixes, allow, deny). A 50 MB deny list is refused in
// the time it takes to read up to its 65537th entry, not after a node tree of
// gigabytes has been built and compiled.
#pragma once

#include <yaml-cpp/mark.h>

#include <cstddef>
#include <optional>
#include <string>

namespace sluice {

// The largest configuration file read. The biggest valid policy (65536
// prefixes and 65536 allow/deny entries, IPv6 at /128) is about 7 MiB.
inline constexpr size_t kMaxConfigBytes = 16 * 1024 * 1024;

struct LimitBreach {
  YAML::Mark mark;    // where the first entry over the limit starts
  std::string field;  // "tiers", "prefixes", "allow" or "deny"
  std::string message;
};

// Walks the YAML events of `text` (no node tree) and reports the first
// collection that is longer than the data path can hold. Throws
// YAML::Exception on a syntax error, as YAML::Load would.
std::optional<LimitBreach> find_limit_breach(const std::string& text);

// The 1-based line on which byte `offset` of `text` lies.
int line_of_offset(const std::string& text, size_t offset);

}  // namespace sluice
