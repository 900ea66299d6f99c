// sluicectl's command line, built from the command table (command.h).
#pragma once

#include <vector>

#include "command.h"

namespace sluice::ctl {

// Every command, in the order `sluicectl --help` lists them.
std::vector<Command> command_table();

// Builds the parser from `table`, parses argv and runs the chosen command.
// Returns the exit code (kExitUsage for a command line that does not parse).
int run_cli(int argc, char** argv, const std::vector<Command>& table);

}  // namespace sluice::ctl
