// stats (passed and dropped packets by reason and tier) and top (the heaviest
// sources), once or refreshed in place.
#include <csignal>
#include <iostream>
#include <memory>

#include "command.h"
#include "views.h"

namespace sluice::ctl {
namespace {

using nlohmann::json;

struct StatsOptions {
  std::string iface;
};

struct TopOptions {
  int limit = 10;
  int interval_ms = 1000;
  bool watch = false;
  int count = 0;  // with --watch: refreshes before stopping, 0 for no end
};

volatile std::sig_atomic_t interrupted = 0;

// top --watch: one request per refresh until Ctrl-C (or --count refreshes).
int watch_top(const Globals& globals, const json& args, const TopOptions& o) {
  std::signal(SIGINT, [](int) { interrupted = 1; });
  auto interval = std::chrono::milliseconds(o.interval_ms);
  for (int i = 0; !interrupted && (o.count <= 0 || i < o.count); ++i) {
    json result = ask(globals, "top", args, interval);
    if (globals.json_output) {
      std::cout << result.dump() << std::endl;  // one line per refresh
    } else {
      std::cout << "\033[H\033[2J";  // refresh in place
      show_top(result, std::cout);
      std::cout << "\n(refreshing every " << interval.count() << " ms; Ctrl-C to stop)"
                << std::endl;
    }
  }
  return kExitOk;
}

Run declare_stats(CLI::App& sub) {
  auto o = std::make_shared<StatsOptions>();
  sub.add_option("--iface", o->iface, "only this interface");
  return [o](const Globals& g) {
    json args = json::object();
    if (!o->iface.empty()) args["iface"] = o->iface;
    return ask_and_show(g, "stats", args, show_stats);
  };
}

Run declare_top(CLI::App& sub) {
  auto o = std::make_shared<TopOptions>();
  sub.add_option("-n,--limit", o->limit, "sources per table")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  sub.add_option("--interval", o->interval_ms, "milliseconds to measure rates over")
      ->check(CLI::Range(100, 3000))
      ->capture_default_str();
  sub.add_flag("-w,--watch", o->watch, "refresh in place until Ctrl-C");
  sub.add_option("--count", o->count, "with --watch: stop after this many refreshes");
  return [o](const Globals& g) {
    json args = {{"limit", o->limit}, {"interval_ms", o->interval_ms}};
    if (o->watch) return watch_top(g, args, *o);
    // The daemon answers after measuring over the interval: wait that much longer.
    return ask_and_show(g, "top", args, show_top, std::chrono::milliseconds(o->interval_ms));
  };
}

}  // namespace

std::vector<Command> stats_commands() {
  return {
      {"stats", "passed and dropped packets by reason and tier",
       "Examples:\n  sluicectl stats\n  sluicectl stats --iface eth0 --json", declare_stats},
      {"top", "the heaviest sources, by drops and by rate",
       "Examples:\n  sluicectl top\n  sluicectl top -n 20 --interval 500\n  sluicectl top --watch",
       declare_top},
  };
}

}  // namespace sluice::ctl
