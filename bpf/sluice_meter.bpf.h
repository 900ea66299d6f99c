/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One GCRA meter (a TAT word) checked and spent, for BPF programs only: the
 * per-source buckets (sluice_xdp.bpf.c) and the key buckets (sluice_keys.bpf.h)
 * spend through the same two functions.
 */
#ifndef SLUICE_METER_BPF_H
#define SLUICE_METER_BPF_H

#include "sluice_algorithms.h"
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

/*
 * The packets/s meter of a tier, on the state word `state` (a bucket's
 * pkt_tat): GCRA for token_bucket and leaky_bucket (a leaky bucket is GCRA of
 * depth one, compiled into `packets`), sluice_algorithms.h's window functions
 * for fixed_window and sliding_window (SLUICE_TIER_F_WINDOW, `packet_window`).
 * `packets`: wire packets the frame stands for.
 */
static __always_inline void tier_window_algo(const struct sluice_tier *tier,
					     struct sluice_algo *algo)
{
	algo->algorithm = sluice_tier_algorithm(tier->flags);
	algo->limit = tier->packet_window.limit;
	algo->window_ns = tier->packet_window.window_ns;
	algo->count_bits = sluice_sliding_count_bits(algo->limit);
	algo->rate.interval_fp = 0;
	algo->rate.tau_ns = 0;
}

/* Read-only: would the packets/s meter admit `packets` now? */
static __always_inline int packet_meter_allows(const __u64 *state, const struct sluice_tier *tier,
					       __u32 packets, __u64 now)
{
	struct sluice_algo algo;
	__u64 cost, next;

	if (tier->flags & SLUICE_TIER_F_WINDOW) {
		tier_window_algo(tier, &algo);
		return sluice_algo_spend(&algo, READ_ONCE(*state), now, packets, &next);
	}
	cost = sluice_cost_ns(tier->packets.interval_fp, packets);
	return !cost || meter_allows(state, &tier->packets, cost, now);
}

/* Spends `packets` on the packets/s meter: 1 done, 0 over the limit, -1 lost every CAS race. */
static __always_inline int packet_meter_spend(__u64 *state, const struct sluice_tier *tier,
					      __u32 packets, __u64 now)
{
	struct sluice_algo algo;
	__u64 cost;

	if (tier->flags & SLUICE_TIER_F_WINDOW) {
		tier_window_algo(tier, &algo);
		return sluice_algo_spend_atomic(&algo, state, now, packets);
	}
	cost = sluice_cost_ns(tier->packets.interval_fp, packets);
	return !cost || meter_spend(state, &tier->packets, cost, now);
}

#endif /* SLUICE_METER_BPF_H */
