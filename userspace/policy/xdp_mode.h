// How a program is attached to an interface, as the config file and sluicectl
// name it: "auto" (native, falling back to generic), "native" or "generic".
#pragma once

#include <string>

namespace sluice {

enum class XdpMode { kAuto, kNative, kGeneric };

const char* to_string(XdpMode mode);
// Throws std::invalid_argument for anything but auto|native|generic.
XdpMode parse_xdp_mode(const std::string& text);

}  // namespace sluice
