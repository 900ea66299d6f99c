// The `key_binding:` and `escalation:` sections of the configuration file
// (docs/key-binding.md), read and validated with the rest of the file.
#pragma once

#include <yaml-cpp/yaml.h>

#include "config_file.h"

namespace sluice {

// Both read from `root` into `config` (its policy and check section already
// read, for the tier names); throws ConfigError naming the line and field.
void read_key_link_sections(const YAML::Node& root, const std::string& file, Config& config);

}  // namespace sluice
