// The `cluster:` section of the configuration file: gossip between daemons
// for global limits (userspace/cluster, docs/cluster.md).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "cluster_settings.h"

namespace sluice {

// Throws ConfigError naming the field; the key file must be readable and
// hold at least 16 bytes.
cluster::ClusterSettings read_cluster_section(const YAML::Node& node, const std::string& file);

}  // namespace sluice
