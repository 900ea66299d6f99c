#include "xdp_harness.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "error.h"

namespace sluice::testing {

XdpHarness::XdpHarness(uint32_t bucket_entries)
    : dataplane_(
          Dataplane::load(LoadOptions{.bucket_entries = bucket_entries, .test_clock = true})) {}

void XdpHarness::apply(const Policy& policy, uint32_t cpus) {
  CompiledPolicy compiled = compile_policy(policy, slots_, cpus ? cpus : datapath_cpus());
  dataplane_.apply(compiled);
  slots_.commit(compiled.tier_index);
}

int XdpHarness::run(const std::vector<uint8_t>& frame, uint64_t now_ns) {
  dataplane_.set_test_clock(now_ns);
  // XDP test runs need room for the frame plus headroom; copy out is not needed.
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
  check_libbpf(bpf_prog_test_run_opts(dataplane_.prog_fd(), &opts), "BPF_PROG_TEST_RUN");
  return static_cast<int>(opts.retval);
}

int XdpHarness::run_tc(const std::vector<uint8_t>& frame, uint64_t now_ns, uint32_t gso_segs) {
  dataplane_.set_test_clock(now_ns);
  struct __sk_buff skb {};
  skb.gso_segs = gso_segs;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &skb,
              .ctx_size_in = sizeof(skb), .repeat = 1);
  check_libbpf(bpf_prog_test_run_opts(dataplane_.tc_prog_fd(), &opts), "BPF_PROG_TEST_RUN (TC)");
  return static_cast<int>(opts.retval);
}

int XdpHarness::run_passed(const std::vector<uint8_t>& frame, uint64_t now_ns, int count) {
  int passed = 0;
  for (int i = 0; i < count; ++i) passed += run(frame, now_ns) == XDP_PASS;
  return passed;
}

Policy single_tier_policy(RateLimit packets, RateLimit bytes, RateLimit syns) {
  Policy policy;
  policy.tiers.push_back(TierSpec{.name = "t", .packets = packets, .bytes = bytes, .syns = syns});
  // Copied from the tier (GCC 12 warns falsely on assigning the short literal).
  policy.default_tier = policy.tiers.front().name;
  return policy;
}

}  // namespace sluice::testing
