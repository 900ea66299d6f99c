// Routes libbpf's messages through spdlog so that they share the daemon's
// levels and sinks.
#pragma once

namespace sluice {

// Installs the print callback once; safe to call repeatedly.
void route_libbpf_logs_to_spdlog();

}  // namespace sluice
