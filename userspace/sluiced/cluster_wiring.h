// sluiced's side of the cluster: starting the gossip node and connecting it
// to the request layer's global limits, the `peers` control command and the
// cluster's Prometheus text.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "check_service.h"
#include "cluster_node.h"

namespace sluice {

class Daemon;

// Starts the node (binds, joins the seeds). With a check service, its global
// limits are charged with the peers' consumption and report admissions.
// Throws std::system_error or std::runtime_error (bind, key file).
std::unique_ptr<cluster::ClusterNode> start_cluster(const cluster::ClusterSettings& settings,
                                                    CheckService* check);

// `peers`: every member with its state, last contact and sync lag.
nlohmann::json peers_command(Daemon& daemon, const nlohmann::json& args);

// The cluster's metrics, overshoot bounds of the current global limits included.
std::string cluster_metrics_text(const cluster::ClusterNode& node, const CheckerConfig* check);

}  // namespace sluice
