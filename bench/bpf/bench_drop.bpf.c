// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The baselines of the benchmarks: the least an XDP program can do. bench_drop
 * is the ceiling of the drop path; bench_pass shows what merely having an XDP
 * program attached costs the pass path. Received packets are counted by the
 * veth driver's own statistics, not here, so each program stays a single
 * instruction pair.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
