// Human-readable renderings of the daemon's answers, one per read command.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>

namespace sluice::ctl {

void show_status(const nlohmann::json& result, std::ostream& out);
// One load-time setting of the file that the running program of `iface` does not have yet.
void show_pending(const std::string& iface, const nlohmann::json& pending, std::ostream& out);
void show_tiers(const nlohmann::json& result, std::ostream& out);
void show_prefixes(const nlohmann::json& result, std::ostream& out);
void show_list(const nlohmann::json& result, const char* key, std::ostream& out);
void show_stats(const nlohmann::json& result, std::ostream& out);
void show_top(const nlohmann::json& result, std::ostream& out);

}  // namespace sluice::ctl
