#include "key_commands.h"

#include <spdlog/spdlog.h>

#include <ctime>

#include "control_protocol.h"
#include "daemon.h"

namespace sluice {
namespace {

using nlohmann::json;

CheckService& service(Daemon& daemon) {
  CheckService* check = daemon.check_service();
  if (!check)
    throw ControlError(errc::kConflict,
                       "the check API is off: add a `check:` section to the configuration file");
  return *check;
}

std::string known_tier(CheckService& check, const json& args) {
  std::string tier = string_arg(args, "tier");
  if (!check.checker().has_tier(tier))
    throw ControlError(errc::kInvalidArgument,
                       "tier '" + tier + "' has no request limits (see check.tiers)");
  return tier;
}

json row(const ApiKeyRecord& record) {
  return {{"id", record.id}, {"tier", record.tier}, {"created", record.created}};
}

// Persists, or undoes `undo` and reports: a change is kept only once it is on disk.
template <typename Undo>
void save_or_undo(CheckService& check, Undo&& undo) {
  try {
    check.save_keys();
  } catch (const std::exception& e) {
    undo();
    throw ControlError(errc::kFailed, std::string("saving the keys file failed: ") + e.what());
  }
}

}  // namespace

json key_add(Daemon& daemon, const json& args) {
  CheckService& check = service(daemon);
  const std::string tier = known_tier(check, args);
  auto [key, record] = check.keys().add(tier, static_cast<uint64_t>(std::time(nullptr)));
  save_or_undo(check, [&] { check.keys().revoke(record.id); });
  spdlog::info("key {} added (tier {})", record.id, tier);
  json out = row(record);
  out["key"] = key;  // the only time the key exists in clear
  return out;
}

json key_list(Daemon& daemon, const json&) {
  json out = json::array();
  for (const auto& record : service(daemon).keys().list()) out.push_back(row(record));
  return {{"keys", out}};
}

json key_revoke(Daemon& daemon, const json& args) {
  CheckService& check = service(daemon);
  const std::string id = string_arg(args, "id");
  auto record = check.keys().find_id(id);
  if (!record) throw ControlError(errc::kNotFound, "no key with id '" + id + "'");
  check.keys().revoke(id);
  save_or_undo(check, [&] { check.keys().insert(*record); });
  spdlog::info("key {} revoked", id);
  return row(*record);
}

json key_set_tier(Daemon& daemon, const json& args) {
  CheckService& check = service(daemon);
  const std::string id = string_arg(args, "id");
  const std::string tier = known_tier(check, args);
  auto record = check.keys().find_id(id);
  if (!record) throw ControlError(errc::kNotFound, "no key with id '" + id + "'");
  check.keys().set_tier(id, tier);
  save_or_undo(check, [&] { check.keys().set_tier(id, record->tier); });
  spdlog::info("key {}: tier {} -> {}", id, record->tier, tier);
  json out = row(*record);
  out["tier"] = tier;
  out["previous_tier"] = record->tier;
  return out;
}

}  // namespace sluice
