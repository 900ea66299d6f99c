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

const char* to_string(AttachKind kind) {
  return kind == AttachKind::kMultiprog ? "multiprog" : "direct";
}

AttachKind parse_attach_kind(const std::string& text) {
  if (text == "direct") return AttachKind::kDirect;
  if (text == "multiprog") return AttachKind::kMultiprog;
  throw std::invalid_argument("attach mode '" + text + "' is not one of direct, multiprog");
}

}  // namespace sluice
