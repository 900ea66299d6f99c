// sluiced's side of the cluster: starting the gossip node and connecting it
// to the request layer's global limits, the `peers` control command and the
// cluster's Prometheus text.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "check_service.h"
#include "cluster_node.h"
#include "kernel_global.h"
#include "redis_sync.h"

namespace sluice {

class Daemon;

// Starts the consumption sync the settings name: the gossip node (binds,
// joins the seeds) or the Redis sync. With a check service, its global limits
// are charged with the other hosts' consumption and report admissions; the
// other hosts' consumption of global kernel tiers goes to `kernel` (its keys
// never collide with the request layer's: kernel_global.h).
// Throws std::system_error or std::runtime_error (bind, key file).
std::unique_ptr<cluster::GlobalSync> start_cluster(const cluster::ClusterSettings& settings,
                                                   CheckService* check,
                                                   KernelGlobal* kernel = nullptr);

// `peers`: every member with its state, last contact and sync lag.
nlohmann::json peers_command(Daemon& daemon, const nlohmann::json& args);

// The cluster's metrics, overshoot bounds of the current global limits included.
std::string cluster_metrics_text(const cluster::GlobalSync& node, const CheckerConfig* check);

}  // namespace sluice
