/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps of the Sluice data path, for BPF programs only (they need
 * <bpf/bpf_helpers.h>). What they hold is laid out in sluice_layout.h, which
 * the C++ side shares; their names are what the daemon pins and adopts.
 */
#ifndef SLUICE_MAPS_BPF_H
#define SLUICE_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_layout.h"

/* Active policy generation; its low bit selects the slot of every double-buffered map. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sluice_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct sluice_config);
} sluice_config SEC(".maps");

/* Slot s holds tiers [s * SLUICE_MAX_TIERS, (s + 1) * SLUICE_MAX_TIERS). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * SLUICE_MAX_TIERS);
	__type(key, __u32);
	__type(value, struct sluice_tier);
} sluice_tiers SEC(".maps");

#define SLUICE_LPM_MAP(name, entries)                                                              \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                                               \
		__uint(max_entries, entries);                                                      \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		__type(key, struct sluice_lpm_key);                                                \
		__type(value, __u32);                                                              \
	} name SEC(".maps")

/* CIDR -> tier index, two slots. */
SLUICE_LPM_MAP(sluice_prefix_0, SLUICE_MAX_PREFIX_ENTRIES);
SLUICE_LPM_MAP(sluice_prefix_1, SLUICE_MAX_PREFIX_ENTRIES);
/* CIDR -> SLUICE_ACCESS_ALLOW / _DENY, two slots. */
SLUICE_LPM_MAP(sluice_access_0, SLUICE_MAX_LIST_ENTRIES);
SLUICE_LPM_MAP(sluice_access_1, SLUICE_MAX_LIST_ENTRIES);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_DEFAULT_BUCKET_ENTRIES);
	__type(key, struct sluice_source);
	__type(value, struct sluice_bucket);
} sluice_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (SLUICE_COUNTER_ROWS * SLUICE_COUNTER_MAX));
	__type(key, __u32);
	__type(value, struct sluice_counter);
} sluice_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_admission);
} sluice_admission SEC(".maps");

/* What the loading daemon recorded about the program (struct sluice_meta). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_meta);
} sluice_meta SEC(".maps");

/* Global tiers: see struct sluice_global_remote in sluice_layout.h. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, SLUICE_MAX_GLOBAL_SOURCES);
	__type(key, struct sluice_source);
	__type(value, struct sluice_global_count);
} sluice_global_usage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_GLOBAL_SOURCES);
	__type(key, struct sluice_source);
	__type(value, struct sluice_global_remote);
} sluice_global_remote SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_GLOBAL_SOURCES);
	__type(key, struct sluice_source);
	__type(value, struct sluice_global_count);
} sluice_global_charged SEC(".maps");

/* The daemon's heartbeat for global tiers (struct sluice_global_beat). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_global_beat);
} sluice_global_beat SEC(".maps");

#endif /* SLUICE_MAPS_BPF_H */
