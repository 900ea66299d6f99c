// prefix add/remove/list (which tier a source's prefix is in) and the allow
// and deny lists (sources never limited, sources always dropped).
#include <memory>

#include "command.h"
#include "views.h"

namespace sluice::ctl {
namespace {

using nlohmann::json;

struct PrefixAddOptions {
  std::string cidr, tier;
  bool replace = false;
};

struct CidrOptions {
  std::string cidr;
  std::string ttl;  // deny add only
};

Run declare_prefix_add(CLI::App& sub) {
  auto o = std::make_shared<PrefixAddOptions>();
  sub.add_option("cidr", o->cidr, "IPv4 or IPv6 prefix")->required();
  sub.add_option("tier", o->tier, "tier name")->required();
  sub.add_flag("--replace", o->replace, "move a prefix already assigned to another tier");
  return [o](const Globals& g) {
    return ask_and_show(g, "prefix.add",
                        {{"cidr", o->cidr}, {"tier", o->tier}, {"replace", o->replace}},
                        said("prefix assigned"));
  };
}

Run declare_prefix_remove(CLI::App& sub) {
  auto o = std::make_shared<CidrOptions>();
  sub.add_option("cidr", o->cidr, "prefix")->required();
  return [o](const Globals& g) {
    return ask_and_show(g, "prefix.remove", {{"cidr", o->cidr}}, said("prefix removed"));
  };
}

Run declare_prefix_list(CLI::App&) {
  return [](const Globals& g) {
    return ask_and_show(g, "prefix.list", json::object(), show_prefixes);
  };
}

// The allow and deny lists take the same commands; deny entries may expire.
std::vector<Command> source_list_commands(const std::string& list, const std::string& summary) {
  const bool deny = list == "deny";
  const std::string ttl_example = deny ? " --ttl 10m" : "";
  auto declare_add = [list, deny](CLI::App& sub) -> Run {
    auto o = std::make_shared<CidrOptions>();
    sub.add_option("cidr", o->cidr, "IPv4 or IPv6 prefix or address")->required();
    if (deny) sub.add_option("--ttl", o->ttl, "remove again after this long: 90s, 10m, 2h, 1d");
    return [o, list](const Globals& g) {
      json args = {{"cidr", o->cidr}};
      if (!o->ttl.empty()) args["ttl"] = o->ttl;
      return ask_and_show(g, list + ".add", args, [list](const json& r, std::ostream& out) {
        out << r["cidr"].get<std::string>() << " added to the " << list << " list\n";
      });
    };
  };
  auto declare_remove = [list](CLI::App& sub) -> Run {
    auto o = std::make_shared<CidrOptions>();
    sub.add_option("cidr", o->cidr, "prefix")->required();
    return [o, list](const Globals& g) {
      return ask_and_show(
          g, list + ".remove", {{"cidr", o->cidr}}, [list](const json& r, std::ostream& out) {
            if (r.value("penalty_lifted", false))
              return void(out << "penalty of " << r["cidr"].get<std::string>() << " lifted\n");
            out << r["cidr"].get<std::string>() << " removed from the " << list << " list\n";
          });
    };
  };
  auto declare_list = [list](CLI::App&) -> Run {
    return [list](const Globals& g) {
      return ask_and_show(
          g, list + ".list", json::object(),
          [list](const json& r, std::ostream& out) { show_list(r, list.c_str(), out); });
    };
  };
  return {
      {list, summary,
       "Examples:\n  sluicectl " + list + " add 198.18.9.0/24" + ttl_example + "\n  sluicectl " +
           list + " remove 198.18.9.0/24\n  sluicectl " + list + " list",
       nullptr},
      {list + " add", "add a prefix or address",
       "Example:\n  sluicectl " + list + " add 198.18.9.0/24" + (deny ? " --ttl 1h" : ""),
       declare_add},
      {list + " remove", "remove a prefix or address",
       "Example:\n  sluicectl " + list + " remove 198.18.9.0/24", declare_remove},
      {list + " list", "show the list", "Example:\n  sluicectl " + list + " list --json",
       declare_list},
  };
}

}  // namespace

std::vector<Command> list_commands() {
  std::vector<Command> rows = {
      {"prefix", "assign address prefixes (CIDR) to tiers",
       "Examples:\n  sluicectl prefix add 198.18.7.0/24 gold\n"
       "  sluicectl prefix remove 198.18.7.0/24",
       nullptr},
      {"prefix add", "send a prefix's sources to a tier",
       "Examples:\n  sluicectl prefix add 198.18.7.0/24 gold\n"
       "  sluicectl prefix add 2001:db8:7::/48 gold --replace",
       declare_prefix_add},
      {"prefix remove", "return a prefix to the default tier",
       "Example:\n  sluicectl prefix remove 198.18.7.0/24", declare_prefix_remove},
      {"prefix list", "show prefix -> tier assignments", "Example:\n  sluicectl prefix list --json",
       declare_prefix_list},
  };
  for (auto& [list, summary] :
       {std::pair<std::string, std::string>{"allow", "sources that are never limited"},
        {"deny",
         "sources that are always dropped (and penalised addresses, docs/key-binding.md)"}}) {
    auto more = source_list_commands(list, summary);
    rows.insert(rows.end(), more.begin(), more.end());
  }
  return rows;
}

}  // namespace sluice::ctl
