#include "shape_section.h"

#include <charconv>

#include "config_file.h"
#include "units.h"
#include "yaml_reader.h"

namespace sluice {
namespace {

// "2s", "1m" (parse_duration_seconds) or "500ms".
uint64_t parse_horizon_ns(const std::string& text) {
  if (text.size() > 2 && text.ends_with("ms")) {
    uint64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 2, ms);
    if (ec != std::errc() || end != text.data() + text.size() - 2 || ms == 0)
      throw std::invalid_argument("expected a duration like 500ms or 2s, got '" + text + "'");
    return ms * 1'000'000ULL;
  }
  return parse_duration_seconds(text) * SLUICE_NSEC_PER_SEC;
}

}  // namespace

std::vector<ShapeSpec> read_shape_section(const YAML::Node& node, const std::string& file) {
  const YamlReader reader(file);
  std::vector<ShapeSpec> specs;
  if (!node.IsSequence()) reader.fail(node, "shape", "expected a list of {iface, to, rate}");
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string field = "shape[" + std::to_string(i) + "]";
    const YAML::Node item = node[i];
    reader.check_mapping(item, field, {"iface", "to", "rate", "horizon"},
                         "{iface, to, rate, horizon}");
    for (const char* key : {"iface", "to", "rate"})
      if (!item[key]) reader.fail(item, field + "." + key, "is required");
    const std::string iface = reader.scalar(item["iface"], field + ".iface", "an interface name");
    reader.converting(item["iface"], field + ".iface", [&] {
      check_interface_name(iface);
      return 0;
    });
    ShapeRule rule;
    const std::string to = reader.scalar(item["to"], field + ".to", "a destination CIDR");
    rule.to = reader.converting(item["to"], field + ".to", [&] { return Cidr::parse(to); });
    const std::string rate = reader.scalar(item["rate"], field + ".rate", "a rate like 10Mbit/s");
    RateLimit limit = reader.converting(item["rate"], field + ".rate",
                                        [&] { return parse_rate(rate, RateKind::kBytes); });
    if (limit.unlimited()) reader.fail(item["rate"], field + ".rate", "a shaper needs a rate");
    rule.rate_bytes = limit.tokens * SLUICE_NSEC_PER_SEC / limit.period_ns;
    if (rule.rate_bytes == 0)
      reader.fail(item["rate"], field + ".rate", "less than a byte per second");
    if (item["horizon"]) {
      const std::string text = reader.scalar(item["horizon"], field + ".horizon", "a duration");
      rule.horizon_ns = reader.converting(item["horizon"], field + ".horizon",
                                          [&] { return parse_horizon_ns(text); });
    }
    ShapeSpec* spec = nullptr;
    for (ShapeSpec& s : specs)
      if (s.iface == iface) spec = &s;
    if (!spec) spec = &specs.emplace_back(ShapeSpec{iface, {}});
    spec->rules.push_back(rule);
    reader.converting(item, field, [&] {
      validate_shape_rules(spec->rules);
      return 0;
    });
  }
  return specs;
}

}  // namespace sluice
