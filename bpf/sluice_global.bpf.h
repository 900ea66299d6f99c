/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Global tiers (SLUICE_TIER_F_GLOBAL), for BPF programs only: the packets/s,
 * bytes/s and SYN/s limits of such a tier hold for the whole cluster
 * (docs/kernel-global.md). Two jobs, both on the maps of struct
 * sluice_global_remote (sluice_layout.h):
 * - report: every admitted packet of a global tier adds its packets, bytes and
 *   SYN to the source's per-CPU counts in global_usage; the daemon sums the
 *   CPUs and shares the growth with its peers. No atomics: each CPU writes its
 *   own slot.
 * - charge back: before a packet that would pass spends its tokens, what the
 *   peers admitted from the source and no CPU has charged yet
 *   (global_remote.total - global_charged, per meter) moves each meter's TAT
 *   forward.
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
 * Read-only: would every meter this packet spends on admit it now (the checks
 * of judge(), in sluice_xdp.bpf.c)? A packet that fails one is dropped
 * whatever the peers did, so it looks at no global map.
 */
static __always_inline int global_meters_allow(const struct sluice_bucket *b,
					       const struct sluice_tier *tier, __u64 len,
					       __u32 packets, __u32 is_syn, __u64 now)
{
	__u64 byte_cost = sluice_cost_ns(tier->bytes.interval_fp, len);
	__u64 syn_cost = is_syn ? sluice_cost_ns(tier->syns.interval_fp, 1) : 0;

	if (syn_cost && !meter_allows(&b->syn_tat, &tier->syns, syn_cost, now))
		return 0;
	if (byte_cost && !meter_allows(&b->byte_tat, &tier->bytes, byte_cost, now))
		return 0;
	return packet_meter_allows(&b->pkt_tat, tier, packets, now);
}

/*
 * Moves one meter's `charged` figure up to the peers' `total` by
 * compare-and-swap, so that each remote unit is charged by exactly one CPU,
 * and charges the difference into the meter's TAT at `interval_fp` per unit.
 * A meter the tier does not define (interval_fp 0) is moved all the same but
 * charged nothing: a limit added later starts from the peers' consumption
 * since, not from their whole history.
 */
static __always_inline void charge_count(__u64 *charged, __u64 total, __u64 *tat, __u64 interval_fp,
					 __u64 since, __u64 now)
{
	__u64 seen = READ_ONCE(*charged), prev, cost;

	for (int i = 0; i < SLUICE_CAS_RETRIES; i++) {
		if (total <= seen)
			return;
		prev = __sync_val_compare_and_swap(charged, seen, total);
		if (prev == seen) {
			cost = sluice_cost_ns(interval_fp, total - seen);
			if (cost)
				charge_meter(tat, cost, since, now);
			return;
		}
		seen = prev;
	}
}

/*
 * Charges into the bucket's meters what the peers admitted from `src` since
 * the last charge: their packets into pkt_tat, bytes into byte_tat, SYNs into
 * syn_tat, each figure of global_charged moved by its own compare-and-swap.
 * Only when the packet would pass (read-only check first): over a limit, the
 * packet is dropped whatever the peers did, and the charge waits for the next
 * packet that could pass.
 */
static __always_inline void global_charge_back(struct sluice_bucket *b,
					       const struct sluice_source *src,
					       const struct sluice_tier *tier, __u64 len,
					       __u32 packets, __u32 is_syn, __u64 now)
{
	struct sluice_global_remote *remote;
	struct sluice_global_count *charged;
	__u64 since;

	if (!global_meters_allow(b, tier, len, packets, is_syn, now))
		return;
	remote = bpf_map_lookup_elem(&sluice_global_remote, src);
	if (!remote)
		return;
	charged = bpf_map_lookup_elem(&sluice_global_charged, src);
	if (!charged)
		return; /* the daemon creates it first; gone: the source is being forgotten */
	since = READ_ONCE(remote->since_ns);
	charge_count(&charged->packets, READ_ONCE(remote->total.packets), &b->pkt_tat,
		     tier->packets.interval_fp, since, now);
	charge_count(&charged->bytes, READ_ONCE(remote->total.bytes), &b->byte_tat,
		     tier->bytes.interval_fp, since, now);
	charge_count(&charged->syns, READ_ONCE(remote->total.syns), &b->syn_tat,
		     tier->syns.interval_fp, since, now);
}

/*
 * Adds what a passed packet spent to this CPU's counts of `src` for the
 * daemon: `packets`, its `len` bytes and, for a SYN, one SYN; each only when
 * the tier defines that meter (an undefined one is not shared).
 */
static __always_inline void global_report(const struct sluice_source *src,
					  const struct sluice_tier *tier, __u64 len, __u32 packets,
					  __u32 is_syn)
{
	struct sluice_global_count add = {
	    .packets = tier->packets.interval_fp ? packets : 0,
	    .bytes = tier->bytes.interval_fp ? len : 0,
	    .syns = is_syn && tier->syns.interval_fp ? 1 : 0,
	};
	struct sluice_global_count *count = bpf_map_lookup_elem(&sluice_global_usage, src);

	if (!count) {
		/* A new entry: this CPU's slot starts at `add`, the others at 0. */
		if (bpf_map_update_elem(&sluice_global_usage, src, &add, BPF_NOEXIST) == 0)
			return;
		count = bpf_map_lookup_elem(&sluice_global_usage, src); /* another CPU made it */
		if (!count)
			return;
	}
	count->packets += add.packets;
	count->bytes += add.bytes;
	count->syns += add.syns;
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
__noinline __u32 global_orphan_factor(__u64 now)
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
	return READ_ONCE(beat->factor); /* 0 or 1: global_orphan_extra() is 0 */
}

/*
 * (factor - 1) x the cost of `n` units at `interval_fp`: what an orphaned
 * program charges one meter on top of an admission (0 for a meter the tier
 * does not define). A global function, like global_orphan_factor: verified
 * once, not on every path of the program that calls it (the program with
 * both inlined exceeded the verifier's million instructions).
 */
__noinline __u64 global_orphan_extra(__u64 interval_fp, __u64 n, __u32 factor)
{
	if (factor <= 1)
		return 0;
	return sluice_cost_ns(interval_fp, n) * (factor - 1);
}

/*
 * An orphaned program (global_orphan_factor() > 1): every meter of the tier
 * that admitted this packet pays the other factor - 1 times its cost, so the
 * host holds packets/s, bytes/s and SYN/s alike to R/N. After the admission,
 * not within it: a meter then admits exactly its rate / factor in the long
 * run (every admitted packet moves the TAT by factor x cost), and a burst
 * smaller than the factor still admits one packet, where a spend of factor x
 * cost would exceed such a burst's tolerance for ever. The burst shrinks to
 * about burst / factor. Atomic adds: other CPUs spend on the same TATs. One
 * branch here, the arithmetic in global functions.
 */
static __always_inline void global_orphan_charge_meters(struct sluice_bucket *b,
							const struct sluice_tier *tier, __u64 len,
							__u32 packets, __u32 is_syn, __u64 now)
{
	__u32 factor = global_orphan_factor(now);

	if (factor <= 1)
		return;
	__sync_fetch_and_add(&b->pkt_tat,
			     global_orphan_extra(tier->packets.interval_fp, packets, factor));
	__sync_fetch_and_add(&b->byte_tat,
			     global_orphan_extra(tier->bytes.interval_fp, len, factor));
	__sync_fetch_and_add(&b->syn_tat,
			     global_orphan_extra(tier->syns.interval_fp, is_syn ? 1 : 0, factor));
}

#endif /* SLUICE_GLOBAL_BPF_H */
