#include "cli.h"

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace sluice::ctl {
namespace {

constexpr const char* kFooter = R"(Examples:
  sluicectl status
  sluicectl tier set gold --packets 5000/s --packets-burst 10000 --bytes 50MB/s
  sluicectl prefix add 198.18.7.0/24 gold
  sluicectl deny add 198.18.9.9 --ttl 10m
  sluicectl top --watch
  sluicectl stats --json | jq .total

Exit codes: 0 ok, 1 refused (bad input, not found, conflict, invalid file),
2 usage, 3 sluiced unreachable, 4 permission denied.)";

std::vector<std::string> words(const std::string& path) {
  std::istringstream in(path);
  std::vector<std::string> out;
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

void add_globals(CLI::App& app, Globals& globals) {
  if (const char* env = std::getenv("SLUICE_SOCKET")) globals.socket = env;
  app.add_option("-s,--socket", globals.socket, "control socket of sluiced (env SLUICE_SOCKET)")
      ->capture_default_str();
  app.add_flag("-j,--json", globals.json_output, "print the answer as JSON (for scripts)");
  app.add_option("--timeout", globals.timeout_s, "seconds to wait for sluiced")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
}

// One subcommand per row, under the group its path names; a parsed command
// leaves what it does in `chosen`.
void add_commands(CLI::App& app, const std::vector<Command>& table, Run& chosen) {
  for (const Command& row : table) {
    std::vector<std::string> path = words(row.path);
    CLI::App* parent = &app;
    for (size_t i = 0; i + 1 < path.size(); ++i) parent = parent->get_subcommand(path[i]);
    CLI::App* sub = parent->add_subcommand(path.back(), row.summary);
    sub->footer(row.footer);
    if (!row.declare) {
      sub->require_subcommand(1);
      continue;
    }
    Run run = row.declare(*sub);
    sub->callback([&chosen, run] { chosen = run; });
  }
}

// Help ends with the examples; end them with a newline so the prompt starts clean.
void end_footers(CLI::App* app) {
  app->footer(app->get_footer() + "\n");
  for (auto* child : app->get_subcommands({})) end_footers(child);
}

}  // namespace

std::vector<Command> command_table() {
  std::vector<Command> table;
  for (auto group : {status_commands, tier_commands, list_commands, stats_commands, config_commands,
                     interface_commands, key_commands, peers_commands, simulate_commands}) {
    auto rows = group();
    table.insert(table.end(), rows.begin(), rows.end());
  }
  return table;
}

int run_cli(int argc, char** argv, const std::vector<Command>& table) {
  Globals globals;
  Run chosen;
  CLI::App app{"sluicectl: drive sluiced, the Sluice rate limiter"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command
  app.footer(kFooter);
  add_globals(app, globals);
  add_commands(app, table, chosen);
  end_footers(&app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  try {
    return chosen(globals);
  } catch (const Failure& e) {
    std::cerr << "sluicectl: " << e.what() << "\n";
    return e.code();
  } catch (const std::exception& e) {
    std::cerr << "sluicectl: " << e.what() << "\n";
    return kExitUnreachable;
  }
}

}  // namespace sluice::ctl
