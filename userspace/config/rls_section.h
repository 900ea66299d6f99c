// The `rls:` section of the configuration file (Envoy's rate-limit service):
// the listen address and the envoyproxy/ratelimit files, read and validated
// with the rest of the file. Errors name the file (the ratelimit file when the
// fault is there), the line and the field.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "rls_settings.h"

namespace sluice {

// Throws ConfigError. Relative paths are relative to `file`'s directory.
RlsSettings read_rls_section(const YAML::Node& node, const std::string& file);

}  // namespace sluice
