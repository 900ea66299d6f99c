// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sluice's ingress program: per-source token buckets (GCRA; or a window
 * algorithm for a tier's packets/s, docs/algorithms.md) at the driver
 * (XDP), or at TC ingress where native XDP is missing; both entries share
 * one judge and the skeleton's maps.
 *
 * Hot path, as a flood exercises it: parse, one bucket lookup, a read-only
 * check of the meters (an over-limit packet is dropped without any atomic and
 * without writing its bucket: per-source drops are sampled), one per-CPU
 * counter. The LPM tries (tiers, allow/deny) are consulted only when a source
 * is first seen or the policy generation has moved on; the key maps only when
 * they may hold entries (SLUICE_CONFIG_F_KEY_MAPS).
 */
#include <linux/pkt_cls.h>

#include "sluice_clock.bpf.h"
#include "sluice_global.bpf.h"
#include "sluice_keys.bpf.h"
#include "sluice_maps.bpf.h"
#include "sluice_meter.bpf.h"
#include "sluice_parse.h"
#include "sluice_policy.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The program's version: bump it with every change to what the program does.
 * The daemon records it in sluice_meta and status shows it; a daemon whose
 * program differs from the running one replaces it in place on the same maps.
 * 1: builds before version records; 2: rate changes rescale bucket debts;
 * 3: a TC ingress entry beside XDP, packets/s counting GRO segments there;
 *    penalties and key-bound addresses (sluice_keys.bpf.h); the clock is
 *    chosen per tier (SLUICE_TIER_F_COARSE_OK).
 * 4: a tier's packets/s meter runs its algorithm (SLUICE_TIER_ALGO_MASK:
 *    fixed_window and sliding_window besides GCRA).
 * 5: per-entry drop counts sampled (SLUICE_DROP_SAMPLE); the key maps looked
 *    up only under SLUICE_CONFIG_F_KEY_MAPS; a new source's first packet
 *    judged on a stack copy of its bucket, which is then inserted.
 * 6: global tiers (SLUICE_TIER_F_GLOBAL, sluice_global.bpf.h).
 * 7: a global tier's bytes/s and SYN/s are global too (layout 5), and a global
 *    tier whose daemon's beat is stale falls back to R/N (global_beat).
 */
#ifndef SLUICE_PROG_VERSION
#define SLUICE_PROG_VERSION 7
#endif
const volatile __u32 sluice_prog_version = SLUICE_PROG_VERSION;

/* Counts a packet; returns this CPU's count of that counter so far (0: none). */
static __always_inline __u64 count(__u32 tier, __u32 counter, __u64 bytes)
{
	__u32 row = tier < SLUICE_MAX_TIERS ? tier : SLUICE_TIER_NONE;
	__u32 key = row * SLUICE_COUNTER_MAX + counter;
	struct sluice_counter *c = bpf_map_lookup_elem(&sluice_counters, &key);

	if (!c)
		return 0;
	c->bytes += bytes;
	return ++c->packets;
}

/* 2^64 / golden ratio, odd: n times it (mod 2^64) is a Weyl sequence. */
#define SLUICE_WEYL_STEP 0x9e3779b97f4a7c15ULL

/*
 * Adds a sampled drop to an entry's `dropped` (docs/top-sampling.md): the
 * n-th drop of its per-CPU counter is the sample when n * SLUICE_WEYL_STEP
 * falls in the lowest 1/SLUICE_DROP_SAMPLE of the range, and then adds
 * SLUICE_DROP_SAMPLE. Exactly one n in SLUICE_DROP_SAMPLE over a full period,
 * spread evenly over any run (so a lone flood's count is within a sample or
 * two), and, unlike n % SLUICE_DROP_SAMPLE, never locked to a periodic mix of
 * sources: two sources alternating on one CPU each get their share. The other
 * drops leave the entry's cache line clean.
 */
static __always_inline void count_entry_drop(__u64 *dropped, __u64 n)
{
	if (n && (n * SLUICE_WEYL_STEP) >> (64 - SLUICE_DROP_SAMPLE_SHIFT) == 0)
		*dropped += SLUICE_DROP_SAMPLE;
}

static __always_inline __u32 prefix_mask(__u32 bits)
{
	return bits >= 32 ? 0xffffffffU : bits == 0 ? 0 : bpf_htonl(~0U << (32 - bits));
}

/* Masks the source to its aggregation prefix, in place. */
static __always_inline void aggregate(struct sluice_source *src, const struct sluice_config *cfg)
{
	if (src->family == SLUICE_FAMILY_V4) {
		src->addr[0] &= prefix_mask(cfg->v4_prefix_len);
		return;
	}
#pragma unroll
	for (__u32 i = 0; i < 4; i++) {
		__u32 len = cfg->v6_prefix_len;
		__u32 bits = len > i * 32 ? len - i * 32 : 0;

		src->addr[i] &= prefix_mask(bits);
	}
}

struct spend_plan {
	__u64 byte_cost;
	__u64 syn_cost;
};

/*
 * Judges one packet against its tier: `packets` is how many the wire carried
 * (1 at XDP; a GRO super-packet's segment count at TC). Returns SLUICE_CNT_PASSED or the drop
 * counter of the first meter over its limit. Every meter is checked
 * read-only first, so a packet that is dropped spends no tokens anywhere;
 * then the meters are spent with compare-and-swap. Two CPUs racing past the
 * check can both spend; the spend re-checks, so the loser is dropped.
 */
static __always_inline __u32 judge(struct sluice_bucket *b, const struct sluice_tier *tier,
				   __u64 len, __u32 packets, __u32 is_syn, __u64 now)
{
	struct spend_plan plan = {
	    .byte_cost = sluice_cost_ns(tier->bytes.interval_fp, len),
	    .syn_cost = is_syn ? sluice_cost_ns(tier->syns.interval_fp, 1) : 0,
	};
	int rc;

	if (plan.syn_cost && !meter_allows(&b->syn_tat, &tier->syns, plan.syn_cost, now))
		return SLUICE_CNT_DROP_SYN_RATE;
	if (!packet_meter_allows(&b->pkt_tat, tier, packets, now))
		return SLUICE_CNT_DROP_PKT_RATE;
	if (plan.byte_cost && !meter_allows(&b->byte_tat, &tier->bytes, plan.byte_cost, now))
		return SLUICE_CNT_DROP_BYTE_RATE;

	if (plan.syn_cost) {
		rc = meter_spend(&b->syn_tat, &tier->syns, plan.syn_cost, now);
		if (rc <= 0)
			return rc ? SLUICE_CNT_DROP_CONTENDED : SLUICE_CNT_DROP_SYN_RATE;
	}
	rc = packet_meter_spend(&b->pkt_tat, tier, packets, now);
	if (rc <= 0)
		return rc ? SLUICE_CNT_DROP_CONTENDED : SLUICE_CNT_DROP_PKT_RATE;
	if (plan.byte_cost) {
		rc = meter_spend(&b->byte_tat, &tier->bytes, plan.byte_cost, now);
		if (rc <= 0)
			return rc ? SLUICE_CNT_DROP_CONTENDED : SLUICE_CNT_DROP_BYTE_RATE;
	}
	return SLUICE_CNT_PASSED;
}

/* The shadow twin of a rate drop counter (judge() returns no other drop here). */
static __always_inline __u32 shadow_counter(__u32 drop_counter)
{
	switch (drop_counter) {
	case SLUICE_CNT_DROP_BYTE_RATE:
		return SLUICE_CNT_SHADOW_BYTE_RATE;
	case SLUICE_CNT_DROP_SYN_RATE:
		return SLUICE_CNT_SHADOW_SYN_RATE;
	default:
		return SLUICE_CNT_SHADOW_PKT_RATE;
	}
}

/* Spends one token of a per-CPU meter: no other CPU writes it, so no atomics. */
static __always_inline int spend_local(__u64 *tat, const struct sluice_rate *rate, __u64 now)
{
	__u64 next;

	if (!rate->interval_fp)
		return 1;
	if (!sluice_gcra_spend(*tat, now, sluice_cost_ns(rate->interval_fp, 1), rate->tau_ns,
			       &next))
		return 0;
	*tat = next;
	return 1;
}

/*
 * Takes one bucket creation from the per-CPU budget. The budget is what keeps
 * a spoofed flood from churning the LRU map: at most that many buckets are
 * created per second, so existing ones (a limited abuser's among them) stay.
 */
static __always_inline int take_creation_budget(const struct sluice_config *cfg, __u64 now)
{
	struct sluice_admission *adm;
	__u32 zero = 0;

	adm = bpf_map_lookup_elem(&sluice_admission, &zero);
	return adm && spend_local(&adm->new_source_tat, &cfg->new_sources, now);
}

/*
 * Inserts the bucket of a source seen for the first time, after its first
 * packet was judged on this stack copy: one map operation, where an insert
 * then a lookup took two. BPF_NOEXIST: when another CPU created the bucket
 * meanwhile, its bucket stays and this first packet's spend is not in it
 * (accepted: at most one packet per racing CPU, once per source; each racer
 * judged the packet against a fresh bucket, which admits it within any burst).
 */
static __always_inline void insert_bucket(const struct sluice_source *src,
					  const struct sluice_bucket *fresh, __u64 len)
{
	if (bpf_map_update_elem(&sluice_buckets, src, fresh, BPF_NOEXIST) == 0)
		count(sluice_policy_tier(fresh->policy), SLUICE_CNT_NEW_SOURCE, len);
}

/* Verdict of a listed source (SLUICE_TIER_DENY or _ALLOW): no meter applies. */
static __always_inline int judge_listed(__u32 listed, __u64 len)
{
	if (listed == SLUICE_TIER_DENY) {
		count(SLUICE_TIER_NONE, SLUICE_CNT_DROP_DENY, len);
		return XDP_DROP;
	}
	count(SLUICE_TIER_NONE, SLUICE_CNT_PASSED_ALLOW, len);
	return XDP_PASS;
}

/* Verdict for a new source that got no bucket: the shared per-CPU `unadmitted` meter. */
static __always_inline int judge_unadmitted(const struct sluice_config *cfg, __u64 now, __u64 len)
{
	struct sluice_admission *adm;
	__u32 zero = 0;

	adm = bpf_map_lookup_elem(&sluice_admission, &zero);
	if (adm && spend_local(&adm->unadmitted_tat, &cfg->unadmitted, now)) {
		count(SLUICE_TIER_NONE, SLUICE_CNT_PASSED_UNADMITTED, len);
		return XDP_PASS;
	}
	count(SLUICE_TIER_NONE, SLUICE_CNT_DROP_UNADMITTED, len);
	return XDP_DROP;
}

/*
 * A source without a bucket. Listed sources are judged by the lists alone and
 * get no bucket: they spend no creation budget, so a spoofed flood from an
 * allow- or deny-listed range neither starves new sources of buckets nor
 * churns the LRU (docs/spoofed-floods.md). Returns `fresh`, set up as the
 * source's new bucket (not inserted yet: insert_bucket()), or NULL with the
 * verdict in *action.
 */
static __always_inline struct sluice_bucket *
admit_new_source(const struct sluice_source *src, __u32 slot, const struct sluice_config *cfg,
		 __u64 gen, __u64 now, __u64 len, struct sluice_bucket *fresh, int *action)
{
	struct sluice_lpm_key key;
	__u32 listed;

	lpm_key_of(src, &key);
	listed = listed_tier(&key, slot);
	if (listed != SLUICE_TIER_NONE) {
		*action = judge_listed(listed, len);
		return NULL;
	}
	if (!take_creation_budget(cfg, now)) {
		*action = judge_unadmitted(cfg, now, len);
		return NULL;
	}
	__builtin_memset(fresh, 0, sizeof(*fresh));
	fresh->policy = sluice_policy_word(gen, prefix_tier(&key, slot, cfg));
	return fresh;
}

/* Whether a new source's tier (in its fresh bucket's policy word) is global. */
static __always_inline int global_new_source(const struct sluice_bucket *fresh, __u32 slot,
					     const struct sluice_config *cfg)
{
	__u32 tier = sluice_policy_tier(fresh->policy);
	struct sluice_tier *limits;

	if (tier >= SLUICE_MAX_TIERS)
		return 0; /* allow- or deny-listed */
	limits = tier_limits(slot, &tier, cfg);
	return limits && (limits->flags & SLUICE_TIER_F_GLOBAL);
}

/*
 * The verdict on a packet of a source with bucket `b` (in the map, or, with
 * in_map 0, a new source's stack copy): its tier, then its meters. A passed packet is counted
 * in the bucket (its meters were just written); a dropped one only as a
 * sample (count_entry_drop), so a flood leaves the bucket unwritten.
 */
static __always_inline int judge_source(struct sluice_bucket *b, const struct sluice_source *src,
					__u32 slot, const struct sluice_config *cfg, __u64 gen,
					__u64 len, __u32 packets, __u32 is_syn,
					__u32 passed_counter, int in_map)
{
	struct sluice_tier *tier;
	__u32 tier_index, verdict;
	__u64 now, moved_from = 0;
	int moved;

	tier_index = bucket_tier(b, src, slot, cfg, gen, &moved, &moved_from);

	if (tier_index == SLUICE_TIER_DENY) {
		count_entry_drop(&b->dropped, count(SLUICE_TIER_NONE, SLUICE_CNT_DROP_DENY, len));
		return XDP_DROP;
	}
	if (tier_index == SLUICE_TIER_ALLOW) {
		b->passed++;
		count(SLUICE_TIER_NONE, SLUICE_CNT_PASSED_ALLOW, len);
		return XDP_PASS;
	}

	tier = tier_limits(slot, &tier_index, cfg);
	if (!tier)
		return XDP_DROP;
	now = tier_clock_now(tier);
	if (moved)
		rescale_bucket(b, moved_from, slot, tier, now);
	/*
	 * Not on a new source's stack copy: a copy that loses the insert race
	 * would take the peers' packets with it, marked charged. Its first
	 * packet is judged without them; the next one charges them.
	 */
	if ((tier->flags & SLUICE_TIER_F_GLOBAL) && in_map)
		global_charge_back(b, src, tier, len, packets, is_syn, now);
	verdict = judge(b, tier, len, packets, is_syn, now);
	if (verdict == SLUICE_CNT_PASSED) {
		if (tier->flags & SLUICE_TIER_F_GLOBAL) {
			global_report(src, tier, len, packets, is_syn);
			global_orphan_charge_meters(b, tier, len, packets, is_syn, now);
		}
		b->passed++;
		count(tier_index, passed_counter, len);
		return XDP_PASS;
	}
	if ((tier->flags & SLUICE_TIER_F_SHADOW) && verdict != SLUICE_CNT_DROP_CONTENDED) {
		/* Shadow: count as the matching would-drop counter, then pass. */
		count_entry_drop(&b->dropped, count(tier_index, shadow_counter(verdict), len));
		return XDP_PASS;
	}
	count_entry_drop(&b->dropped, count(tier_index, verdict, len));
	return XDP_DROP;
}

/*
 * The verdict (XDP_PASS or XDP_DROP) on one packet, for the XDP and the TC
 * entry alike: data..data_end is what can be read directly, `len` the whole
 * packet's length and `packets` how many wire packets it stands for.
 */
static __always_inline int sluice_judge_packet(void *data, void *data_end, __u64 len, __u32 packets)
{
	struct sluice_packet pkt = {};
	struct sluice_key_verdict key_verdict;
	struct sluice_bucket fresh, *b;
	struct sluice_config *cfg;
	__u32 zero = 0, slot, passed_counter = SLUICE_CNT_PASSED;
	__u64 *active, gen, n;
	int rc;

	active = bpf_map_lookup_elem(&sluice_active, &zero);
	if (!active)
		return XDP_PASS;
	gen = READ_ONCE(*active);
	slot = gen & 1;
	cfg = bpf_map_lookup_elem(&sluice_config, &slot);
	if (!cfg)
		return XDP_PASS;

	rc = sluice_parse_packet(data, data_end, len, &pkt);
	if (rc == PARSE_NOT_IP) {
		count(SLUICE_TIER_NONE, SLUICE_CNT_PASSED_OTHER, len);
		return XDP_PASS;
	}
	if (rc != PARSE_OK) {
		if (!pkt.src.family || cfg->malformed_verdict == SLUICE_VERDICT_DROP) {
			count(SLUICE_TIER_NONE, SLUICE_CNT_MALFORMED, len);
			return cfg->malformed_verdict == SLUICE_VERDICT_DROP ? XDP_DROP : XDP_PASS;
		}
		/* The source is known: pass only within its limits, counted as malformed. */
		passed_counter = SLUICE_CNT_MALFORMED;
	}

	aggregate(&pkt.src, cfg);
	/*
	 * Penalised and key-bound sources (sluice_keys.bpf.h), before their own
	 * bucket; two hash lookups, skipped while the key maps are empty.
	 */
	if ((cfg->flags & SLUICE_CONFIG_F_KEY_MAPS) &&
	    sluice_key_judge(&pkt.src, slot, len, packets, pkt.is_syn, &key_verdict)) {
		n = count(key_verdict.row, key_verdict.counter, len);
		if (key_verdict.dropped)
			count_entry_drop(key_verdict.dropped, n);
		return key_verdict.action;
	}
	b = bpf_map_lookup_elem(&sluice_buckets, &pkt.src);
	if (!b) {
		/* The admission meters keep the configured clock. */
		b = admit_new_source(&pkt.src, slot, cfg, gen, clock_now(), len, &fresh, &rc);
		if (!b)
			return rc;
		if (!global_new_source(&fresh, slot, cfg)) {
			rc = judge_source(b, &pkt.src, slot, cfg, gen, len, packets, pkt.is_syn,
					  passed_counter, 0);
			insert_bucket(&pkt.src, &fresh, len);
			return rc;
		}
		/*
		 * A global tier's new source goes into the map before its first
		 * packet is judged: the peers' packets still to charge come first,
		 * at the time they happened (sluice_global.bpf.h), and a copy that
		 * lost the insert race cannot carry them away.
		 */
		insert_bucket(&pkt.src, &fresh, len);
		b = bpf_map_lookup_elem(&sluice_buckets, &pkt.src);
		if (!b)
			return judge_unadmitted(cfg, clock_now(), len);
	}
	return judge_source(b, &pkt.src, slot, cfg, gen, len, packets, pkt.is_syn, passed_counter,
			    1);
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return sluice_judge_packet(data, data_end, data_end - data, 1);
}

/*
 * Headers the TC entry makes linear before parsing: Ethernet, two VLAN tags,
 * IPv6 with extension headers and TCP fit; a GRO super-packet's payload stays
 * in its pages.
 */
#define SLUICE_TC_PULL_BYTES 256

/*
 * The same judge at TC ingress (clsact), on the same maps. After GRO one skb
 * may stand for many wire packets: gso_segs says how many, and the packets/s
 * meter is charged that many, as it would have been per packet on the wire.
 */
SEC("tc")
int sluice_tc(struct __sk_buff *skb)
{
	__u32 head = skb->len < SLUICE_TC_PULL_BYTES ? skb->len : SLUICE_TC_PULL_BYTES;
	__u32 packets = skb->gso_segs ? skb->gso_segs : 1;
	void *data, *data_end;

	if (skb->data_end - skb->data < head)
		bpf_skb_pull_data(skb, head); /* on failure the parser sees a cut packet */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	return sluice_judge_packet(data, data_end, skb->len, packets) == XDP_DROP ? TC_ACT_SHOT
										  : TC_ACT_OK;
}
