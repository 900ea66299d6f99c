// The daemon's state file: the live edits made with sluicectl and the tier
// index assignment, written atomically (temporary file, fsync, rename) so that
// a crash at any moment leaves either the old or the new state, never a torn
// one. See docs/persistence.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "live_edits.h"

namespace sluice {

inline constexpr int kStateFileVersion = 1;

struct PersistedState {
  LiveEdits edits;
  // Tier name -> index, so that per-tier counters keep their meaning across restarts.
  std::map<std::string, uint32_t> tier_slots;
};

// std::nullopt when the file does not exist; throws std::runtime_error naming
// the file when it exists but cannot be read or understood.
std::optional<PersistedState> load_state(const std::string& path);
// Throws std::system_error; on failure the previous file is untouched.
void save_state(const std::string& path, const PersistedState& state);

}  // namespace sluice
