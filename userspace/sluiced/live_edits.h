// Changes made with sluicectl, kept as an overlay on the configuration file:
// what was set and what was removed, per collection. The effective policy is
// always "file, then overlay", so a reload of an edited file keeps the live
// changes, and a restart replays them (docs/persistence.md).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config_file.h"
#include "policy.h"

namespace sluice {

// Edits to one keyed collection: entries set (added or replaced) and entries
// of the file removed. `merge` keeps the file's order, replacing in place and
// appending new keys in key order.
template <typename Key, typename Value>
struct Overlay {
  std::map<Key, Value> set;
  std::set<Key> removed;

  std::vector<std::pair<Key, Value>> merge(const std::vector<std::pair<Key, Value>>& base) const {
    std::vector<std::pair<Key, Value>> out;
    std::set<Key> seen;
    for (const auto& [key, value] : base) {
      seen.insert(key);
      if (auto it = set.find(key); it != set.end()) {
        out.emplace_back(key, it->second);
      } else if (!removed.count(key)) {
        out.emplace_back(key, value);
      }
    }
    for (const auto& [key, value] : set)
      if (!seen.count(key)) out.emplace_back(key, value);
    return out;
  }
  void put(const Key& key, const Value& value) { set[key] = value; }
  void erase(const Key& key, bool in_base) {
    set.erase(key);
    if (in_base) removed.insert(key);
  }
  bool empty() const { return set.empty() && removed.empty(); }
};

struct LiveEdits {
  Overlay<std::string, TierSpec> tiers;
  Overlay<Cidr, std::string> prefixes;  // -> tier name
  Overlay<Cidr, bool> allow;
  Overlay<Cidr, uint64_t> deny;  // -> expiry (unix seconds), 0 = permanent
  Overlay<std::string, XdpMode> interfaces;

  bool empty() const {
    return tiers.empty() && prefixes.empty() && allow.empty() && deny.empty() && interfaces.empty();
  }
};

nlohmann::json edits_to_json(const LiveEdits& edits);
// Throws std::invalid_argument (or nlohmann::json::exception) on a bad document.
LiveEdits edits_from_json(const nlohmann::json& json);

// The configuration file's policy and interfaces with the edits applied.
Policy merge_policy(const Policy& base, const LiveEdits& edits);
std::vector<InterfaceSpec> merge_interfaces(const std::vector<InterfaceSpec>& base,
                                            const LiveEdits& edits);
// Expiry (unix seconds) of every deny entry added with a TTL.
std::map<Cidr, uint64_t> deny_expiries(const LiveEdits& edits);

// The edit operations behind sluicectl. Each checks its input against the
// current effective state (`base` + `edits`) and returns the new edits, or
// throws ControlError (invalid_argument, not_found, conflict) changing nothing.
// The caller still compiles the merged policy before committing.
class PolicyEditor {
 public:
  PolicyEditor(const Config& base, const LiveEdits& edits) : base_(base), edits_(edits) {}

  LiveEdits set_tier(const TierSpec& tier) const;
  LiveEdits delete_tier(const std::string& name) const;
  LiveEdits add_prefix(const Cidr& cidr, const std::string& tier, bool replace) const;
  LiveEdits remove_prefix(const Cidr& cidr) const;
  LiveEdits add_allow(const Cidr& cidr) const;
  LiveEdits remove_allow(const Cidr& cidr) const;
  // expiry: unix seconds, 0 for a permanent entry.
  LiveEdits add_deny(const Cidr& cidr, uint64_t expiry) const;
  LiveEdits remove_deny(const Cidr& cidr) const;
  // Removes deny entries whose expiry is at or before `now`; same edits if none.
  LiveEdits expire_denies(uint64_t now, std::vector<Cidr>* expired) const;
  LiveEdits attach(const InterfaceSpec& spec) const;
  LiveEdits detach(const std::string& name) const;

 private:
  const Config& base_;
  const LiveEdits& edits_;
};

}  // namespace sluice
