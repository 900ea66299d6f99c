#include "xdp_mode.h"

#include <stdexcept>

namespace sluice {

const char* to_string(XdpMode mode) {
  switch (mode) {
    case XdpMode::kAuto:
      return "auto";
    case XdpMode::kNative:
      return "native";
    case XdpMode::kGeneric:
      return "generic";
    case XdpMode::kTc:
      return "tc";
  }
  return "?";
}

XdpMode parse_xdp_mode(const std::string& text) {
  if (text == "auto") return XdpMode::kAuto;
  if (text == "native") return XdpMode::kNative;
  if (text == "generic") return XdpMode::kGeneric;
  if (text == "tc") return XdpMode::kTc;
  throw std::invalid_argument("attach mode '" + text + "' is not one of auto, native, generic, tc");
}

}  // namespace sluice
