// The control commands for API keys: key.add, key.list, key.revoke,
// key.set-tier. Keys live in the check service's store and its keys file
// (hashed); a new key is returned in clear once, by key.add.
#pragma once

#include <nlohmann/json.hpp>

namespace sluice {

class Daemon;

nlohmann::json key_add(Daemon& daemon, const nlohmann::json& args);
nlohmann::json key_list(Daemon& daemon, const nlohmann::json& args);
nlohmann::json key_revoke(Daemon& daemon, const nlohmann::json& args);
nlohmann::json key_set_tier(Daemon& daemon, const nlohmann::json& args);

}  // namespace sluice
