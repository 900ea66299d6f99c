// The Prometheus rendering: valid exposition format, names and labels as
// documented, figures where they belong.
#include "metrics.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

namespace sluice {
namespace {

MetricsSnapshot sample() {
  MetricsSnapshot s;
  s.version = "0.1.0";
  s.uptime_seconds = 12.5;
  s.tier_names = {{0, "free"}, {3, "gold"}};
  s.tiers = 2;
  s.deny_entries = 4;
  InterfaceMetrics i;
  i.name = "eth-lab";
  i.attach_mode = "native";
  i.policy_generation = 7;
  i.counters.rows.resize(SLUICE_COUNTER_ROWS);
  i.counters.rows[0][SLUICE_CNT_PASSED] = {100, 6400};
  i.counters.rows[3][SLUICE_CNT_DROP_PKT_RATE] = {42, 2688};
  i.counters.rows[SLUICE_TIER_NONE][SLUICE_CNT_DROP_DENY] = {5, 320};
  i.counters.rows[0][SLUICE_CNT_NEW_SOURCE] = {10, 640};
  i.buckets_in_use = 8;
  i.bucket_capacity = 1024;
  s.interfaces.push_back(i);
  CheckMetrics c;
  c.answers = {30, 4, 2, 1};
  c.rules = {{"free-minute", "free", 20, 4, 0}, {"exports", "anonymous", 10, 0, 3}};
  c.buckets = 9;
  s.check = c;
  return s;
}

TEST(Metrics, EveryLineIsValidExpositionFormat) {
  std::string text = render_metrics(sample());
  std::regex sample_line(
      R"re(^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$)re");
  std::set<std::string> typed;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    ASSERT_TRUE(std::regex_match(line, sample_line)) << line;
    std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_TRUE(typed.count(name)) << name << " has no # TYPE before it";
    if (name.size() > 6 && name.substr(name.size() - 6) == "_total") {
      EXPECT_NE(text.find("# TYPE " + name + " counter"), std::string::npos) << name;
    }
  }
}

TEST(Metrics, FiguresLandOnTheirLabels) {
  std::string text = render_metrics(sample());
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  // The request layer's counters, on the same endpoint.
  EXPECT_TRUE(has(R"(sluice_check_answers_total{verdict="bad_request"} 1)")) << text;
  EXPECT_TRUE(has(
      R"(sluice_check_rule_requests_total{policy="free-minute",tier="free",result="refused"} 4)"));
  EXPECT_TRUE(has(
      R"(sluice_check_rule_requests_total{policy="exports",tier="anonymous",result="shadow"} 3)"));
  EXPECT_TRUE(has("sluice_check_buckets 9"));
  EXPECT_TRUE(has(
      R"(sluice_packets_total{interface="eth-lab",tier="free",verdict="pass",reason="within_limits"} 100)"));
  EXPECT_TRUE(has(
      R"(sluice_bytes_total{interface="eth-lab",tier="free",verdict="pass",reason="within_limits"} 6400)"));
  EXPECT_TRUE(has(
      R"(sluice_packets_total{interface="eth-lab",tier="gold",verdict="drop",reason="packet_rate"} 42)"));
  EXPECT_TRUE(has(
      R"(sluice_packets_total{interface="eth-lab",tier="",verdict="drop",reason="deny_list"} 5)"));
  EXPECT_TRUE(has(R"(sluice_sources_created_total{interface="eth-lab",tier="free"} 10)"));
  EXPECT_TRUE(has(R"(sluice_bucket_entries{interface="eth-lab"} 8)"));
  EXPECT_EQ(text.find("sluice_bucket_evictions_total"), std::string::npos)
      << "not a monotonic counter: not exported as one";
  EXPECT_TRUE(has(R"(sluice_xdp_attached{interface="eth-lab",mode="native"} 1)"));
  EXPECT_TRUE(has(R"(sluice_policy_generation{interface="eth-lab"} 7)"));
  EXPECT_TRUE(has(R"(sluice_policy_entries{kind="deny"} 4)"));
  EXPECT_TRUE(has("sluice_uptime_seconds 12.500"));
  EXPECT_EQ(text.find("tier=\"\",verdict=\"pass\",reason=\"new_source\""), std::string::npos)
      << "bucket creations are their own family, not a verdict";
}

TEST(Metrics, LabelValuesAreEscaped) {
  auto s = sample();
  s.interfaces[0].name = "we\"ird\\name";
  std::string text = render_metrics(s);
  EXPECT_NE(text.find(R"(interface="we\"ird\\name")"), std::string::npos);
}

// Prometheus drops a sample whose name and labels repeat another's: the rows
// of a deleted tier's slot and of "no tier" must not meet.
TEST(Metrics, NoTwoSamplesShareALabelSet) {
  auto s = sample();
  s.tier_names.erase(3);  // "gold" deleted; its slot still holds 42 drops
  s.interfaces[0].counters.rows[5][SLUICE_CNT_DROP_DENY] = {1, 64};
  std::string text = render_metrics(s);
  std::set<std::string> seen;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(seen.insert(line.substr(0, line.rfind(' '))).second) << "repeated: " << line;
  }
  EXPECT_NE(
      text.find(
          R"(sluice_packets_total{interface="eth-lab",tier="#3",verdict="drop",reason="packet_rate"} 42)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(tier="#5",verdict="drop",reason="deny_list"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(tier="",verdict="drop",reason="deny_list"} 5)"), std::string::npos);
}

// maps.sharing: shared puts every interface on one set of maps, whose
// counters are the host's. Exported once per interface, a sum over interfaces
// counted each packet once per interface; now each set is one series.
TEST(Metrics, InterfacesSharingTheirMapsAreOneSeries) {
  auto s = sample();
  s.interfaces[0].maps_id = 41;
  auto second = s.interfaces[0];
  second.name = "eth-two";
  second.attach_mode = "generic";
  s.interfaces.push_back(second);
  auto own = s.interfaces[0];
  own.name = "eth-own";
  own.maps_id = 42;
  own.counters.rows[0][SLUICE_CNT_PASSED] = {7, 448};
  s.interfaces.push_back(own);
  std::string text = render_metrics(s);
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has(
      R"(sluice_packets_total{interface="eth-lab+eth-two",tier="free",verdict="pass",reason="within_limits"} 100)"));
  EXPECT_TRUE(has(
      R"(sluice_packets_total{interface="eth-own",tier="free",verdict="pass",reason="within_limits"} 7)"));
  EXPECT_EQ(text.find(R"(sluice_packets_total{interface="eth-lab",)"), std::string::npos);
  EXPECT_EQ(text.find(R"(sluice_packets_total{interface="eth-two",)"), std::string::npos);
  EXPECT_TRUE(has(R"(sluice_sources_created_total{interface="eth-lab+eth-two",tier="free"} 10)"));
  EXPECT_TRUE(has(R"(sluice_bucket_entries{interface="eth-lab+eth-two"} 8)"));
  EXPECT_TRUE(has(R"(sluice_bucket_capacity{interface="eth-lab+eth-two"} 1024)"));
  // What belongs to each interface stays per interface.
  EXPECT_TRUE(has(R"(sluice_xdp_attached{interface="eth-lab",mode="native"} 1)"));
  EXPECT_TRUE(has(R"(sluice_xdp_attached{interface="eth-two",mode="generic"} 1)"));
}

}  // namespace
}  // namespace sluice
