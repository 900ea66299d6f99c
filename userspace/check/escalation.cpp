#include "escalation.h"

#include "units.h"

namespace sluice {

std::string EscalationRule::describe() const {
  return "more than " + std::to_string(refusals) + " refusals in " + format_duration(within_s) +
         ": " + format_duration(penalty_s);
}

bool Escalation::refused(const struct sluice_source& source, const EscalationRule& rule,
                         uint64_t now_ns) {
  if (!rule.refusals && !rule.within_s) return false;  // no rule
  const uint64_t within_ns = rule.within_s * SLUICE_NSEC_PER_SEC;
  auto it = windows_.find(source);
  if (it == windows_.end()) {
    if (windows_.size() >= capacity_)
      std::erase_if(windows_, [&](const auto& w) {
        return now_ns - w.second.start_ns >= w.second.within_ns;
      });
    if (windows_.size() >= capacity_) return false;
    it = windows_.emplace(source, Window{now_ns, within_ns, 0}).first;
  }
  Window& window = it->second;
  if (now_ns - window.start_ns >= within_ns) window = Window{now_ns, within_ns, 0};
  if (++window.count <= rule.refusals) return false;
  windows_.erase(it);
  return true;
}

}  // namespace sluice
