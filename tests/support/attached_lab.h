// A veth lab with the Sluice program attached natively on its receiving side:
// the fixture the integration tests share. Detached and removed on teardown.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "dataplane.h"
#include "lab.h"
#include "policy.h"

namespace sluice::testing {

// Prints a measured figure against its limit; BENCHMARKS.md quotes these lines.
inline void report_ratio(const char* what, double got, double limit) {
  std::printf("[ratio] %s: %.0f, limit %.0f, ratio %.4f\n", what, got, limit, got / limit);
}

class AttachedLab : public ::testing::Test {
 protected:
  AttachedLab(const std::string& name, int subnet) : lab(name, subnet) {}

  void SetUp() override {
    in_netns(lab.rx_ns(), [&] { dataplane.attach(lab.rx_if(), XdpMode::kNative); });
  }
  void TearDown() override {
    in_netns(lab.rx_ns(), [&] { dataplane.detach(); });
  }
  void apply(const Policy& p) {
    auto compiled = compile_policy(p, slots, datapath_cpus());
    dataplane.apply(compiled);
    slots.commit(compiled.tier_index);
  }
  uint64_t counter(uint32_t c) { return dataplane.counter_total(c).packets; }

  VethLab lab;
  Dataplane dataplane = Dataplane::load(LoadOptions{.bucket_entries = 65536});
  TierSlots slots;
};

}  // namespace sluice::testing
