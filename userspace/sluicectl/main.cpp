// sluicectl: the operator's command line for sluiced. Talks to the daemon over
// its unix socket; `config validate` works offline. The commands are rows of a
// table, one file per group (commands_*.cpp); cli.cpp builds the parser.
//
// Exit codes: 0 done; 1 refused (bad input, not found, conflict, invalid
// file); 2 usage error; 3 daemon unreachable or not answering; 4 permission denied.
#include "cli.h"

int main(int argc, char** argv) {
  return sluice::ctl::run_cli(argc, argv, sluice::ctl::command_table());
}
