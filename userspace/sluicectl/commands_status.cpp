// status: the daemon, its interfaces and policy at a glance.
#include "command.h"
#include "views.h"

namespace sluice::ctl {

std::vector<Command> status_commands() {
  return {
      {"status", "daemon, interfaces and policy at a glance", "Example:\n  sluicectl status --json",
       [](CLI::App&) -> Run {
         return [](const Globals& g) {
           return ask_and_show(g, "status", nlohmann::json::object(), show_status);
         };
       }},
  };
}

}  // namespace sluice::ctl
