// The `shape:` section and the `tc` attach mode in the configuration file.
#include <gtest/gtest.h>

#include "config_file.h"

namespace sluice {
namespace {

const std::string kTier = "tiers:\n  t:\n    packets: 10/s\ndefault_tier: t\n";

TEST(ShapeSection, GroupsRulesPerInterface) {
  Config c = parse_config(kTier + R"(interfaces:
  - {name: eth1, mode: tc}
shape:
  - {iface: eth1, to: 10.1.0.0/16, rate: 8Mbit/s}
  - {iface: eth2, to: 2001:db8::/32, rate: 1MB/s, horizon: 500ms}
  - {iface: eth1, to: 10.2.0.0/16, rate: 2MB/s, horizon: 3s}
)",
                          "t.yaml");
  EXPECT_EQ(c.settings.interfaces.at(0).mode, XdpMode::kTc);
  ASSERT_EQ(c.shape.size(), 2u);
  EXPECT_EQ(c.shape[0].iface, "eth1");
  ASSERT_EQ(c.shape[0].rules.size(), 2u);
  EXPECT_EQ(c.shape[0].rules[0],
            (ShapeRule{Cidr::parse("10.1.0.0/16"), 1'000'000, SLUICE_SHAPE_DEFAULT_HORIZON_NS}));
  EXPECT_EQ(c.shape[0].rules[1], (ShapeRule{Cidr::parse("10.2.0.0/16"), 2'000'000, 3'000'000'000}));
  EXPECT_EQ(c.shape[1].iface, "eth2");
  EXPECT_EQ(c.shape[1].rules.at(0).horizon_ns, 500'000'000u);
}

struct BadShape {
  const char* name;
  std::string yaml;
  std::string field;
  std::string says;
};

class ShapeSectionErrors : public ::testing::TestWithParam<BadShape> {};

TEST_P(ShapeSectionErrors, NameTheField) {
  try {
    parse_config(kTier + GetParam().yaml, "t.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), GetParam().field) << e.what();
    EXPECT_NE(std::string(e.what()).find(GetParam().says), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ShapeSectionErrors,
    ::testing::Values(
        BadShape{"no_rate", "shape:\n  - {iface: eth1, to: 10.0.0.0/8}\n", "shape[0].rate",
                 "required"},
        BadShape{"unlimited", "shape:\n  - {iface: eth1, to: 10.0.0.0/8, rate: unlimited}\n",
                 "shape[0].rate", "needs a rate"},
        BadShape{"bad_cidr", "shape:\n  - {iface: eth1, to: 10.0.0.1/8, rate: 1MB/s}\n",
                 "shape[0].to", ""},
        BadShape{"twice",
                 "shape:\n  - {iface: eth1, to: 10.0.0.0/8, rate: 1MB/s}\n"
                 "  - {iface: eth1, to: 10.0.0.0/8, rate: 2MB/s}\n",
                 "shape[1]", "given twice"},
        BadShape{"horizon",
                 "shape:\n  - {iface: eth1, to: 10.0.0.0/8, rate: 1MB/s, horizon: 0ms}\n",
                 "shape[0].horizon", "duration"},
        BadShape{"unknown_key", "shape:\n  - {iface: eth1, to: 10.0.0.0/8, rate: 1MB/s, ceil: 2}\n",
                 "shape[0].ceil", ""},
        BadShape{"bad_mode", "interfaces:\n  - {name: eth1, mode: tcx}\n", "interfaces[0].mode",
                 "auto, native, generic, tc"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sluice
