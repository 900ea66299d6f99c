// The control protocol's commands, served by a Daemon. The command names and
// their arguments are the protocol (docs/control-protocol.md).
#pragma once

#include "control_server.h"

namespace sluice {

class Daemon;

// Serves one request; replies exactly once (now, or later for `top`).
void handle_command(Daemon& daemon, const Request& request, ControlServer::Reply reply);

}  // namespace sluice
