// JSON forms of the policy pieces, shared by the control protocol and the
// daemon's state file, so that both spell a tier or a rate the same way.
#pragma once

#include <nlohmann/json.hpp>

#include "config_file.h"
#include "policy.h"
#include "units.h"

namespace sluice {

// {"tokens": 100, "period_ns": 1e9, "burst": 0, "text": "100/s"}; "text" is
// informative on output and ignored on input.
nlohmann::json rate_to_json(const RateLimit& limit, RateKind kind);
RateLimit rate_from_json(const nlohmann::json& json);

void to_json(nlohmann::json& json, const TierSpec& tier);
void from_json(const nlohmann::json& json, TierSpec& tier);
void to_json(nlohmann::json& json, const Cidr& cidr);
void from_json(const nlohmann::json& json, Cidr& cidr);
void to_json(nlohmann::json& json, const InterfaceSpec& spec);
void from_json(const nlohmann::json& json, InterfaceSpec& spec);

}  // namespace sluice
