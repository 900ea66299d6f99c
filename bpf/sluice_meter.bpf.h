/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One GCRA meter (a TAT word) checked and spent, for BPF programs only: the
 * per-source buckets (sluice_xdp.bpf.c) and the key buckets (sluice_keys.bpf.h)
 * spend through the same two functions.
 */
#ifndef SLUICE_METER_BPF_H
#define SLUICE_METER_BPF_H

#include "sluice_maps.bpf.h"
#include "sluice_policy.bpf.h"

/* Would spending `cost` on this meter be allowed now? Read-only. */
static __always_inline int meter_allows(const __u64 *tat, const struct sluice_rate *rate,
					__u64 cost, __u64 now)
{
	__u64 next;

	return sluice_gcra_spend(READ_ONCE(*tat), now, cost, rate->tau_ns, &next);
}

/* Spends `cost`: 1 done, 0 over the limit, -1 lost every CAS race. */
static __always_inline int meter_spend(__u64 *tat, const struct sluice_rate *rate, __u64 cost,
				       __u64 now)
{
	__u64 old = READ_ONCE(*tat), seen, next;

	for (int i = 0; i < SLUICE_CAS_RETRIES; i++) {
		if (!sluice_gcra_spend(old, now, cost, rate->tau_ns, &next))
			return 0;
		seen = __sync_val_compare_and_swap(tat, old, next);
		if (seen == old)
			return 1;
		old = seen;
	}
	return -1;
}

#endif /* SLUICE_METER_BPF_H */
