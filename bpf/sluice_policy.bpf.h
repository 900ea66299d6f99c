/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A source's tier under the active policy, for BPF programs only: the LPM
 * lookups (lists, then prefixes, then the default tier), the policy word a
 * bucket caches them in, and what a bucket carries across a policy switch
 * (its debts, rescaled to its new rates). docs/policy-switch.md has the design.
 */
#ifndef SLUICE_POLICY_BPF_H
#define SLUICE_POLICY_BPF_H

#include "sluice_algorithms.h"
#include "sluice_maps.bpf.h"

#define SLUICE_CAS_RETRIES 8

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif

/* The trie key of an aggregated source: its full address behind the family byte. */
static __always_inline void lpm_key_of(const struct sluice_source *src, struct sluice_lpm_key *key)
{
	__builtin_memset(key, 0, sizeof(*key));
	if (src->family == SLUICE_FAMILY_V4) {
		key->prefixlen = SLUICE_LPM_FAMILY_BITS + 32;
		key->family = SLUICE_LPM_FAMILY_V4;
		__builtin_memcpy(key->addr, src->addr, 4);
	} else {
		key->prefixlen = SLUICE_LPM_FAMILY_BITS + 128;
		key->family = SLUICE_LPM_FAMILY_V6;
		__builtin_memcpy(key->addr, src->addr, 16);
	}
}

/* SLUICE_TIER_DENY or _ALLOW when the lists of `slot` name the source, else SLUICE_TIER_NONE. */
static __always_inline __u32 listed_tier(const struct sluice_lpm_key *key, __u32 slot)
{
	__u32 *value;

	value =
	    bpf_map_lookup_elem(slot ? (void *)&sluice_access_1 : (void *)&sluice_access_0, key);
	if (!value)
		return SLUICE_TIER_NONE;
	return *value == SLUICE_ACCESS_DENY ? SLUICE_TIER_DENY : SLUICE_TIER_ALLOW;
}

/* Tier of an unlisted source under the policy of `slot`: prefix, else default. */
static __always_inline __u32 prefix_tier(const struct sluice_lpm_key *key, __u32 slot,
					 const struct sluice_config *cfg)
{
	__u32 *value;

	value =
	    bpf_map_lookup_elem(slot ? (void *)&sluice_prefix_1 : (void *)&sluice_prefix_0, key);
	if (value && *value < SLUICE_MAX_TIERS)
		return *value;
	return cfg->default_tier;
}

/* Tier of a source under the policy of `slot`: deny, allow, prefix, default. */
static __always_inline __u32 resolve_tier(const struct sluice_source *src, __u32 slot,
					  const struct sluice_config *cfg)
{
	struct sluice_lpm_key key;
	__u32 listed;

	lpm_key_of(src, &key);
	listed = listed_tier(&key, slot);
	if (listed != SLUICE_TIER_NONE)
		return listed;
	return prefix_tier(&key, slot, cfg);
}

/*
 * The tier of bucket `b` under generation `gen`, re-resolved when the cached
 * word is of another generation. The word moves forward only: a CPU that read
 * sluice_active just before a switch judges its packet by the tier it resolved
 * but never stores it over a newer generation's. The one CPU whose CAS moves
 * the word forward gets the word it replaced in *moved_from (and *moved = 1):
 * it owes the bucket the rescale of its debt, so each move rescales once.
 * Accepted races: CPUs on the same generation resolve the same tier, so which
 * store wins does not matter; a CAS lost every retry leaves the word (and the
 * rescale) to the next packet.
 */
static __always_inline __u32 bucket_tier(struct sluice_bucket *b, const struct sluice_source *src,
					 __u32 slot, const struct sluice_config *cfg, __u64 gen,
					 int *moved, __u64 *moved_from)
{
	__u64 seen = READ_ONCE(b->policy), word, prev;
	__u32 tier;

	*moved = 0;
	if (sluice_policy_generation(seen) == (__u32)gen)
		return sluice_policy_tier(seen);
	tier = resolve_tier(src, slot, cfg);
	word = sluice_policy_word(gen, tier);
	for (int i = 0; i < SLUICE_CAS_RETRIES; i++) {
		if (!sluice_generation_after((__u32)gen, sluice_policy_generation(seen)))
			break;
		prev = __sync_val_compare_and_swap(&b->policy, seen, word);
		if (prev == seen) {
			*moved = 1;
			*moved_from = seen;
			break;
		}
		seen = prev;
	}
	return tier;
}

/*
 * The rates a bucket last judged at generation `old_gen` in tier `old_tier`
 * was metered at: the tier in either slot whose intervals have been in force
 * since old_gen or earlier (rate_since). The active slot is never written
 * while active; the other holds the previous generation, unless a switch is
 * being prepared in it (accepted: a torn read there needs the same tier's
 * rate to change in two switches within microseconds). NULL when neither
 * slot still knows: the tier changed its rate twice since the bucket's last
 * packet.
 */
static __always_inline const struct sluice_tier *rates_at(__u32 slot, __u32 old_tier, __u32 old_gen)
{
	const struct sluice_tier *rates;
	__u32 key;

	for (__u32 other = 0; other < 2; other++) {
		key = (slot ^ other) * SLUICE_MAX_TIERS + (old_tier & (SLUICE_MAX_TIERS - 1));
		rates = bpf_map_lookup_elem(&sluice_tiers, &key);
		if (rates && (rates->flags & SLUICE_TIER_F_DEFINED) &&
		    !sluice_generation_after(rates->rate_since, old_gen))
			return rates;
	}
	return NULL;
}

/*
 * sluice_rescale_debt, verified once for every caller (a global function):
 * its 64-round division is paid only when a bucket meets a new policy.
 */
__noinline __u64 sluice_rescaled_debt(__u64 debt_ns, __u64 from_fp, __u64 to_fp, __u64 to_tau)
{
	struct sluice_rate to = {.interval_fp = to_fp, .tau_ns = to_tau};

	return sluice_rescale_debt(debt_ns, from_fp, &to);
}

/*
 * Rescales one meter's debt from the rate `from` to `to` (docs/policy-switch.md):
 * the same debt in tokens, at most the new burst. `from` NULL (not known any
 * more): the bucket is judged empty, which grants no burst and stalls nobody
 * beyond the new rate. A meter without debt has nothing to rescale; one that
 * is unlimited now is not read, and its debt is dropped when it is limited
 * again (a change from unlimited leaves no debt).
 */
static __always_inline void rescale_meter(__u64 *tat, const struct sluice_rate *from,
					  const struct sluice_rate *to, __u64 now)
{
	__u64 old = READ_ONCE(*tat), next, seen;

	if (!to->interval_fp)
		return;
	for (int i = 0; i < SLUICE_CAS_RETRIES; i++) {
		if (old <= now)
			return;
		next = now + (from ? sluice_rescaled_debt(old - now, from->interval_fp,
							  to->interval_fp, to->tau_ns)
				   : to->tau_ns);
		if (next == old)
			return;
		seen = __sync_val_compare_and_swap(tat, old, next);
		if (seen == old)
			return;
		old = seen;
	}
}

/*
 * Does the packets/s state counted under `old` mean the same under `to`? A
 * window state (window tag and counts) means the same under the same window
 * algorithm with the same window and counter width; under anything else it
 * would be misread (a window state read as a TAT, or the other way round).
 */
static __always_inline int packet_state_carries(const struct sluice_tier *old,
						const struct sluice_tier *to)
{
	__u32 algorithm = sluice_tier_algorithm(to->flags);

	if (sluice_tier_algorithm(old->flags) != algorithm)
		return 0;
	if (!(to->flags & SLUICE_TIER_F_WINDOW))
		return 1;
	return (old->flags & SLUICE_TIER_F_WINDOW) &&
	       old->packet_window.window_ns == to->packet_window.window_ns &&
	       sluice_sliding_count_bits(old->packet_window.limit) ==
		   sluice_sliding_count_bits(to->packet_window.limit);
}

/*
 * The packets/s meter across a policy switch: a GCRA debt is rescaled to the
 * new rate (rescale_meter); a state whose algorithm changed, or a window
 * state that would be misread (packet_state_carries) or whose tier is not
 * known any more, starts fresh: the word a new source's bucket starts from.
 */
static __always_inline void rescale_packet_meter(__u64 *state, const struct sluice_tier *old,
						 const struct sluice_tier *to, __u64 now)
{
	__u64 seen = READ_ONCE(*state);

	if (old ? !packet_state_carries(old, to) : !!(to->flags & SLUICE_TIER_F_WINDOW)) {
		if (seen)
			__sync_val_compare_and_swap(state, seen, 0);
		return;
	}
	if (to->flags & SLUICE_TIER_F_WINDOW)
		return; /* the same window: its counts carry over as they are */
	rescale_meter(state, old ? &old->packets : NULL, &to->packets, now);
}

/*
 * The bucket met a new policy (its word moved from `from` to `tier`): its
 * debts, counted in the rates of the word it left, are rescaled to `tier`'s.
 * A bucket that was allow- or deny-listed ran no meter there and keeps its TATs.
 */
static __always_inline void rescale_bucket(struct sluice_bucket *b, __u64 from, __u32 slot,
					   const struct sluice_tier *tier, __u64 now)
{
	const struct sluice_tier *old;
	__u32 old_tier = sluice_policy_tier(from);

	if (old_tier >= SLUICE_MAX_TIERS)
		return;
	old = rates_at(slot, old_tier, sluice_policy_generation(from));
	rescale_packet_meter(&b->pkt_tat, old, tier, now);
	rescale_meter(&b->byte_tat, old ? &old->bytes : NULL, &tier->bytes, now);
	rescale_meter(&b->syn_tat, old ? &old->syns : NULL, &tier->syns, now);
}

/*
 * The limits of *tier in `slot`. An index whose slot holds no defined tier (a
 * stale cache, a policy bug) is judged by the default tier: never unlimited.
 */
static __always_inline struct sluice_tier *tier_limits(__u32 slot, __u32 *tier,
						       const struct sluice_config *cfg)
{
	__u32 key = slot * SLUICE_MAX_TIERS + (*tier & (SLUICE_MAX_TIERS - 1));
	struct sluice_tier *limits = bpf_map_lookup_elem(&sluice_tiers, &key);

	if (limits && *tier < SLUICE_MAX_TIERS && (limits->flags & SLUICE_TIER_F_DEFINED))
		return limits;
	*tier = cfg->default_tier & (SLUICE_MAX_TIERS - 1);
	key = slot * SLUICE_MAX_TIERS + *tier;
	return bpf_map_lookup_elem(&sluice_tiers, &key);
}

#endif /* SLUICE_POLICY_BPF_H */
