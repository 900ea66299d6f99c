/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared by the packet generator's XDP program and sluice-pktgen: how the
 * program finds, in the template frame, the source address word it varies and
 * the checksums that cover it.
 */
#ifndef SLUICE_PKTGEN_H
#define SLUICE_PKTGEN_H

#include <linux/types.h>

/* Offsets are masked with this so the verifier sees them bounded. */
#define PKTGEN_MAX_OFFSET_MASK 0xff

struct pktgen_layout {
	__u32 word_off;	   /* byte offset of the 32-bit source address word varied */
	__u32 word_base;   /* value (host order) of that word for source index 0 */
	__u32 sources;	   /* distinct values: word_base .. word_base + sources - 1 */
	__u32 random;	   /* 0: cycle through the sources; 1: pick at random */
	__u32 l3_csum_off; /* IPv4 header checksum offset, or 0 */
	__u32 l4_csum_off; /* UDP/TCP checksum offset, or 0 (IPv4 UDP sent without one) */
};

#endif /* SLUICE_PKTGEN_H */
