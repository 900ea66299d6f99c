#include "views.h"

#include <algorithm>
#include <vector>

#include "counter_table.h"
#include "table.h"
#include "units.h"

namespace sluice::ctl {
namespace {

using nlohmann::json;

std::string limit_text(const json& rate) {
  std::string text = rate.value("text", "?");
  if (rate.contains("burst_text")) text += " burst " + rate["burst_text"].get<std::string>();
  return text;
}

uint64_t packets(const json& row, const char* counter) {
  return row["counters"][counter]["packets"].get<uint64_t>();
}

}  // namespace

void show_status(const json& r, std::ostream& out) {
  out << "sluiced " << r["version"].get<std::string>() << " (protocol " << r["protocol"]
      << "), pid " << r["pid"] << ", up " << format_duration(r["uptime_s"].get<uint64_t>()) << "\n";
  out << "config:      " << r["config_file"].get<std::string>() << "\n";
  out << "state file:  " << r["state_file"].get<std::string>()
      << (r["live_changes"].get<bool>() ? "  (live changes made with sluicectl)" : "") << "\n";
  const json& counts = r["counts"];
  out << "policy:      " << counts["tiers"] << " tiers (default "
      << r["default_tier"].get<std::string>() << "), " << counts["prefixes"] << " prefixes, "
      << counts["allow"] << " allow, " << counts["deny"] << " deny; sources per /"
      << r["aggregation"]["ipv4_prefix"] << " (IPv4), /" << r["aggregation"]["ipv6_prefix"]
      << " (IPv6)\n\n";
  Table table({"INTERFACE", "MODE", "ADOPTED", "GENERATION", "BUCKETS", "PROGRAM", "TAG"});
  for (const auto& i : r["interfaces"]) {
    const json& program = i.value("program", json::object());
    table.add({i["name"].get<std::string>(), i["mode"].get<std::string>(),
               i["adopted"].get<bool>() ? "yes" : "no", count_text(i["generation"].get<uint64_t>()),
               count_text(i["bucket_capacity"].get<uint64_t>()),
               program.contains("version")
                   ? "v" + std::to_string(program["version"].get<uint64_t>()) + " (" +
                         program["clock"].get<std::string>() + " clock)"
                   : "unrecorded",
               program.value("tag", "")});
  }
  if (table.empty()) return void(out << "no interface attached (sluicectl attach IFACE)\n");
  table.print(out);
  for (const auto& i : r["interfaces"]) {
    const std::string name = i["name"].get<std::string>();
    if (i.contains("upgrade")) out << name << ": " << i["upgrade"].get<std::string>() << "\n";
    for (const auto& p : i.value("pending", json::array())) show_pending(name, p, out);
  }
}

void show_pending(const std::string& iface, const json& p, std::ostream& out) {
  out << iface << ": " << p["setting"].get<std::string>() << " is " << p["file"].get<std::string>()
      << " in the file, " << p["running"].get<std::string>()
      << " in the running program; to apply: " << p["applies"].get<std::string>() << "\n";
}

void show_tiers(const json& r, std::ostream& out) {
  Table table({"TIER", "PACKETS", "ALGORITHM", "BYTES", "SYN", "SHADOW", "PREFIXES", "ORIGIN"});
  for (const auto& t : r["tiers"])
    table.add({t["name"].get<std::string>() + (t["default"].get<bool>() ? " (default)" : ""),
               limit_text(t["packets"]), t.value("algorithm", std::string("token_bucket")),
               limit_text(t["bytes"]), limit_text(t["syn"]), t["shadow"].get<bool>() ? "yes" : "no",
               count_text(t["prefixes"].get<uint64_t>()), t["origin"].get<std::string>()});
  table.print(out);
}

void show_prefixes(const json& r, std::ostream& out) {
  Table table({"PREFIX", "TIER", "ORIGIN"});
  for (const auto& p : r["prefixes"])
    table.add({p["cidr"].get<std::string>(), p["tier"].get<std::string>(),
               p["origin"].get<std::string>()});
  if (table.empty())
    return void(out << "no prefixes assigned; every source gets the default tier\n");
  table.print(out);
}

void show_list(const json& r, const char* key, std::ostream& out) {
  Table table({"PREFIX", "ORIGIN", "EXPIRES IN"});
  for (const auto& e : r[key])
    // A penalty's origin names the escalation rule that caused it.
    table.add({e["cidr"].get<std::string>(),
               e.contains("rule") ? "penalty (" + e["rule"].get<std::string>() + ")"
                                  : e["origin"].get<std::string>(),
               e.contains("expires_in_s") ? format_duration(e["expires_in_s"].get<uint64_t>())
                                          : "never"});
  if (table.empty()) return void(out << "the " << key << " list is empty\n");
  table.print(out);
}

// Columns and the summary line come from the counter table: a counter with a
// column is summed into it per tier; the others (the no-tier row's) are listed
// under their description.
void show_stats(const json& r, std::ostream& out) {
  std::vector<std::string> columns;  // of the counter table, in its order
  for (const CounterInfo& c : kCounterTable)
    if (*c.column && std::find(columns.begin(), columns.end(), c.column) == columns.end())
      columns.push_back(c.column);
  std::vector<std::string> header = {"TIER", columns.front(), "DROPPED"};
  header.insert(header.end(), columns.begin() + 1, columns.end());
  Table table(header);
  for (const auto& t : r["tiers"]) {
    std::vector<uint64_t> sums(columns.size());
    for (const CounterInfo& c : kCounterTable)
      if (*c.column)
        sums[std::find(columns.begin(), columns.end(), c.column) - columns.begin()] +=
            packets(t, c.name);
    std::vector<std::string> cells = {t["tier"].get<std::string>(), count_text(sums.front()),
                                      count_text(t["dropped_packets"].get<uint64_t>())};
    for (size_t i = 1; i < sums.size(); ++i) cells.push_back(count_text(sums[i]));
    table.add(cells);
  }
  table.print(out);
  const json& other = r["unclassified"];
  const char* separator = "\n";
  for (const CounterInfo& c : kCounterTable) {
    if (*c.column) continue;
    out << separator << c.description << " " << packets(other, c.name);
    separator = ", ";
  }
  out << "\n";
  const json& total = r["total"];
  out << "total: passed " << total["passed_packets"] << ", dropped " << total["dropped_packets"]
      << " packets on " << r["interfaces"].size() << " interface(s)\n";
}

void show_top(const json& r, std::ostream& out) {
  auto section = [&](const char* title, const json& rows) {
    out << title << "\n";
    Table table({"SOURCE", "TIER", "PASSED", "DROPPED", "PASS/S", "DROP/S"});
    for (const auto& s : rows)
      table.add({s["source"].get<std::string>(), s["tier"].get<std::string>(),
                 count_text(s["passed"].get<uint64_t>()), count_text(s["dropped"].get<uint64_t>()),
                 rate_text(s["passed_pps"].get<double>()),
                 rate_text(s["dropped_pps"].get<double>())});
    if (table.empty())
      out << "  (no sources seen)\n";
    else
      table.print(out);
  };
  // Per-source drops are sampled by the program (docs/top-sampling.md).
  out << r["sources"] << " sources, rates over " << r["interval_ms"] << " ms; DROPPED is sampled: "
      << "one drop in " << SLUICE_DROP_SAMPLE << " counts " << SLUICE_DROP_SAMPLE
      << " (exact totals: sluicectl stats)\n\n";
  section("Top by drops", r["by_drops"]);
  out << "\n";
  section("Top by rate (packets/s)", r["by_rate"]);
}

}  // namespace sluice::ctl
