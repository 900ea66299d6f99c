// Where the request layer reaches into the kernel layer (docs/key-binding.md):
// key-bound addresses (`key_binding:`) and escalation of repeated refusals to
// drops at the NIC (`escalation:`). Read by config/key_link_section.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cidr.h"
#include "sluice_layout.h"

namespace sluice {

struct KeyBindingSettings {
  bool enabled = false;  // a `key_binding:` section is present
  uint64_t ttl_s = 300;  // a binding lasts this long after the key's last check from the address
  // Request tier -> the kernel tier applied to its keys' addresses; a request
  // tier not listed here uses the kernel tier of the same name, if any, else
  // its keys bind nothing.
  std::map<std::string, std::string> tiers;
  // Addresses behind which many clients share one address (NAT, shared
  // proxies): never bound to a key, never penalised.
  std::vector<Cidr> proxies;
  uint32_t max_bindings = SLUICE_MAX_KEY_BINDINGS;
  bool operator==(const KeyBindingSettings&) const = default;
};

// More than `refusals` refusals within `within_s` seconds: dropped for `penalty_s`.
struct EscalationRule {
  uint32_t refusals = 0;
  uint64_t within_s = 0;
  uint64_t penalty_s = 0;
  bool operator==(const EscalationRule&) const = default;
  // "more than 20 refusals in 10s: 60s"
  std::string describe() const;
};

struct EscalationSettings {
  bool enabled = false;  // an `escalation:` section is present
  EscalationRule rule;   // for every client whose tier has no rule of its own
  std::map<std::string, EscalationRule> tiers;  // request tier -> its rule
  uint32_t max_penalties = SLUICE_MAX_PENALTIES;
  bool operator==(const EscalationSettings&) const = default;
  // The rule for a request tier ("" for anonymous clients).
  const EscalationRule& rule_for(const std::string& tier) const {
    auto it = tiers.find(tier);
    return it == tiers.end() ? rule : it->second;
  }
};

}  // namespace sluice
