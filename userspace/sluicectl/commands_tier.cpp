// tier list, set, delete: the tiers and their limits.
#include <memory>

#include "command.h"
#include "views.h"

namespace sluice::ctl {
namespace {

using nlohmann::json;

struct TierSetOptions {
  std::string name;
  std::string packets, packets_burst, bytes, bytes_burst, syn, syn_burst, algorithm;
  bool shadow = false, no_shadow = false;
};

struct TierDeleteOptions {
  std::string name;
};

void show_tier_set(const json& r, std::ostream& out) {
  out << "tier " << r["name"].get<std::string>()
      << (r["created"].get<bool>() ? " created" : " changed") << ": packets "
      << r["packets"]["text"].get<std::string>() << " ("
      << r.value("algorithm", std::string("token_bucket")) << "), bytes "
      << r["bytes"]["text"].get<std::string>() << ", syn " << r["syn"]["text"].get<std::string>()
      << (r["shadow"].get<bool>() ? " (shadow)" : "") << "\n";
}

Run declare_tier_list(CLI::App&) {
  return [](const Globals& g) { return ask_and_show(g, "tier.list", json::object(), show_tiers); };
}

Run declare_tier_set(CLI::App& sub) {
  auto o = std::make_shared<TierSetOptions>();
  sub.add_option("name", o->name, "tier name (letters, digits, - _ .; at most 63)")->required();
  sub.add_option("--packets", o->packets, "packets per second per source");
  sub.add_option("--packets-burst", o->packets_burst, "packet burst (default: one period's worth)");
  sub.add_option("--algorithm", o->algorithm,
                 "packets/s algorithm: token_bucket (default), fixed_window, sliding_window, "
                 "leaky_bucket (a window drops the packet burst)");
  sub.add_option("--bytes", o->bytes, "bytes per second per source");
  sub.add_option("--bytes-burst", o->bytes_burst, "byte burst, e.g. 64KB");
  sub.add_option("--syn", o->syn, "new TCP connections per second per source");
  sub.add_option("--syn-burst", o->syn_burst, "SYN burst");
  auto* shadow = sub.add_flag("--shadow", o->shadow, "count would-be drops, drop nothing");
  sub.add_flag("--no-shadow", o->no_shadow, "enforce (the default)")->excludes(shadow);
  return [o](const Globals& g) {
    json args = {{"name", o->name}};
    // Only the limits given are sent: the others keep their value.
    const std::pair<const char*, const std::string*> limits[] = {
        {"packets", &o->packets},
        {"packets_burst", &o->packets_burst},
        {"bytes", &o->bytes},
        {"bytes_burst", &o->bytes_burst},
        {"syn", &o->syn},
        {"syn_burst", &o->syn_burst},
        {"algorithm", &o->algorithm}};
    for (const auto& [key, value] : limits)
      if (!value->empty()) args[key] = *value;
    if (o->shadow) args["shadow"] = true;
    if (o->no_shadow) args["shadow"] = false;
    return ask_and_show(g, "tier.set", args, show_tier_set);
  };
}

Run declare_tier_delete(CLI::App& sub) {
  auto o = std::make_shared<TierDeleteOptions>();
  sub.add_option("name", o->name, "tier name")->required();
  return [o](const Globals& g) {
    return ask_and_show(g, "tier.delete", {{"name", o->name}}, said("tier deleted"));
  };
}

}  // namespace

std::vector<Command> tier_commands() {
  return {
      {"tier", "list, create, change or delete tiers",
       "Examples:\n  sluicectl tier list\n  sluicectl tier set gold --packets 1000/s\n"
       "  sluicectl tier delete gold",
       nullptr},
      {"tier list", "show every tier and its limits", "Example:\n  sluicectl tier list --json",
       declare_tier_list},
      {"tier set", "create a tier, or change the given limits of one",
       R"(Rates: 100/s, 6000/min, 1000/hour, 10k/s, unlimited; bytes: 10MB/s, 100Mbit/s.
Limits not given keep their value (a new tier starts unlimited); buckets are kept.
Examples:
  sluicectl tier set gold --packets 5000/s --packets-burst 10000
  sluicectl tier set gold --bytes 100Mbit/s --syn 200/s
  sluicectl tier set trial --packets 100/s --shadow)",
       declare_tier_set},
      {"tier delete", "delete a tier no prefix uses", "Example:\n  sluicectl tier delete trial",
       declare_tier_delete},
  };
}

}  // namespace sluice::ctl
