/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where the request layer reaches into the data path, for BPF programs only:
 * penalised addresses (dropped until their penalty expires) and key-bound
 * addresses (judged by their key's tier against the key's own bucket, shared
 * by all of the key's addresses). The daemon writes both maps; the program
 * only reads them, and writes the key buckets. docs/key-binding.md.
 *
 * One entry point, sluice_key_judge(), so that the hook in the program stays
 * a few lines: it runs before the per-source bucket and, when it decides,
 * the per-source bucket is not touched.
 */
#ifndef SLUICE_KEYS_BPF_H
#define SLUICE_KEYS_BPF_H

#include "sluice_clock.bpf.h"
#include "sluice_maps.bpf.h"
#include "sluice_meter.bpf.h"
#include "sluice_policy.bpf.h"

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif

/* Aggregated source -> the key it is bound to (written by the daemon, in batches). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_KEY_BINDINGS);
	__type(key, struct sluice_source);
	__type(value, struct sluice_key_binding);
} sluice_key_bindings SEC(".maps");

/*
 * key_id -> the key's bucket, created here on a key's first bound packet.
 * LRU: the daemon bounds the keys that have bindings to the map's size, so
 * only buckets of keys without a live binding are ever evicted.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_MAX_KEY_BUCKETS);
	__type(key, __u64);
	__type(value, struct sluice_key_bucket);
} sluice_key_buckets SEC(".maps");

/* Aggregated source -> penalty (written by the daemon, expired by the clock). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_PENALTIES);
	__type(key, struct sluice_source);
	__type(value, struct sluice_penalty);
} sluice_penalties SEC(".maps");

/*
 * What sluice_key_judge() decided: the XDP action, the counter to count it in
 * and, for a drop, the entry's drop count, which the caller samples
 * (SLUICE_DROP_SAMPLE) so that a dropped packet writes nothing to the entry.
 */
struct sluice_key_verdict {
	int action;
	__u32 row;	/* tier index or SLUICE_TIER_NONE */
	__u32 counter;	/* SLUICE_CNT_* */
	__u64 *dropped; /* the penalty's or key bucket's `dropped`; NULL when passed */
};

/*
 * A key bucket keeps no record of the policy it was counted under (a
 * per-source bucket has its policy word), so after its tier's rate, burst or
 * algorithm changed a meter may hold a word no GCRA spend under the new limits
 * could have left: a debt beyond the tolerance, or a window state (tag << 32 |
 * count) that reads as a TAT hours ahead. Such a word is capped at now + the
 * tolerance: a bucket full of debt, the strictest state the new limits know.
 * Writes only in that case, so a dropped packet still writes nothing.
 */
static __always_inline void key_meter_cap(__u64 *tat, const struct sluice_rate *rate, __u64 now)
{
	__u64 cap = now + rate->tau_ns, seen = READ_ONCE(*tat);

	if (seen > cap)
		__sync_val_compare_and_swap(tat, seen, cap);
}

/*
 * Judges a packet against a key's bucket at its tier's limits: every meter is
 * checked read-only first, so a dropped packet spends nothing; then spent.
 * Returns SLUICE_CNT_PASSED or the drop counter of the meter over its limit.
 */
static __always_inline __u32 key_bucket_judge(struct sluice_key_bucket *kb,
					      const struct sluice_tier *tier, __u64 len,
					      __u32 packets, __u32 is_syn, __u64 now)
{
	__u64 syn = is_syn ? sluice_cost_ns(tier->syns.interval_fp, 1) : 0;
	__u64 bytes = sluice_cost_ns(tier->bytes.interval_fp, len);
	int rc;

	if (syn)
		key_meter_cap(&kb->syn_tat, &tier->syns, now);
	if (!(tier->flags & SLUICE_TIER_F_WINDOW) && tier->packets.interval_fp)
		key_meter_cap(&kb->pkt_tat, &tier->packets, now);
	if (bytes)
		key_meter_cap(&kb->byte_tat, &tier->bytes, now);
	if (syn && !meter_allows(&kb->syn_tat, &tier->syns, syn, now))
		return SLUICE_CNT_DROP_SYN_RATE;
	if (!packet_meter_allows(&kb->pkt_tat, tier, packets, now))
		return SLUICE_CNT_DROP_PKT_RATE;
	if (bytes && !meter_allows(&kb->byte_tat, &tier->bytes, bytes, now))
		return SLUICE_CNT_DROP_BYTE_RATE;
	if (syn) {
		rc = meter_spend(&kb->syn_tat, &tier->syns, syn, now);
		if (rc <= 0)
			return rc ? SLUICE_CNT_DROP_CONTENDED : SLUICE_CNT_DROP_SYN_RATE;
	}
	rc = packet_meter_spend(&kb->pkt_tat, tier, packets, now);
	if (rc <= 0)
		return rc ? SLUICE_CNT_DROP_CONTENDED : SLUICE_CNT_DROP_PKT_RATE;
	if (bytes) {
		rc = meter_spend(&kb->byte_tat, &tier->bytes, bytes, now);
		if (rc <= 0)
			return rc ? SLUICE_CNT_DROP_CONTENDED : SLUICE_CNT_DROP_BYTE_RATE;
	}
	return SLUICE_CNT_PASSED;
}

/* The bucket of key `key_id`, created empty on its first packet. */
static __always_inline struct sluice_key_bucket *key_bucket(__u64 key_id)
{
	struct sluice_key_bucket *kb = bpf_map_lookup_elem(&sluice_key_buckets, &key_id);
	struct sluice_key_bucket fresh = {};

	if (kb)
		return kb;
	/* BPF_NOEXIST: a CPU that lost the race to create it uses the winner's. */
	bpf_map_update_elem(&sluice_key_buckets, &key_id, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sluice_key_buckets, &key_id);
}

static __always_inline __u32 key_shadow_counter(__u32 drop_counter)
{
	if (drop_counter == SLUICE_CNT_DROP_BYTE_RATE)
		return SLUICE_CNT_SHADOW_BYTE_RATE;
	if (drop_counter == SLUICE_CNT_DROP_SYN_RATE)
		return SLUICE_CNT_SHADOW_SYN_RATE;
	return SLUICE_CNT_SHADOW_PKT_RATE;
}

/*
 * Penalty first, then the key binding. Returns 1 with *v filled when it
 * decided the packet; 0 when the source is neither penalised nor bound (or
 * its binding has expired, or names a tier that no longer exists): the
 * per-source bucket and the CIDR tier decide, as without this header.
 * Expired entries are left for the daemon to delete: deleting here could
 * race with the daemon writing a fresh entry for the same source.
 */
static __always_inline int sluice_key_judge(const struct sluice_source *src, __u32 slot, __u64 len,
					    __u32 packets, __u32 is_syn,
					    struct sluice_key_verdict *v)
{
	struct sluice_lpm_key lpm;
	struct sluice_key_binding *binding;
	struct sluice_penalty *penalty;
	struct sluice_key_bucket *kb;
	struct sluice_tier *tier;
	__u32 tier_index, index;
	__u64 now;

	/* The clock is read only for sources in either map: none for the rest. */
	penalty = bpf_map_lookup_elem(&sluice_penalties, src);
	if (penalty && clock_now() < READ_ONCE(penalty->expires_ns)) {
		*v = (struct sluice_key_verdict){XDP_DROP, SLUICE_TIER_NONE,
						 SLUICE_CNT_DROP_PENALTY, &penalty->dropped};
		return 1;
	}
	binding = bpf_map_lookup_elem(&sluice_key_bindings, src);
	if (!binding)
		return 0;
	tier_index = READ_ONCE(binding->tier);
	if (tier_index >= SLUICE_MAX_TIERS)
		return 0;
	/*
	 * The lists outrank a binding: an address denied after it was bound must
	 * not keep passing (and refreshing its binding) on its key's tier, and an
	 * allow-listed one is never limited. One trie lookup, bound sources only.
	 */
	lpm_key_of(src, &lpm);
	if (listed_tier(&lpm, slot) != SLUICE_TIER_NONE)
		return 0;
	index = slot * SLUICE_MAX_TIERS + tier_index;
	tier = bpf_map_lookup_elem(&sluice_tiers, &index);
	if (!tier || !(tier->flags & SLUICE_TIER_F_DEFINED))
		return 0;
	now = tier_clock_now(tier);
	if (now >= READ_ONCE(binding->expires_ns))
		return 0;
	kb = key_bucket(READ_ONCE(binding->key_id));
	if (!kb)
		return 0;

	v->row = tier_index;
	v->counter = key_bucket_judge(kb, tier, len, packets, is_syn, now);
	if (v->counter == SLUICE_CNT_PASSED) {
		kb->passed++;
		v->action = XDP_PASS;
		v->dropped = NULL;
		return 1;
	}
	v->dropped = &kb->dropped;
	v->action = XDP_DROP;
	if ((tier->flags & SLUICE_TIER_F_SHADOW) && v->counter != SLUICE_CNT_DROP_CONTENDED) {
		v->counter = key_shadow_counter(v->counter);
		v->action = XDP_PASS;
	}
	return 1;
}

#endif /* SLUICE_KEYS_BPF_H */
