// The kernel layer's view of one address, for the usage API: which tier (or
// list) the data path judges it by, and its bucket's remaining quota and reset
// on every interface, read from the data planes' bucket maps without changing them.
#pragma once

#include <optional>
#include <string>

#include "check_http.h"

namespace sluice {

class Daemon;

// `address` as client_address() writes it ("198.18.0.1", "2001:db8::/64");
// nullopt when it is not one or no interface enforces.
std::optional<KernelUsage> kernel_usage(const Daemon& daemon, const std::string& address);

}  // namespace sluice
