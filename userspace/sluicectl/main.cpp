// sluicectl: the operator's command line for sluiced. Talks to the daemon over
// its unix socket; `config validate` works offline.
//
// Exit codes: 0 done; 1 refused (bad input, not found, conflict, invalid
// file); 2 usage error; 3 daemon unreachable or not answering; 4 permission denied.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands_key.h"
#include "config_file.h"
#include "control_client.h"
#include "views.h"

namespace {

using nlohmann::json;
using sluice::ClientError;

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitPermission = 4;

struct Globals {
  std::string socket = "/run/sluice/sluiced.sock";
  bool json_output = false;
  double timeout_s = 10;
};

// What a subcommand does once parsed: a request, and how to show its answer.
struct Action {
  std::string command;
  json args = json::object();
  std::function<void(const json&, std::ostream&)> show;
};

class Failure : public std::runtime_error {
 public:
  Failure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

json ask(const Globals& globals, const std::string& command, const json& args,
         std::chrono::milliseconds extra = {}) {
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(globals.timeout_s * 1000)) + extra;
  sluice::Response response;
  try {
    response = sluice::call_daemon(globals.socket, command, args, timeout);
  } catch (const ClientError& e) {
    throw Failure(e.kind() == ClientError::Kind::kPermission ? kExitPermission : kExitUnreachable,
                  e.what());
  }
  if (!response.ok) {
    int code = response.error_code == sluice::errc::kPermissionDenied ? kExitPermission
               : response.error_code == sluice::errc::kInternal ||
                       response.error_code == sluice::errc::kBadRequest ||
                       response.error_code == sluice::errc::kUnsupportedVersion
                   ? kExitUnreachable
                   : kExitRefused;
    throw Failure(code, response.error_message + " [" + response.error_code + "]");
  }
  return response.result;
}

void print_result(const Globals& globals, const Action& action, const json& result) {
  if (globals.json_output)
    std::cout << result.dump(2) << "\n";
  else if (action.show)
    action.show(result, std::cout);
}

int validate_config(const Globals& globals, const std::string& path) {
  try {
    auto config = sluice::load_config_file(path);
    if (globals.json_output)
      std::cout << json{{"valid", true},
                        {"file", path},
                        {"tiers", config.policy.tiers.size()},
                        {"prefixes", config.policy.prefixes.size()},
                        {"interfaces", config.settings.interfaces.size()}}
                       .dump(2)
                << "\n";
    else
      std::cout << path << " is valid: " << config.policy.tiers.size() << " tiers, "
                << config.policy.prefixes.size() << " prefixes, "
                << config.settings.interfaces.size() << " interfaces\n";
    return kExitOk;
  } catch (const sluice::ConfigError& e) {
    if (globals.json_output)
      std::cout << json{{"valid", false},       {"file", e.file()},   {"line", e.line()},
                        {"column", e.column()}, {"field", e.field()}, {"message", e.reason()},
                        {"error", e.what()}}
                       .dump(2)
                << "\n";
    else
      std::cerr << "invalid: " << e.what() << "\n";
    return kExitRefused;
  }
}

volatile std::sig_atomic_t interrupted = 0;

int watch_top(const Globals& globals, const json& args, int count) {
  std::signal(SIGINT, [](int) { interrupted = 1; });
  auto interval = std::chrono::milliseconds(args["interval_ms"].get<int64_t>());
  for (int i = 0; !interrupted && (count <= 0 || i < count); ++i) {
    json result = ask(globals, "top", args, interval);
    if (globals.json_output) {
      std::cout << result.dump() << std::endl;  // one line per refresh
    } else {
      std::cout << "\033[H\033[2J";  // refresh in place
      sluice::ctl::show_top(result, std::cout);
      std::cout << "\n(refreshing every " << interval.count() << " ms; Ctrl-C to stop)"
                << std::endl;
    }
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Globals globals;
  if (const char* env = std::getenv("SLUICE_SOCKET")) globals.socket = env;
  CLI::App app{"sluicectl: drive sluiced, the Sluice rate limiter"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  app.footer(R"(Examples:
  sluicectl status
  sluicectl tier set gold --packets 5000/s --packets-burst 10000 --bytes 50MB/s
  sluicectl prefix add 198.18.7.0/24 gold
  sluicectl deny add 198.18.9.9 --ttl 10m
  sluicectl top --watch
  sluicectl stats --json | jq .total

Exit codes: 0 ok, 1 refused (bad input, not found, conflict, invalid file),
2 usage, 3 sluiced unreachable, 4 permission denied.)");
  app.add_option("-s,--socket", globals.socket, "control socket of sluiced (env SLUICE_SOCKET)")
      ->capture_default_str();
  app.add_flag("-j,--json", globals.json_output, "print the answer as JSON (for scripts)");
  app.add_option("--timeout", globals.timeout_s, "seconds to wait for sluiced")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));

  Action action;
  auto simple = [&](CLI::App* sub, std::string command,
                    std::function<void(const json&, std::ostream&)> show) {
    sub->callback([&action, command, show] { action = {command, json::object(), show}; });
  };
  auto said = [](std::string text) {
    return [text](const json&, std::ostream& out) { out << text << "\n"; };
  };

  // status
  auto* status = app.add_subcommand("status", "daemon, interfaces and policy at a glance");
  status->footer("Example:\n  sluicectl status --json");
  simple(status, "status", sluice::ctl::show_status);

  // tier
  auto* tier = app.add_subcommand("tier", "list, create, change or delete tiers");
  tier->require_subcommand(1);
  tier->footer(
      "Examples:\n  sluicectl tier list\n  sluicectl tier set gold --packets 1000/s\n  sluicectl "
      "tier delete gold");
  auto* tier_list = tier->add_subcommand("list", "show every tier and its limits");
  tier_list->footer("Example:\n  sluicectl tier list --json");
  simple(tier_list, "tier.list", sluice::ctl::show_tiers);
  auto* tier_set = tier->add_subcommand("set", "create a tier, or change the given limits of one");
  tier_set->footer(R"(Rates: 100/s, 6000/min, 1000/hour, 10k/s, unlimited; bytes: 10MB/s, 100Mbit/s.
Limits not given keep their value (a new tier starts unlimited); buckets are kept.
Examples:
  sluicectl tier set gold --packets 5000/s --packets-burst 10000
  sluicectl tier set gold --bytes 100Mbit/s --syn 200/s
  sluicectl tier set trial --packets 100/s --shadow)");
  static std::string tier_name, rate_packets, rate_bytes, rate_syn, burst_packets, burst_bytes,
      burst_syn;
  static bool shadow = false, no_shadow = false;
  tier_set->add_option("name", tier_name, "tier name (letters, digits, - _ .; at most 63)")
      ->required();
  tier_set->add_option("--packets", rate_packets, "packets per second per source");
  tier_set->add_option("--packets-burst", burst_packets,
                       "packet burst (default: one period's worth)");
  tier_set->add_option("--bytes", rate_bytes, "bytes per second per source");
  tier_set->add_option("--bytes-burst", burst_bytes, "byte burst, e.g. 64KB");
  tier_set->add_option("--syn", rate_syn, "new TCP connections per second per source");
  tier_set->add_option("--syn-burst", burst_syn, "SYN burst");
  auto* shadow_flag = tier_set->add_flag("--shadow", shadow, "count would-be drops, drop nothing");
  tier_set->add_flag("--no-shadow", no_shadow, "enforce (the default)")->excludes(shadow_flag);
  tier_set->callback([&] {
    json args = {{"name", tier_name}};
    auto put = [&](const char* key, const std::string& value) {
      if (!value.empty()) args[key] = value;
    };
    put("packets", rate_packets);
    put("packets_burst", burst_packets);
    put("bytes", rate_bytes);
    put("bytes_burst", burst_bytes);
    put("syn", rate_syn);
    put("syn_burst", burst_syn);
    if (shadow) args["shadow"] = true;
    if (no_shadow) args["shadow"] = false;
    action = {"tier.set", args, [](const json& r, std::ostream& out) {
                out << "tier " << r["name"].get<std::string>()
                    << (r["created"].get<bool>() ? " created" : " changed") << ": packets "
                    << r["packets"]["text"].get<std::string>() << ", bytes "
                    << r["bytes"]["text"].get<std::string>() << ", syn "
                    << r["syn"]["text"].get<std::string>()
                    << (r["shadow"].get<bool>() ? " (shadow)" : "") << "\n";
              }};
  });
  auto* tier_delete = tier->add_subcommand("delete", "delete a tier no prefix uses");
  tier_delete->footer("Example:\n  sluicectl tier delete trial");
  static std::string delete_name;
  tier_delete->add_option("name", delete_name, "tier name")->required();
  tier_delete->callback([&] {
    action = {"tier.delete", {{"name", delete_name}}, said("tier deleted")};
  });

  // prefix
  auto* prefix = app.add_subcommand("prefix", "assign address prefixes (CIDR) to tiers");
  prefix->require_subcommand(1);
  prefix->footer(
      "Examples:\n  sluicectl prefix add 198.18.7.0/24 gold\n  sluicectl prefix remove "
      "198.18.7.0/24");
  static std::string cidr, prefix_tier;
  static bool replace = false;
  auto* prefix_add = prefix->add_subcommand("add", "send a prefix's sources to a tier");
  prefix_add->footer(
      "Examples:\n  sluicectl prefix add 198.18.7.0/24 gold\n  sluicectl prefix add "
      "2001:db8:7::/48 gold --replace");
  prefix_add->add_option("cidr", cidr, "IPv4 or IPv6 prefix")->required();
  prefix_add->add_option("tier", prefix_tier, "tier name")->required();
  prefix_add->add_flag("--replace", replace, "move a prefix already assigned to another tier");
  prefix_add->callback([&] {
    action = {"prefix.add",
              {{"cidr", cidr}, {"tier", prefix_tier}, {"replace", replace}},
              said("prefix assigned")};
  });
  auto* prefix_remove = prefix->add_subcommand("remove", "return a prefix to the default tier");
  prefix_remove->footer("Example:\n  sluicectl prefix remove 198.18.7.0/24");
  prefix_remove->add_option("cidr", cidr, "prefix")->required();
  prefix_remove->callback([&] {
    action = {"prefix.remove", {{"cidr", cidr}}, said("prefix removed")};
  });
  auto* prefix_list = prefix->add_subcommand("list", "show prefix -> tier assignments");
  prefix_list->footer("Example:\n  sluicectl prefix list --json");
  simple(prefix_list, "prefix.list", sluice::ctl::show_prefixes);

  // allow / deny
  static std::string ttl;
  for (const char* list : {"allow", "deny"}) {
    const std::string name = list;
    const bool deny = name == "deny";
    auto* sub = app.add_subcommand(
        name, deny ? "sources that are always dropped" : "sources that are never limited");
    sub->require_subcommand(1);
    sub->footer("Examples:\n  sluicectl " + name + " add 198.18.9.0/24" +
                (deny ? " --ttl 10m" : "") + "\n  sluicectl " + name +
                " remove 198.18.9.0/24\n  sluicectl " + name + " list");
    auto* add = sub->add_subcommand("add", "add a prefix or address");
    add->footer("Example:\n  sluicectl " + name + " add 198.18.9.0/24" + (deny ? " --ttl 1h" : ""));
    add->add_option("cidr", cidr, "IPv4 or IPv6 prefix or address")->required();
    if (deny) add->add_option("--ttl", ttl, "remove again after this long: 90s, 10m, 2h, 1d");
    add->callback([&action, name, deny] {
      json args = {{"cidr", cidr}};
      if (deny && !ttl.empty()) args["ttl"] = ttl;
      action = {name + ".add", args, [name](const json& r, std::ostream& out) {
                  out << r["cidr"].get<std::string>() << " added to the " << name << " list\n";
                }};
    });
    auto* remove = sub->add_subcommand("remove", "remove a prefix or address");
    remove->footer("Example:\n  sluicectl " + name + " remove 198.18.9.0/24");
    remove->add_option("cidr", cidr, "prefix")->required();
    remove->callback([&action, name] {
      action = {name + ".remove", {{"cidr", cidr}}, [name](const json& r, std::ostream& out) {
                  out << r["cidr"].get<std::string>() << " removed from the " << name << " list\n";
                }};
    });
    auto* show = sub->add_subcommand("list", "show the list");
    show->footer("Example:\n  sluicectl " + name + " list --json");
    show->callback([&action, name] {
      action = {name + ".list", json::object(), [name](const json& r, std::ostream& out) {
                  sluice::ctl::show_list(r, name.c_str(), out);
                }};
    });
  }

  // stats, top
  auto* stats = app.add_subcommand("stats", "passed and dropped packets by reason and tier");
  stats->footer("Examples:\n  sluicectl stats\n  sluicectl stats --iface eth0 --json");
  static std::string stats_iface;
  stats->add_option("--iface", stats_iface, "only this interface");
  stats->callback([&] {
    json args = json::object();
    if (!stats_iface.empty()) args["iface"] = stats_iface;
    action = {"stats", args, sluice::ctl::show_stats};
  });
  auto* top = app.add_subcommand("top", "the heaviest sources, by drops and by rate");
  top->footer(
      "Examples:\n  sluicectl top\n  sluicectl top -n 20 --interval 500\n  sluicectl top --watch");
  static int top_limit = 10, top_interval = 1000, watch_count = 0;
  static bool watch = false;
  top->add_option("-n,--limit", top_limit, "sources per table")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  top->add_option("--interval", top_interval, "milliseconds to measure rates over")
      ->check(CLI::Range(100, 3000))
      ->capture_default_str();
  top->add_flag("-w,--watch", watch, "refresh in place until Ctrl-C");
  top->add_option("--count", watch_count, "with --watch: stop after this many refreshes");
  top->callback([&] {
    action = {"top", {{"limit", top_limit}, {"interval_ms", top_interval}}, sluice::ctl::show_top};
  });

  // config validate, reload
  auto* config = app.add_subcommand("config", "work with configuration files");
  config->require_subcommand(1);
  config->footer("Example:\n  sluicectl config validate /etc/sluice/sluice.yaml");
  static std::string config_file;
  auto* validate = config->add_subcommand("validate", "check a file offline (no daemon needed)");
  validate->footer(
      "Example:\n  sluicectl config validate /etc/sluice/sluice.yaml && sluicectl reload");
  validate->add_option("file", config_file, "configuration file")->required();
  validate->callback([&] { action = {"config.validate", json::object(), nullptr}; });
  auto* reload = app.add_subcommand("reload", "re-read the configuration file (like SIGHUP)");
  reload->footer(
      R"(An invalid file changes nothing. Live changes made with sluicectl are replayed on
top of the file unless --discard-live-changes is given.
Examples:
  sluicectl reload
  sluicectl reload --discard-live-changes)");
  static bool discard = false;
  reload->add_flag("--discard-live-changes", discard, "drop every change made with sluicectl");
  reload->callback([&] {
    action = {"reload", {{"discard_live_changes", discard}}, [](const json& r, std::ostream& out) {
                out << "reloaded " << r["config_file"].get<std::string>() << "\n";
              }};
  });

  // attach, detach
  static std::string iface, mode = "auto";
  auto* attach = app.add_subcommand("attach", "start enforcing on an interface");
  attach->footer("Examples:\n  sluicectl attach eth1\n  sluicectl attach eth1 --mode generic");
  attach->add_option("iface", iface, "interface name")->required();
  attach->add_option("--mode", mode, "auto, native or generic")
      ->check(CLI::IsMember({"auto", "native", "generic"}))
      ->capture_default_str();
  attach->callback([&] {
    action = {"attach", {{"iface", iface}, {"mode", mode}}, [](const json& r, std::ostream& out) {
                out << "attached to " << r["iface"].get<std::string>() << " ("
                    << r["mode"].get<std::string>() << (r["adopted"].get<bool>() ? ", adopted" : "")
                    << ")\n";
              }};
  });
  auto* detach = app.add_subcommand("detach", "stop enforcing on an interface (unpins its maps)");
  detach->footer("Example:\n  sluicectl detach eth1");
  detach->add_option("iface", iface, "interface name")->required();
  detach->callback([&] { action = {"detach", {{"iface", iface}}, said("detached")}; });

  sluice::ctl::add_key_commands(app, [&](sluice::ctl::KeyAction chosen) {
    action = {chosen.command, chosen.args, chosen.show};
  });

  // Help ends with the examples; end them with a newline so the prompt starts clean.
  std::function<void(CLI::App*)> end_footers = [&](CLI::App* sub) {
    sub->footer(sub->get_footer() + "\n");
    for (auto* child : sub->get_subcommands({})) end_footers(child);
  };
  end_footers(&app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (action.command == "config.validate") return validate_config(globals, config_file);
    if (action.command == "top" && watch) return watch_top(globals, action.args, watch_count);
    auto extra = action.command == "top" ? std::chrono::milliseconds(top_interval)
                                         : std::chrono::milliseconds(0);
    print_result(globals, action, ask(globals, action.command, action.args, extra));
    return kExitOk;
  } catch (const Failure& e) {
    std::cerr << "sluicectl: " << e.what() << "\n";
    return e.code();
  } catch (const std::exception& e) {
    std::cerr << "sluicectl: " << e.what() << "\n";
    return kExitUnreachable;
  }
}
