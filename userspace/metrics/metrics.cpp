#include "metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "counter_table.h"

namespace sluice {
namespace {

// Label values are quoted; backslash, quote and newline are escaped.
std::string escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void render_check(std::string& out, const CheckMetrics& c) {
  family(out, "sluice_check_answers_total", "counter", "Check API answers by verdict.");
  const char* verdicts[] = {"allowed", "refused", "unauthorized", "bad_request"};
  for (size_t i = 0; i < c.answers.size(); ++i)
    out +=
        fmt::format("sluice_check_answers_total{{verdict=\"{}\"}} {}\n", verdicts[i], c.answers[i]);
  family(out, "sluice_check_rule_requests_total", "counter",
         "Checked requests per request-layer rule and tier: allowed, refused by this rule, or "
         "refused by this shadow rule (not enforced).");
  for (const auto& rule : c.rules) {
    const std::string labels =
        fmt::format("policy=\"{}\",tier=\"{}\"", escape(rule.policy), escape(rule.tier));
    out += fmt::format("sluice_check_rule_requests_total{{{},result=\"allowed\"}} {}\n", labels,
                       rule.allowed);
    out += fmt::format("sluice_check_rule_requests_total{{{},result=\"refused\"}} {}\n", labels,
                       rule.refused);
    out += fmt::format("sluice_check_rule_requests_total{{{},result=\"shadow\"}} {}\n", labels,
                       rule.shadow);
  }
  family(out, "sluice_check_buckets", "gauge", "Request-layer buckets in memory.");
  out += fmt::format("sluice_check_buckets {}\n", c.buckets);
  family(out, "sluice_check_bucket_overflows_total", "counter",
         "Checks judged on an unstored bucket because the table was full.");
  out += fmt::format("sluice_check_bucket_overflows_total {}\n", c.bucket_overflows);
  family(out, "sluice_check_shadow_log_lines_total", "counter",
         "Log lines about shadow refusals (at most one per rule per interval).");
  out += fmt::format("sluice_check_shadow_log_lines_total {}\n", c.shadow_log_lines);
}

}  // namespace

CounterLabels counter_labels(uint32_t counter, bool malformed_dropped) {
  const CounterInfo* info = counter_info(counter);
  if (!info) return {"", "unknown"};
  return {info->verdict(malformed_dropped), info->reason};
}

std::string render_metrics(const MetricsSnapshot& s) {
  std::string out;
  out.reserve(16384);
  // Every row gets a tier label of its own, so that no two samples share a
  // label set: a configured tier its name, the no-tier row "" (no tier name is
  // empty), and a slot no tier holds now "#<slot>" ('#' is not allowed in tier
  // names). Such a slot keeps the counts of its deleted tier until the slot is
  // given to a tier again; then its rows are zeroed (CompiledPolicy::fresh_slots)
  // and the new tier's series starts from zero.
  auto tier_of = [&](uint32_t row) -> std::string {
    if (row == SLUICE_TIER_NONE) return "";
    auto it = s.tier_names.find(row);
    return it == s.tier_names.end() ? TierSlots::unassigned_label(row) : it->second;
  };
  // Rows worth exporting: configured tiers, the "no tier" row, and any row that
  // still holds counts from a tier that has since been removed.
  auto rows_of = [&](const InterfaceMetrics& i) {
    std::vector<uint32_t> rows;
    for (uint32_t row = 0; row < i.counters.rows.size(); ++row) {
      bool any = false;
      for (const auto& c : i.counters.rows[row]) any = any || c.packets;
      if (row == SLUICE_TIER_NONE || s.tier_names.count(row) || any) rows.push_back(row);
    }
    return rows;
  };

  // Interfaces on one shared set of maps share its counters and its bucket
  // map: each set is exported once, labelled with all of its interfaces
  // ("eth0+eth1"), so that a sum over series counts every packet once.
  struct MapsSet {
    std::string label;
    const InterfaceMetrics* maps;
  };
  std::vector<MapsSet> sets;
  std::map<uint32_t, size_t> set_of_maps;
  for (const auto& i : s.interfaces) {
    if (i.maps_id != 0) {
      auto [it, fresh] = set_of_maps.try_emplace(i.maps_id, sets.size());
      if (!fresh) {
        sets[it->second].label += "+" + i.name;
        continue;
      }
    }
    sets.push_back({i.name, &i});
  }
  // Computed once per set: three families below walk the same rows.
  std::vector<std::vector<uint32_t>> rows_by_set;
  for (const auto& set : sets) rows_by_set.push_back(rows_of(*set.maps));

  family(out, "sluice_build_info", "gauge", "Version of the running sluiced.");
  out += fmt::format("sluice_build_info{{version=\"{}\"}} 1\n", escape(s.version));
  family(out, "sluice_uptime_seconds", "gauge", "Seconds since sluiced started.");
  out += fmt::format("sluice_uptime_seconds {:.3f}\n", s.uptime_seconds);

  for (const char* unit : {"packets", "bytes"}) {
    std::string name = fmt::format("sluice_{}_total", unit);
    family(out, name.c_str(), "counter",
           unit[0] == 'p'
               ? "Packets judged by the XDP program, by verdict, reason and tier."
               : "Bytes (frame length) judged by the XDP program, by verdict, reason and tier.");
    for (size_t n = 0; n < sets.size(); ++n) {
      const auto& i = *sets[n].maps;
      for (uint32_t row : rows_by_set[n]) {
        for (uint32_t c = 0; c < SLUICE_COUNTER_MAX; ++c) {
          if (c == SLUICE_CNT_NEW_SOURCE) continue;
          auto labels = counter_labels(c, i.malformed_dropped);
          const auto& value = i.counters.rows[row][c];
          out += fmt::format("{}{{interface=\"{}\",tier=\"{}\",verdict=\"{}\",reason=\"{}\"}} {}\n",
                             name, escape(sets[n].label), escape(tier_of(row)), labels.verdict,
                             labels.reason, unit[0] == 'p' ? value.packets : value.bytes);
        }
      }
    }
  }

  family(out, "sluice_sources_created_total", "counter", "Per-source buckets created, by tier.");
  for (size_t n = 0; n < sets.size(); ++n)
    for (uint32_t row : rows_by_set[n])
      out += fmt::format("sluice_sources_created_total{{interface=\"{}\",tier=\"{}\"}} {}\n",
                         escape(sets[n].label), escape(tier_of(row)),
                         sets[n].maps->counters.rows[row][SLUICE_CNT_NEW_SOURCE].packets);

  // No evictions counter: the map does not count them, and created minus
  // occupancy goes down when buckets time out of use, which a counter must
  // never do. increase(sluice_sources_created_total) - delta(sluice_bucket_entries)
  // estimates them.
  family(out, "sluice_bucket_entries", "gauge",
         "Sources with a bucket in the map now (refreshed at most every 10 s).");
  for (const auto& set : sets)
    out += fmt::format("sluice_bucket_entries{{interface=\"{}\"}} {}\n", escape(set.label),
                       set.maps->buckets_in_use);
  family(out, "sluice_bucket_capacity", "gauge",
         "Size of the bucket map (LRU: the least recent go first).");
  for (const auto& set : sets)
    out += fmt::format("sluice_bucket_capacity{{interface=\"{}\"}} {}\n", escape(set.label),
                       set.maps->bucket_capacity);
  family(out, "sluice_xdp_attached", "gauge", "1 for the XDP attach mode of each interface.");
  for (const auto& i : s.interfaces)
    out += fmt::format("sluice_xdp_attached{{interface=\"{}\",mode=\"{}\"}} 1\n", escape(i.name),
                       escape(i.attach_mode));
  family(out, "sluice_policy_generation", "gauge",
         "Generation of the policy the data path judges by.");
  for (const auto& i : s.interfaces)
    out += fmt::format("sluice_policy_generation{{interface=\"{}\"}} {}\n", escape(i.name),
                       i.policy_generation);

  family(out, "sluice_policy_entries", "gauge", "Entries of the active policy, by kind.");
  out += fmt::format("sluice_policy_entries{{kind=\"tier\"}} {}\n", s.tiers);
  out += fmt::format("sluice_policy_entries{{kind=\"prefix\"}} {}\n", s.prefixes);
  out += fmt::format("sluice_policy_entries{{kind=\"allow\"}} {}\n", s.allow_entries);
  out += fmt::format("sluice_policy_entries{{kind=\"deny\"}} {}\n", s.deny_entries);
  if (s.check) render_check(out, *s.check);
  out += s.key_link_text;
  out += s.rls_text;
  out += s.cluster_text;
  return out;
}

}  // namespace sluice
