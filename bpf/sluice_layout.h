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

#define SLUICE_LAYOUT_VERSION 5

#define SLUICE_MAX_TIERS 64
/* Counter row for packets that belong to no tier (malformed, non-IP, lists). */
#define SLUICE_TIER_NONE SLUICE_MAX_TIERS
/* Bucket entries of allow- and deny-listed sources carry these in `tier`. */
#define SLUICE_TIER_ALLOW 0xfffffffeU
#define SLUICE_TIER_DENY 0xffffffffU

#define SLUICE_DEFAULT_BUCKET_ENTRIES (1U << 20)
#define SLUICE_MAX_PREFIX_ENTRIES 65536
#define SLUICE_MAX_LIST_ENTRIES 65536
/* Key-bound addresses, the keys' own buckets, penalised addresses (docs/key-binding.md). */
#define SLUICE_MAX_KEY_BINDINGS 65536
#define SLUICE_MAX_KEY_BUCKETS 65536
#define SLUICE_MAX_PENALTIES 65536
/* Sources of global tiers tracked for the cluster (docs/kernel-global.md). */
#define SLUICE_MAX_GLOBAL_SOURCES 65536

/* Address families as stored in keys (values of AF_INET / AF_INET6). */
#define SLUICE_FAMILY_V4 2
#define SLUICE_FAMILY_V6 10

/* Tier flags. */
#define SLUICE_TIER_F_SHADOW (1U << 0)	/* count would-be drops, pass everything */
#define SLUICE_TIER_F_DEFINED (1U << 1) /* slot holds a configured tier */
/*
 * Every burst of the tier covers a coarse-clock tick, so the program may judge
 * it by CLOCK_MONOTONIC_COARSE (no clocksource read) without a burst floor.
 * Set by compile_policy; a tier without it is judged by the precise clock.
 */
#define SLUICE_TIER_F_COARSE_OK (1U << 2)
/*
 * The algorithm of the tier's packets/s meter, SLUICE_ALGO_* of
 * sluice_algorithms.h (0: token_bucket), in flags bits 8..9: zero in builds
 * before it, which is the token bucket they ran. Window algorithms
 * (fixed_window, sliding_window) keep `packet_window` where the others keep the
 * GCRA rate `packets`; bytes/s and SYN/s are token buckets in every tier.
 */
#define SLUICE_TIER_ALGO_SHIFT 8
#define SLUICE_TIER_ALGO_MASK (3U << SLUICE_TIER_ALGO_SHIFT)
/* The algorithm is a window one: the one flag the data path branches on. */
#define SLUICE_TIER_F_WINDOW (1U << 3)
/*
 * The tier's limits (packets/s, bytes/s, SYN/s) hold for the whole cluster
 * (docs/kernel-global.md): the program reports what it admitted per source and
 * meter (global_usage) and charges what the peers admitted (global_remote,
 * global_charged) into the bucket's meters.
 */
#define SLUICE_TIER_F_GLOBAL (1U << 4)

/* Access list verdicts (value of the access LPM tries). */
#define SLUICE_ACCESS_ALLOW 1
#define SLUICE_ACCESS_DENY 2

/* Verdict for malformed packets (sluice_config.malformed_verdict). */
#define SLUICE_VERDICT_PASS 0
#define SLUICE_VERDICT_DROP 1

/*
 * The maps the daemon pins under /sys/fs/bpf/sluice/<iface>/v<N>/ and adopts
 * on restart: each is defined as sluice_<name> in sluice_maps.bpf.h and pinned
 * as <name>. The C++ side derives its map fds and pin list from this (a name
 * without a map fails to compile there). sluice_admission is not listed: it is
 * the program's own per-CPU scratch, which the adopted program keeps using (a
 * program replaced in place hands it on). `meta` (struct sluice_meta) and the
 * global_* maps (global_beat the latest) are missing from the pins of builds
 * before them (and the other global_* maps from the pins of layout 4, whose
 * values were smaller: the daemon unpins them before adopting the rest): they
 * are adopted all the same, and the replacing program's maps are pinned.
 */
/* clang-format off */
#define SLUICE_PINNED_MAPS(X)                                                                     \
	X(active) X(config) X(tiers)                                                              \
	X(prefix_0) X(prefix_1) X(access_0) X(access_1)                                           \
	X(buckets) X(counters) X(meta)                                                            \
	X(key_bindings) X(key_buckets) X(penalties)                                               \
	X(global_usage) X(global_remote) X(global_charged) X(global_beat)
/* clang-format on */

/*
 * Counters, one row of SLUICE_COUNTER_MAX per tier plus one for
 * SLUICE_TIER_NONE, per CPU. Index: tier * SLUICE_COUNTER_MAX + counter.
 *
 * The one list of counters: the SLUICE_CNT_* indices below, the C++ table
 * (userspace/policy/counter_table.h) that the daemon's JSON, the metrics and
 * sluicectl read, are all derived from it. Indices are the map layout: never
 * reorder, only append (and then bump SLUICE_LAYOUT_VERSION).
 *
 * X(NAME, name, index, class, reason, column, description)
 *   name         JSON key (`sluicectl stats --json`)
 *   class        SLUICE_CNT_CLASS_*: what the counted packets became
 *   reason       the `reason` label of sluice_packets_total
 *   column       the `sluicectl stats` column it is summed into ("": shown
 *                in the summary line under its description instead)
 *   description  a short phrase for people
 */
#define SLUICE_CNT_CLASS_PASS 0	      /* passed */
#define SLUICE_CNT_CLASS_DROP 1	      /* dropped */
#define SLUICE_CNT_CLASS_SHADOW 2     /* would have been dropped; passed (shadow tier) */
#define SLUICE_CNT_CLASS_CONFIGURED 3 /* passed or dropped by sluice_config.malformed_verdict */
#define SLUICE_CNT_CLASS_EVENT 4      /* not a verdict: counted besides one */

/* clang-format off */
#define SLUICE_COUNTERS(X)                                                                        \
	/* within limits */                                                                       \
	X(PASSED, passed, 0, PASS, "within_limits", "PASSED", "passed")                          \
	/* allow-listed, no limit applied */                                                      \
	X(PASSED_ALLOW, passed_allow, 1, PASS, "allow_list", "", "allow-listed passed")          \
	/* not IP (ARP, LLDP...): not limited */                                                  \
	X(PASSED_OTHER, passed_other, 2, PASS, "not_ip", "", "non-IP passed")                    \
	/* deny-listed */                                                                         \
	X(DROP_DENY, drop_deny, 3, DROP, "deny_list", "", "deny-listed dropped")                 \
	/* over packets/s */                                                                      \
	X(DROP_PKT_RATE, drop_pkt_rate, 4, DROP, "packet_rate", "PKT-RATE", "over packets/s")    \
	/* over bytes/s */                                                                        \
	X(DROP_BYTE_RATE, drop_byte_rate, 5, DROP, "byte_rate", "BYTE-RATE", "over bytes/s")     \
	/* over new TCP connections/s */                                                          \
	X(DROP_SYN_RATE, drop_syn_rate, 6, DROP, "syn_rate", "SYN-RATE", "over SYN/s")           \
	/* truncated or unparseable (verdict configurable) */                                     \
	X(MALFORMED, malformed, 7, CONFIGURED, "malformed", "", "malformed")                     \
	/* shadow tier: would have dropped, passed */                                             \
	X(SHADOW_PKT_RATE, shadow_pkt_rate, 8, SHADOW, "packet_rate", "SHADOW", "shadow over packets/s") \
	X(SHADOW_BYTE_RATE, shadow_byte_rate, 9, SHADOW, "byte_rate", "SHADOW", "shadow over bytes/s") \
	X(SHADOW_SYN_RATE, shadow_syn_rate, 10, SHADOW, "syn_rate", "SHADOW", "shadow over SYN/s") \
	/* bucket update lost every CAS retry */                                                  \
	X(DROP_CONTENDED, drop_contended, 11, DROP, "contended", "", "contended dropped")         \
	/* first packet of a source (bucket created) */                                           \
	X(NEW_SOURCE, new_source, 12, EVENT, "new_source", "SOURCES", "new sources")             \
	/* new source over the creation budget, passed */                                         \
	X(PASSED_UNADMITTED, passed_unadmitted, 13, PASS, "new_source_over_budget", "",          \
	  "unadmitted passed")                                                                    \
	/* new source over the creation budget, dropped */                                        \
	X(DROP_UNADMITTED, drop_unadmitted, 14, DROP, "new_source_over_budget", "",              \
	  "unadmitted dropped")                                                                   \
	/* address in the penalty map (escalated after repeated refusals) */                      \
	X(DROP_PENALTY, drop_penalty, 15, DROP, "penalty", "", "penalised dropped")
/* clang-format on */

#define SLUICE_CNT_ENUM_ENTRY(NAME, name, index, class, reason, column, description)               \
	SLUICE_CNT_##NAME = index,
enum sluice_counter_index { SLUICE_COUNTERS(SLUICE_CNT_ENUM_ENTRY) SLUICE_COUNTER_MAX };
#undef SLUICE_CNT_ENUM_ENTRY

#define SLUICE_COUNTER_ROWS (SLUICE_MAX_TIERS + 1)

struct sluice_counter {
	__u64 packets;
	__u64 bytes;
};

/* A window algorithm's limit: `limit` packets per `window_ns` (both 0: unlimited). */
struct sluice_window {
	__u64 window_ns;
	__u64 limit;
};

/*
 * Limits of one tier; a zero rate (interval_fp == 0) is unlimited. The
 * packets/s meter is `packets` (GCRA) or, when the tier's algorithm is a
 * window (SLUICE_TIER_ALGO_MASK), `packet_window`: same 16 bytes, and a
 * limited window has a non-zero first word like a limited rate.
 */
struct sluice_tier {
	union {
		struct sluice_rate packets;	    /* packets/s: token_bucket, leaky_bucket */
		struct sluice_window packet_window; /* packets/s: fixed_window, sliding_window */
	};
	struct sluice_rate bytes; /* bytes/s (L2 frame length) */
	struct sluice_rate syns;  /* TCP SYN without ACK/s */
	__u32 flags;		  /* SLUICE_TIER_F_* */
	/*
	 * Low 32 bits of the generation from which these three intervals have
	 * been in force without a break (the daemon stamps it on apply). A bucket
	 * last judged at generation g was metered at these intervals when
	 * rate_since is not after g; that is how a rate change finds the rate a
	 * bucket's debt was counted in (docs/policy-switch.md). Was padding in
	 * earlier builds: 0 reads as "since the start", which is true there.
	 */
	__u32 rate_since;
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
	__u32 flags; /* SLUICE_CONFIG_F_* */
	__u32 pad;
};

/*
 * The key maps (penalties, key bindings: sluice_keys.bpf.h) may hold entries:
 * the program looks them up only then, so a configuration without key
 * features pays no hash lookup on empty maps. The daemon's data plane sets it
 * in both slots before it writes a first entry, and each apply() recomputes it
 * from the maps' contents (dataplane_keys.cpp), so a daemon that adopts pins
 * holding entries keeps it set. Anything else writing those maps must set it.
 */
#define SLUICE_CONFIG_F_KEY_MAPS (1U << 0)

/* Per-CPU state of the admission meters of struct sluice_config. */
struct sluice_admission {
	__u64 new_source_tat;
	__u64 unadmitted_tat;
};

/*
 * What the daemon that loaded the running program recorded about it (the one
 * entry of the pinned `meta` map; the program never reads it). A daemon
 * adopting the pins compares it with its own program: another version, tag or
 * clock is replaced in place on the same maps (docs/daemon.md).
 */
struct sluice_meta {
	__u32 layout_version; /* SLUICE_LAYOUT_VERSION; 0: nothing recorded */
	__u32 prog_version;   /* SLUICE_PROG_VERSION of the program (sluice_xdp.bpf.c) */
	__u8 prog_tag[8];     /* the kernel's tag of the program (BPF_TAG_SIZE) */
	__u32 coarse_clock;   /* 1: loaded reading CLOCK_MONOTONIC_COARSE */
	__u32 bucket_entries; /* max_entries of the bucket map */
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
 * the drop path. `passed` counts every passed packet (its meters were just
 * written, so the line is dirty anyway); `dropped` is sampled, one drop in
 * SLUICE_DROP_SAMPLE adding SLUICE_DROP_SAMPLE, so that a flood over its limit
 * leaves the bucket's cache line clean (docs/top-sampling.md).
 */
struct sluice_bucket {
	__u64 pkt_tat;
	__u64 byte_tat;
	__u64 syn_tat;
	__u64 policy;  /* generation (low 32 bits) << 32 | tier index or _ALLOW / _DENY */
	__u64 passed;  /* packets passed (approximate) */
	__u64 dropped; /* packets dropped or shadow-dropped (sampled, approximate) */
};

/*
 * Per-entry drop counts (a bucket's, a key bucket's, a penalty's) are sampled:
 * one drop in SLUICE_DROP_SAMPLE adds SLUICE_DROP_SAMPLE. The per-CPU counters
 * keep the exact totals.
 */
#define SLUICE_DROP_SAMPLE_SHIFT 4
#define SLUICE_DROP_SAMPLE (1U << SLUICE_DROP_SAMPLE_SHIFT)

/* SLUICE_ALGO_* of a tier's packets/s meter. */
SLUICE_INLINE __u32 sluice_tier_algorithm(__u32 flags)
{
	return (flags & SLUICE_TIER_ALGO_MASK) >> SLUICE_TIER_ALGO_SHIFT;
}

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

/*
 * Key-bound addresses (docs/key-binding.md). The daemon binds an address (a
 * struct sluice_source, aggregated as the bucket map's keys) to the API key or
 * JWT subject that last checked in from it; until expires_ns the XDP program
 * judges its packets by the key's tier against the key's own bucket, shared by
 * every address bound to the key. Only the daemon writes bindings.
 */
struct sluice_key_binding {
	__u64 key_id;	  /* the key's entry in key_buckets */
	__u64 expires_ns; /* CLOCK_MONOTONIC; from then on the binding is ignored */
	__u32 tier;	  /* tier index (stable per name, TierSlots) */
	__u32 pad;
};

/* A key's kernel bucket: GCRA TATs of its tier's meters; counts approximate, drops sampled. */
struct sluice_key_bucket {
	__u64 pkt_tat;
	__u64 byte_tat;
	__u64 syn_tat;
	__u64 passed;
	__u64 dropped;
};

/* A penalised address (key: struct sluice_source): dropped until expires_ns. */
struct sluice_penalty {
	__u64 expires_ns; /* CLOCK_MONOTONIC */
	__u64 dropped;	  /* packets dropped while in force (sampled, approximate) */
};

/*
 * Global tiers across hosts (docs/kernel-global.md). Three maps, each with one
 * writer, so that no write is lost to a race:
 * - global_usage (LRU per-CPU hash, source -> struct sluice_global_count):
 *   what the program admitted of global tiers, absolute per CPU, in each meter
 *   the tier defines. Only the program writes it; the daemon sums the CPUs (a
 *   G-counter per meter) every poll and shares the growth.
 * - global_remote (hash, source -> struct sluice_global_remote): what the
 *   peers admitted from the source, absolute totals that only grow. Only the
 *   daemon writes it (a whole value per update).
 * - global_charged (hash, source -> struct sluice_global_count): how much of
 *   each of global_remote's totals the program has charged into the source's
 *   bucket. The daemon creates the entry (zeros) before the source's first
 *   remote total and deletes both when the source is forgotten; the program
 *   moves each figure forward with its own compare-and-swap, and the CPU whose
 *   swap succeeds charges the difference into that meter.
 * Layout 5: the three meters (layout 4 counted packets only, in __u64 values).
 */
struct sluice_global_count {
	__u64 packets;
	__u64 bytes; /* L2 frame length, as the bytes/s meter counts */
	__u64 syns;  /* TCP SYN without ACK */
};

struct sluice_global_remote {
	struct sluice_global_count total; /* the peers admitted (since this entry was created) */
	__u64 since_ns; /* CLOCK_MONOTONIC: the newest part of `total` happened after this */
};

/*
 * The daemon's heartbeat for global tiers (the one entry of global_beat,
 * docs/kernel-global.md "An orphaned program"). The daemon refreshes beat_ns
 * every poll; when no daemon has done so for stale_after_ns (it was killed, or
 * stopped and left the program attached), every packet a global tier admits
 * costs `factor` times its tokens, so that the local part, rate R x share,
 * becomes the host's fallback share R/N. Zero anywhere (the entry of a daemon
 * without global tiers, of a build before the map, never written) or a factor
 * of 1: no fallback. Written whole by the daemon; a reader may see one field
 * of the previous value beside the others of the next, which at worst makes
 * one packet's fallback decision on a beat one poll old.
 */
struct sluice_global_beat {
	__u64 beat_ns;	      /* CLOCK_MONOTONIC of the last refresh; 0: none */
	__u64 stale_after_ns; /* older than this: the program is orphaned; 0: never */
	__u32 factor;	      /* tokens an admitted packet costs when orphaned; 0, 1: as usual */
	__u32 pad;
};

/* beat_ns of a daemon that stopped and left the program attached: stale at once. */
#define SLUICE_GLOBAL_BEAT_STOPPED 1ULL

#define SLUICE_LPM_FAMILY_V4 4
#define SLUICE_LPM_FAMILY_V6 6
#define SLUICE_LPM_FAMILY_BITS 8

#endif /* SLUICE_LAYOUT_H */
