/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map layout and struct shared by the Sluice BPF programs and the C++
 * side. Fixed-width fields, explicit padding, no bool or enum members; the C++
 * side static_asserts the sizes. Change a layout: bump SLUICE_LAYOUT_VERSION so
 * that pins of the old layout (under /sys/fs/bpf/sluice/<iface>/v<N>/) are
 * never reused by mistake.
 */
#ifndef SLUICE_LAYOUT_H
#define SLUICE_LAYOUT_H

#include <linux/types.h>

#include "sluice_bucket.h"

#define SLUICE_LAYOUT_VERSION 2

#define SLUICE_MAX_TIERS 64
/* Counter row for packets that belong to no tier (malformed, non-IP, lists). */
#define SLUICE_TIER_NONE SLUICE_MAX_TIERS
/* Bucket entries of allow- and deny-listed sources carry these in `tier`. */
#define SLUICE_TIER_ALLOW 0xfffffffeU
#define SLUICE_TIER_DENY 0xffffffffU

#define SLUICE_DEFAULT_BUCKET_ENTRIES (1U << 20)
#define SLUICE_MAX_PREFIX_ENTRIES 65536
#define SLUICE_MAX_LIST_ENTRIES 65536

/* Address families as stored in keys (values of AF_INET / AF_INET6). */
#define SLUICE_FAMILY_V4 2
#define SLUICE_FAMILY_V6 10

/* Tier flags. */
#define SLUICE_TIER_F_SHADOW (1U << 0)	/* count would-be drops, pass everything */
#define SLUICE_TIER_F_DEFINED (1U << 1) /* slot holds a configured tier */

/* Access list verdicts (value of the access LPM tries). */
#define SLUICE_ACCESS_ALLOW 1
#define SLUICE_ACCESS_DENY 2

/* Verdict for malformed packets (sluice_config.malformed_verdict). */
#define SLUICE_VERDICT_PASS 0
#define SLUICE_VERDICT_DROP 1

/*
 * Counters, one row of SLUICE_COUNTER_MAX per tier plus one for
 * SLUICE_TIER_NONE, per CPU. Index: tier * SLUICE_COUNTER_MAX + counter.
 */
#define SLUICE_CNT_PASSED 0	     /* within limits */
#define SLUICE_CNT_PASSED_ALLOW 1    /* allow-listed, no limit applied */
#define SLUICE_CNT_PASSED_OTHER 2    /* not IP (ARP, LLDP...): not limited */
#define SLUICE_CNT_DROP_DENY 3	     /* deny-listed */
#define SLUICE_CNT_DROP_PKT_RATE 4   /* over packets/s */
#define SLUICE_CNT_DROP_BYTE_RATE 5  /* over bytes/s */
#define SLUICE_CNT_DROP_SYN_RATE 6   /* over new TCP connections/s */
#define SLUICE_CNT_MALFORMED 7	     /* truncated or unparseable (verdict configurable) */
#define SLUICE_CNT_SHADOW_PKT_RATE 8 /* shadow tier: would have dropped, passed */
#define SLUICE_CNT_SHADOW_BYTE_RATE 9
#define SLUICE_CNT_SHADOW_SYN_RATE 10
#define SLUICE_CNT_DROP_CONTENDED 11	/* bucket update lost every CAS retry */
#define SLUICE_CNT_NEW_SOURCE 12	/* first packet of a source (bucket created) */
#define SLUICE_CNT_PASSED_UNADMITTED 13 /* new source over the creation budget, passed */
#define SLUICE_CNT_DROP_UNADMITTED 14	/* new source over the creation budget, dropped */
#define SLUICE_COUNTER_MAX 15
#define SLUICE_COUNTER_ROWS (SLUICE_MAX_TIERS + 1)

struct sluice_counter {
	__u64 packets;
	__u64 bytes;
};

/* Limits of one tier; a zero rate (interval_fp == 0) is unlimited. */
struct sluice_tier {
	struct sluice_rate packets; /* packets/s */
	struct sluice_rate bytes;   /* bytes/s (L2 frame length) */
	struct sluice_rate syns;    /* TCP SYN without ACK/s */
	__u32 flags;		    /* SLUICE_TIER_F_* */
	__u32 pad;
};

/*
 * Policy settings. Two slots (index = generation & 1); the data path reads the
 * slot of the active generation, userspace writes the other and then flips.
 */
struct sluice_config {
	__u32 default_tier;	 /* tier of sources no prefix matches */
	__u32 v4_prefix_len;	 /* IPv4 sources aggregate to this prefix (1..32) */
	__u32 v6_prefix_len;	 /* IPv6 sources aggregate to this prefix (1..128) */
	__u32 malformed_verdict; /* SLUICE_VERDICT_PASS or _DROP */
	/*
	 * Spoofed-flood defence (docs/spoofed-floods.md): bucket creations per
	 * second, per CPU; a source that arrives when this budget is spent gets no
	 * bucket and is judged by `unadmitted`, one shared meter per CPU. Zero
	 * rates: no budget (every new source gets a bucket).
	 */
	struct sluice_rate new_sources;
	struct sluice_rate unadmitted;
};

/* Per-CPU state of the admission meters of struct sluice_config. */
struct sluice_admission {
	__u64 new_source_tat;
	__u64 unadmitted_tat;
};

/* Key of the per-source bucket map: the source address masked to its prefix. */
struct sluice_source {
	__u32 family;  /* SLUICE_FAMILY_V4 or _V6 */
	__u32 addr[4]; /* network byte order; IPv4 uses addr[0] only */
};

/*
 * Per-source state. The three TATs are updated with compare-and-swap. `policy`
 * caches the LPM lookups as one word, sluice_policy_word(generation, tier): it
 * is re-resolved when the active generation moves on, and only ever replaced
 * by a newer generation's word (compare-and-swap), so a CPU still judging by
 * an older generation never leaves an old tier marked as new.
 * passed/dropped feed `sluicectl top`: plain increments from several CPUs may
 * lose a count under contention, an accepted inaccuracy that keeps atomics off
 * the drop path.
 */
struct sluice_bucket {
	__u64 pkt_tat;
	__u64 byte_tat;
	__u64 syn_tat;
	__u64 policy;  /* generation (low 32 bits) << 32 | tier index or _ALLOW / _DENY */
	__u64 passed;  /* packets passed (approximate) */
	__u64 dropped; /* packets dropped or shadow-dropped (approximate) */
};

SLUICE_INLINE __u64 sluice_policy_word(__u64 generation, __u32 tier)
{
	return (generation << 32) | tier;
}

SLUICE_INLINE __u32 sluice_policy_tier(__u64 word)
{
	return (__u32)word;
}

SLUICE_INLINE __u32 sluice_policy_generation(__u64 word)
{
	return (__u32)(word >> 32);
}

/* Is generation `a` newer than `b`? Serial-number order, so wrapping is fine. */
SLUICE_INLINE int sluice_generation_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

/*
 * Key of the LPM tries. Both families share one trie: a family byte comes
 * first, so that an IPv6 rule (even ::/0) never matches IPv4 sources and vice
 * versa. prefixlen counts the family byte: a.b.c.d/n is stored with
 * prefixlen 8 + n, family SLUICE_LPM_FAMILY_V4 and the address in addr[0..3].
 */
struct sluice_lpm_key {
	__u32 prefixlen;
	__u8 family; /* SLUICE_LPM_FAMILY_V4 or _V6 */
	__u8 addr[16];
	__u8 pad[3];
};

#define SLUICE_LPM_FAMILY_V4 4
#define SLUICE_LPM_FAMILY_V6 6
#define SLUICE_LPM_FAMILY_BITS 8

#endif /* SLUICE_LAYOUT_H */
