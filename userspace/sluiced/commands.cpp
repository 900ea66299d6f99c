#include "commands.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <map>

#include "algorithm.h"
#include "cluster_wiring.h"
#include "config_json.h"
#include "daemon.h"
#include "key_commands.h"
#include "traffic_report.h"
#include "units.h"

namespace sluice {
namespace {

using nlohmann::json;
using Command = std::function<json(Daemon&, const json&)>;

uint64_t unix_now() {
  return static_cast<uint64_t>(std::time(nullptr));
}

Cidr cidr_arg(const json& args) {
  std::string text = string_arg(args, "cidr");
  try {
    return Cidr::parse(text);
  } catch (const std::invalid_argument& e) {
    throw ControlError(errc::kInvalidArgument, e.what());
  }
}

template <typename Fn>
auto parsing(const std::string& field, Fn&& fn) {
  try {
    return fn();
  } catch (const std::invalid_argument& e) {
    throw ControlError(errc::kInvalidArgument, field + ": " + e.what());
  }
}

// Rates and bursts arrive as text in human units, the same as in the file.
void update_limit(const json& args, const char* name, RateKind kind, RateLimit& limit) {
  const std::string burst_name = std::string(name) + "_burst";
  if (auto text = optional_string_arg(args, name)) {
    RateLimit parsed = parsing(name, [&] { return parse_rate(*text, kind); });
    parsed.burst = parsed.unlimited() ? 0 : limit.burst;  // a new rate keeps the burst
    limit = parsed;
  }
  if (auto text = optional_string_arg(args, burst_name.c_str())) {
    if (limit.unlimited())
      throw ControlError(errc::kInvalidArgument,
                         burst_name + ": a burst needs a rate; " + name + " is unlimited");
    limit.burst = parsing(burst_name, [&] { return parse_burst(*text, kind); });
  }
}

template <typename Overlay, typename Key>
const char* origin(const Overlay& overlay, const Key& key) {
  return overlay.set.count(key) ? "live" : "file";
}

// What each CPU's admission meters get: the host-wide budgets split over the
// CPUs that run the data path (docs/spoofed-floods.md).
json admission_status(const Policy& policy) {
  const uint32_t cpus = datapath_cpus();
  auto share = [&](const RateLimit& host) -> json {
    if (host.unlimited()) return "unlimited";
    RateLimit per_cpu = per_cpu_share(host, cpus);
    return {{"rate", format_rate(per_cpu, RateKind::kPackets)}, {"burst", per_cpu.burst}};
  };
  return {{"cpus", cpus},
          {"new_sources_per_cpu", share(policy.new_sources)},
          {"unadmitted_per_cpu", share(policy.unadmitted)}};
}

// The load-time settings the file asks for (they differ from the running
// program's until it is reloaded or its maps are created afresh).
LoadOptions wanted_load(Daemon& daemon) {
  return {.bucket_entries = daemon.base().settings.bucket_entries,
          .coarse_clock = daemon.effective_policy().coarse_clock};
}

json pending_json(const std::vector<PendingSetting>& pending) {
  json out = json::array();
  for (const auto& p : pending)
    out.push_back(
        {{"setting", p.setting}, {"file", p.in_file}, {"running", p.running}, {"applies", p.how}});
  return out;
}

json program_json(const ProgramInfo& program) {
  json out = {{"tag", program.tag}, {"recorded", program.recorded}};
  if (program.recorded) {
    out["version"] = program.version;
    out["layout"] = program.layout_version;
    out["clock"] = program.coarse_clock ? "coarse" : "precise";
  }
  return out;
}

json status(Daemon& daemon, const json&) {
  const Policy policy = daemon.effective_policy();
  json interfaces = json::array();
  for (const auto& [name, attached] : daemon.interfaces()) {
    const Dataplane& dp = attached.dataplane;
    interfaces.push_back({{"name", name},
                          {"mode", to_string(dp.attached_mode())},
                          {"requested_mode", to_string(attached.requested_mode)},
                          {"attach", dp.multiprog() ? "multiprog" : "direct"},
                          {"adopted", attached.adopted},
                          {"generation", dp.generation()},
                          // Equal on interfaces that share one set of maps (one budget).
                          {"maps_id", dp.maps_id()},
                          {"bucket_capacity", dp.bucket_capacity()},
                          {"program", program_json(dp.program())},
                          {"pending", pending_json(dp.pending_settings(wanted_load(daemon)))}});
    if (!dp.upgrade_note().empty()) interfaces.back()["upgrade"] = dp.upgrade_note();
  }
  return {{"version", PROJECT_VERSION},
          {"protocol", kProtocolVersion},
          {"pid", ::getpid()},
          {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(daemon.uptime()).count()},
          {"config_file", daemon.base().path},
          {"state_file", daemon.state_file()},
          {"socket", daemon.socket_path()},
          {"live_changes", !daemon.edits().empty()},
          {"default_tier", policy.default_tier},
          {"aggregation",
           {{"ipv4_prefix", policy.v4_prefix_len}, {"ipv6_prefix", policy.v6_prefix_len}}},
          {"drop_malformed", policy.drop_malformed},
          {"admission", admission_status(policy)},
          {"counts",
           {{"tiers", policy.tiers.size()},
            {"prefixes", policy.prefixes.size()},
            {"allow", policy.allow.size()},
            {"deny", policy.deny.size()}}},
          {"interfaces", interfaces},
          {"shaping", daemon.shapers().status()}};
}

json tier_list(Daemon& daemon, const json&) {
  const Policy policy = daemon.effective_policy();
  json out = json::array();
  for (const auto& tier : policy.tiers) {
    json row = tier;
    row["index"] = daemon.tier_slots().current().at(tier.name);
    row["default"] = tier.name == policy.default_tier;
    row["origin"] = origin(daemon.edits().tiers, tier.name);
    row["prefixes"] = std::count_if(policy.prefixes.begin(), policy.prefixes.end(),
                                    [&](const PrefixRule& rule) { return rule.tier == tier.name; });
    out.push_back(row);
  }
  return {{"tiers", out}};
}

json tier_set(Daemon& daemon, const json& args) {
  const std::string name = string_arg(args, "name");
  const Policy policy = daemon.effective_policy();
  TierSpec tier;
  tier.name = name;
  bool existed = false;
  for (const auto& current : policy.tiers)
    if (current.name == name) tier = current, existed = true;
  update_limit(args, "packets", RateKind::kPackets, tier.packets);
  update_limit(args, "bytes", RateKind::kBytes, tier.bytes);
  update_limit(args, "syn", RateKind::kPackets, tier.syns);
  if (auto shadow = optional_bool_arg(args, "shadow")) tier.shadow = *shadow;
  if (auto text = optional_string_arg(args, "algorithm")) {
    tier.algorithm = parsing("algorithm", [&] { return parse_algorithm(*text); });
    // A window has no burst: a kept one is dropped, a given one is refused.
    if (is_window_algorithm(tier.algorithm) && !args.contains("packets_burst"))
      tier.packets.burst = 0;
  }
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).set_tier(tier));
  spdlog::info("tier {} {}", name, existed ? "changed" : "created");
  json out = tier;
  out["created"] = !existed;
  return out;
}

json tier_delete(Daemon& daemon, const json& args) {
  const std::string name = string_arg(args, "name");
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).delete_tier(name));
  spdlog::info("tier {} deleted", name);
  return {{"name", name}};
}

json prefix_list(Daemon& daemon, const json&) {
  json out = json::array();
  for (const auto& rule : daemon.effective_policy().prefixes)
    out.push_back({{"cidr", rule.cidr.to_string()},
                   {"tier", rule.tier},
                   {"origin", origin(daemon.edits().prefixes, rule.cidr)}});
  return {{"prefixes", out}};
}

json prefix_add(Daemon& daemon, const json& args) {
  Cidr cidr = cidr_arg(args);
  std::string tier = string_arg(args, "tier");
  bool replace = optional_bool_arg(args, "replace").value_or(false);
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).add_prefix(cidr, tier, replace));
  spdlog::info("prefix {} -> tier {}", cidr.to_string(), tier);
  return {{"cidr", cidr.to_string()}, {"tier", tier}};
}

json prefix_remove(Daemon& daemon, const json& args) {
  Cidr cidr = cidr_arg(args);
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).remove_prefix(cidr));
  spdlog::info("prefix {} removed", cidr.to_string());
  return {{"cidr", cidr.to_string()}};
}

json allow_list(Daemon& daemon, const json&) {
  json out = json::array();
  for (const auto& cidr : daemon.effective_policy().allow)
    out.push_back({{"cidr", cidr.to_string()}, {"origin", origin(daemon.edits().allow, cidr)}});
  return {{"allow", out}};
}

json allow_add(Daemon& daemon, const json& args) {
  Cidr cidr = cidr_arg(args);
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).add_allow(cidr));
  spdlog::info("allow {} added", cidr.to_string());
  return {{"cidr", cidr.to_string()}};
}

json allow_remove(Daemon& daemon, const json& args) {
  Cidr cidr = cidr_arg(args);
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).remove_allow(cidr));
  spdlog::info("allow {} removed", cidr.to_string());
  return {{"cidr", cidr.to_string()}};
}

json deny_list(Daemon& daemon, const json&) {
  json out = json::array();
  const auto expiries = deny_expiries(daemon.edits());
  const uint64_t now = unix_now();
  for (const auto& cidr : daemon.effective_policy().deny) {
    json row = {{"cidr", cidr.to_string()}, {"origin", origin(daemon.edits().deny, cidr)}};
    if (auto it = expiries.find(cidr); it != expiries.end()) {
      row["expires_at"] = it->second;
      row["expires_in_s"] = it->second > now ? it->second - now : 0;
    }
    out.push_back(row);
  }
  // Penalties (escalation): addresses dropped at the NIC until they expire.
  const uint64_t now_unix = unix_now();
  for (const auto& p : daemon.key_link().penalties())
    out.push_back({{"cidr", p.address},
                   {"origin", "penalty"},
                   {"rule", p.rule},
                   {"tier", p.tier},
                   {"expires_at", p.expires_unix},
                   {"expires_in_s", p.expires_unix > now_unix ? p.expires_unix - now_unix : 0}});
  return {{"deny", out}};
}

json deny_add(Daemon& daemon, const json& args) {
  Cidr cidr = cidr_arg(args);
  uint64_t expiry = 0;
  if (auto ttl = optional_string_arg(args, "ttl"))
    expiry = unix_now() + parsing("ttl", [&] { return parse_duration_seconds(*ttl); });
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).add_deny(cidr, expiry));
  spdlog::info("deny {} added{}", cidr.to_string(),
               expiry ? " for " + format_duration(expiry - unix_now()) : "");
  json out = {{"cidr", cidr.to_string()}};
  if (expiry) out["expires_at"] = expiry;
  return out;
}

json deny_remove(Daemon& daemon, const json& args) {
  Cidr cidr = cidr_arg(args);
  const auto& deny = daemon.effective_policy().deny;
  const bool listed = std::find(deny.begin(), deny.end(), cidr) != deny.end();
  // Not on the list: an address (or an IPv6 /64, as penalties name them) may be penalised.
  if (!listed && daemon.key_link().lift(cidr, daemon.dataplanes())) {
    spdlog::info("penalty of {} lifted", cidr.to_string());
    return {{"cidr", cidr.to_string()}, {"penalty_lifted", true}};
  }
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).remove_deny(cidr));
  spdlog::info("deny {} removed", cidr.to_string());
  return {{"cidr", cidr.to_string()}};
}

json stats(Daemon& daemon, const json& args) {
  return stats_report(daemon, optional_string_arg(args, "iface").value_or(""));
}

json attach(Daemon& daemon, const json& args) {
  InterfaceSpec spec;
  spec.name = string_arg(args, "iface");
  parsing("iface", [&] {
    check_interface_name(spec.name);
    return 0;
  });
  if (auto mode = optional_string_arg(args, "mode"))
    spec.mode = parsing("mode", [&] { return parse_xdp_mode(*mode); });
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).attach(spec));
  const auto& attached = daemon.interfaces().at(spec.name);
  return {{"iface", spec.name},
          {"mode", to_string(attached.dataplane.attached_mode())},
          {"attach", attached.dataplane.multiprog() ? "multiprog" : "direct"},
          {"adopted", attached.adopted}};
}

json detach(Daemon& daemon, const json& args) {
  std::string name = string_arg(args, "iface");
  daemon.update(PolicyEditor(daemon.base(), daemon.edits()).detach(name));
  return {{"iface", name}};
}

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"status", status},
      {"tier.list", tier_list},
      {"tier.set", tier_set},
      {"tier.delete", tier_delete},
      {"prefix.list", prefix_list},
      {"prefix.add", prefix_add},
      {"prefix.remove", prefix_remove},
      {"allow.list", allow_list},
      {"allow.add", allow_add},
      {"allow.remove", allow_remove},
      {"deny.list", deny_list},
      {"deny.add", deny_add},
      {"deny.remove", deny_remove},
      {"stats", stats},
      {"attach", attach},
      {"detach", detach},
      // API keys of the request layer (key_commands.cpp).
      {"key.add", key_add},
      {"key.list", key_list},
      {"key.revoke", key_revoke},
      {"key.set-tier", key_set_tier},
      // Gossip members for global limits (cluster_wiring.cpp).
      {"peers", peers_command},
  };
  return table;
}

// `top` measures rates over an interval: two readings of the bucket map with
// a timer in between, so the loop keeps serving everyone else meanwhile.
void top(Daemon& daemon, const json& args, ControlServer::Reply reply) {
  const uint64_t limit = optional_uint_arg(args, "limit").value_or(10);
  const uint64_t interval_ms = optional_uint_arg(args, "interval_ms").value_or(1000);
  if (limit < 1 || limit > 1000)
    throw ControlError(errc::kInvalidArgument, "limit must be 1..1000");
  if (interval_ms < 100 || interval_ms > 3000)
    throw ControlError(errc::kInvalidArgument, "interval_ms must be 100..3000");
  auto before = std::make_shared<SourceSnapshot>(snapshot_sources(daemon));
  auto timer = std::make_shared<boost::asio::steady_timer>(daemon.io());
  timer->expires_after(std::chrono::milliseconds(interval_ms));
  timer->async_wait([&daemon, before, timer, limit, interval_ms,
                     reply](boost::system::error_code ec) {
    if (ec) return reply(encode_error(errc::kFailed, "daemon is shutting down"));
    try {
      SourceSnapshot after = snapshot_sources(daemon);
      reply(encode_ok(top_report(*before, after, std::chrono::milliseconds(interval_ms), limit)));
    } catch (const std::exception& e) {
      reply(encode_error(errc::kFailed, e.what()));
    }
  });
}

// `reload` reads and validates the file on a worker thread (a big file takes
// seconds) and answers when the commit is done; the loop serves others meanwhile.
void reload(Daemon& daemon, const json& args, ControlServer::Reply reply) {
  const bool discard = optional_bool_arg(args, "discard_live_changes").value_or(false);
  daemon.reload(discard, [&daemon, reply](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
      json pending = json::array();
      for (const auto& [name, attached] : daemon.interfaces())
        for (json p : pending_json(attached.dataplane.pending_settings(wanted_load(daemon)))) {
          p["iface"] = name;
          pending.push_back(p);
        }
      reply(encode_ok({{"config_file", daemon.base().path}, {"pending", pending}}));
    } catch (const ControlError& e) {
      reply(encode_error(e.code(), e.what()));
    } catch (const std::exception& e) {
      reply(encode_error(errc::kFailed, e.what()));
    }
  });
}

}  // namespace

void handle_command(Daemon& daemon, const Request& request, ControlServer::Reply reply) {
  try {
    if (request.command == "top") return top(daemon, request.args, reply);
    if (request.command == "reload") return reload(daemon, request.args, reply);
    auto it = commands().find(request.command);
    if (it == commands().end()) {
      std::string known = "reload, top";
      for (const auto& [name, fn] : commands()) known += ", " + name;
      throw ControlError(errc::kUnknownCommand,
                         "unknown command '" + request.command + "' (known: " + known + ")");
    }
    reply(encode_ok(it->second(daemon, request.args)));
  } catch (const ControlError& e) {
    reply(encode_error(e.code(), e.what()));
  } catch (const PolicyError& e) {
    reply(encode_error(errc::kInvalidArgument, e.what()));
  } catch (const std::invalid_argument& e) {
    reply(encode_error(errc::kInvalidArgument, e.what()));
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", request.command, e.what());
    reply(encode_error(errc::kFailed, e.what()));
  }
}

}  // namespace sluice
