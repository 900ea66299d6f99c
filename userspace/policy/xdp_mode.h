// How a program is attached to an interface, as the config file and sluicectl
// name it: "auto" (native XDP, falling back to TC ingress), "native", "generic"
// (XDP in the stack, after GRO) or "tc" (clsact ingress, docs/tc.md).
#pragma once

#include <string>

namespace sluice {

enum class XdpMode { kAuto, kNative, kGeneric, kTc };

const char* to_string(XdpMode mode);
// Throws std::invalid_argument for anything but auto|native|generic|tc.
XdpMode parse_xdp_mode(const std::string& text);

}  // namespace sluice
