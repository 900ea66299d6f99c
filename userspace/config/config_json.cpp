#include "config_json.h"

#include "algorithm.h"

namespace sluice {

nlohmann::json rate_to_json(const RateLimit& limit, RateKind kind) {
  nlohmann::json json = {{"tokens", limit.tokens},
                         {"period_ns", limit.period_ns},
                         {"burst", limit.burst},
                         {"text", format_rate(limit, kind)}};
  if (limit.burst) json["burst_text"] = format_burst(limit.burst, kind);
  return json;
}

RateLimit rate_from_json(const nlohmann::json& json) {
  RateLimit limit;
  limit.tokens = json.at("tokens").get<uint64_t>();
  limit.period_ns = json.at("period_ns").get<uint64_t>();
  limit.burst = json.value("burst", uint64_t{0});
  return limit;
}

void to_json(nlohmann::json& json, const TierSpec& tier) {
  json = {{"name", tier.name},
          {"packets", rate_to_json(tier.packets, RateKind::kPackets)},
          {"bytes", rate_to_json(tier.bytes, RateKind::kBytes)},
          {"syn", rate_to_json(tier.syns, RateKind::kPackets)},
          {"shadow", tier.shadow},
          {"algorithm", algorithm_name(tier.algorithm)}};
  if (tier.global) json["global"] = true;
}

void from_json(const nlohmann::json& json, TierSpec& tier) {
  tier.name = json.at("name").get<std::string>();
  tier.packets = rate_from_json(json.at("packets"));
  tier.bytes = rate_from_json(json.at("bytes"));
  tier.syns = rate_from_json(json.at("syn"));
  tier.shadow = json.value("shadow", false);
  // Absent in documents written before the option: the token bucket they ran.
  tier.algorithm = parse_algorithm(json.value("algorithm", std::string("token_bucket")));
  tier.global = json.value("global", false);
}

void to_json(nlohmann::json& json, const Cidr& cidr) {
  json = cidr.to_string();
}

void from_json(const nlohmann::json& json, Cidr& cidr) {
  cidr = Cidr::parse(json.get<std::string>());
}

void to_json(nlohmann::json& json, const InterfaceSpec& spec) {
  json = {{"name", spec.name}, {"mode", to_string(spec.mode)}};
}

void from_json(const nlohmann::json& json, InterfaceSpec& spec) {
  spec.name = json.at("name").get<std::string>();
  check_interface_name(spec.name);
  spec.mode = parse_xdp_mode(json.value("mode", std::string("auto")));
}

}  // namespace sluice
