/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Global tiers (SLUICE_TIER_F_GLOBAL), for BPF programs only: the packets/s
 * limit of such a tier holds for the whole cluster (docs/kernel-global.md).
 * Two jobs, both on the maps of struct sluice_global_remote (sluice_layout.h):
 * - report: every admitted packet of a global tier adds to the source's
 *   per-CPU count in global_usage; the daemon sums the CPUs and shares the
 *   growth with its peers. No atomics: each CPU writes its own slot.
 * - charge back: before a packet that would pass spends its token, what the
 *   peers admitted from the source and this CPU has not yet seen charged
 *   (global_remote.total - global_charged) moves the bucket's TAT forward.
 *   A packet that is dropped anyway does neither: the drop path of a global
 *   tier costs nothing more than any other tier's.
 * And one safeguard: a program whose daemon stopped refreshing global_beat
 * (killed, or stopped with the program left attached) falls back from its
 * local part to the host's share R/N (global_orphan_factor).
 */
#ifndef SLUICE_GLOBAL_BPF_H
#define SLUICE_GLOBAL_BPF_H

#include "sluice_maps.bpf.h"
#include "sluice_meter.bpf.h"
#include "sluice_policy.bpf.h"

/*
 * Moves a GCRA meter's TAT by `cost` ns of consumption that happened after
 * `since` (the peers admitted it then): from max(tat, since), as GCRA would
 * have done had it seen each packet, so consumption during a partition is
 * charged at its time and leaves no fresh debt. No cap: the debt is what the
 * fleet really admitted, and a cap would hand the fleet that much again
 * (docs/kernel-global.md). Never lost: when every swap loses its race (other
 * CPUs are spending on the same bucket), the cost is added atomically.
 */
static __always_inline void charge_meter(__u64 *tat, __u64 cost, __u64 since, __u64 now)
{
	__u64 old = READ_ONCE(*tat), base, next, seen;

	if (since > now)
		since = now;
	for (int i = 0; i < SLUICE_CAS_RETRIES; i++) {
		base = old > since ? old : since;
		next = sluice_sat_add(base, cost);
		if (next <= old)
			return;
		seen = __sync_val_compare_and_swap(tat, old, next);
		if (seen == old)
			return;
		old = seen;
	}
	__sync_fetch_and_add(tat, cost);
}

/*
 * Charges into the bucket's packets/s meter what the peers admitted from
 * `src` since the last charge. Only when the meter would admit `packets` now
 * (read-only check first): over the limit, the packet is dropped whatever the
 * peers did, and the charge waits for the next packet that could pass.
 * global_charged moves forward by compare-and-swap, so each remote packet is
 * charged by exactly one CPU.
 */
static __always_inline void global_charge_back(__u64 *pkt_tat, const struct sluice_source *src,
					       const struct sluice_tier *tier, __u32 packets,
					       __u64 now)
{
	struct sluice_global_remote *remote;
	__u64 *charged, total, seen, prev, since;

	if (!tier->packets.interval_fp || !packet_meter_allows(pkt_tat, tier, packets, now))
		return;
	remote = bpf_map_lookup_elem(&sluice_global_remote, src);
	if (!remote)
		return;
	charged = bpf_map_lookup_elem(&sluice_global_charged, src);
	if (!charged)
		return; /* the daemon creates it first; gone: the source is being forgotten */
	total = READ_ONCE(remote->total);
	since = READ_ONCE(remote->since_ns);
	seen = READ_ONCE(*charged);
	for (int i = 0; i < SLUICE_CAS_RETRIES; i++) {
		if (total <= seen)
			return;
		prev = __sync_val_compare_and_swap(charged, seen, total);
		if (prev == seen) {
			charge_meter(pkt_tat,
				     sluice_cost_ns(tier->packets.interval_fp, total - seen), since,
				     now);
			return;
		}
		seen = prev;
	}
}

/* Adds `packets` admitted from `src` to this CPU's count for the daemon. */
static __always_inline void global_report(const struct sluice_source *src, __u32 packets)
{
	__u64 *count = bpf_map_lookup_elem(&sluice_global_usage, src), first = packets;

	if (count) {
		*count += packets;
		return;
	}
	/* A new entry: this CPU's slot starts at `packets`, the others at 0. */
	if (bpf_map_update_elem(&sluice_global_usage, src, &first, BPF_NOEXIST) == 0)
		return;
	count = bpf_map_lookup_elem(&sluice_global_usage, src); /* another CPU created it */
	if (count)
		*count += packets;
}

/*
 * How many tokens a packet a global tier admits costs now: 1 while the daemon
 * keeps global_beat fresh (or never wrote it), the beat's factor once it is
 * older than its stale_after_ns. The factor is what the daemon's local part
 * exceeds the host's fallback share by (visible members, or all of them with
 * fail_open), so an orphaned program admits R/N while the peers, which stop
 * counting this host after their sync timeout, admit the rest. A beat ahead
 * of `now` (the coarse clock lags the daemon's by up to a tick) is fresh.
 */
static __always_inline __u32 global_orphan_factor(__u64 now)
{
	struct sluice_global_beat *beat;
	__u64 at, stale_after;
	__u32 zero = 0;

	beat = bpf_map_lookup_elem(&sluice_global_beat, &zero);
	if (!beat)
		return 1;
	at = READ_ONCE(beat->beat_ns);
	stale_after = READ_ONCE(beat->stale_after_ns);
	if (!at || !stale_after || now <= at || now - at <= stale_after)
		return 1;
	return READ_ONCE(beat->factor); /* 0 or 1: global_orphan_charge() adds nothing */
}

/*
 * After a packet of cost `cost` (ns of a GCRA meter) was admitted on `tat`,
 * charges the other factor - 1 times its cost. After the admission, not
 * within it: the meter then admits exactly its rate / factor in the long run
 * (every admitted packet moves the TAT by factor x cost), and a burst smaller
 * than the factor still admits one packet, where a spend of factor x cost
 * would exceed such a burst's tolerance for ever. The burst shrinks to about
 * burst / factor. One atomic add: other CPUs spend on the same TAT.
 */
static __always_inline void global_orphan_charge(__u64 *tat, __u64 cost, __u32 factor)
{
	if (factor > 1 && cost)
		__sync_fetch_and_add(tat, cost * (factor - 1));
}

#endif /* SLUICE_GLOBAL_BPF_H */
