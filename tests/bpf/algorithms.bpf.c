// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test-only program: drives the four algorithms of sluice_algorithms.h in BPF
 * through BPF_PROG_TEST_RUN, one spend per run. The test sets the limit, the
 * key, the clock and the cost in .bss; the state words live in an LRU hash, as
 * the data path keeps its meters, and are spent with compare-and-swap. The
 * verdict is the return value (XDP_PASS allowed, XDP_DROP refused, XDP_ABORTED
 * lost every CAS race) and is also left in .bss.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include "sluice_algorithms.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} algorithm_states SEC(".maps");

struct sluice_algo test_algo;
__u32 test_key;
__u64 test_now_ns;
__u64 test_cost;
__s32 test_verdict;

SEC("xdp")
int algorithms_spend(struct xdp_md *ctx)
{
	__u32 key = test_key;
	__u64 empty = 0, *state;
	int verdict;

	state = bpf_map_lookup_elem(&algorithm_states, &key);
	if (!state) {
		bpf_map_update_elem(&algorithm_states, &key, &empty, BPF_NOEXIST);
		state = bpf_map_lookup_elem(&algorithm_states, &key);
		if (!state)
			return XDP_ABORTED;
	}
	verdict = sluice_algo_spend_atomic(&test_algo, state, test_now_ns, test_cost);
	test_verdict = verdict;
	if (verdict < 0)
		return XDP_ABORTED;
	return verdict ? XDP_PASS : XDP_DROP;
}
