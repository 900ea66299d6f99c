// The `shape:` section of the configuration file: egress shaping toward
// destination prefixes (userspace/dataplane/shaper.h, docs/tc.md):
//   shape:
//     - {iface: eth1, to: 10.1.0.0/16, rate: 100Mbit/s, horizon: 2s}
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "shape_rule.h"

namespace sluice {

// One ShapeSpec per interface, in the order the file first names them.
// Throws ConfigError naming the field.
std::vector<ShapeSpec> read_shape_section(const YAML::Node& node, const std::string& file);

}  // namespace sluice
