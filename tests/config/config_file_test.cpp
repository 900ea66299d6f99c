// The configuration file: a full valid file, and each way a file can be
// wrong, with the line and the field the error must name.
#include "config_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sluice_algorithms.h"

namespace sluice {
namespace {

const char* kValid = R"(interfaces:
  - name: eth9
    mode: generic
  - veth0
control:
  socket: /run/test/s.sock
state_file: /var/lib/test/state.json
log_level: debug
maps:
  buckets: 4096
  sharing: per_interface
aggregation:
  ipv4_prefix: 24
  ipv6_prefix: 48
drop_malformed: true
default_tier: standard
tiers:
  standard:
    packets: {rate: 1000/s, burst: 2000}
    bytes: 10MB/s
    syn: 50/s
  trial:
    packets: 6000/min
    shadow: true
  internal:
prefixes:
  198.18.0.0/16: trial
  2001:db8::/32: internal
allow: [127.0.0.0/8]
deny:
  - 198.19.0.0/16
)";

TEST(ConfigFile, ParsesEveryField) {
  Config config = parse_config(kValid, "test.yaml");
  const auto& s = config.settings;
  ASSERT_EQ(s.interfaces.size(), 2u);
  EXPECT_EQ(s.interfaces[0], (InterfaceSpec{"eth9", XdpMode::kGeneric}));
  EXPECT_EQ(s.interfaces[1], (InterfaceSpec{"veth0", XdpMode::kAuto}));
  EXPECT_EQ(s.control_socket, "/run/test/s.sock");
  EXPECT_EQ(s.state_file, "/var/lib/test/state.json");
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.bucket_entries, 4096u);
  EXPECT_FALSE(s.share_maps);
  EXPECT_TRUE(parse_config("tiers:\n  a:\n    packets: 10/s\n", "t.yaml").settings.share_maps)
      << "one budget per host by default";
  const auto& p = config.policy;
  EXPECT_EQ(p.v4_prefix_len, 24u);
  EXPECT_EQ(p.v6_prefix_len, 48u);
  EXPECT_TRUE(p.drop_malformed);
  EXPECT_EQ(p.default_tier, "standard");
  ASSERT_EQ(p.tiers.size(), 3u);
  EXPECT_EQ(p.tiers[0].name, "standard");
  EXPECT_EQ(p.tiers[0].packets, (RateLimit{1000, 1'000'000'000, 2000}));
  EXPECT_EQ(p.tiers[0].bytes.tokens, 10'000'000u);
  EXPECT_EQ(p.tiers[0].syns.tokens, 50u);
  EXPECT_TRUE(p.tiers[1].shadow);
  EXPECT_EQ(p.tiers[1].packets.period_ns, 60'000'000'000u);
  EXPECT_TRUE(p.tiers[2].packets.unlimited());
  ASSERT_EQ(p.prefixes.size(), 2u);
  EXPECT_EQ(p.prefixes[1].cidr.to_string(), "2001:db8::/32");
  EXPECT_EQ(p.prefixes[1].tier, "internal");
  EXPECT_EQ(p.allow.at(0).to_string(), "127.0.0.0/8");
  EXPECT_EQ(p.deny.at(0).to_string(), "198.19.0.0/16");
}

TEST(ConfigFile, DefaultsForAMinimalFile) {
  Config config = parse_config("tiers:\n  only:\n    packets: 10/s\n", "min.yaml");
  EXPECT_EQ(config.policy.default_tier, "only");
  EXPECT_EQ(config.settings.control_socket, "/run/sluice/sluiced.sock");
  EXPECT_EQ(config.settings.state_file, "/var/lib/sluice/state.json");
  EXPECT_EQ(config.policy.v6_prefix_len, 64u);
  EXPECT_TRUE(config.settings.interfaces.empty());
}

TEST(ConfigFile, ShippedExampleIsValid) {
  Config config = load_config_file(SLUICE_EXAMPLE_CONFIG);
  EXPECT_GE(config.policy.tiers.size(), 2u);
  EXPECT_TRUE(config.settings.interfaces.empty()) << "the example must not attach to a real NIC";
  // Loopback never reaches XDP: allow-listing it only lets spoofed sources in.
  for (const auto& cidr : config.policy.allow)
    EXPECT_FALSE(cidr.is_v4() && (cidr.addr[0] == 127 || cidr.prefix_len < 8)) << cidr.to_string();
}

struct BadCase {
  const char* name;
  std::string yaml;
  int line;
  std::string field;
  std::string fragment;
};

class ConfigFileErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigFileErrors, NameLineFieldAndExpectation) {
  const BadCase& c = GetParam();
  try {
    parse_config(c.yaml, "bad.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "bad.yaml");
    EXPECT_EQ(e.line(), c.line) << e.what();
    EXPECT_EQ(e.field(), c.field) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.fragment), std::string::npos) << e.what();
    if (c.line > 0) {
      EXPECT_EQ(std::string(e.what()).rfind("bad.yaml:" + std::to_string(c.line) + ":", 0), 0u)
          << e.what();
    }
  }
}

const std::string kTier = "tiers:\n  a:\n    packets: 10/s\n";

INSTANTIATE_TEST_SUITE_P(
    AllPaths, ConfigFileErrors,
    ::testing::Values(
        BadCase{"syntax", "tiers:\n  a: [unclosed\n", 3, "", "YAML syntax error"},
        BadCase{"empty", "", 0, "", "bad.yaml: the file is empty"},
        BadCase{"unknown_key", kTier + "tiars: {}\n", 4, "tiars", "unknown field"},
        BadCase{"no_tiers", "log_level: info\n", 1, "tiers", "at least one tier"},
        BadCase{"empty_tiers", "tiers: {}\n", 1, "tiers", "at least one tier"},
        BadCase{"bad_rate", "tiers:\n  a:\n    packets: 10 per second\n", 3, "tiers.a.packets",
                "expected a rate like"},
        BadCase{"negative_rate", "tiers:\n  a:\n    syn: -10/s\n", 3, "tiers.a.syn",
                "must not be negative"},
        BadCase{"absurd_rate", "tiers:\n  a:\n    packets: 1000G/s\n", 3, "tiers.a.packets",
                "supported maximum"},
        BadCase{"bytes_unit", "tiers:\n  a:\n    bytes: 10Mb/s\n", 3, "tiers.a.bytes",
                "unknown unit 'Mb'"},
        BadCase{"burst_no_rate", "tiers:\n  a:\n    packets: {rate: unlimited, burst: 5}\n", 3,
                "tiers.a.packets.burst", "needs a rate"},
        BadCase{"burst_bad", "tiers:\n  a:\n    packets: {rate: 5/s, burst: lots}\n", 3,
                "tiers.a.packets.burst", "a number of packets"},
        BadCase{"tier_unknown_field", "tiers:\n  a:\n    pakets: 5/s\n", 3, "tiers.a.pakets",
                "unknown field"},
        BadCase{"tier_name_chars", "tiers:\n  \"a b\":\n    packets: 5/s\n", 2, "tiers.a b",
                "may only contain"},
        BadCase{"tier_name_long", "tiers:\n  " + std::string(64, 'x') + ":\n    packets: 5/s\n", 2,
                "tiers." + std::string(64, 'x'), "longer than 63"},
        BadCase{"duplicate_tier", "tiers:\n  a: {}\n  a: {}\n", 3, "tiers.a", "given twice"},
        BadCase{"shadow_not_bool", "tiers:\n  a:\n    shadow: maybe\n", 3, "tiers.a.shadow",
                "true or false"},
        BadCase{"default_missing", "tiers:\n  a: {}\n  b: {}\n", 1, "default_tier",
                "required when more than one tier"},
        BadCase{"default_unknown", kTier + "default_tier: gold\n", 4, "default_tier",
                "unknown tier 'gold'"},
        BadCase{"prefix_unknown_tier", kTier + "prefixes:\n  10.0.0.0/8: gold\n", 5,
                "prefixes.10.0.0.0/8", "unknown tier 'gold'"},
        BadCase{"prefix_bad_cidr", kTier + "prefixes:\n  10.0.0.300/8: a\n", 5,
                "prefixes.10.0.0.300/8", "not an IPv4 address"},
        BadCase{"prefix_host_bits", kTier + "prefixes:\n  10.0.0.1/8: a\n", 5,
                "prefixes.10.0.0.1/8", "host bits are set"},
        BadCase{"prefix_finer_than_aggregation",
                kTier + "aggregation: {ipv4_prefix: 16}\nprefixes:\n  10.1.2.0/24: a\n", 6,
                "prefixes.10.1.2.0/24", "longer than the IPv4 aggregation prefix"},
        BadCase{"prefix_twice", kTier + "prefixes:\n  10.0.0.0/8: a\n  10.0.0.0/8: a\n", 6,
                "prefixes.10.0.0.0/8", "given twice"},
        BadCase{"deny_not_list", kTier + "deny: 10.0.0.0/8\n", 4, "deny", "list of CIDRs"},
        BadCase{"deny_twice", kTier + "deny:\n  - 10.0.0.0/8\n  - 10.0.0.0/8\n", 6, "deny[1]",
                "listed twice"},
        BadCase{"allow_bad", kTier + "allow:\n  - 2001:db8::g/32\n", 5, "allow[0]",
                "not an IPv6 address"},
        BadCase{"iface_mode", kTier + "interfaces:\n  - {name: eth1, mode: turbo}\n", 5,
                "interfaces[0].mode", "auto, native, generic"},
        BadCase{"iface_name", kTier + "interfaces: [\"../etc\"]\n", 4, "interfaces[0]",
                "Linux does not allow"},
        BadCase{"iface_long", kTier + "interfaces: [abcdefghijklmnop]\n", 4, "interfaces[0]",
                "1..15 characters"},
        BadCase{"iface_twice", kTier + "interfaces: [eth1, eth1]\n", 4, "interfaces[1]",
                "listed twice"},
        BadCase{"log_level", kTier + "log_level: loud\n", 4, "log_level", "not one of trace"},
        BadCase{"buckets", kTier + "maps:\n  buckets: 10\n", 5, "maps.buckets",
                "whole number in 1024.."},
        BadCase{"sharing", kTier + "maps:\n  sharing: pooled\n", 5, "maps.sharing",
                "shared or per_interface"},
        BadCase{"aggregation_range", kTier + "aggregation:\n  ipv6_prefix: 129\n", 5,
                "aggregation.ipv6_prefix", "1..128"},
        BadCase{"socket_relative", kTier + "control:\n  socket: sluiced.sock\n", 5,
                "control.socket", "absolute path"},
        BadCase{"state_relative", kTier + "state_file: state.json\n", 4, "state_file",
                "absolute path"},
        BadCase{"metrics_public", kTier + "metrics:\n  listen: 0.0.0.0:9464\n", 5, "metrics.listen",
                "loopback"},
        BadCase{"metrics_not_address", kTier + "metrics:\n  listen: localhost\n", 5,
                "metrics.listen", "host:port"},
        BadCase{"clock", kTier + "clock: fast\n", 4, "clock", "expected precise or coarse"},
        BadCase{"coarse_small_burst",
                "clock: coarse\ntiers:\n  a:\n    packets: {rate: 10k/s, burst: 10}\n", 4,
                "tiers.a.packets", "must cover 20 ms"},
        BadCase{"attach_mode", kTier + "attach:\n  mode: shared\n", 5, "attach.mode",
                "not one of direct, multiprog"},
        BadCase{"attach_priority_direct", kTier + "attach:\n  priority: 60\n", 5, "attach.priority",
                "only applies with mode: multiprog"},
        BadCase{"attach_priority_range", kTier + "attach:\n  mode: multiprog\n  priority: 1001\n",
                6, "attach.priority", "1001"},
        BadCase{"attach_unknown", kTier + "attach:\n  prio: 60\n", 5, "attach.prio",
                "unknown field"},
        BadCase{"admission_rate", kTier + "admission:\n  new_sources: lots\n", 5,
                "admission.new_sources", "expected a rate like"},
        // A kernel tier's algorithm, refused as the request layer refuses it.
        BadCase{"tier_algorithm_unknown", kTier + "    algorithm: token-bucket\n", 4,
                "tiers.a.algorithm",
                "unknown algorithm 'token-bucket' (expected token_bucket, fixed_window, "
                "sliding_window or leaky_bucket)"},
        BadCase{"tier_algorithm_burst",
                "tiers:\n  a:\n    packets: {rate: 10/s, burst: 20}\n    algorithm: "
                "fixed_window\n",
                3, "tiers.a.packets", "burst does not apply to fixed_window"},
        BadCase{"tier_algorithm_too_many",
                "tiers:\n  a:\n    packets: 20M/s\n    algorithm: sliding_window\n", 3,
                "tiers.a.packets", "more than sliding_window can count (at most 16777215)"},
        BadCase{"tier_algorithm_not_text", kTier + "    algorithm: [fixed_window]\n", 4,
                "tiers.a.algorithm", "an algorithm name"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(ConfigFile, TierAlgorithmDefaultsToTokenBucketAndCarriesIntoTheTierEntry) {
  auto c = parse_config(
      "tiers:\n  free: {packets: 100/s, algorithm: fixed_window}\n"
      "  slide: {packets: 6000/min, algorithm: sliding_window}\n"
      "  leaky: {packets: 50/s, algorithm: leaky_bucket}\n  plain: {packets: 10/s}\n"
      "default_tier: plain\n",
      "t.yaml");
  ASSERT_EQ(c.policy.tiers.size(), 4u);
  EXPECT_EQ(c.policy.tiers[0].algorithm, uint32_t{SLUICE_ALGO_FIXED_WINDOW});
  EXPECT_EQ(c.policy.tiers[1].algorithm, uint32_t{SLUICE_ALGO_SLIDING_WINDOW});
  EXPECT_EQ(c.policy.tiers[2].algorithm, uint32_t{SLUICE_ALGO_LEAKY_BUCKET});
  EXPECT_EQ(c.policy.tiers[3].algorithm, uint32_t{SLUICE_ALGO_TOKEN_BUCKET});

  CompiledPolicy compiled = compile_policy(c.policy, TierSlots(), 1);
  const auto& fixed = compiled.tiers[compiled.tier_index.at("free")];
  EXPECT_EQ(sluice_tier_algorithm(fixed.flags), uint32_t{SLUICE_ALGO_FIXED_WINDOW});
  EXPECT_TRUE(fixed.flags & SLUICE_TIER_F_WINDOW);
  EXPECT_EQ(fixed.packet_window.limit, 100u);
  EXPECT_EQ(fixed.packet_window.window_ns, SLUICE_NSEC_PER_SEC);
  const auto& slide = compiled.tiers[compiled.tier_index.at("slide")];
  EXPECT_EQ(slide.packet_window.limit, 6000u);
  EXPECT_EQ(slide.packet_window.window_ns, 60 * SLUICE_NSEC_PER_SEC);
  // A leaky bucket is GCRA of depth one: its tolerance is one interval.
  const auto& leaky = compiled.tiers[compiled.tier_index.at("leaky")];
  EXPECT_EQ(sluice_tier_algorithm(leaky.flags), uint32_t{SLUICE_ALGO_LEAKY_BUCKET});
  EXPECT_FALSE(leaky.flags & SLUICE_TIER_F_WINDOW);
  EXPECT_EQ(leaky.packets.tau_ns, SLUICE_NSEC_PER_SEC / 50);
  const auto& plain = compiled.tiers[compiled.tier_index.at("plain")];
  EXPECT_EQ(plain.flags & (SLUICE_TIER_ALGO_MASK | SLUICE_TIER_F_WINDOW), 0u);
  EXPECT_EQ(plain.packets.tau_ns, SLUICE_NSEC_PER_SEC);
}

TEST(ConfigFile, MetricsAndAdmissionSettings) {
  auto c = parse_config(
      kTier +
          "metrics: {listen: \"[::1]:9100\"}\n"
          "admission:\n  new_sources: {rate: 1k/s, burst: 5000}\n  unadmitted: 100/s\n",
      "ok.yaml");
  EXPECT_EQ(c.settings.metrics_listen, "[::1]:9100");
  EXPECT_EQ(c.policy.new_sources.tokens, 1000u);
  EXPECT_EQ(c.policy.new_sources.burst, 5000u);
  EXPECT_EQ(c.policy.unadmitted.tokens, 100u);
  EXPECT_EQ(parse_config(kTier + "metrics: {listen: \"\"}\n", "off.yaml").settings.metrics_listen,
            "");
  EXPECT_EQ(parse_config(kTier, "default.yaml").settings.metrics_listen, "127.0.0.1:9464");
}

TEST(ConfigFile, AttachModeAndPriority) {
  auto c = parse_config(kTier + "attach: {mode: multiprog, priority: 60}\n", "mp.yaml");
  EXPECT_EQ(c.settings.attach.kind, AttachKind::kMultiprog);
  EXPECT_EQ(c.settings.attach.priority, 60u);
  auto m = parse_config(kTier + "attach: {mode: multiprog}\n", "mp.yaml");
  EXPECT_EQ(m.settings.attach.priority, 50u) << "libxdp's default run priority";
  auto d = parse_config(kTier, "default.yaml");
  EXPECT_EQ(d.settings.attach.kind, AttachKind::kDirect) << "the direct link stays the default";
}

TEST(ConfigFile, MissingFileNamesIt) {
  try {
    load_config_file("/nonexistent/sluice.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/sluice.yaml: cannot open"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sluice
