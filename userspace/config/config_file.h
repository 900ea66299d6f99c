// The daemon's YAML configuration file: interfaces, daemon settings and the
// policy (tiers, prefixes, allow/deny). The whole file is validated (syntax,
// units and the policy's semantics through compile_policy) before anything is
// applied; errors name the file, the line and the field.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "check_settings.h"
#include "cluster_settings.h"
#include "key_link_settings.h"
#include "policy.h"
#include "rls_settings.h"
#include "shape_rule.h"
#include "sluice_layout.h"
#include "xdp_mode.h"

namespace sluice {

struct InterfaceSpec {
  std::string name;
  XdpMode mode = XdpMode::kAuto;
  bool operator==(const InterfaceSpec&) const = default;
};

struct DaemonSettings {
  std::vector<InterfaceSpec> interfaces;
  // How every interface is attached (`attach: {mode, priority}`).
  AttachSettings attach;
  std::string control_socket = "/run/sluice/sluiced.sock";
  // Where changes made with sluicectl are kept across restarts (docs/persistence.md).
  std::string state_file = "/var/lib/sluice/state.json";
  std::string log_level = "info";
  uint32_t bucket_entries = SLUICE_DEFAULT_BUCKET_ENTRIES;
  // `maps.sharing`: one set of maps (buckets, policy, lists, counters) for every
  // interface, so a source gets one budget per host however many uplinks it
  // arrives over (shared, the default), or a set per interface (per_interface).
  // docs/map-sharing.md.
  bool share_maps = true;
  // Prometheus /metrics listener, a loopback host:port; "" turns it off.
  std::string metrics_listen = "127.0.0.1:9464";
};

struct Config {
  std::string path;  // the file it was read from ("" for text)
  DaemonSettings settings;
  Policy policy;
  CheckSettings check;  // the request layer (check_config.cpp); off without `check:`
  RlsSettings rls;      // Envoy's rate-limit service (rls_section.cpp); off without `rls:`
  cluster::ClusterSettings cluster;  // gossip for global limits; off without `cluster:`
  std::vector<ShapeSpec> shape;      // egress shapers (shape_section.cpp), one per interface
  // Key-bound addresses and escalation (key_link_section.cpp); off without their sections.
  KeyBindingSettings key_binding;
  EscalationSettings escalation;
};

// An invalid configuration: where (file:line:column), which field, what was expected.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& file, int line, int column, const std::string& field,
              const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }  // 1-based; 0 when unknown
  int column() const { return column_; }
  const std::string& field() const { return field_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_, field_, reason_;
  int line_, column_;
};

// Reads and validates a configuration file; throws ConfigError.
Config load_config_file(const std::string& path);
// Parses and validates YAML text; `name` is used as the file name in errors.
Config parse_config(const std::string& yaml_text, const std::string& name);

// Interface names go into pin paths: refuse anything that is not a plain
// Linux interface name. Throws std::invalid_argument.
void check_interface_name(const std::string& name);
// Throws std::invalid_argument for anything but trace|debug|info|warn|error|critical|off.
void check_log_level(const std::string& level);

}  // namespace sluice
