// sluicectl key add|list|revoke|set-tier: API keys of the request layer.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace sluice::ctl {

// What a parsed key subcommand asks of the daemon, and how to show the answer.
struct KeyAction {
  std::string command;
  nlohmann::json args;
  std::function<void(const nlohmann::json&, std::ostream&)> show;
};

// Adds the `key` subcommand to `app`; `chosen` receives the action once parsed.
void add_key_commands(CLI::App& app, std::function<void(KeyAction)> chosen);

}  // namespace sluice::ctl
