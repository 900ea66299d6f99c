// attach and detach: start or stop enforcing on an interface.
#include <memory>

#include "command.h"

namespace sluice::ctl {
namespace {

using nlohmann::json;

struct AttachOptions {
  std::string iface;
  std::string mode = "auto";
};

struct DetachOptions {
  std::string iface;
};

Run declare_attach(CLI::App& sub) {
  auto o = std::make_shared<AttachOptions>();
  sub.add_option("iface", o->iface, "interface name")->required();
  sub.add_option("--mode", o->mode,
                 "auto (native XDP, else TC ingress), native, generic (XDP after GRO) or tc")
      ->check(CLI::IsMember({"auto", "native", "generic", "tc"}))
      ->capture_default_str();
  return [o](const Globals& g) {
    return ask_and_show(g, "attach", {{"iface", o->iface}, {"mode", o->mode}},
                        [](const json& r, std::ostream& out) {
                          out << "attached to " << r["iface"].get<std::string>() << " ("
                              << r["mode"].get<std::string>() << ", "
                              << r.value("attach", std::string("direct"))
                              << (r["adopted"].get<bool>() ? ", adopted" : "") << ")\n";
                        });
  };
}

Run declare_detach(CLI::App& sub) {
  auto o = std::make_shared<DetachOptions>();
  sub.add_option("iface", o->iface, "interface name")->required();
  return [o](const Globals& g) {
    return ask_and_show(g, "detach", {{"iface", o->iface}}, said("detached"));
  };
}

}  // namespace

std::vector<Command> interface_commands() {
  return {
      {"attach", "start enforcing on an interface",
       "Examples:\n  sluicectl attach eth1\n  sluicectl attach eth1 --mode generic\n"
       "The attach mode (direct or libxdp's multiprog dispatcher) is the config's `attach:`.",
       declare_attach},
      {"detach", "stop enforcing on an interface (unpins its maps)",
       "Example:\n  sluicectl detach eth1", declare_detach},
  };
}

}  // namespace sluice::ctl
