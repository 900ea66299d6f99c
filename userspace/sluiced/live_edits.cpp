#include "live_edits.h"

#include <algorithm>

#include "config_json.h"
#include "control_protocol.h"

namespace sluice {
namespace {

using nlohmann::json;

template <typename Key, typename Value, typename KeyOut, typename ValueOut>
json overlay_to_json(const Overlay<Key, Value>& overlay, KeyOut key_out, ValueOut value_out) {
  json set = json::array();
  for (const auto& [key, value] : overlay.set) set.push_back({key_out(key), value_out(value)});
  json removed = json::array();
  for (const auto& key : overlay.removed) removed.push_back(key_out(key));
  return {{"set", set}, {"removed", removed}};
}

template <typename Key, typename Value, typename KeyIn, typename ValueIn>
Overlay<Key, Value> overlay_from_json(const json& doc, KeyIn key_in, ValueIn value_in) {
  Overlay<Key, Value> overlay;
  if (doc.is_null()) return overlay;
  for (const auto& entry : doc.at("set")) overlay.set[key_in(entry.at(0))] = value_in(entry.at(1));
  for (const auto& key : doc.at("removed")) overlay.removed.insert(key_in(key));
  return overlay;
}

auto cidr_out = [](const Cidr& cidr) { return cidr.to_string(); };
auto cidr_in = [](const json& doc) { return Cidr::parse(doc.get<std::string>()); };
auto string_out = [](const std::string& text) { return text; };
auto string_in = [](const json& doc) { return doc.get<std::string>(); };

template <typename Key, typename Value>
bool contains(const std::vector<std::pair<Key, Value>>& entries, const Key& key) {
  return std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e.first == key; });
}

[[noreturn]] void fail(const char* code, const std::string& message) {
  throw ControlError(code, message);
}

std::vector<std::pair<std::string, TierSpec>> tiers_of(const Policy& policy) {
  std::vector<std::pair<std::string, TierSpec>> out;
  for (const auto& tier : policy.tiers) out.emplace_back(tier.name, tier);
  return out;
}

std::vector<std::pair<Cidr, std::string>> prefixes_of(const Policy& policy) {
  std::vector<std::pair<Cidr, std::string>> out;
  for (const auto& rule : policy.prefixes) out.emplace_back(rule.cidr, rule.tier);
  return out;
}

template <typename Value>
std::vector<std::pair<Cidr, Value>> list_of(const std::vector<Cidr>& cidrs, Value value) {
  std::vector<std::pair<Cidr, Value>> out;
  for (const auto& cidr : cidrs) out.emplace_back(cidr, value);
  return out;
}

std::vector<std::pair<std::string, XdpMode>> interfaces_of(
    const std::vector<InterfaceSpec>& specs) {
  std::vector<std::pair<std::string, XdpMode>> out;
  for (const auto& spec : specs) out.emplace_back(spec.name, spec.mode);
  return out;
}

}  // namespace

json edits_to_json(const LiveEdits& edits) {
  return {
      {"tiers",
       overlay_to_json(edits.tiers, string_out, [](const TierSpec& t) { return json(t); })},
      {"prefixes", overlay_to_json(edits.prefixes, cidr_out, string_out)},
      {"allow", overlay_to_json(edits.allow, cidr_out, [](bool) { return true; })},
      {"deny", overlay_to_json(edits.deny, cidr_out, [](uint64_t expiry) { return expiry; })},
      {"interfaces",
       overlay_to_json(edits.interfaces, string_out, [](XdpMode mode) { return to_string(mode); })},
  };
}

LiveEdits edits_from_json(const json& doc) {
  LiveEdits edits;
  edits.tiers = overlay_from_json<std::string, TierSpec>(
      doc.value("tiers", json()), string_in, [](const json& j) { return j.get<TierSpec>(); });
  edits.prefixes =
      overlay_from_json<Cidr, std::string>(doc.value("prefixes", json()), cidr_in, string_in);
  edits.allow = overlay_from_json<Cidr, bool>(doc.value("allow", json()), cidr_in,
                                              [](const json&) { return true; });
  edits.deny = overlay_from_json<Cidr, uint64_t>(doc.value("deny", json()), cidr_in,
                                                 [](const json& j) { return j.get<uint64_t>(); });
  edits.interfaces = overlay_from_json<std::string, XdpMode>(
      doc.value("interfaces", json()), string_in,
      [](const json& j) { return parse_xdp_mode(j.get<std::string>()); });
  for (const auto& name : edits.interfaces.removed) check_interface_name(name);
  for (const auto& [name, mode] : edits.interfaces.set) check_interface_name(name);
  return edits;
}

Policy merge_policy(const Policy& base, const LiveEdits& edits) {
  Policy out = base;
  out.tiers.clear();
  for (const auto& [name, tier] : edits.tiers.merge(tiers_of(base))) out.tiers.push_back(tier);
  out.prefixes.clear();
  for (const auto& [cidr, tier] : edits.prefixes.merge(prefixes_of(base)))
    out.prefixes.push_back({cidr, tier});
  out.allow.clear();
  for (const auto& [cidr, unused] : edits.allow.merge(list_of(base.allow, true)))
    out.allow.push_back(cidr);
  out.deny.clear();
  for (const auto& [cidr, unused] : edits.deny.merge(list_of(base.deny, uint64_t{0})))
    out.deny.push_back(cidr);
  return out;
}

std::vector<InterfaceSpec> merge_interfaces(const std::vector<InterfaceSpec>& base,
                                            const LiveEdits& edits) {
  std::vector<InterfaceSpec> out;
  for (const auto& [name, mode] : edits.interfaces.merge(interfaces_of(base)))
    out.push_back({name, mode});
  return out;
}

std::map<Cidr, uint64_t> deny_expiries(const LiveEdits& edits) {
  std::map<Cidr, uint64_t> out;
  for (const auto& [cidr, expiry] : edits.deny.set)
    if (expiry) out[cidr] = expiry;
  return out;
}

LiveEdits PolicyEditor::set_tier(const TierSpec& tier) const {
  LiveEdits next = edits_;
  next.tiers.put(tier.name, tier);
  return next;
}

LiveEdits PolicyEditor::delete_tier(const std::string& name) const {
  const Policy current = merge_policy(base_.policy, edits_);
  auto tiers = tiers_of(current);
  if (!contains(tiers, name)) fail(errc::kNotFound, "tier '" + name + "' does not exist");
  if (current.default_tier == name)
    fail(errc::kConflict, "tier '" + name +
                              "' is the default tier; change default_tier in the configuration "
                              "file first");
  std::string users;
  size_t count = 0;
  for (const auto& rule : current.prefixes) {
    if (rule.tier != name) continue;
    if (++count <= 5) users += (users.empty() ? "" : ", ") + rule.cidr.to_string();
  }
  if (count) {
    if (count > 5) users += " and " + std::to_string(count - 5) + " more";
    fail(errc::kConflict, "tier '" + name + "' is still used by " + std::to_string(count) +
                              (count == 1 ? " prefix (" : " prefixes (") + users +
                              "); move or remove them first");
  }
  LiveEdits next = edits_;
  next.tiers.erase(name, contains(tiers_of(base_.policy), name));
  return next;
}

LiveEdits PolicyEditor::add_prefix(const Cidr& cidr, const std::string& tier, bool replace) const {
  const Policy current = merge_policy(base_.policy, edits_);
  if (!contains(tiers_of(current), tier))
    fail(errc::kNotFound, "tier '" + tier + "' does not exist (see sluicectl tier list)");
  for (const auto& rule : current.prefixes) {
    if (rule.cidr != cidr) continue;
    if (rule.tier == tier)
      fail(errc::kConflict,
           "prefix " + cidr.to_string() + " is already assigned to tier '" + tier + "'");
    if (!replace)
      fail(errc::kConflict, "prefix " + cidr.to_string() + " is already assigned to tier '" +
                                rule.tier + "'; use --replace to move it");
  }
  LiveEdits next = edits_;
  next.prefixes.put(cidr, tier);
  return next;
}

LiveEdits PolicyEditor::remove_prefix(const Cidr& cidr) const {
  const Policy current = merge_policy(base_.policy, edits_);
  if (!contains(prefixes_of(current), cidr))
    fail(errc::kNotFound, "prefix " + cidr.to_string() + " is not assigned to any tier");
  LiveEdits next = edits_;
  next.prefixes.erase(cidr, contains(prefixes_of(base_.policy), cidr));
  return next;
}

LiveEdits PolicyEditor::add_allow(const Cidr& cidr) const {
  const Policy current = merge_policy(base_.policy, edits_);
  if (std::count(current.allow.begin(), current.allow.end(), cidr))
    fail(errc::kConflict, cidr.to_string() + " is already on the allow list");
  LiveEdits next = edits_;
  next.allow.put(cidr, true);
  return next;
}

LiveEdits PolicyEditor::remove_allow(const Cidr& cidr) const {
  const Policy current = merge_policy(base_.policy, edits_);
  if (!std::count(current.allow.begin(), current.allow.end(), cidr))
    fail(errc::kNotFound, cidr.to_string() + " is not on the allow list");
  LiveEdits next = edits_;
  next.allow.erase(cidr,
                   std::count(base_.policy.allow.begin(), base_.policy.allow.end(), cidr) > 0);
  return next;
}

LiveEdits PolicyEditor::add_deny(const Cidr& cidr, uint64_t expiry) const {
  const Policy current = merge_policy(base_.policy, edits_);
  if (std::count(current.deny.begin(), current.deny.end(), cidr))
    fail(errc::kConflict, cidr.to_string() + " is already on the deny list");
  LiveEdits next = edits_;
  next.deny.put(cidr, expiry);
  return next;
}

LiveEdits PolicyEditor::remove_deny(const Cidr& cidr) const {
  const Policy current = merge_policy(base_.policy, edits_);
  if (!std::count(current.deny.begin(), current.deny.end(), cidr))
    fail(errc::kNotFound, cidr.to_string() + " is not on the deny list");
  LiveEdits next = edits_;
  next.deny.erase(cidr, std::count(base_.policy.deny.begin(), base_.policy.deny.end(), cidr) > 0);
  return next;
}

LiveEdits PolicyEditor::expire_denies(uint64_t now, std::vector<Cidr>* expired) const {
  LiveEdits next = edits_;
  for (const auto& [cidr, expiry] : edits_.deny.set) {
    if (!expiry || expiry > now) continue;
    // A TTL entry shadows a file entry it was added over (the file entry had
    // been removed first), so the file entry stays removed.
    next.deny.set.erase(cidr);
    if (expired) expired->push_back(cidr);
  }
  return next;
}

LiveEdits PolicyEditor::attach(const InterfaceSpec& spec) const {
  for (const auto& current : merge_interfaces(base_.settings.interfaces, edits_))
    if (current.name == spec.name) fail(errc::kConflict, spec.name + " is already attached");
  LiveEdits next = edits_;
  next.interfaces.put(spec.name, spec.mode);
  return next;
}

LiveEdits PolicyEditor::detach(const std::string& name) const {
  bool attached = false;
  for (const auto& current : merge_interfaces(base_.settings.interfaces, edits_))
    attached |= current.name == name;
  if (!attached) fail(errc::kNotFound, name + " is not attached");
  bool in_base = std::any_of(base_.settings.interfaces.begin(), base_.settings.interfaces.end(),
                             [&](const InterfaceSpec& spec) { return spec.name == name; });
  LiveEdits next = edits_;
  next.interfaces.erase(name, in_base);
  return next;
}

}  // namespace sluice
