// Live edits as an overlay on the file: merging, each edit's refusals, and
// their persistence in the state file.
#include "live_edits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config_file.h"
#include "control_protocol.h"
#include "state_file.h"

namespace sluice {
namespace {

const char* kBase = R"(interfaces: [lab0]
default_tier: std
tiers:
  std: {packets: 100/s}
  gold: {packets: 1000/s}
prefixes:
  198.18.1.0/24: gold
allow: [198.18.2.0/24]
deny: [198.18.3.0/24]
)";

Cidr cidr(const char* text) {
  return Cidr::parse(text);
}

std::string refusal(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ControlError& e) {
    return e.code() + ": " + e.what();
  }
  return "accepted";
}

class LiveEditsTest : public ::testing::Test {
 protected:
  Config base = parse_config(kBase, "base.yaml");
  LiveEdits edits;
  PolicyEditor editor() { return PolicyEditor(base, edits); }
  Policy merged() { return merge_policy(base.policy, edits); }
};

TEST_F(LiveEditsTest, NoEditsIsTheFile) {
  EXPECT_EQ(merged(), base.policy);
  EXPECT_EQ(merge_interfaces(base.settings.interfaces, edits), base.settings.interfaces);
}

TEST_F(LiveEditsTest, TierSetReplacesInPlaceAndAppends) {
  TierSpec gold{"gold", {5000, 1'000'000'000, 0}, {}, {}, true};
  edits = editor().set_tier(gold);
  edits = editor().set_tier(TierSpec{"new", {1, 1'000'000'000, 0}, {}, {}, false});
  Policy p = merged();
  ASSERT_EQ(p.tiers.size(), 3u);
  EXPECT_EQ(p.tiers[1], gold);
  EXPECT_EQ(p.tiers[2].name, "new");
}

TEST_F(LiveEditsTest, DeleteTierRefusedWhileUsed) {
  EXPECT_EQ(refusal([&] { editor().delete_tier("gold"); }),
            "conflict: tier 'gold' is still used by 1 prefix (198.18.1.0/24); move or remove them "
            "first");
  EXPECT_EQ(refusal([&] { editor().delete_tier("std"); }).substr(0, 31),
            "conflict: tier 'std' is the def");
  EXPECT_EQ(refusal([&] { editor().delete_tier("nope"); }),
            "not_found: tier 'nope' does not exist");
  edits = editor().remove_prefix(cidr("198.18.1.0/24"));
  edits = editor().delete_tier("gold");
  EXPECT_EQ(merged().tiers.size(), 1u);
  // Persisted as a removal of the file's tier, so a reload does not bring it back.
  EXPECT_TRUE(edits.tiers.removed.count("gold"));
}

TEST_F(LiveEditsTest, PrefixEdits) {
  EXPECT_EQ(refusal([&] { editor().add_prefix(cidr("198.18.9.0/24"), "platinum", false); }),
            "not_found: tier 'platinum' does not exist (see sluicectl tier list)");
  EXPECT_NE(refusal([&] {
              editor().add_prefix(cidr("198.18.1.0/24"), "gold", false);
            }).find("already assigned to tier 'gold'"),
            std::string::npos);
  EXPECT_NE(refusal([&] {
              editor().add_prefix(cidr("198.18.1.0/24"), "std", false);
            }).find("use --replace"),
            std::string::npos);
  edits = editor().add_prefix(cidr("198.18.1.0/24"), "std", true);
  EXPECT_EQ(merged().prefixes.at(0).tier, "std");
  EXPECT_EQ(refusal([&] { editor().remove_prefix(cidr("198.18.8.0/24")); }).substr(0, 9),
            "not_found");
}

TEST_F(LiveEditsTest, ListEdits) {
  EXPECT_EQ(refusal([&] { editor().add_allow(cidr("198.18.2.0/24")); }).substr(0, 8), "conflict");
  EXPECT_EQ(refusal([&] { editor().add_deny(cidr("198.18.3.0/24"), 0); }).substr(0, 8), "conflict");
  EXPECT_EQ(refusal([&] { editor().remove_allow(cidr("198.18.4.0/24")); }).substr(0, 9),
            "not_found");
  edits = editor().remove_deny(cidr("198.18.3.0/24"));
  edits = editor().add_deny(cidr("198.18.5.5"), 1000);
  edits = editor().add_allow(cidr("198.18.6.0/24"));
  Policy p = merged();
  EXPECT_EQ(p.deny, std::vector<Cidr>{cidr("198.18.5.5/32")});
  EXPECT_EQ(p.allow.size(), 2u);
  EXPECT_EQ(deny_expiries(edits).at(cidr("198.18.5.5")), 1000u);

  std::vector<Cidr> expired;
  LiveEdits later = editor().expire_denies(999, &expired);
  EXPECT_TRUE(expired.empty());
  later = editor().expire_denies(1000, &expired);
  EXPECT_EQ(expired, std::vector<Cidr>{cidr("198.18.5.5/32")});
  EXPECT_TRUE(merge_policy(base.policy, later).deny.empty());
}

TEST_F(LiveEditsTest, InterfaceEdits) {
  EXPECT_EQ(refusal([&] { editor().attach({"lab0", XdpMode::kAuto}); }).substr(0, 8), "conflict");
  EXPECT_EQ(refusal([&] { editor().detach("lab9"); }).substr(0, 9), "not_found");
  edits = editor().attach({"lab1", XdpMode::kGeneric});
  edits = editor().detach("lab0");
  auto interfaces = merge_interfaces(base.settings.interfaces, edits);
  ASSERT_EQ(interfaces.size(), 1u);
  EXPECT_EQ(interfaces[0], (InterfaceSpec{"lab1", XdpMode::kGeneric}));
}

TEST_F(LiveEditsTest, EditsSurviveAReloadOfAChangedFile) {
  edits = editor().set_tier(TierSpec{"silver", {300, 1'000'000'000, 0}, {}, {}, false});
  edits = editor().add_prefix(cidr("198.18.7.0/24"), "silver", false);
  std::string text = kBase;
  text.replace(text.find("prefixes:\n"), 10, "prefixes:\n  198.18.8.0/24: std\n");
  Config edited = parse_config(text, "base.yaml");
  Policy p = merge_policy(edited.policy, edits);
  EXPECT_EQ(p.prefixes.size(), 3u);
  EXPECT_NO_THROW(compile_policy(p, TierSlots{}, 1));
}

TEST_F(LiveEditsTest, StateFileRoundTripIsAtomic) {
  edits = editor().set_tier(
      TierSpec{"silver", {300, 60'000'000'000, 20}, {1000, 1'000'000'000, 0}, {}, true});
  edits = editor().remove_prefix(cidr("198.18.1.0/24"));
  edits = editor().add_deny(cidr("2001:db8::/48"), 12345);
  edits = editor().attach({"lab1", XdpMode::kNative});
  auto dir =
      std::filesystem::temp_directory_path() / ("sluice-state-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "sub" / "state.json").string();
  EXPECT_FALSE(load_state(path).has_value());
  save_state(path, {edits, {{"std", 0}, {"gold", 1}, {"silver", 2}}});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  auto loaded = load_state(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(merge_policy(base.policy, loaded->edits), merged());
  EXPECT_EQ(merge_interfaces(base.settings.interfaces, loaded->edits),
            merge_interfaces(base.settings.interfaces, edits));
  EXPECT_EQ(loaded->tier_slots.at("silver"), 2u);

  std::ofstream(path) << "{\"version\": 1, \"edits\": {\"tiers\": 7}}";
  try {
    load_state(path);
    FAIL() << "a damaged state file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is damaged"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
