#include "shape_rule.h"

#include <set>
#include <stdexcept>

namespace sluice {

void validate_shape_rules(const std::vector<ShapeRule>& rules) {
  if (rules.empty()) throw std::invalid_argument("no shaping rule");
  if (rules.size() > SLUICE_SHAPE_MAX_CLASSES)
    throw std::invalid_argument("at most " + std::to_string(SLUICE_SHAPE_MAX_CLASSES) +
                                " shaping rules per interface");
  std::set<Cidr> seen;
  for (const ShapeRule& rule : rules) {
    if (rule.rate_bytes == 0)
      throw std::invalid_argument("shaping " + rule.to.to_string() + ": the rate must be positive");
    if (rule.horizon_ns == 0)
      throw std::invalid_argument("shaping " + rule.to.to_string() +
                                  ": the horizon must be positive");
    if (!seen.insert(rule.to).second)
      throw std::invalid_argument("shaping " + rule.to.to_string() + ": prefix given twice");
  }
}

}  // namespace sluice
