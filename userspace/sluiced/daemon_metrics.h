// What the daemon reports to Prometheus: its data planes, policy and uptime
// gathered into one MetricsSnapshot for the metrics library to render.
#pragma once

#include "checker.h"
#include "metrics.h"
#include "metrics_service.h"

namespace sluice {

class Daemon;

MetricsSnapshot metrics_snapshot(const Daemon& daemon, OccupancyCache& occupancy);
// The request layer's counters, for the same endpoint.
CheckMetrics check_metrics(const Checker& checker);

}  // namespace sluice
