// config validate (offline, no daemon) and reload (re-read the file).
#include <iostream>
#include <memory>

#include "command.h"
#include "config_file.h"
#include "views.h"

namespace sluice::ctl {
namespace {

using nlohmann::json;

struct ValidateOptions {
  std::string file;
};

struct ReloadOptions {
  bool discard_live_changes = false;
};

int validate_config(const Globals& globals, const std::string& path) {
  try {
    auto config = load_config_file(path);
    if (globals.json_output)
      std::cout << json{{"valid", true},
                        {"file", path},
                        {"tiers", config.policy.tiers.size()},
                        {"prefixes", config.policy.prefixes.size()},
                        {"interfaces", config.settings.interfaces.size()}}
                       .dump(2)
                << "\n";
    else
      std::cout << path << " is valid: " << config.policy.tiers.size() << " tiers, "
                << config.policy.prefixes.size() << " prefixes, "
                << config.settings.interfaces.size() << " interfaces\n";
    return kExitOk;
  } catch (const ConfigError& e) {
    if (globals.json_output)
      std::cout << json{{"valid", false},       {"file", e.file()},   {"line", e.line()},
                        {"column", e.column()}, {"field", e.field()}, {"message", e.reason()},
                        {"error", e.what()}}
                       .dump(2)
                << "\n";
    else
      std::cerr << "invalid: " << e.what() << "\n";
    return kExitRefused;
  }
}

Run declare_validate(CLI::App& sub) {
  auto o = std::make_shared<ValidateOptions>();
  sub.add_option("file", o->file, "configuration file")->required();
  return [o](const Globals& g) { return validate_config(g, o->file); };
}

Run declare_reload(CLI::App& sub) {
  auto o = std::make_shared<ReloadOptions>();
  sub.add_flag("--discard-live-changes", o->discard_live_changes,
               "drop every change made with sluicectl");
  return [o](const Globals& g) {
    return ask_and_show(g, "reload", {{"discard_live_changes", o->discard_live_changes}},
                        [](const json& r, std::ostream& out) {
                          out << "reloaded " << r["config_file"].get<std::string>() << "\n";
                          for (const auto& p : r.value("pending", json::array()))
                            show_pending(p["iface"].get<std::string>(), p, out);
                        });
  };
}

}  // namespace

std::vector<Command> config_commands() {
  return {
      {"config", "work with configuration files",
       "Example:\n  sluicectl config validate /etc/sluice/sluice.yaml", nullptr},
      {"config validate", "check a file offline (no daemon needed)",
       "Example:\n  sluicectl config validate /etc/sluice/sluice.yaml && sluicectl reload",
       declare_validate},
      {"reload", "re-read the configuration file (like SIGHUP)",
       R"(An invalid file changes nothing. Live changes made with sluicectl are replayed on
top of the file unless --discard-live-changes is given.
Examples:
  sluicectl reload
  sluicectl reload --discard-live-changes)",
       declare_reload},
  };
}

}  // namespace sluice::ctl
