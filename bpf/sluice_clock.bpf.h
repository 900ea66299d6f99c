/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The clocks of the data path, for BPF programs only: the load-time knobs
 * (test clock, coarse clock) and the clock a tier is judged by. Shared by the
 * program and sluice_keys.bpf.h, whose key buckets follow the same rule.
 */
#ifndef SLUICE_CLOCK_BPF_H
#define SLUICE_CLOCK_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_layout.h"

/* Load-time knob: judge by sluice_test_now_ns instead of the kernel clock. */
const volatile __u32 sluice_use_test_clock = 0;
__u64 sluice_test_now_ns = 0;
/*
 * Load-time knob: read CLOCK_MONOTONIC_COARSE (a tick behind at most, no
 * clocksource read) instead of the precise clock. Half the drop path's cost on
 * guests whose clocksource is slow; compile_policy then requires every burst to
 * cover a tick (docs/bucket-algorithm.md).
 */
const volatile __u32 sluice_coarse_clock = 0;

static __always_inline __u64 clock_now(void)
{
	if (sluice_use_test_clock)
		return sluice_test_now_ns;
	if (sluice_coarse_clock)
		return bpf_ktime_get_coarse_ns();
	return bpf_ktime_get_ns();
}

/*
 * The clock a tier is judged by: the coarse one when every burst of the tier
 * covers a tick (compile_policy sets SLUICE_TIER_F_COARSE_OK), so the default
 * configuration skips the clocksource read that was half the drop path's cost
 * under kvm-clock; the precise one otherwise, so a small burst has no floor.
 * A bucket whose tier changes clock may be judged up to one tick apart across
 * the change, which at most admits a tick's worth of its rate once
 * (docs/tier-clock.md).
 */
static __always_inline __u64 tier_clock_now(const struct sluice_tier *tier)
{
	if (sluice_use_test_clock)
		return sluice_test_now_ns;
	if (sluice_coarse_clock || (tier->flags & SLUICE_TIER_F_COARSE_OK))
		return bpf_ktime_get_coarse_ns();
	return bpf_ktime_get_ns();
}

#endif /* SLUICE_CLOCK_BPF_H */
