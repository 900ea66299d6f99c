#include "config_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

#include "algorithm.h"
#include "check_config.h"
#include "cluster_config.h"
#include "config_limits.h"
#include "key_link_section.h"
#include "net_address.h"
#include "rls_section.h"
#include "shape_section.h"
#include "units.h"
#include "yaml_reader.h"

namespace sluice {
namespace {

std::string format_location(const std::string& file, int line, int column) {
  std::string out = file.empty() ? "<config>" : file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  return out;
}

// Where a policy field came from, so that compile_policy's errors (which name
// the field the way the policy does, e.g. "prefix 10.0.0.0/8") get a line too.
struct Anchor {
  YAML::Mark mark;
  std::string field;  // as written in the file, e.g. "prefixes.10.0.0.0/8"
};

RateLimit read_limit(const YamlReader& reader, const YAML::Node& node, const std::string& field,
                     RateKind kind) {
  if (node.IsMap()) {
    reader.check_mapping(node, field, {"rate", "burst"}, "a rate or {rate, burst}");
    if (!node["rate"]) reader.fail(node, field + ".rate", "is required");
    RateLimit limit = read_limit(reader, node["rate"], field + ".rate", kind);
    if (node["burst"]) {
      std::string text = reader.scalar(node["burst"], field + ".burst", "a burst size");
      limit.burst = reader.converting(node["burst"], field + ".burst",
                                      [&] { return parse_burst(text, kind); });
      if (limit.unlimited())
        reader.fail(node["burst"], field + ".burst", "a burst needs a rate; the rate is unlimited");
    }
    return limit;
  }
  std::string text = reader.scalar(node, field, "a rate like '100/s' or {rate, burst}");
  return reader.converting(node, field, [&] { return parse_rate(text, kind); });
}

TierSpec read_tier(const YamlReader& reader, const std::string& name, const YAML::Node& node,
                   const std::string& field, std::map<std::string, Anchor>& anchors) {
  TierSpec tier;
  tier.name = name;
  if (node.IsNull()) return tier;  // "free:" alone: an unlimited tier
  reader.check_mapping(node, field, {"packets", "bytes", "syn", "shadow", "algorithm", "global"},
                       "a mapping with packets, bytes, syn, shadow, algorithm and global");
  const std::string policy_field = "tier '" + name + "'";
  auto limit = [&](const char* key, const char* policy_name, RateKind kind, RateLimit& out) {
    if (!node[key]) return;
    out = read_limit(reader, node[key], field + "." + key, kind);
    anchors[policy_field + " " + policy_name] = {node[key].Mark(), field + "." + key};
  };
  limit("packets", "packets", RateKind::kPackets, tier.packets);
  limit("bytes", "bytes", RateKind::kBytes, tier.bytes);
  limit("syn", "syn", RateKind::kPackets, tier.syns);
  if (node["shadow"]) tier.shadow = reader.boolean(node["shadow"], field + ".shadow");
  if (node["algorithm"]) {
    // The packets/s meter's algorithm (docs/algorithms.md); refused as the
    // request layer refuses it: an unknown name, a burst on a window, a limit
    // a window state cannot count.
    std::string text = reader.scalar(node["algorithm"], field + ".algorithm", "an algorithm name");
    tier.algorithm = reader.converting(node["algorithm"], field + ".algorithm",
                                       [&] { return parse_algorithm(text); });
    std::string problem = algorithm_limit_problem(tier.packets, tier.algorithm);
    if (!problem.empty())
      reader.fail(node["packets"] ? node["packets"] : node["algorithm"], field + ".packets",
                  problem);
  }
  if (node["global"]) {
    tier.global = reader.boolean(node["global"], field + ".global");
    if (tier.global) {
      std::string problem = global_tier_problem(tier);
      if (!problem.empty()) reader.fail(node["global"], field + ".global", problem);
    }
  }
  return tier;
}

Cidr read_cidr(const YamlReader& reader, const YAML::Node& node, const std::string& field) {
  std::string text = reader.scalar(node, field, "a CIDR like 198.18.0.0/15 or 2001:db8::/32");
  return reader.converting(node, field, [&] { return Cidr::parse(text); });
}

std::vector<Cidr> read_list(const YamlReader& reader, const YAML::Node& node,
                            const std::string& field, const std::string& policy_name,
                            std::map<std::string, Anchor>& anchors) {
  std::vector<Cidr> out;
  if (node.IsNull()) return out;
  if (!node.IsSequence()) reader.fail(node, field, "expected a list of CIDRs");
  for (size_t i = 0; i < node.size(); ++i) {
    std::string item = field + "[" + std::to_string(i) + "]";
    out.push_back(read_cidr(reader, node[i], item));
    anchors[policy_name + " " + out.back().to_string()] = {node[i].Mark(), item};
  }
  return out;
}

std::vector<InterfaceSpec> read_interfaces(const YamlReader& reader, const YAML::Node& node) {
  std::vector<InterfaceSpec> out;
  if (node.IsNull()) return out;
  if (!node.IsSequence()) reader.fail(node, "interfaces", "expected a list of interfaces");
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string field = "interfaces[" + std::to_string(i) + "]";
    const YAML::Node item = node[i];
    InterfaceSpec spec;
    if (item.IsMap()) {
      reader.check_mapping(item, field, {"name", "mode"}, "an interface name or {name, mode}");
      if (!item["name"]) reader.fail(item, field + ".name", "is required");
      if (item["mode"]) {
        std::string mode =
            reader.scalar(item["mode"], field + ".mode", "auto, native, generic or tc");
        spec.mode =
            reader.converting(item["mode"], field + ".mode", [&] { return parse_xdp_mode(mode); });
      }
    }
    // Careful: assigning to a YAML::Node writes through it, so pick with a ternary.
    const YAML::Node name_node = item.IsMap() ? item["name"] : item;
    spec.name = reader.scalar(name_node, field, "an interface name or {name, mode}");
    reader.converting(name_node, field, [&] {
      check_interface_name(spec.name);
      return 0;
    });
    for (const auto& other : out)
      if (other.name == spec.name)
        reader.fail(name_node, field, "interface '" + spec.name + "' is listed twice");
    out.push_back(spec);
  }
  return out;
}

// Runs the policy through compile_policy, the single source of semantic
// checks, and places its error at the line of the field it names.
void validate_policy(const YamlReader& reader, const Policy& policy,
                     const std::map<std::string, Anchor>& anchors) {
  try {
    compile_policy(policy, TierSlots{}, 1);
  } catch (const PolicyError& e) {
    const std::string message = e.what();
    const Anchor* best = nullptr;
    size_t best_length = 0;
    for (const auto& [prefix, anchor] : anchors) {
      if (message.compare(0, prefix.size(), prefix) == 0 && prefix.size() > best_length) {
        best = &anchor;
        best_length = prefix.size();
      }
    }
    // Every refusal names a line: a message no field claims goes to the top.
    if (!best) reader.fail(anchors.at("").mark, "", message);
    reader.fail(best->mark, best->field, message);
  }
}

// Metrics are for local scrapers: a root daemon's counters are not for the world.
void check_loopback_listen(const std::string& text) {
  auto endpoint = parse_listen_address(text);
  if (!endpoint.address().is_loopback())
    throw std::invalid_argument("expected a loopback address (127.0.0.1:9464, [::1]:9464), got '" +
                                text + "'");
}

Config read_config(const YamlReader& reader, const YAML::Node& root) {
  Config config;
  config.path = reader.file();
  if (root.IsNull()) reader.fail(root, "", "the file is empty");
  reader.check_mapping(
      root, "",
      {"interfaces", "attach",      "control",    "metrics", "state_file",     "log_level",
       "maps",       "aggregation", "admission",  "clock",   "drop_malformed", "default_tier",
       "tiers",      "prefixes",    "allow",      "deny",    "check",          "rls",
       "cluster",    "key_binding", "escalation", "shape"},
      "a mapping of settings");
  std::map<std::string, Anchor> anchors;
  anchors[""] = {root.Mark(), ""};
  auto& settings = config.settings;
  auto& policy = config.policy;

  if (root["interfaces"]) settings.interfaces = read_interfaces(reader, root["interfaces"]);
  if (const auto attach = root["attach"]) {
    reader.check_mapping(attach, "attach", {"mode", "priority"}, "a mapping with mode, priority");
    if (attach["mode"]) {
      std::string mode = reader.scalar(attach["mode"], "attach.mode", "direct or multiprog");
      settings.attach.kind =
          reader.converting(attach["mode"], "attach.mode", [&] { return parse_attach_kind(mode); });
    }
    if (attach["priority"]) {
      if (settings.attach.kind != AttachKind::kMultiprog)
        reader.fail(attach["priority"], "attach.priority",
                    "only applies with mode: multiprog (a direct link runs alone)");
      settings.attach.priority = static_cast<uint32_t>(
          reader.integer(attach["priority"], "attach.priority", 0, AttachSettings::kMaxPriority));
    }
  }
  if (const auto control = root["control"]) {
    reader.check_mapping(control, "control", {"socket"}, "a mapping with socket");
    if (control["socket"]) {
      settings.control_socket = reader.scalar(control["socket"], "control.socket", "a path");
      if (settings.control_socket.empty() || settings.control_socket.front() != '/' ||
          settings.control_socket.size() > 107)
        reader.fail(control["socket"], "control.socket",
                    "expected an absolute path of at most 107 characters");
    }
  }
  if (const auto metrics = root["metrics"]) {
    reader.check_mapping(metrics, "metrics", {"listen"}, "a mapping with listen");
    if (metrics["listen"]) {
      settings.metrics_listen = reader.scalar(metrics["listen"], "metrics.listen", "host:port");
      if (!settings.metrics_listen.empty())
        reader.converting(metrics["listen"], "metrics.listen", [&] {
          check_loopback_listen(settings.metrics_listen);
          return 0;
        });
    }
  }
  if (root["state_file"]) {
    settings.state_file = reader.scalar(root["state_file"], "state_file", "a path");
    if (settings.state_file.empty() || settings.state_file.front() != '/')
      reader.fail(root["state_file"], "state_file", "expected an absolute path");
  }
  if (root["log_level"]) {
    settings.log_level = reader.scalar(root["log_level"], "log_level", "a log level");
    reader.converting(root["log_level"], "log_level", [&] {
      check_log_level(settings.log_level);
      return 0;
    });
  }
  if (const auto maps = root["maps"]) {
    reader.check_mapping(maps, "maps", {"buckets", "sharing"}, "a mapping with buckets, sharing");
    if (maps["buckets"])
      settings.bucket_entries =
          static_cast<uint32_t>(reader.integer(maps["buckets"], "maps.buckets", 1024, 1U << 26));
    if (maps["sharing"]) {
      const std::string sharing =
          reader.scalar(maps["sharing"], "maps.sharing", "shared or per_interface");
      if (sharing != "shared" && sharing != "per_interface")
        reader.fail(maps["sharing"], "maps.sharing", "expected shared or per_interface");
      settings.share_maps = sharing == "shared";
    }
  }
  if (const auto aggregation = root["aggregation"]) {
    reader.check_mapping(aggregation, "aggregation", {"ipv4_prefix", "ipv6_prefix"},
                         "a mapping with ipv4_prefix and ipv6_prefix");
    if (aggregation["ipv4_prefix"])
      policy.v4_prefix_len = static_cast<uint32_t>(
          reader.integer(aggregation["ipv4_prefix"], "aggregation.ipv4_prefix", 1, 32));
    if (aggregation["ipv6_prefix"])
      policy.v6_prefix_len = static_cast<uint32_t>(
          reader.integer(aggregation["ipv6_prefix"], "aggregation.ipv6_prefix", 1, 128));
  }
  if (root["drop_malformed"])
    policy.drop_malformed = reader.boolean(root["drop_malformed"], "drop_malformed");
  if (root["clock"]) {
    std::string clock = reader.scalar(root["clock"], "clock", "precise or coarse");
    if (clock != "precise" && clock != "coarse")
      reader.fail(root["clock"], "clock", "expected precise or coarse, got '" + clock + "'");
    policy.coarse_clock = clock == "coarse";
  }
  if (const auto admission = root["admission"]) {
    reader.check_mapping(admission, "admission", {"new_sources", "unadmitted"},
                         "a mapping with new_sources and unadmitted");
    if (admission["new_sources"]) {
      policy.new_sources =
          read_limit(reader, admission["new_sources"], "admission.new_sources", RateKind::kPackets);
      anchors["new_sources"] = {admission["new_sources"].Mark(), "admission.new_sources"};
    }
    if (admission["unadmitted"]) {
      policy.unadmitted =
          read_limit(reader, admission["unadmitted"], "admission.unadmitted", RateKind::kPackets);
      anchors["unadmitted"] = {admission["unadmitted"].Mark(), "admission.unadmitted"};
    }
  }

  const YAML::Node tiers = root["tiers"];
  if (!tiers) reader.fail(root, "tiers", "is required: at least one tier must be defined");
  reader.check_mapping(tiers, "tiers", {}, "a mapping of tier names to limits");
  if (tiers.size() == 0) reader.fail(tiers, "tiers", "at least one tier must be defined");
  anchors["tiers"] = {tiers.Mark(), "tiers"};
  anchors["too many tiers"] = {tiers.Mark(), "tiers"};
  for (const auto& entry : tiers) {
    const std::string name = entry.first.Scalar();
    const std::string field = "tiers." + name;
    // find_limit_breach counted them already; this keeps the line if that changes.
    if (policy.tiers.size() == SLUICE_MAX_TIERS)
      reader.fail(entry.first, "tiers",
                  "too many tiers: at most " + std::to_string(SLUICE_MAX_TIERS) + " can exist");
    anchors["tier name '" + name + "'"] = {entry.first.Mark(), field};
    anchors["tier '" + name + "'"] = {entry.first.Mark(), field};
    policy.tiers.push_back(read_tier(reader, name, entry.second, field, anchors));
  }

  if (const auto node = root["default_tier"]) {
    policy.default_tier = reader.scalar(node, "default_tier", "a tier name");
    anchors["default_tier"] = {node.Mark(), "default_tier"};
  } else if (policy.tiers.size() == 1) {
    policy.default_tier = policy.tiers.front().name;
  } else {
    reader.fail(root, "default_tier", "is required when more than one tier is defined");
  }

  if (const auto prefixes = root["prefixes"]; prefixes && !prefixes.IsNull()) {
    reader.check_mapping(prefixes, "prefixes", {}, "a mapping of CIDRs to tier names");
    anchors["prefixes"] = {prefixes.Mark(), "prefixes"};
    for (const auto& entry : prefixes) {
      const std::string field = "prefixes." + entry.first.Scalar();
      PrefixRule rule{read_cidr(reader, entry.first, field),
                      reader.scalar(entry.second, field, "a tier name")};
      anchors["prefix " + rule.cidr.to_string()] = {entry.second.Mark(), field};
      policy.prefixes.push_back(rule);
    }
  }
  if (root["allow"]) policy.allow = read_list(reader, root["allow"], "allow", "allow", anchors);
  if (root["deny"]) policy.deny = read_list(reader, root["deny"], "deny", "deny", anchors);
  if (root["deny"]) anchors["allow/deny"] = {root["deny"].Mark(), "deny"};
  if (root["allow"]) anchors["allow/deny"] = {root["allow"].Mark(), "allow"};
  if (root["aggregation"]) {
    anchors["ipv4_prefix"] = {root["aggregation"].Mark(), "aggregation.ipv4_prefix"};
    anchors["ipv6_prefix"] = {root["aggregation"].Mark(), "aggregation.ipv6_prefix"};
  }

  validate_policy(reader, policy, anchors);
  if (root["check"]) config.check = read_check_section(root["check"], reader.file());
  if (root["rls"]) config.rls = read_rls_section(root["rls"], reader.file());
  if (root["cluster"]) config.cluster = read_cluster_section(root["cluster"], reader.file());
  for (const auto& tier : policy.tiers)
    if (tier.global && !config.cluster.enabled)
      reader.fail(tiers[tier.name]["global"], "tiers." + tier.name + ".global",
                  "a global tier needs a `cluster:` section: the peers it shares the limit with");
  if (root["shape"]) config.shape = read_shape_section(root["shape"], reader.file());
  read_key_link_sections(root, reader.file(), config);
  return config;
}

}  // namespace

ConfigError::ConfigError(const std::string& file, int line, int column, const std::string& field,
                         const std::string& message)
    : std::runtime_error(format_location(file, line, column) + ": " +
                         (field.empty() ? "" : field + ": ") + message),
      file_(file),
      field_(field),
      reason_(message),
      line_(line),
      column_(column) {}

Config parse_config(const std::string& yaml_text, const std::string& name) {
  YamlReader reader(name);
  if (yaml_text.size() > kMaxConfigBytes) {
    YAML::Mark where;
    where.line = line_of_offset(yaml_text, kMaxConfigBytes) - 1;
    reader.fail(where, "",
                "the file goes past " + std::to_string(kMaxConfigBytes >> 20) +
                    " MiB here, the most a configuration file may hold (the largest policy the "
                    "data path takes is about 7 MiB)");
  }
  YAML::Node root;
  try {
    // Before the node tree: an oversized list is refused at its first excess entry.
    if (auto breach = find_limit_breach(yaml_text))
      reader.fail(breach->mark, breach->field, breach->message);
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    reader.fail(e.mark, "", "YAML syntax error: " + e.msg);
  }
  return read_config(reader, root);
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, 0, 0, "", "cannot open: " + std::string(std::strerror(errno)));
  // One byte past the limit is enough to refuse: a 50 MB file is never read whole.
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad())
    throw ConfigError(path, 0, 0, "", "cannot read: " + std::string(std::strerror(errno)));
  text.resize(static_cast<size_t>(in.gcount()));
  return parse_config(text, path);
}

void check_interface_name(const std::string& name) {
  if (name.empty() || name.size() > 15)
    throw std::invalid_argument("interface name '" + name + "' must be 1..15 characters");
  if (name == "." || name == "..")
    throw std::invalid_argument("'" + name + "' is not an interface name");
  for (char c : name) {
    if (c == '/' || c == ':' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      throw std::invalid_argument("interface name '" + name +
                                  "' contains a character Linux does not allow ('/', ':' or "
                                  "whitespace)");
  }
}

void check_log_level(const std::string& level) {
  for (const char* known : {"trace", "debug", "info", "warn", "error", "critical", "off"})
    if (level == known) return;
  throw std::invalid_argument("log level '" + level +
                              "' is not one of trace, debug, info, warn, error, critical, off");
}

}  // namespace sluice
