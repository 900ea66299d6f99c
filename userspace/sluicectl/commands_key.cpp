#include "commands_key.h"

#include <algorithm>
#include <ctime>
#include <memory>

namespace sluice::ctl {
namespace {

using nlohmann::json;

struct KeyOptions {
  std::string tier, id;
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

}  // namespace

void add_key_commands(CLI::App& app, std::function<void(KeyAction)> chosen) {
  auto options = std::make_shared<KeyOptions>();
  auto* key = app.add_subcommand("key", "API keys for the check API (stored hashed)");
  key->require_subcommand(1);
  key->footer(
      "Examples:\n  sluicectl key add --tier pro\n  sluicectl key list\n  sluicectl key set-tier "
      "k_0123456789ab free\n  sluicectl key revoke k_0123456789ab");

  auto* add = key->add_subcommand("add", "make a new key; it is printed once, never again");
  add->footer("Example:\n  sluicectl key add --tier pro");
  add->add_option("--tier", options->tier, "the key's tier (one of check.tiers)")->required();
  add->callback([options, chosen] {
    chosen({"key.add", {{"tier", options->tier}}, [](const json& r, std::ostream& out) {
              out << r["key"].get<std::string>() << "\n";
              out << "(key " << r["id"].get<std::string>() << ", tier "
                  << r["tier"].get<std::string>() << "; shown once: only its hash is kept)\n";
            }});
  });

  auto* list = key->add_subcommand("list", "show key ids and tiers (never the keys)");
  list->footer("Example:\n  sluicectl key list --json");
  list->callback([chosen] { chosen({"key.list", json::object(), show_keys}); });

  auto* revoke = key->add_subcommand("revoke", "revoke a key at once");
  revoke->footer("Example:\n  sluicectl key revoke k_0123456789ab");
  revoke->add_option("id", options->id, "key id (from key list)")->required();
  revoke->callback([options, chosen] {
    chosen({"key.revoke", {{"id", options->id}}, [](const json& r, std::ostream& out) {
              out << "key " << r["id"].get<std::string>() << " revoked\n";
            }});
  });

  auto* set_tier = key->add_subcommand("set-tier", "move a key to another tier (keeps its usage)");
  set_tier->footer("Example:\n  sluicectl key set-tier k_0123456789ab pro");
  set_tier->add_option("id", options->id, "key id")->required();
  set_tier->add_option("tier", options->tier, "new tier")->required();
  set_tier->callback([options, chosen] {
    chosen({"key.set-tier",
            {{"id", options->id}, {"tier", options->tier}},
            [](const json& r, std::ostream& out) {
              out << "key " << r["id"].get<std::string>() << ": tier "
                  << r["previous_tier"].get<std::string>() << " -> " << r["tier"].get<std::string>()
                  << "\n";
            }});
  });
}

}  // namespace sluice::ctl
