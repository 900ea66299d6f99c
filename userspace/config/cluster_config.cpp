#include "cluster_config.h"

#include <unistd.h>

#include <stdexcept>

#include "cluster_node.h"
#include "config_file.h"
#include "peer_address.h"
#include "yaml_reader.h"

namespace sluice {
namespace {

// "100ms", "1s", "2m": the sub-second resolution gossip timings need.
uint64_t parse_duration_ns(const std::string& text) {
  size_t digits = text.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string::npos)
    throw std::invalid_argument("expected a duration like 100ms, 1s or 2m, got '" + text + "'");
  uint64_t amount = std::stoull(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  uint64_t scale = unit == "ms"  ? 1'000'000ULL
                   : unit == "s" ? 1'000'000'000ULL
                   : unit == "m" ? 60'000'000'000ULL
                                 : 0;
  if (scale == 0 || amount == 0 || amount > 3'600'000)
    throw std::invalid_argument("expected a duration like 100ms, 1s or 2m, got '" + text + "'");
  return amount * scale;
}

void check_node_name(const std::string& name) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
          std::string::npos)
    throw std::invalid_argument("expected 1..64 letters, digits, '-', '_' or '.', got '" + name +
                                "'");
}

void read_name(const YamlReader& reader, const YAML::Node& node,
               cluster::ClusterSettings& settings) {
  settings.name = reader.scalar(node["name"], "cluster.name", "a cluster name");
  reader.converting(node["name"], "cluster.name", [&] {
    check_node_name(settings.name);
    return 0;
  });
  if (node["node"]) {
    settings.node = reader.scalar(node["node"], "cluster.node", "a node name");
    reader.converting(node["node"], "cluster.node", [&] {
      check_node_name(settings.node);
      return 0;
    });
  }
}

void read_fail_open_and_interval(const YamlReader& reader, const YAML::Node& node,
                                 cluster::ClusterSettings& settings) {
  for (auto [key, target] : {std::pair{"sync_interval", &settings.sync_interval_ns},
                             std::pair{"probe_interval", &settings.probe_interval_ns},
                             std::pair{"probe_timeout", &settings.probe_timeout_ns},
                             std::pair{"forget_dead_after", &settings.forget_dead_after_ns}}) {
    if (!node[key]) continue;
    const std::string field = std::string("cluster.") + key;
    std::string text = reader.scalar(node[key], field, "a duration like 100ms");
    *target = reader.converting(node[key], field, [&] { return parse_duration_ns(text); });
  }
  if (node["fail_open"])
    settings.fail_open = reader.boolean(node["fail_open"], "cluster.fail_open");
}

// sync: redis. The gossip's transport settings mean nothing here and are
// refused by name; the Redis address is required.
void read_redis_settings(const YamlReader& reader, const YAML::Node& node,
                         cluster::ClusterSettings& settings) {
  for (const char* gossip_only :
       {"bind", "seeds", "key_file", "probe_timeout", "indirect_probes", "suspicion_mult"})
    if (node[gossip_only])
      reader.fail(node[gossip_only], std::string("cluster.") + gossip_only,
                  "applies to sync: gossip only");
  for (const char* required : {"name", "redis"})
    if (!node[required]) reader.fail(node, std::string("cluster.") + required, "is required");
  read_name(reader, node, settings);
  settings.redis = reader.scalar(node["redis"], "cluster.redis", "host:port or a unix socket path");
  reader.converting(node["redis"], "cluster.redis", [&] {
    if (settings.redis.front() == '/') return 0;
    cluster::PeerAddress::parse(settings.redis);  // host:port with a port
    return 0;
  });
  if (node["redis_password_file"]) {
    settings.redis_password_file =
        reader.scalar(node["redis_password_file"], "cluster.redis_password_file", "a path");
    reader.converting(node["redis_password_file"], "cluster.redis_password_file", [&] {
      if (settings.redis_password_file.front() != '/')
        throw std::invalid_argument("expected an absolute path");
      if (::access(settings.redis_password_file.c_str(), R_OK) != 0)
        throw std::invalid_argument("cannot read " + settings.redis_password_file);
      return 0;
    });
  }
  if (node["hosts"])
    settings.hosts = static_cast<unsigned>(reader.integer(node["hosts"], "cluster.hosts", 1, 1000));
  read_fail_open_and_interval(reader, node, settings);
}

}  // namespace

cluster::ClusterSettings read_cluster_section(const YAML::Node& node, const std::string& file) {
  YamlReader reader(file);
  cluster::ClusterSettings settings;
  settings.enabled = true;
  if (!node.IsMap()) reader.fail(node, "cluster", "expected a mapping with name and key_file");
  reader.mapping(
      node, "cluster",
      {"name", "node", "sync", "bind", "seeds", "key_file", "redis", "redis_password_file", "hosts",
       "sync_interval", "probe_interval", "probe_timeout", "indirect_probes", "suspicion_mult",
       "forget_dead_after", "fail_open"});
  if (node["sync"]) {
    const std::string sync = reader.scalar(node["sync"], "cluster.sync", "gossip or redis");
    if (sync == "redis")
      settings.sync = cluster::SyncMode::kRedis;
    else if (sync != "gossip")
      reader.fail(node["sync"], "cluster.sync", "expected gossip or redis, got '" + sync + "'");
  }
  if (settings.sync == cluster::SyncMode::kRedis) {
    read_redis_settings(reader, node, settings);
    return settings;
  }
  for (const char* redis_only : {"redis", "redis_password_file", "hosts"})
    if (node[redis_only])
      reader.fail(node[redis_only], std::string("cluster.") + redis_only,
                  "applies to sync: redis only");
  for (const char* required : {"name", "key_file"})
    if (!node[required]) reader.fail(node, std::string("cluster.") + required, "is required");
  read_name(reader, node, settings);
  if (node["bind"]) {
    settings.bind = reader.scalar(node["bind"], "cluster.bind", "ip:port");
    reader.converting(node["bind"], "cluster.bind",
                      [&] { return cluster::PeerAddress::parse(settings.bind); });
  }
  if (const auto seeds = node["seeds"]) {
    if (!seeds.IsSequence()) reader.fail(seeds, "cluster.seeds", "expected a list of ip:port");
    for (size_t i = 0; i < seeds.size(); ++i) {
      const std::string field = "cluster.seeds[" + std::to_string(i) + "]";
      settings.seeds.push_back(reader.scalar(seeds[i], field, "ip:port"));
      reader.converting(seeds[i], field,
                        [&] { return cluster::PeerAddress::parse(settings.seeds.back()); });
    }
  }
  settings.key_file = reader.scalar(node["key_file"], "cluster.key_file", "an absolute path");
  reader.converting(node["key_file"], "cluster.key_file", [&] {
    if (settings.key_file.empty() || settings.key_file.front() != '/')
      throw std::invalid_argument("expected an absolute path");
    try {
      return cluster::read_cluster_secret(settings.key_file).size();
    } catch (const std::runtime_error& e) {
      throw std::invalid_argument(e.what());
    }
  });
  read_fail_open_and_interval(reader, node, settings);
  if (settings.probe_timeout_ns >= settings.probe_interval_ns)
    reader.fail(node, "cluster.probe_timeout", "must be shorter than cluster.probe_interval");
  if (node["indirect_probes"])
    settings.indirect_probes = static_cast<unsigned>(
        reader.integer(node["indirect_probes"], "cluster.indirect_probes", 0, 16));
  if (node["suspicion_mult"])
    settings.suspicion_mult = static_cast<unsigned>(
        reader.integer(node["suspicion_mult"], "cluster.suspicion_mult", 1, 16));
  return settings;
}

}  // namespace sluice
