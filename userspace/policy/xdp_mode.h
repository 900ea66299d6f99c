// How a program is attached to an interface, as the config file and sluicectl
// name it: "auto" (native XDP, falling back to TC ingress), "native", "generic"
// (XDP in the stack, after GRO) or "tc" (clsact ingress, docs/tc.md).
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

enum class XdpMode { kAuto, kNative, kGeneric, kTc };

const char* to_string(XdpMode mode);
// Throws std::invalid_argument for anything but auto|native|generic|tc.
XdpMode parse_xdp_mode(const std::string& text);

// How the program reaches the interface (docs/attach-modes.md): "direct", its
// own pinned BPF link, the interface for itself; or "multiprog", one program
// of libxdp's dispatcher beside others, run in `priority` order (lower first)
// and chaining to the next on XDP_PASS.
enum class AttachKind { kDirect, kMultiprog };

struct AttachSettings {
  AttachKind kind = AttachKind::kDirect;
  uint32_t priority = 50;  // libxdp's default run priority
  static constexpr uint32_t kMaxPriority = 1000;
  bool operator==(const AttachSettings&) const = default;
};

const char* to_string(AttachKind kind);
// Throws std::invalid_argument for anything but direct|multiprog.
AttachKind parse_attach_kind(const std::string& text);

}  // namespace sluice
