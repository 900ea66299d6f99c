#include "rls_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include "sluice_bucket.h"

namespace sluice {
namespace {

std::string format_error(const std::string& file, int line, int column, const std::string& field,
                         const std::string& reason) {
  std::string where = file;
  if (line > 0) where += ":" + std::to_string(line) + ":" + std::to_string(column);
  return where + ": " + (field.empty() ? "" : field + ": ") + reason;
}

// Reads nodes with errors at their line, as the main file's YamlReader does
// (that one lives in the config library, which depends on this one).
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& field,
                         const std::string& reason) const {
    const YAML::Mark mark = node.Mark();
    throw RlsConfigError(file_, mark.is_null() ? 0 : mark.line + 1,
                         mark.is_null() ? 0 : mark.column + 1, field, reason);
  }

  std::string scalar(const YAML::Node& node, const std::string& field,
                     const std::string& expected) const {
    if (!node.IsScalar()) fail(node, field, "expected " + expected);
    return node.Scalar();
  }

  bool boolean(const YAML::Node& node, const std::string& field) const {
    std::string text = scalar(node, field, "true or false");
    std::transform(text.begin(), text.end(), text.begin(), ::tolower);
    if (text == "true") return true;
    if (text == "false") return false;
    fail(node, field, "expected true or false, got '" + node.Scalar() + "'");
  }

  uint32_t uint32(const YAML::Node& node, const std::string& field) const {
    const std::string text = scalar(node, field, "a whole number");
    uint32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
      fail(node, field, "expected a whole number in 0..4294967295, got '" + text + "'");
    return value;
  }

  // A mapping of known keys; anything else is refused by name.
  void mapping(const YAML::Node& node, const std::string& field,
               std::initializer_list<const char*> allowed) const {
    if (!node.IsMap()) fail(node, field, "expected a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, field, "a plain key");
      const std::string where = field.empty() ? key : field + "." + key;
      if (!seen.insert(key).second) fail(entry.first, where, "is given twice");
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
        std::string names;
        for (const char* a : allowed) names += std::string(names.empty() ? "" : ", ") + a;
        fail(entry.first, where, "is not supported by Sluice (supported here: " + names + ")");
      }
    }
  }

 private:
  std::string file_;
};

RlsUnit read_unit(const Reader& reader, const YAML::Node& node, const std::string& field) {
  std::string text = reader.scalar(node, field, "second, minute, hour or day");
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  if (text == "second") return RlsUnit::kSecond;
  if (text == "minute") return RlsUnit::kMinute;
  if (text == "hour") return RlsUnit::kHour;
  if (text == "day") return RlsUnit::kDay;
  if (text == "week" || text == "month" || text == "year")
    reader.fail(node, field,
                "unit '" + node.Scalar() +
                    "' is not supported: Sluice's buckets refill over at most a day");
  reader.fail(node, field, "unknown unit '" + node.Scalar() + "' (second, minute, hour, day)");
}

RlsRateLimit read_rate_limit(const Reader& reader, const YAML::Node& node,
                             const std::string& field) {
  reader.mapping(node, field, {"unit", "requests_per_unit", "unlimited", "name", "replaces"});
  RlsRateLimit limit;
  if (node["unlimited"]) limit.unlimited = reader.boolean(node["unlimited"], field + ".unlimited");
  if (limit.unlimited) {
    for (const char* conflicting : {"unit", "requests_per_unit"})
      if (node[conflicting])
        reader.fail(node[conflicting], field + "." + conflicting,
                    "must not be given with unlimited: true");
  } else {
    if (!node["unit"]) reader.fail(node, field + ".unit", "is required (or unlimited: true)");
    limit.unit = read_unit(reader, node["unit"], field + ".unit");
    // As in envoyproxy/ratelimit, an absent count is 0: every request is over the limit.
    if (node["requests_per_unit"])
      limit.requests_per_unit =
          reader.uint32(node["requests_per_unit"], field + ".requests_per_unit");
  }
  if (node["name"]) limit.name = reader.scalar(node["name"], field + ".name", "a name");
  if (const auto replaces = node["replaces"]) {
    if (!replaces.IsSequence())
      reader.fail(replaces, field + ".replaces", "expected a list of {name: ...}");
    for (size_t i = 0; i < replaces.size(); ++i) {
      const std::string where = field + ".replaces[" + std::to_string(i) + "]";
      reader.mapping(replaces[i], where, {"name"});
      if (!replaces[i]["name"]) reader.fail(replaces[i], where + ".name", "is required");
      std::string name = reader.scalar(replaces[i]["name"], where + ".name", "a limit name");
      if (name.empty()) reader.fail(replaces[i]["name"], where + ".name", "must not be empty");
      limit.replaces.push_back(std::move(name));
    }
  }
  return limit;
}

std::vector<RlsDescriptor> read_descriptors(const Reader& reader, const YAML::Node& node,
                                            const std::string& field);

RlsDescriptor read_descriptor(const Reader& reader, const YAML::Node& node,
                              const std::string& field) {
  reader.mapping(node, field,
                 {"key", "value", "rate_limit", "shadow_mode", "detailed_metric", "descriptors"});
  RlsDescriptor descriptor;
  if (!node["key"]) reader.fail(node, field + ".key", "is required");
  descriptor.key = reader.scalar(node["key"], field + ".key", "a descriptor key");
  if (descriptor.key.empty()) reader.fail(node["key"], field + ".key", "must not be empty");
  if (node["value"]) descriptor.value = reader.scalar(node["value"], field + ".value", "a value");
  if (node["rate_limit"])
    descriptor.rate_limit = read_rate_limit(reader, node["rate_limit"], field + ".rate_limit");
  if (node["shadow_mode"])
    descriptor.shadow_mode = reader.boolean(node["shadow_mode"], field + ".shadow_mode");
  // detailed_metric only changes envoyproxy/ratelimit's statsd names; Sluice
  // has no per-value metrics, so `true` would be a promise it does not keep.
  if (node["detailed_metric"] &&
      reader.boolean(node["detailed_metric"], field + ".detailed_metric"))
    reader.fail(node["detailed_metric"], field + ".detailed_metric",
                "detailed_metric: true is not supported by Sluice (no per-value metrics)");
  if (node["descriptors"])
    descriptor.descriptors = read_descriptors(reader, node["descriptors"], field + ".descriptors");
  return descriptor;
}

std::vector<RlsDescriptor> read_descriptors(const Reader& reader, const YAML::Node& node,
                                            const std::string& field) {
  std::vector<RlsDescriptor> out;
  if (node.IsNull()) return out;
  if (!node.IsSequence()) reader.fail(node, field, "expected a list of descriptors");
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = field + "[" + std::to_string(i) + "]";
    RlsDescriptor descriptor = read_descriptor(reader, node[i], where);
    if (!seen.emplace(descriptor.key, descriptor.value).second)
      reader.fail(node[i], where,
                  "key '" + descriptor.key + "'" +
                      (descriptor.value.empty() ? "" : " value '" + descriptor.value + "'") +
                      " is defined twice at this level");
    out.push_back(std::move(descriptor));
  }
  return out;
}

}  // namespace

uint64_t rls_unit_ns(RlsUnit unit) {
  switch (unit) {
    case RlsUnit::kSecond:
      return SLUICE_NSEC_PER_SEC;
    case RlsUnit::kMinute:
      return 60 * SLUICE_NSEC_PER_SEC;
    case RlsUnit::kHour:
      return 3600 * SLUICE_NSEC_PER_SEC;
    case RlsUnit::kDay:
      return 86400 * SLUICE_NSEC_PER_SEC;
  }
  return SLUICE_NSEC_PER_SEC;
}

const char* to_string(RlsUnit unit) {
  switch (unit) {
    case RlsUnit::kSecond:
      return "second";
    case RlsUnit::kMinute:
      return "minute";
    case RlsUnit::kHour:
      return "hour";
    case RlsUnit::kDay:
      return "day";
  }
  return "?";
}

RlsConfigError::RlsConfigError(std::string file, int line, int column, std::string field,
                               std::string reason)
    : std::runtime_error(format_error(file, line, column, field, reason)),
      file_(std::move(file)),
      field_(std::move(field)),
      reason_(std::move(reason)),
      line_(line),
      column_(column) {}

RlsDomain parse_ratelimit_config(const std::string& yaml_text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw RlsConfigError(file, e.mark.is_null() ? 0 : e.mark.line + 1,
                         e.mark.is_null() ? 0 : e.mark.column + 1, "", e.msg);
  }
  const Reader reader(file);
  if (!root || root.IsNull()) throw RlsConfigError(file, 0, 0, "", "the file is empty");
  reader.mapping(root, "", {"domain", "descriptors"});
  RlsDomain domain;
  domain.file = file;
  if (!root["domain"]) reader.fail(root, "domain", "is required");
  domain.domain = reader.scalar(root["domain"], "domain", "a domain name");
  if (domain.domain.empty()) reader.fail(root["domain"], "domain", "must not be empty");
  if (root["descriptors"])
    domain.descriptors = read_descriptors(reader, root["descriptors"], "descriptors");
  return domain;
}

RlsDomain load_ratelimit_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw RlsConfigError(path, 0, 0, "", "cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_ratelimit_config(text.str(), path);
}

}  // namespace sluice
