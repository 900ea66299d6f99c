#include "check_config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include "algorithm.h"
#include "config_file.h"
#include "net_address.h"
#include "units.h"
#include "yaml_reader.h"

namespace sluice {
namespace {

uint32_t read_algorithm(const YamlReader& reader, const YAML::Node& node,
                        const std::string& field) {
  std::string name = reader.scalar(node, field, "an algorithm name");
  return reader.converting(node, field, [&] { return parse_algorithm(name); });
}

// A window or a rule's limit: '1000/min', or {rate, burst, algorithm} (and
// shadow for windows, when `shadow` is given).
RateLimit read_request_limit(const YamlReader& reader, const YAML::Node& node,
                             const std::string& field, bool* shadow, uint32_t* algorithm,
                             bool* global = nullptr) {
  if (node.IsMap()) {
    if (shadow)
      reader.mapping(node, field, {"rate", "burst", "shadow", "algorithm", "global"});
    else
      reader.mapping(node, field, {"rate", "burst", "algorithm"});
    if (!node["rate"]) reader.fail(node, field + ".rate", "is required");
    RateLimit limit = read_request_limit(reader, node["rate"], field + ".rate", nullptr, nullptr);
    if (node["algorithm"])
      *algorithm = read_algorithm(reader, node["algorithm"], field + ".algorithm");
    if (node["burst"]) {
      std::string text = reader.scalar(node["burst"], field + ".burst", "a request count");
      limit.burst = reader.converting(node["burst"], field + ".burst",
                                      [&] { return parse_burst(text, RateKind::kPackets); });
    }
    if (shadow && node["shadow"]) *shadow = reader.boolean(node["shadow"], field + ".shadow");
    if (global && node["global"]) *global = reader.boolean(node["global"], field + ".global");
    return limit;
  }
  std::string text = reader.scalar(node, field, "a rate like '1000/min' or {rate, burst}");
  RateLimit limit =
      reader.converting(node, field, [&] { return parse_rate(text, RateKind::kPackets); });
  if (limit.unlimited()) reader.fail(node, field, "a request limit needs a rate");
  return limit;
}

std::vector<RequestWindow> read_windows(const YamlReader& reader, const YAML::Node& node,
                                        const std::string& field) {
  std::vector<RequestWindow> out;
  if (node.IsNull()) return out;
  reader.mapping(node, field, {});
  for (const auto& entry : node) {
    RequestWindow window;
    window.name = entry.first.Scalar();
    window.limit = read_request_limit(reader, entry.second, field + "." + window.name,
                                      &window.shadow, &window.algorithm, &window.global);
    out.push_back(window);
  }
  return out;
}

std::vector<EndpointRule> read_endpoints(const YamlReader& reader, const YAML::Node& node) {
  std::vector<EndpointRule> out;
  if (node.IsNull()) return out;
  if (!node.IsSequence()) reader.fail(node, "check.endpoints", "expected a list of rules");
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string field = "check.endpoints[" + std::to_string(i) + "]";
    const YAML::Node item = node[i];
    reader.mapping(item, field,
                   {"name", "match", "limit", "tiers", "shadow", "global", "algorithm"});
    for (const char* required : {"name", "match", "limit"})
      if (!item[required]) reader.fail(item, field + "." + required, "is required");
    EndpointRule rule;
    rule.name = reader.scalar(item["name"], field + ".name", "a rule name");
    rule.match =
        reader.scalar(item["match"], field + ".match", "'METHOD /path', e.g. GET /users/*");
    reader.converting(item["match"], field + ".match", [&] {
      EndpointPattern::parse(rule.match);
      return 0;
    });
    rule.limit =
        read_request_limit(reader, item["limit"], field + ".limit", nullptr, &rule.algorithm);
    if (item["algorithm"])
      rule.algorithm = read_algorithm(reader, item["algorithm"], field + ".algorithm");
    if (const auto tiers = item["tiers"]) {
      if (!tiers.IsSequence()) reader.fail(tiers, field + ".tiers", "expected a list of tiers");
      for (const auto& tier : tiers)
        rule.tiers.push_back(reader.scalar(tier, field + ".tiers", "a tier name"));
    }
    if (item["shadow"]) rule.shadow = reader.boolean(item["shadow"], field + ".shadow");
    if (item["global"]) rule.global = reader.boolean(item["global"], field + ".global");
    out.push_back(rule);
  }
  return out;
}

JwtSettings read_jwt(const YamlReader& reader, const YAML::Node& node) {
  reader.mapping(node, "check.jwt",
                 {"algorithm", "secret_file", "public_key_file", "issuer", "audience", "tier_claim",
                  "leeway"});
  JwtSettings jwt;
  if (!node["algorithm"]) reader.fail(node, "check.jwt.algorithm", "is required");
  jwt.algorithm = reader.scalar(node["algorithm"], "check.jwt.algorithm", "HS256, RS256 or ES256");
  if (jwt.algorithm != "HS256" && jwt.algorithm != "RS256" && jwt.algorithm != "ES256")
    reader.fail(node["algorithm"], "check.jwt.algorithm",
                "expected HS256, RS256 or ES256, got '" + jwt.algorithm + "'");
  const bool hmac = jwt.algorithm == "HS256";
  const char* key_field = hmac ? "secret_file" : "public_key_file";
  const char* other_field = hmac ? "public_key_file" : "secret_file";
  if (node[other_field])
    reader.fail(node[other_field], std::string("check.jwt.") + other_field,
                "does not go with " + jwt.algorithm + " (use " + key_field + ")");
  if (!node[key_field]) reader.fail(node, std::string("check.jwt.") + key_field, "is required");
  jwt.key = reader.file_contents(node[key_field], std::string("check.jwt.") + key_field);
  if (hmac)  // a trailing newline from `echo` is not part of the secret
    while (!jwt.key.empty() && (jwt.key.back() == '\n' || jwt.key.back() == '\r'))
      jwt.key.pop_back();
  if (node["issuer"]) jwt.issuer = reader.scalar(node["issuer"], "check.jwt.issuer", "a string");
  if (node["audience"])
    jwt.audience = reader.scalar(node["audience"], "check.jwt.audience", "a string");
  if (node["tier_claim"])
    jwt.tier_claim = reader.scalar(node["tier_claim"], "check.jwt.tier_claim", "a claim name");
  if (node["leeway"]) {
    std::string text = reader.scalar(node["leeway"], "check.jwt.leeway", "a duration");
    jwt.leeway_s = reader.converting(node["leeway"], "check.jwt.leeway",
                                     [&] { return parse_duration_seconds(text); });
    if (jwt.leeway_s > 300) reader.fail(node["leeway"], "check.jwt.leeway", "at most 5m");
  }
  reader.converting(node, "check.jwt", [&] {
    JwtVerifier verifier(jwt);
    return 0;
  });
  return jwt;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

CheckSettings read_check_section(const YAML::Node& node, const std::string& file) {
  YamlReader reader(file);
  CheckSettings settings;
  settings.enabled = true;
  auto& checker = settings.checker;
  checker.trusted_proxies = {Cidr::parse("127.0.0.0/8"), Cidr::parse("::1/128")};
  if (node.IsNull()) reader.fail(node, "check", "expected a mapping with at least tiers");
  reader.mapping(node, "check",
                 {"listen", "socket", "key_header", "keys_file", "pepper_file", "state_file",
                  "require_credential", "trusted_proxies", "default_tier", "tiers", "anonymous",
                  "endpoints", "jwt"});
  if (node["listen"]) {
    settings.listen = reader.scalar(node["listen"], "check.listen", "host:port");
    reader.converting(node["listen"], "check.listen", [&] {
      if (settings.listen.empty()) return 0;  // the unix socket only
      if (!parse_listen_address(settings.listen).address().is_loopback())
        throw std::invalid_argument("expected a loopback address (127.0.0.1:9465), got '" +
                                    settings.listen + "'");
      return 0;
    });
  }
  if (node["socket"]) {
    settings.socket = reader.scalar(node["socket"], "check.socket", "an absolute socket path");
    // sun_path holds 108 bytes with its terminating NUL.
    if (settings.socket.empty() || settings.socket.front() != '/' || settings.socket.size() > 107)
      reader.fail(node["socket"], "check.socket",
                  "expected an absolute path of at most 107 characters");
  }
  if (settings.listen.empty() && settings.socket.empty())
    reader.fail(node["listen"], "check.listen",
                "is empty and there is no check.socket: the check API would listen nowhere");
  if (node["key_header"]) {
    std::string header = reader.scalar(node["key_header"], "check.key_header", "a header name");
    if (header.empty() || header.size() > 64 ||
        header.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != std::string::npos)
      reader.fail(node["key_header"], "check.key_header",
                  "expected a header name (letters, digits, '-')");
    settings.key_header = lower(header);
  }
  for (auto [key, target] : {std::pair{"keys_file", &settings.keys_file},
                             std::pair{"pepper_file", &settings.pepper_file},
                             std::pair{"state_file", &settings.state_file}}) {
    if (!node[key]) continue;
    *target = reader.scalar(node[key], std::string("check.") + key, "an absolute path");
    if (target->empty() || target->front() != '/')
      reader.fail(node[key], std::string("check.") + key, "expected an absolute path");
  }
  if (node["require_credential"])
    checker.policy.require_credential =
        reader.boolean(node["require_credential"], "check.require_credential");
  if (const auto proxies = node["trusted_proxies"]) {
    checker.trusted_proxies.clear();
    if (!proxies.IsNull() && !proxies.IsSequence())
      reader.fail(proxies, "check.trusted_proxies", "expected a list of CIDRs");
    for (size_t i = 0; i < proxies.size(); ++i) {
      std::string field = "check.trusted_proxies[" + std::to_string(i) + "]";
      std::string text = reader.scalar(proxies[i], field, "a CIDR");
      checker.trusted_proxies.push_back(
          reader.converting(proxies[i], field, [&] { return Cidr::parse(text); }));
    }
  }
  if (const auto tiers = node["tiers"]) {
    reader.mapping(tiers, "check.tiers", {});
    for (const auto& entry : tiers) {
      const std::string name = entry.first.Scalar();
      checker.policy.tiers.push_back(
          {name, read_windows(reader, entry.second, "check.tiers." + name)});
    }
  }
  if (node["default_tier"])
    checker.policy.default_tier =
        reader.scalar(node["default_tier"], "check.default_tier", "a tier name");
  if (node["anonymous"])
    checker.policy.anonymous = read_windows(reader, node["anonymous"], "check.anonymous");
  if (node["endpoints"]) checker.policy.endpoints = read_endpoints(reader, node["endpoints"]);
  if (node["jwt"]) checker.jwt = read_jwt(reader, node["jwt"]);

  // The policy's semantic checks, once, where the checker makes them.
  try {
    compile_check_policy(checker.policy);
  } catch (const std::invalid_argument& e) {
    reader.fail(node, "check", e.what());
  }
  return settings;
}

}  // namespace sluice
