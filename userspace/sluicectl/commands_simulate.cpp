// simulate (offline, no daemon): replays arrivals through the four algorithms
// of bpf/sluice_algorithms.h, the same functions the kernel and request layers
// run, and shows which requests each admits.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>

#include "algorithm.h"
#include "command.h"
#include "sluice_algorithms.h"
#include "units.h"

namespace sluice::ctl {
namespace {

using nlohmann::json;

constexpr uint64_t kMs = 1'000'000;

struct SimulateOptions {
  std::string rate = "10/s";
  uint64_t burst = 0;
  std::string arrivals_file;
};

struct Scenario {
  std::string title;
  std::string rate;
  std::vector<uint64_t> arrivals_ns;  // from the start of a window
};

// The classic cases: 20 requests in one second against 10/s; two requests 2 ms
// apart straddling a window boundary against 1/s; 10 just before a boundary
// and 10 just after it against 10/s.
std::vector<Scenario> classic_scenarios() {
  Scenario twenty{"20 requests in 1 s (every 50 ms) against 10/s", "10/s", {}};
  for (uint64_t i = 0; i < 20; ++i) twenty.arrivals_ns.push_back(i * 50 * kMs);
  Scenario straddle{"2 requests straddling a window boundary (999 ms, 1001 ms) against 1/s",
                    "1/s",
                    {999 * kMs, 1001 * kMs}};
  Scenario bursts{"10 requests at 999 ms and 10 at 1001 ms against 10/s", "10/s", {}};
  for (int i = 0; i < 10; ++i) bursts.arrivals_ns.push_back(999 * kMs);
  for (int i = 0; i < 10; ++i) bursts.arrivals_ns.push_back(1001 * kMs);
  return {twenty, straddle, bursts};
}

// One line per arrival, in milliseconds from the start (fractions allowed).
std::vector<uint64_t> read_arrivals(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Failure(kExitRefused, "cannot read " + path);
  std::vector<uint64_t> out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    size_t used = 0;
    double ms = -1;
    try {
      ms = std::stod(line, &used);
    } catch (const std::exception&) {
    }
    if (ms < 0 || !std::isfinite(ms) || line.find_first_not_of(" \t\r", used) != std::string::npos)
      throw Failure(kExitRefused, path + ":" + std::to_string(number) +
                                      ": expected a time in ms, got '" + line + "'");
    out.push_back(static_cast<uint64_t>(std::llround(ms * 1e6)));
  }
  return out;
}

// Verdicts of every algorithm on the arrivals (sorted by time).
json replay(const Scenario& scenario, uint64_t burst) {
  RateLimit limit;
  try {
    limit = parse_rate(scenario.rate, RateKind::kPackets);
  } catch (const std::invalid_argument& e) {
    throw Failure(kExitUsage, std::string("--rate: ") + e.what());
  }
  // A real clock starts far from zero; windows are aligned to multiples of it.
  const uint64_t start = 1000 * limit.period_ns;
  json algorithms = json::object();
  for (uint32_t algorithm = 0; algorithm < SLUICE_ALGO_COUNT; ++algorithm) {
    const bool window =
        algorithm == SLUICE_ALGO_FIXED_WINDOW || algorithm == SLUICE_ALGO_SLIDING_WINDOW;
    struct sluice_algo algo {};
    if (sluice_algo_make(&algo, algorithm, limit.tokens, limit.period_ns, window ? 0 : burst,
                         SLUICE_SPEND_UNIT) != 0)
      throw Failure(kExitUsage, "--rate " + scenario.rate + " is out of range for " +
                                    std::string(algorithm_name(algorithm)));
    __u64 state = 0;
    json verdicts = json::array();
    for (uint64_t at : scenario.arrivals_ns) {
      __u64 next = state;
      bool allowed = sluice_algo_spend(&algo, state, start + at, 1, &next);
      if (allowed) state = next;
      verdicts.push_back(allowed);
    }
    algorithms[std::string(algorithm_name(algorithm))] = verdicts;
  }
  return {{"title", scenario.title},
          {"rate", scenario.rate},
          {"burst", burst},
          {"arrivals_ms",
           [&] {
             json ms = json::array();
             for (uint64_t at : scenario.arrivals_ns) ms.push_back(static_cast<double>(at) / 1e6);
             return ms;
           }()},
          {"admitted", algorithms}};
}

void print(const json& result, std::ostream& out) {
  const auto& arrivals = result["arrivals_ms"];
  out << result["title"].get<std::string>() << "\n";
  out << "  algorithm       admitted  requests in order (+ admitted, - refused)\n";
  for (uint32_t algorithm = 0; algorithm < SLUICE_ALGO_COUNT; ++algorithm) {
    const std::string name(algorithm_name(algorithm));
    const auto& verdicts = result["admitted"][name];
    int admitted = 0;
    std::string marks;
    for (const auto& v : verdicts) {
      admitted += v.get<bool>();
      marks += v.get<bool>() ? '+' : '-';
    }
    char line[64];
    std::snprintf(line, sizeof line, "  %-15s %3d/%-4zu  ", name.c_str(), admitted,
                  arrivals.size());
    out << line << marks << "\n";
  }
}

Run declare_simulate(CLI::App& sub) {
  auto o = std::make_shared<SimulateOptions>();
  sub.add_option("--arrivals", o->arrivals_file,
                 "file of arrival times in ms, one a line (default: the classic cases)");
  sub.add_option("--rate", o->rate, "the limit for --arrivals, e.g. 10/s")->capture_default_str();
  sub.add_option("--burst", o->burst, "token bucket burst / leaky bucket depth (0: default)");
  return [o](const Globals& g) {
    std::vector<Scenario> scenarios;
    if (o->arrivals_file.empty()) {
      scenarios = classic_scenarios();
    } else {
      auto arrivals = read_arrivals(o->arrivals_file);
      std::sort(arrivals.begin(), arrivals.end());
      scenarios.push_back({o->arrivals_file + " against " + o->rate, o->rate, arrivals});
    }
    json results = json::array();
    for (const auto& scenario : scenarios) results.push_back(replay(scenario, o->burst));
    if (g.json_output) {
      std::cout << results.dump(2) << "\n";
    } else {
      for (const auto& result : results) {
        print(result, std::cout);
        std::cout << "\n";
      }
    }
    return kExitOk;
  };
}

}  // namespace

std::vector<Command> simulate_commands() {
  return {
      {"simulate", "replay arrivals through the four algorithms (offline, no daemon)",
       R"(Runs token_bucket, fixed_window, sliding_window and leaky_bucket (the functions
of bpf/sluice_algorithms.h that both layers run) over the same arrivals. Token
bucket burst defaults to one period's tokens, leaky bucket depth to one request.
Without --arrivals it shows the classic cases. scripts/plot-algorithms draws the
admitted requests over time as a PNG.
Examples:
  sluicectl simulate
  sluicectl simulate --arrivals times-ms.txt --rate 10/s --json)",
       declare_simulate},
  };
}

}  // namespace sluice::ctl
