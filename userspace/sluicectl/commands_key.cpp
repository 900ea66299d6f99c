// key add, list, revoke, set-tier: API keys of the request layer (check API).
// The daemon keeps only their hashes; `key add` prints a new key once.
#include <algorithm>
#include <ctime>
#include <memory>

#include "command.h"

namespace sluice::ctl {
namespace {

using nlohmann::json;

struct KeyAddOptions {
  std::string tier;
};

struct KeyIdOptions {
  std::string id;
};

struct KeySetTierOptions {
  std::string id, tier;
};

std::string format_time(uint64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
  return text;
}

void show_keys(const json& result, std::ostream& out) {
  if (result["keys"].empty()) {
    out << "no keys\n";
    return;
  }
  out << "ID                TIER              CREATED (UTC)\n";
  for (const auto& key : result["keys"]) {
    std::string id = key["id"].get<std::string>(), tier = key["tier"].get<std::string>();
    id.resize(std::max<size_t>(id.size(), 17), ' ');
    tier.resize(std::max<size_t>(tier.size(), 17), ' ');
    out << id << " " << tier << " " << format_time(key["created"].get<uint64_t>()) << "\n";
  }
}

void show_key_added(const json& r, std::ostream& out) {
  out << r["key"].get<std::string>() << "\n";
  out << "(key " << r["id"].get<std::string>() << ", tier " << r["tier"].get<std::string>()
      << "; shown once: only its hash is kept)\n";
}

void show_key_tier(const json& r, std::ostream& out) {
  out << "key " << r["id"].get<std::string>() << ": tier " << r["previous_tier"].get<std::string>()
      << " -> " << r["tier"].get<std::string>() << "\n";
}

Run declare_key_add(CLI::App& sub) {
  auto o = std::make_shared<KeyAddOptions>();
  sub.add_option("--tier", o->tier, "the key's tier (one of check.tiers)")->required();
  return [o](const Globals& g) {
    return ask_and_show(g, "key.add", {{"tier", o->tier}}, show_key_added);
  };
}

Run declare_key_list(CLI::App&) {
  return [](const Globals& g) { return ask_and_show(g, "key.list", json::object(), show_keys); };
}

Run declare_key_revoke(CLI::App& sub) {
  auto o = std::make_shared<KeyIdOptions>();
  sub.add_option("id", o->id, "key id (from key list)")->required();
  return [o](const Globals& g) {
    return ask_and_show(g, "key.revoke", {{"id", o->id}}, said("key " + o->id + " revoked"));
  };
}

Run declare_key_set_tier(CLI::App& sub) {
  auto o = std::make_shared<KeySetTierOptions>();
  sub.add_option("id", o->id, "key id")->required();
  sub.add_option("tier", o->tier, "new tier")->required();
  return [o](const Globals& g) {
    return ask_and_show(g, "key.set-tier", {{"id", o->id}, {"tier", o->tier}}, show_key_tier);
  };
}

}  // namespace

std::vector<Command> key_commands() {
  return {
      {"key", "API keys for the check API (stored hashed)",
       "Examples:\n  sluicectl key add --tier pro\n  sluicectl key list\n"
       "  sluicectl key set-tier k_0123456789ab free\n  sluicectl key revoke k_0123456789ab",
       nullptr},
      {"key add", "make a new key; it is printed once, never again",
       "Example:\n  sluicectl key add --tier pro", declare_key_add},
      {"key list", "show key ids and tiers (never the keys)",
       "Example:\n  sluicectl key list --json", declare_key_list},
      {"key revoke", "revoke a key at once", "Example:\n  sluicectl key revoke k_0123456789ab",
       declare_key_revoke},
      {"key set-tier", "move a key to another tier (keeps its usage)",
       "Example:\n  sluicectl key set-tier k_0123456789ab pro", declare_key_set_tier},
  };
}

}  // namespace sluice::ctl
