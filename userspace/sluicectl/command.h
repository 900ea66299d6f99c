// The command table's vocabulary: what a sluicectl command is (a row of the
// table), the options every command shares, exit codes, and how a command
// asks sluiced. Each commands_<group>.cpp declares its rows; cli.cpp turns
// the table into a CLI11 parser and runs the chosen command.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::ctl {

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;      // bad input, not found, conflict, invalid file
constexpr int kExitUsage = 2;        // the command line itself is wrong
constexpr int kExitUnreachable = 3;  // sluiced unreachable or not answering
constexpr int kExitPermission = 4;   // permission denied

// Options before or after the command: where sluiced is and how to answer.
struct Globals {
  std::string socket = "/run/sluice/sluiced.sock";
  bool json_output = false;
  double timeout_s = 10;
};

// A failure with the exit code it maps to; cli.cpp prints it and exits.
class Failure : public std::runtime_error {
 public:
  Failure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// What a parsed command does; returns the exit code.
using Run = std::function<int(const Globals&)>;

// Renders a daemon answer for people (--json prints the answer itself).
using Show = std::function<void(const nlohmann::json&, std::ostream&)>;

// One row of the command table. A row whose `declare` is empty is a group
// ("tier", "prefix"): it only holds the rows below it.
struct Command {
  std::string path;     // "tier set": the group, then the command
  std::string summary;  // one line, in the parent's list of commands
  std::string footer;   // what --help shows after the options: notes and examples
  // Adds the command's options to `sub`, bound to an options struct of its
  // own, and returns what running the command does with them.
  std::function<Run(CLI::App& sub)> declare;
};

// Sends one request to sluiced and returns its result; a refusal or an
// unreachable daemon becomes a Failure with the matching exit code. `extra`
// extends the timeout for requests that measure over an interval.
nlohmann::json ask(const Globals& globals, const std::string& command, const nlohmann::json& args,
                   std::chrono::milliseconds extra = {});

// The common case: ask, then print the answer (as JSON with --json).
int ask_and_show(const Globals& globals, const std::string& command, const nlohmann::json& args,
                 const Show& show, std::chrono::milliseconds extra = {});

// A Show that prints a fixed line ("tier deleted").
Show said(std::string text);

// The rows of each command group, in the order --help lists them.
std::vector<Command> status_commands();
std::vector<Command> tier_commands();
std::vector<Command> list_commands();
std::vector<Command> stats_commands();
std::vector<Command> config_commands();
std::vector<Command> interface_commands();
std::vector<Command> key_commands();
std::vector<Command> peers_commands();
std::vector<Command> simulate_commands();

}  // namespace sluice::ctl
