// The daemon's half of global kernel tiers (sluiced/kernel_global.h) on
// fake maps: keys that cannot meet the request layer's, one per meter, the
// growth of the program's counts handed to the sync once, the peers' totals
// written as absolute, growing figures per meter, idle sources forgotten in
// the maps too.
#include "kernel_global.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "consumption.h"
#include "sources.h"

namespace sluice {
namespace {

using testing::source_key;

constexpr uint64_t kMs = 1'000'000;

class FakeMaps : public KernelGlobalMaps {
 public:
  std::map<std::string, std::pair<struct sluice_source, struct sluice_global_count>> counts;
  std::map<std::string, struct sluice_global_remote> remote;
  int clears = 0;
  int remote_writes = 0;

  void count(const char* address, uint64_t packets, uint64_t bytes = 0, uint64_t syns = 0) {
    counts[address] = {source_key(address), {packets, bytes, syns}};
  }
  std::vector<std::pair<struct sluice_source, struct sluice_global_count>> usage() override {
    std::vector<std::pair<struct sluice_source, struct sluice_global_count>> out;
    for (const auto& [name, entry] : counts) out.push_back(entry);
    return out;
  }
  void forget_usage(const struct sluice_source& source) override {
    std::erase_if(counts, [&](const auto& e) {
      return std::memcmp(&e.second.first, &source, sizeof(source)) == 0;
    });
  }
  void write_remote(const struct sluice_source& source,
                    const struct sluice_global_remote& value) override {
    remote[kernel_global_key(source)] = value;
    ++remote_writes;
  }
  void forget_remote(const struct sluice_source& source) override {
    remote.erase(kernel_global_key(source));
  }
  void clear_remote() override {
    remote.clear();
    ++clears;
  }
};

TEST(KernelGlobalKey, RoundTripsBothFamiliesAndNeverMeetsARequestKey) {
  for (const char* address : {"198.18.0.1", "2001:db8:1::"}) {
    const std::string key = kernel_global_key(source_key(address));
    EXPECT_EQ(key.find('\x1f'), std::string::npos) << "request keys hold '\\x1f'";
    auto back = parse_kernel_global_key(key);
    ASSERT_TRUE(back.has_value()) << address;
    const auto want = source_key(address);
    EXPECT_EQ(std::memcmp(&back->source, &want, sizeof(want)), 0) << address;
    EXPECT_EQ(back->meter, GlobalMeter::kPackets);
  }
  EXPECT_EQ(kernel_global_key(source_key("198.18.0.1")), "\x1ekernel 198.18.0.1");
  EXPECT_FALSE(parse_kernel_global_key("client\x1fw:second").has_value());
  EXPECT_FALSE(parse_kernel_global_key("\x1ekernel not-an-address").has_value());
  EXPECT_FALSE(parse_kernel_global_key("\x1ekernel ").has_value());
}

TEST(KernelGlobalKey, BytesAndSynsHaveKeysOfTheirOwnThatAnOlderPeerDoesNotTakeForPackets) {
  const auto source = source_key("198.18.0.7");
  EXPECT_EQ(kernel_global_key(source, GlobalMeter::kBytes), "\x1ekernel-bytes 198.18.0.7");
  EXPECT_EQ(kernel_global_key(source, GlobalMeter::kSyns), "\x1ekernel-syns 198.18.0.7");
  for (GlobalMeter meter : {GlobalMeter::kBytes, GlobalMeter::kSyns}) {
    const std::string key = kernel_global_key(source, meter);
    auto back = parse_kernel_global_key(key);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->meter, meter);
    EXPECT_EQ(std::memcmp(&back->source, &source, sizeof(source)), 0);
    // An older peer knew the packets prefix only (with its space): the new
    // keys are not that, so it hands them to its checker, which ignores keys
    // without '\x1f'.
    EXPECT_NE(key.rfind("\x1ekernel ", 0), 0u);
    EXPECT_EQ(key.find('\x1f'), std::string::npos);
  }
  EXPECT_FALSE(parse_kernel_global_key("\x1ekernel-bytes nowhere").has_value());
}

TEST(KernelGlobal, ReportsOnlyGrowthAfterABaseline) {
  KernelGlobal global;
  FakeMaps maps;
  maps.count("198.18.0.1", 500);  // an adopted program's counts: reported by the last daemon
  maps.remote["stale"] = {{7, 0, 0}, 0};
  EXPECT_TRUE(global.poll(maps, 1000 * kMs).empty());
  EXPECT_EQ(maps.clears, 1) << "our remote totals restart at zero";
  EXPECT_TRUE(maps.remote.empty());

  maps.count("198.18.0.1", 530);
  maps.count("198.18.0.2", 4);
  auto growth = global.poll(maps, 1100 * kMs);
  ASSERT_EQ(growth.size(), 2u);
  EXPECT_EQ(growth[0], std::make_pair(kernel_global_key(source_key("198.18.0.1")), uint64_t{30}));
  EXPECT_EQ(growth[1], std::make_pair(kernel_global_key(source_key("198.18.0.2")), uint64_t{4}));
  EXPECT_TRUE(global.poll(maps, 1200 * kMs).empty()) << "nothing new, nothing reported";
  // The LRU evicted .1 and the program counted 3 since: those 3 are new.
  maps.count("198.18.0.1", 3);
  growth = global.poll(maps, 1300 * kMs);
  ASSERT_EQ(growth.size(), 1u);
  EXPECT_EQ(growth[0].second, 3u);
  EXPECT_EQ(global.counters().reported.packets, 37u);
}

TEST(KernelGlobal, ReportedGrowthSumsToTheLedgersTotals) {
  // Poll after poll, what is recorded into the G-counter adds up to the
  // program's absolute count: nothing lost, nothing twice.
  KernelGlobal global;
  FakeMaps maps;
  cluster::ConsumptionLedger ledger;
  global.poll(maps, 0);
  uint64_t count = 0;
  for (int i = 1; i <= 50; ++i) {
    count += static_cast<uint64_t>(i % 7);
    maps.count("198.18.0.9", count);
    for (const auto& [key, growth] : global.poll(maps, i * 25 * kMs))
      ledger.record_local(key, i * 25 * kMs, growth);
  }
  auto totals = ledger.recent_totals(50 * 25 * kMs);
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals[0].total, count);
}

TEST(KernelGlobal, WritesThePeersTotalsAbsoluteAndGrowing) {
  KernelGlobal global;
  FakeMaps maps;
  global.poll(maps, 1000 * kMs);
  const std::string key = kernel_global_key(source_key("198.18.0.1"));
  EXPECT_FALSE(global.charge("client\x1fw:second", 5, 0, 1000 * kMs))
      << "a request-layer key is the checker's";
  EXPECT_TRUE(global.charge(key, 40, 100 * kMs, 1000 * kMs));
  EXPECT_TRUE(global.charge(key, 10, 300 * kMs, 1010 * kMs));  // another peer, longer span
  global.flush(maps, 1020 * kMs);
  ASSERT_EQ(maps.remote.count(key), 1u);
  EXPECT_EQ(maps.remote[key].total.packets, 50u);
  EXPECT_EQ(maps.remote[key].since_ns, 710 * kMs) << "the earliest the unwritten part began";
  global.flush(maps, 1030 * kMs);
  EXPECT_EQ(maps.remote_writes, 1) << "an unchanged total is not written again";
  global.charge(key, 5, 100 * kMs, 1100 * kMs);
  global.flush(maps, 1120 * kMs);
  EXPECT_EQ(maps.remote[key].total.packets, 55u);
  EXPECT_EQ(maps.remote[key].since_ns, 1000 * kMs);
  EXPECT_EQ(global.counters().charged.packets, 55u);
  EXPECT_EQ(global.counters().sources, 1u);
}

TEST(KernelGlobal, ReportsEachMeterUnderItsOwnKey) {
  KernelGlobal global;
  FakeMaps maps;
  const auto source = source_key("198.18.0.1");
  maps.count("198.18.0.1", 10, 15'000, 2);
  global.poll(maps, 0);  // the baseline
  maps.count("198.18.0.1", 14, 21'000, 2);
  auto growth = global.poll(maps, 25 * kMs);
  ASSERT_EQ(growth.size(), 2u) << "no SYN since: no SYN key";
  EXPECT_EQ(growth[0], std::make_pair(kernel_global_key(source), uint64_t{4}));
  EXPECT_EQ(growth[1],
            std::make_pair(kernel_global_key(source, GlobalMeter::kBytes), uint64_t{6'000}));
  // Evicted and started again: every count it holds is new, even one that
  // happens to be higher than before.
  maps.count("198.18.0.1", 1, 30'000, 1);
  growth = global.poll(maps, 50 * kMs);
  ASSERT_EQ(growth.size(), 3u);
  EXPECT_EQ(growth[0].second, 1u);
  EXPECT_EQ(growth[1].second, 30'000u);
  EXPECT_EQ(growth[2], std::make_pair(kernel_global_key(source, GlobalMeter::kSyns), uint64_t{1}));
  const auto reported = global.counters().reported;
  EXPECT_EQ(reported.packets, 5u);
  EXPECT_EQ(reported.bytes, 36'000u);
  EXPECT_EQ(reported.syns, 1u);
}

TEST(KernelGlobal, ChargesEachMetersTotalIntoOneEntryPerSource) {
  KernelGlobal global;
  FakeMaps maps;
  global.poll(maps, 1000 * kMs);
  const auto source = source_key("198.18.0.1");
  EXPECT_TRUE(global.charge(kernel_global_key(source), 3, 100 * kMs, 1000 * kMs));
  EXPECT_TRUE(
      global.charge(kernel_global_key(source, GlobalMeter::kBytes), 4'500, 200 * kMs, 1000 * kMs));
  EXPECT_TRUE(global.charge(kernel_global_key(source, GlobalMeter::kSyns), 2, 0, 1000 * kMs));
  global.flush(maps, 1010 * kMs);
  ASSERT_EQ(maps.remote.size(), 1u);
  const auto& written = maps.remote[kernel_global_key(source)];
  EXPECT_EQ(written.total.packets, 3u);
  EXPECT_EQ(written.total.bytes, 4'500u);
  EXPECT_EQ(written.total.syns, 2u);
  EXPECT_EQ(written.since_ns, 800 * kMs) << "the earliest of the three";
  EXPECT_TRUE(global.charge(kernel_global_key(source, GlobalMeter::kBytes), 500, 0, 1100 * kMs));
  global.flush(maps, 1110 * kMs);
  EXPECT_EQ(maps.remote[kernel_global_key(source)].total.bytes, 5'000u) << "absolute, growing";
  EXPECT_EQ(maps.remote[kernel_global_key(source)].total.packets, 3u);
  EXPECT_EQ(global.counters().charged.bytes, 5'000u);
  EXPECT_EQ(global.counters().charged.syns, 2u);
  EXPECT_EQ(global.counters().sources, 1u);
}

TEST(KernelGlobal, NothingIsWrittenBeforeTheFirstPollClearedTheMaps) {
  KernelGlobal global;
  FakeMaps maps;
  const std::string key = kernel_global_key(source_key("198.18.0.1"));
  global.charge(key, 5, 0, 10 * kMs);
  global.flush(maps, 20 * kMs);
  EXPECT_TRUE(maps.remote.empty());
}

TEST(KernelGlobal, ForgetsIdleSourcesInTheMapsToo) {
  KernelGlobal global({.max_sources = 100, .retention_ns = 1000 * kMs});
  FakeMaps maps;
  global.poll(maps, 0);
  maps.count("198.18.0.1", 10);
  global.poll(maps, 100 * kMs);
  const std::string key = kernel_global_key(source_key("198.18.0.2"));
  global.charge(key, 5, 0, 100 * kMs);
  global.flush(maps, 100 * kMs);
  ASSERT_EQ(maps.remote.size(), 1u);
  global.flush(maps, 1200 * kMs);
  EXPECT_TRUE(maps.remote.empty());
  EXPECT_TRUE(maps.counts.empty());
  // Counted again later: a fresh start (a total from zero, not the old 5 + n).
  global.charge(key, 2, 0, 1300 * kMs);
  global.flush(maps, 1300 * kMs);
  EXPECT_EQ(maps.remote[key].total.packets, 2u);
}

TEST(KernelGlobal, AFullTableRefusesNewSourcesAndCountsThem) {
  KernelGlobal global({.max_sources = 1, .retention_ns = 1000 * kMs});
  FakeMaps maps;
  global.poll(maps, 0);
  global.charge(kernel_global_key(source_key("198.18.0.1")), 1, 0, 1);
  global.charge(kernel_global_key(source_key("198.18.0.2")), 1, 0, 1);
  maps.count("198.18.0.3", 4);
  maps.count("198.18.0.4", 4);
  EXPECT_EQ(global.poll(maps, 2).size(), 1u);
  EXPECT_EQ(global.counters().refused, 2u);
}

}  // namespace
}  // namespace sluice
