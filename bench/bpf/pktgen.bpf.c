// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet generator for the Sluice benchmarks: run with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES on the sending end of a veth pair. Userspace hands
 * the kernel one template frame; the kernel keeps a page pool of copies of it
 * and runs this program on each frame before transmitting it. The program
 * rewrites one 32-bit word of the source address (a counter or a random stream
 * over `pktgen_sources` values), patches the checksums that cover it and
 * returns XDP_TX, which live-frames mode turns into a redirect out of the
 * ingress device, i.e. to the veth peer.
 *
 * Frames in the page pool are recycled without being re-copied from the
 * template, so the program reads the word it replaces from the frame itself
 * and updates the checksums incrementally (RFC 1624) from that old value.
 */
#include <linux/bpf.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "pktgen.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Load-time layout of the template frame, set by userspace before load. */
const volatile struct pktgen_layout pktgen_layout = {};

/* Next source index in counter mode. A live-frames run stays on one CPU. */
__u32 pktgen_next_index = 0;

/* Ones' complement update of a 16-bit checksum when a 32-bit word changes. */
static __always_inline __u16 csum_replace4(__u16 csum, __u32 from, __u32 to)
{
	__u32 sum = (__u16)~csum;

	sum += (__u16)~from + (__u16) ~(from >> 16);
	sum += (__u16)to + (__u16)(to >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static __always_inline __u32 next_index(void)
{
	__u32 sources = pktgen_layout.sources;
	__u32 index;

	if (sources <= 1)
		return 0;
	if (pktgen_layout.random)
		return bpf_get_prandom_u32() % sources;
	index = pktgen_next_index;
	pktgen_next_index = index + 1 >= sources ? 0 : index + 1;
	return index;
}

/* Replaces the 16-bit checksum at `off` (0: none) after `from` became `to`. */
static __always_inline int patch_csum(void *data, void *data_end, __u32 off, __u32 from, __u32 to)
{
	__u16 *csum;

	if (!off)
		return 0;
	csum = data + (off & PKTGEN_MAX_OFFSET_MASK);
	if ((void *)(csum + 1) > data_end)
		return -1;
	/*
	 * A UDP checksum of 0 means "none"; send the computed 0 as 0xffff, its
	 * ones' complement equal, which every checksum here accepts.
	 */
	*csum = csum_replace4(*csum, from, to) ?: 0xffff;
	return 0;
}

SEC("xdp")
int pktgen_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *word = data + (pktgen_layout.word_off & PKTGEN_MAX_OFFSET_MASK);
	__u32 from, to;

	if ((void *)(word + 1) > data_end)
		return XDP_ABORTED;
	from = *word;
	to = bpf_htonl(pktgen_layout.word_base + next_index());
	*word = to;
	if (patch_csum(data, data_end, pktgen_layout.l3_csum_off, from, to) ||
	    patch_csum(data, data_end, pktgen_layout.l4_csum_off, from, to))
		return XDP_ABORTED;
	return XDP_TX;
}
