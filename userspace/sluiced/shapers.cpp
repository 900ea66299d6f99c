#include "shapers.h"

#include <spdlog/spdlog.h>

#include <set>

namespace sluice {

void Shapers::apply(const std::vector<ShapeSpec>& specs) {
  std::map<std::string, Shaper> added;
  try {
    for (const ShapeSpec& spec : specs) {
      if (shapers_.contains(spec.iface)) continue;
      Shaper shaper = Shaper::load(spec.rules);
      shaper.attach(spec.iface);
      added.emplace(spec.iface, std::move(shaper));
    }
  } catch (...) {
    for (auto& [name, shaper] : added) shaper.detach();
    throw;
  }
  std::set<std::string> wanted;
  for (const ShapeSpec& spec : specs) {
    wanted.insert(spec.iface);
    auto it = shapers_.find(spec.iface);
    if (it != shapers_.end() && it->second.rules() != spec.rules) it->second.update(spec.rules);
  }
  for (auto it = shapers_.begin(); it != shapers_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    try {
      it->second.detach();
    } catch (const std::exception& e) {
      spdlog::error("{}: stop shaping: {}", it->first, e.what());
    }
    it = shapers_.erase(it);
  }
  for (auto& [name, shaper] : added) shapers_.emplace(name, std::move(shaper));
}

nlohmann::json Shapers::status() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, shaper] : shapers_) {
    nlohmann::json rules = nlohmann::json::array();
    const auto stats = shaper.stats();
    for (size_t i = 0; i < shaper.rules().size(); ++i) {
      const ShapeRule& rule = shaper.rules()[i];
      rules.push_back({{"to", rule.to.to_string()},
                       {"rate_bytes", rule.rate_bytes},
                       {"horizon_ns", rule.horizon_ns},
                       {"passed", stats[i].passed},
                       {"delayed", stats[i].delayed},
                       {"dropped", stats[i].dropped},
                       {"bytes", stats[i].bytes}});
    }
    out.push_back({{"iface", name}, {"installed_fq", shaper.installed_fq()}, {"rules", rules}});
  }
  return out;
}

void Shapers::detach_all() {
  for (auto& [name, shaper] : shapers_) {
    try {
      shaper.detach();
    } catch (const std::exception& e) {
      spdlog::error("{}: stop shaping: {}", name, e.what());
    }
  }
  shapers_.clear();
}

}  // namespace sluice
