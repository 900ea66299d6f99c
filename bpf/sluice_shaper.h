/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The egress shaper's maps, shared by sluice_shaper.bpf.c and the C++ side
 * (userspace/dataplane/shaper.cpp): destination prefix -> class, and per
 * class its rate, horizon, pacing state and counters.
 */
#ifndef SLUICE_SHAPER_H
#define SLUICE_SHAPER_H

#include <linux/types.h>

#include "sluice_layout.h" /* struct sluice_lpm_key */

#define SLUICE_SHAPE_MAX_CLASSES 64
#define SLUICE_SHAPE_MAX_PREFIXES 1024
/* Cilium's bandwidth manager drops what would leave more than 2 s late. */
#define SLUICE_SHAPE_DEFAULT_HORIZON_NS 2000000000ULL

struct sluice_shape_class {
	__u64 rate_bytes;	 /* bytes per second; 0: the class is unused */
	__u64 horizon_ns;	 /* drop a packet that would leave later than now + this */
	__u64 next_departure_ns; /* when the class's last paced packet leaves */
	__u64 passed;		 /* packets sent at once (the class was idle) */
	__u64 delayed;		 /* packets given a later departure time */
	__u64 dropped;		 /* packets beyond the horizon */
	__u64 bytes;		 /* bytes of passed and delayed packets */
};

#endif /* SLUICE_SHAPER_H */
