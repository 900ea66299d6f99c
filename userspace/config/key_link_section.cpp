#include "key_link_section.h"

#include <algorithm>

#include "units.h"
#include "yaml_reader.h"

namespace sluice {
namespace {

uint64_t duration(const YamlReader& reader, const YAML::Node& node, const std::string& field) {
  const std::string text = reader.scalar(node, field, "a duration: 90s, 10m, 2h");
  return reader.converting(node, field, [&] { return parse_duration_seconds(text); });
}

bool has_kernel_tier(const Config& config, const std::string& name) {
  return std::any_of(config.policy.tiers.begin(), config.policy.tiers.end(),
                     [&](const TierSpec& t) { return t.name == name; });
}

bool has_request_tier(const Config& config, const std::string& name) {
  const auto& tiers = config.check.checker.policy.tiers;
  return std::any_of(tiers.begin(), tiers.end(),
                     [&](const RequestTier& t) { return t.name == name; });
}

void require_check(const YamlReader& reader, const YAML::Node& node, const Config& config,
                   const std::string& section) {
  if (!config.check.enabled)
    reader.fail(node, section, "needs a check: section (it acts on the check API's answers)");
}

KeyBindingSettings read_key_binding(const YamlReader& reader, const YAML::Node& node,
                                    const Config& config) {
  KeyBindingSettings s;
  s.enabled = true;
  if (node.IsNull()) return s;
  reader.mapping(node, "key_binding", {"ttl", "tiers", "proxies", "max_bindings"});
  if (node["ttl"]) s.ttl_s = duration(reader, node["ttl"], "key_binding.ttl");
  if (const auto tiers = node["tiers"]) {
    reader.check_mapping(tiers, "key_binding.tiers", {}, "a mapping of request tier: kernel tier");
    for (const auto& entry : tiers) {
      const std::string request = reader.scalar(entry.first, "key_binding.tiers", "a tier name");
      const std::string field = "key_binding.tiers." + request;
      const std::string kernel = reader.scalar(entry.second, field, "a kernel tier name");
      if (!has_request_tier(config, request))
        reader.fail(entry.first, field, "no request tier '" + request + "' in check.tiers");
      if (!has_kernel_tier(config, kernel))
        reader.fail(entry.second, field, "no kernel tier '" + kernel + "' in tiers");
      s.tiers[request] = kernel;
    }
  }
  if (const auto proxies = node["proxies"]) {
    if (!proxies.IsSequence()) reader.fail(proxies, "key_binding.proxies", "expected CIDRs");
    for (size_t i = 0; i < proxies.size(); ++i) {
      const std::string field = "key_binding.proxies[" + std::to_string(i) + "]";
      const std::string text = reader.scalar(proxies[i], field, "a CIDR like 198.18.0.0/24");
      s.proxies.push_back(reader.converting(proxies[i], field, [&] { return Cidr::parse(text); }));
    }
  }
  if (node["max_bindings"])
    s.max_bindings = reader.integer(node["max_bindings"], "key_binding.max_bindings", 1,
                                    SLUICE_MAX_KEY_BINDINGS);
  return s;
}

EscalationRule read_rule(const YamlReader& reader, const YAML::Node& node, const std::string& field,
                         bool with_more) {
  if (with_more)
    reader.mapping(node, field, {"refusals", "within", "penalty", "tiers", "max_penalties"});
  else
    reader.mapping(node, field, {"refusals", "within", "penalty"});
  for (const char* required : {"refusals", "within", "penalty"})
    if (!node[required]) reader.fail(node, field + "." + required, "is required");
  EscalationRule rule;
  rule.refusals =
      static_cast<uint32_t>(reader.integer(node["refusals"], field + ".refusals", 1, 1'000'000));
  rule.within_s = duration(reader, node["within"], field + ".within");
  rule.penalty_s = duration(reader, node["penalty"], field + ".penalty");
  return rule;
}

EscalationSettings read_escalation(const YamlReader& reader, const YAML::Node& node,
                                   const Config& config) {
  EscalationSettings s;
  s.enabled = true;
  s.rule = read_rule(reader, node, "escalation", true);
  if (const auto tiers = node["tiers"]) {
    reader.check_mapping(tiers, "escalation.tiers", {}, "a mapping of request tier: rule");
    for (const auto& entry : tiers) {
      const std::string tier = reader.scalar(entry.first, "escalation.tiers", "a tier name");
      const std::string field = "escalation.tiers." + tier;
      if (!has_request_tier(config, tier))
        reader.fail(entry.first, field, "no request tier '" + tier + "' in check.tiers");
      s.tiers[tier] = read_rule(reader, entry.second, field, false);
    }
  }
  if (node["max_penalties"])
    s.max_penalties =
        reader.integer(node["max_penalties"], "escalation.max_penalties", 1, SLUICE_MAX_PENALTIES);
  return s;
}

}  // namespace

void read_key_link_sections(const YAML::Node& root, const std::string& file, Config& config) {
  const YamlReader reader(file);
  if (const auto node = root["key_binding"]) {
    require_check(reader, node, config, "key_binding");
    config.key_binding = read_key_binding(reader, node, config);
  }
  if (const auto node = root["escalation"]) {
    require_check(reader, node, config, "escalation");
    config.escalation = read_escalation(reader, node, config);
  }
}

}  // namespace sluice
