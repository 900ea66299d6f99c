// The `check:` section of the configuration file (the request layer), parsed
// apart from the rest of the file. Errors name the file, line and field.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "check_settings.h"

namespace sluice {

// Reads and validates the section (the policy is compiled, the JWT key read
// and checked); throws ConfigError.
CheckSettings read_check_section(const YAML::Node& node, const std::string& file);

}  // namespace sluice
