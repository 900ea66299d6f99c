// The `cluster:` section of the configuration file (config/cluster_config.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::cluster {

// How consumption of global limits travels between hosts.
enum class SyncMode { kGossip, kRedis };

struct ClusterSettings {
  bool enabled = false;  // a `cluster:` section is present
  SyncMode sync = SyncMode::kGossip;
  std::string name;                         // the cluster's name; part of the key derivation
  std::string node;                         // this node's name (default: the host name)
  std::string bind = "0.0.0.0:7946";        // UDP address for gossip
  std::vector<std::string> seeds;           // host:port of any members to join through
  std::string key_file;                     // the shared secret (at least 16 bytes)
  uint64_t sync_interval_ns = 100'000'000;  // consumption totals to every peer
  uint64_t probe_interval_ns = 1'000'000'000;
  uint64_t probe_timeout_ns = 500'000'000;
  unsigned indirect_probes = 3;
  unsigned suspicion_mult = 2;
  uint64_t forget_dead_after_ns = 60'000'000'000;
  // true: during a partition each side keeps the whole global limit
  // (availability over accuracy); false: each enforces its share.
  bool fail_open = false;
  // sync: redis. "host:port" or an absolute unix socket path; the optional
  // password file holds Redis's AUTH password. `hosts` is how many hosts
  // share the limits: while Redis cannot be reached and before this host has
  // seen the others there, it enforces 1/hosts of each global limit.
  std::string redis;
  std::string redis_password_file;
  unsigned hosts = 1;
  bool operator==(const ClusterSettings&) const = default;
};

}  // namespace sluice::cluster
