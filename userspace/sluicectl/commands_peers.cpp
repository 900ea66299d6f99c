// peers: the gossip cluster's members as this daemon sees them.
#include <string>

#include "command.h"
#include "table.h"

namespace sluice::ctl {
namespace {

std::string age_text(int64_t ms) {
  if (ms < 0) return "never";
  if (ms < 10'000) return std::to_string(ms) + " ms";
  return std::to_string(ms / 1000) + " s";
}

void show_peers(const nlohmann::json& result, std::ostream& out) {
  out << "cluster " << result.value("cluster", "") << ", share of global limits "
      << result.value("share", 1.0) << "\n";
  Table table({"MEMBER", "ADDRESS", "STATE", "INCARNATION", "LAST CONTACT", "SYNC LAG"});
  for (const auto& m : result.at("members")) {
    const bool self = m.value("self", false);
    table.add({m.value("name", "") + (self ? " (self)" : ""), m.value("address", ""),
               m.value("state", ""), count_text(m.value("incarnation", uint64_t{0})),
               self ? "-" : age_text(m.value("last_contact_ms", int64_t{-1})),
               self ? "-" : age_text(m.value("sync_lag_ms", int64_t{-1}))});
  }
  table.print(out);
  const auto& d = result.at("datagrams");
  out << "datagrams: " << d.value("sent", uint64_t{0}) << " sent, "
      << d.value("received", uint64_t{0}) << " received, " << d.value("forged", uint64_t{0})
      << " forged, " << d.value("replayed", uint64_t{0}) << " replayed, "
      << d.value("malformed", uint64_t{0}) << " malformed\n";
}

}  // namespace

std::vector<Command> peers_commands() {
  return {
      {"peers", "gossip members: state, last contact, sync lag",
       "Example:\n  sluicectl peers\n  sluicectl peers --json",
       [](CLI::App&) -> Run {
         return [](const Globals& g) {
           return ask_and_show(g, "peers", nlohmann::json::object(), show_peers);
         };
       }},
  };
}

}  // namespace sluice::ctl
