#include "rls_limiter.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "checker.h"
#include "monotonic_clock.h"
#include "policy.h"

namespace sluice {

struct RlsLimiter::Compiled {
  struct Rule {
    CompiledLimit limit;
    RlsLimitInfo info;
    bool unlimited = false;
    std::vector<std::string> replaces;
  };
  // The descriptors of one level, by how they match an entry.
  struct Level {
    std::unordered_map<std::string, size_t> exact;                       // key '\0' value -> node
    std::vector<std::tuple<std::string, std::string, size_t>> prefixes;  // key, prefix, node
    std::unordered_map<std::string, size_t> any;                         // key -> node
  };
  struct Node {
    std::optional<Rule> rule;  // none: matches, limits nothing
    Level children;
  };
  struct Domain {
    std::vector<Node> nodes;
    Level root;
  };
  std::unordered_map<std::string, Domain> domains;
};

namespace {

using Compiled = RlsLimiter::Compiled;

// Header policy names are structured-field strings (rate_headers.h): keep
// letters, digits, '-', '_' and '.', and replace the rest.
std::string header_name(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 63)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  return out;
}

// Bucket clients must not contain the store's '\x1f' separator, and two
// descriptors must never share one: escape every byte that could mix them up.
void append_escaped(std::string& out, const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (c <= 0x20 || c >= 0x7f || c == '%' || c == '/' || c == '=') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
}

CompiledLimit make_limit(uint32_t requests_per_unit, RlsUnit unit, std::string bucket,
                         std::string policy, bool shadow, const std::string& field) {
  CompiledLimit limit;
  limit.bucket = std::move(bucket);
  limit.policy = std::move(policy);
  limit.quota = requests_per_unit;
  limit.window_s = rls_unit_ns(unit) / SLUICE_NSEC_PER_SEC;
  limit.shadow = shadow;
  if (requests_per_unit == 0) {
    // envoyproxy/ratelimit's "0 per unit" blocks every request: one token per
    // unit with no burst tolerance never admits anything (and never stores).
    limit.rate.interval_fp = rls_unit_ns(unit) << SLUICE_INTERVAL_FRAC_BITS;
    limit.rate.tau_ns = 0;
    return limit;
  }
  // A token bucket of one unit's requests: the whole quota may come at once,
  // and it refills evenly (envoyproxy/ratelimit's fixed window would refill
  // all at once at the window's edge).
  RateLimit rate{
      .tokens = requests_per_unit, .period_ns = rls_unit_ns(unit), .burst = requests_per_unit};
  limit.rate = compile_rate(rate, SLUICE_SPEND_UNIT, field);
  return limit;
}

void compile_level(const RlsDomain& domain, const std::vector<RlsDescriptor>& descriptors,
                   const std::string& path, Compiled::Domain& out, Compiled::Level& level);

size_t compile_node(const RlsDomain& domain, const RlsDescriptor& descriptor,
                    const std::string& path, Compiled::Domain& out) {
  const size_t index = out.nodes.size();
  out.nodes.emplace_back();
  if (const auto& rl = descriptor.rate_limit) {
    Compiled::Rule rule;
    rule.unlimited = rl->unlimited;
    rule.replaces = rl->replaces;
    rule.info = {rl->name.empty() ? path : rl->name, rl->requests_per_unit, rl->unit};
    if (!rl->unlimited) {
      try {
        rule.limit = make_limit(rl->requests_per_unit, rl->unit, "rls",
                                header_name(rl->name.empty() ? path : rl->name),
                                descriptor.shadow_mode, path);
      } catch (const PolicyError& e) {
        throw RlsConfigError(domain.file, 0, 0, path + ".rate_limit", e.what());
      }
    }
    out.nodes[index].rule = std::move(rule);
  }
  Compiled::Level children;
  compile_level(domain, descriptor.descriptors, path, out, children);
  out.nodes[index].children = std::move(children);
  return index;
}

void compile_level(const RlsDomain& domain, const std::vector<RlsDescriptor>& descriptors,
                   const std::string& path, Compiled::Domain& out, Compiled::Level& level) {
  for (const auto& descriptor : descriptors) {
    std::string here = path + "." + descriptor.key;
    if (!descriptor.value.empty()) here += "_" + descriptor.value;
    const size_t node = compile_node(domain, descriptor, here, out);
    if (descriptor.value.empty())
      level.any.emplace(descriptor.key, node);
    else if (descriptor.value.back() == '*')
      level.prefixes.emplace_back(descriptor.key,
                                  descriptor.value.substr(0, descriptor.value.size() - 1), node);
    else
      level.exact.emplace(descriptor.key + '\0' + descriptor.value, node);
  }
}

std::shared_ptr<Compiled> compile_domains(const std::vector<RlsDomain>& domains) {
  auto compiled = std::make_shared<Compiled>();
  for (const auto& domain : domains) {
    auto [it, inserted] = compiled->domains.try_emplace(domain.domain);
    if (!inserted)
      throw RlsConfigError(domain.file, 0, 0, "domain",
                           "domain '" + domain.domain + "' is defined in more than one file");
    Compiled::Domain& tree = it->second;
    compile_level(domain, domain.descriptors, domain.domain, tree, tree.root);
  }
  return compiled;
}

// The node a descriptor's entries land on, or nullptr.
const Compiled::Node* match(const Compiled::Domain& domain, const std::vector<RlsEntry>& entries) {
  const Compiled::Level* level = &domain.root;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    const Compiled::Node* node = nullptr;
    if (auto it = level->exact.find(entry.key + '\0' + entry.value); it != level->exact.end())
      node = &domain.nodes[it->second];
    if (!node) {
      for (const auto& [key, prefix, index] : level->prefixes)
        if (key == entry.key && entry.value.compare(0, prefix.size(), prefix) == 0) {
          node = &domain.nodes[index];
          break;
        }
    }
    if (!node) {
      if (auto it = level->any.find(entry.key); it != level->any.end())
        node = &domain.nodes[it->second];
    }
    if (!node) return nullptr;
    if (i + 1 == entries.size()) return node;
    level = &node->children;
  }
  return nullptr;
}

void check_request(const RlsRequest& request) {
  auto invalid = [](const std::string& message) { throw RlsRequestError(false, message); };
  if (request.domain.empty()) invalid("rate limit domain must not be empty");
  if (request.domain.size() > kRlsMaxEntryBytes) invalid("rate limit domain is too long");
  if (request.descriptors.empty()) invalid("rate limit descriptor list must not be empty");
  if (request.descriptors.size() > kRlsMaxDescriptors)
    invalid(std::to_string(request.descriptors.size()) + " descriptors in one request; at most " +
            std::to_string(kRlsMaxDescriptors));
  for (size_t i = 0; i < request.descriptors.size(); ++i) {
    const auto& entries = request.descriptors[i].entries;
    const std::string where = "descriptor " + std::to_string(i);
    if (entries.empty()) invalid(where + " has no entries");
    if (entries.size() > kRlsMaxEntries)
      invalid(where + " has " + std::to_string(entries.size()) + " entries; at most " +
              std::to_string(kRlsMaxEntries));
    for (size_t j = 0; j < entries.size(); ++j) {
      const std::string entry = where + " entry " + std::to_string(j);
      if (entries[j].key.empty()) invalid(entry + " has an empty key");
      if (entries[j].value.empty()) invalid(entry + " has an empty value");
      if (entries[j].key.size() > kRlsMaxEntryBytes || entries[j].value.size() > kRlsMaxEntryBytes)
        invalid(entry + " is longer than " + std::to_string(kRlsMaxEntryBytes) + " bytes");
    }
  }
}

// Envoy's RateLimitUnit numbers; MONTH and YEAR do not fit Sluice's buckets.
RlsUnit override_unit(int unit) {
  if (unit >= 1 && unit <= 4) return static_cast<RlsUnit>(unit);
  throw RlsRequestError(false, "limit override unit " + std::to_string(unit) +
                                   " is not supported (SECOND, MINUTE, HOUR, DAY)");
}

}  // namespace

void validate_rls_domains(const std::vector<RlsDomain>& domains) {
  compile_domains(domains);
}

RlsLimiter::RlsLimiter(RequestBuckets& buckets, Clock monotonic_ns)
    : buckets_(buckets),
      monotonic_ns_(monotonic_ns ? std::move(monotonic_ns) : Clock(sluice::monotonic_ns)),
      compiled_(std::make_shared<Compiled>()) {}

RlsLimiter::~RlsLimiter() = default;

void RlsLimiter::configure(const std::vector<RlsDomain>& domains) {
  std::shared_ptr<const Compiled> next = compile_domains(domains);
  std::lock_guard lock(compiled_mutex_);
  compiled_ = std::move(next);
}

std::shared_ptr<const RlsLimiter::Compiled> RlsLimiter::compiled() const {
  std::lock_guard lock(compiled_mutex_);
  return compiled_;
}

RlsCounters RlsLimiter::counters() const {
  return {counters_[0].load(), counters_[1].load(), counters_[2].load(), counters_[3].load()};
}

RlsResponse RlsLimiter::should_rate_limit(const RlsRequest& request) {
  try {
    check_request(request);
  } catch (const RlsRequestError&) {
    ++counters_[3];
    throw;
  }
  const auto current = compiled();
  auto domain = current->domains.find(request.domain);
  if (domain == current->domains.end()) {
    ++counters_[3];
    throw RlsRequestError(true, "unknown domain '" + request.domain.substr(0, 256) + "'");
  }
  const size_t n = request.descriptors.size();

  // 1. The limit of every descriptor: the proxy's override, else the match.
  std::vector<const Compiled::Rule*> rules(n, nullptr);
  // Rules for the proxy's overrides, rarely any: reserved exactly, so that the
  // pointers in `rules` stay valid.
  std::vector<Compiled::Rule> overrides;
  overrides.reserve(std::count_if(request.descriptors.begin(), request.descriptors.end(),
                                  [](const auto& d) { return d.limit.has_value(); }));
  std::unordered_set<std::string> replaced;
  for (size_t i = 0; i < n; ++i) {
    const auto& descriptor = request.descriptors[i];
    if (descriptor.limit) {
      const RlsUnit unit = override_unit(descriptor.limit->unit);
      const std::string name = request.domain + ".override";
      Compiled::Rule& rule = overrides.emplace_back();
      rule.info = {name, descriptor.limit->requests_per_unit, unit};
      rule.limit = make_limit(descriptor.limit->requests_per_unit, unit, "o", header_name(name),
                              false, name);
      rules[i] = &rule;
    } else if (const auto* node = match(domain->second, descriptor.entries)) {
      if (node->rule) rules[i] = &*node->rule;
    }
    if (rules[i])
      for (const auto& name : rules[i]->replaces) replaced.insert(name);
  }
  // 2. A limit named by another matched limit's `replaces` is not applied
  //    (and its bucket is left alone), as in envoyproxy/ratelimit.
  for (auto& rule : rules)
    if (rule && !rule->info.name.empty() && replaced.count(rule->info.name)) rule = nullptr;

  // 3. One charge per limited descriptor, all decided together.
  const uint64_t hits = request.hits_addend == 0 ? 1 : request.hits_addend;
  std::vector<RequestBuckets::Charge> charges;
  std::vector<size_t> charged;  // descriptor index of each charge
  for (size_t i = 0; i < n; ++i) {
    if (!rules[i] || rules[i]->unlimited) continue;
    std::string client = "rls:";
    append_escaped(client, request.domain);
    for (const auto& entry : request.descriptors[i].entries) {
      client += '/';
      append_escaped(client, entry.key);
      client += '=';
      append_escaped(client, entry.value);
    }
    const auto& own = request.descriptors[i].hits_addend;
    charges.push_back(
        {std::move(client), &rules[i]->limit, own ? std::max<uint64_t>(*own, 1) : hits});
    charged.push_back(i);
  }
  const auto states = buckets_.check_and_spend_all(charges, monotonic_ns_());

  // 4. Statuses, the overall code and the headers of the limit to report.
  RlsResponse response;
  response.statuses.resize(n);
  for (size_t i = 0; i < n; ++i)
    if (rules[i] && rules[i]->unlimited)
      response.statuses[i].limit_remaining = std::numeric_limits<uint32_t>::max();
  std::vector<LimitReport> reports;
  bool refused = false;
  for (size_t c = 0; c < charges.size(); ++c) {
    const auto& rule = *rules[charged[c]];
    const auto& state = states[c];
    RlsStatus& status = response.statuses[charged[c]];
    status.current_limit = rule.info;
    status.limit_remaining = static_cast<uint32_t>(std::min<uint64_t>(state.remaining, UINT32_MAX));
    status.duration_until_reset_ns = state.reset_ns;
    if (!state.allowed) {
      if (rule.limit.shadow) {
        ++counters_[2];
      } else {
        status.code = RlsCode::kOverLimit;
        refused = true;
      }
    }
    reports.push_back(
        {rule.limit.policy, rule.limit.quota, rule.limit.window_s, rule.limit.shadow, state});
  }
  response.overall_code = refused ? RlsCode::kOverLimit : RlsCode::kOk;
  ++counters_[refused ? 1 : 0];
  if (auto reported = limit_to_report(reports, refused)) {
    const LimitReport& report = reports[*reported];
    response.response_headers = rate_limit_headers(report);
    if (refused) {
      // A limit that admits nothing ("0 per unit", or hits beyond the burst)
      // never frees up: say one window, the honest upper bound of asking again.
      uint64_t wait_ns =
          std::min<uint64_t>(report.state.retry_after_ns, report.window_s * SLUICE_NSEC_PER_SEC);
      response.response_headers.emplace_back(
          "Retry-After", std::to_string(std::max<uint64_t>(1, ceil_seconds(wait_ns))));
    }
  }
  return response;
}

}  // namespace sluice
