/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the Sluice programs (BPF only), XDP and TC alike: they
 * hand it the bytes they can read (data..data_end, for TC the linear part the
 * caller pulled) and the packet's whole length. Ethernet, up to two
 * VLAN tags, IPv4 with options and fragments, IPv6 with a bounded walk over
 * extension headers, then TCP/UDP/ICMP/ICMPv6. It extracts what the limiter
 * needs: the source address and whether the packet opens a TCP connection.
 */
#ifndef SLUICE_PARSE_H
#define SLUICE_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sluice_layout.h"

#define SLUICE_MAX_VLAN_TAGS 2
#define SLUICE_MAX_EXT_HDRS 8
/* Headers never legitimately reach this deep; it also bounds verifier ranges. */
#define SLUICE_MAX_L3_HDR_BYTES 2048

#define PARSE_OK 0
#define PARSE_NOT_IP 1
/*
 * Truncated or unparseable. When the IP header got far enough to name the
 * source, pkt->src.family is set: the caller still charges that source, so
 * malformed traffic (tiny first fragments, cut TCP headers) cannot bypass its
 * limits. A first fragment too short for its L4 header (RFC 1858) is malformed,
 * and when it may be TCP it is charged as a SYN (docs/fragments.md).
 */
#define PARSE_MALFORMED 2

#ifndef IP_OFFSET
#define IP_OFFSET 0x1fff
#endif

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif

/* The fixed part of ICMP and ICMPv6 headers (type, code, checksum, 4 bytes). */
struct icmp_fixed_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be32 rest;
};

/* IPv6 fragment header (RFC 8200 4.5); the UAPI headers do not export it. */
struct ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-byte units << 3, then 2 reserved bits and M */
	__be32 identification;
};

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct sluice_packet {
	struct sluice_source src; /* full source address */
	/*
	 * May open a TCP connection: a TCP SYN without ACK, or a packet that may
	 * carry TCP flags we could not read (docs/fragments.md). Set as soon as
	 * the protocol may be TCP, cleared only when the flags prove otherwise,
	 * so that no malformed or fragmented SYN escapes the SYN meter.
	 */
	__u32 is_syn;
};

/*
 * Parses the L4 header at `l4`, of which `l4_len` bytes lie within the IP
 * datagram (its total or payload length): bytes past that are link-layer
 * padding the kernel trims, never a header. data_end is checked as well,
 * for the verifier.
 */
static __always_inline int parse_l4(void *l4, __u32 l4_len, void *data_end, __u8 proto,
				    struct sluice_packet *pkt)
{
	pkt->is_syn = proto == IPPROTO_TCP;
	switch (proto) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end || l4_len < sizeof(*tcp) || tcp->doff < 5 ||
		    l4_len < tcp->doff * 4)
			return PARSE_MALFORMED; /* flags unread or untrusted: a SYN */
		pkt->is_syn = tcp->syn && !tcp->ack;
		return PARSE_OK;
	}
	case IPPROTO_UDP:
		return (void *)((struct udphdr *)l4 + 1) > data_end ||
			       l4_len < sizeof(struct udphdr)
			   ? PARSE_MALFORMED
			   : PARSE_OK;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return (void *)((struct icmp_fixed_hdr *)l4 + 1) > data_end ||
			       l4_len < sizeof(struct icmp_fixed_hdr)
			   ? PARSE_MALFORMED
			   : PARSE_OK;
	default:
		/* Other protocols are limited by address only. */
		return PARSE_OK;
	}
}

/*
 * A non-first fragment at offset 1 (8 bytes) of a TCP datagram carries bytes
 * 8..15 of the TCP header, flags included: legitimate stacks never send one
 * (the first fragment would hold 8 bytes of TCP), attackers do to rewrite or
 * supply the flags (RFC 1858, RFC 3128). It is malformed and counts as a SYN.
 * Fragments further on cannot reach the TCP header and are limited by
 * address only.
 */
static __always_inline int parse_later_fragment(__u32 offset_units, __u8 proto,
						struct sluice_packet *pkt)
{
	pkt->is_syn = offset_units == 1 && proto == IPPROTO_TCP;
	return pkt->is_syn ? PARSE_MALFORMED : PARSE_OK;
}

/*
 * `l3_len` is how many bytes the packet holds from l3 on: the datagram is cut
 * when its own length says more. It is not data_end - l3: a TC program sees
 * only the linear head of a GRO super-packet, whose payload lies in pages.
 */
static __always_inline int parse_ipv4(void *l3, void *data_end, __u64 l3_len,
				      struct sluice_packet *pkt)
{
	struct iphdr *ip = l3;
	__u32 hdr_len, tot_len, offset_units;

	if ((void *)(ip + 1) > data_end || ip->version != 4)
		return PARSE_MALFORMED;
	pkt->src.family = SLUICE_FAMILY_V4;
	pkt->src.addr[0] = ip->saddr;
	pkt->is_syn = ip->protocol == IPPROTO_TCP; /* until the flags say otherwise */
	hdr_len = ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (ip->ihl < 5 || l3 + hdr_len > data_end || tot_len < hdr_len || tot_len > l3_len)
		return PARSE_MALFORMED;
	offset_units = bpf_ntohs(ip->frag_off) & IP_OFFSET;
	if (offset_units)
		return parse_later_fragment(offset_units, ip->protocol, pkt);
	return parse_l4(l3 + hdr_len, tot_len - hdr_len, data_end, ip->protocol, pkt);
}

/*
 * Until the walk reaches the upper-layer header, the packet may be TCP: every
 * way out short of it (too many or cut extension headers) leaves is_syn set.
 * `end` is where the payload length says the datagram ends, from l3.
 */
static __always_inline int parse_ipv6(void *l3, void *data_end, __u64 l3_len,
				      struct sluice_packet *pkt)
{
	struct ipv6hdr *ip6 = l3;
	__u32 off = sizeof(*ip6), end;
	__u8 next;
	int i;

	if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
		return PARSE_MALFORMED;
	pkt->src.family = SLUICE_FAMILY_V6;
	__builtin_memcpy(pkt->src.addr, &ip6->saddr, sizeof(pkt->src.addr));
	pkt->is_syn = 1;
	end = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if (end > l3_len)
		return PARSE_MALFORMED;
	next = ip6->nexthdr;

	for (i = 0; i < SLUICE_MAX_EXT_HDRS; i++) {
		struct ipv6_opt_hdr *ext;
		struct ipv6_frag_hdr *frag;

		if (off > SLUICE_MAX_L3_HDR_BYTES)
			return PARSE_MALFORMED;
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			ext = l3 + off;
			if ((void *)(ext + 1) > data_end || off + sizeof(*ext) > end)
				return PARSE_MALFORMED;
			next = ext->nexthdr;
			off += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			frag = l3 + off;
			if ((void *)(frag + 1) > data_end || off + sizeof(*frag) > end)
				return PARSE_MALFORMED;
			if (frag->frag_off & bpf_htons(0xfff8))
				return parse_later_fragment(bpf_ntohs(frag->frag_off) >> 3,
							    frag->nexthdr, pkt);
			next = frag->nexthdr;
			off += sizeof(*frag);
			break;
		case IPPROTO_NONE:
			pkt->is_syn = 0;
			return PARSE_OK;
		default:
			if (off > SLUICE_MAX_L3_HDR_BYTES || off > end)
				return PARSE_MALFORMED;
			return parse_l4(l3 + off, end - off, data_end, next, pkt);
		}
	}
	/* More extension headers than we walk: unparseable, and may hide a SYN. */
	return PARSE_MALFORMED;
}

/*
 * Parses the packet at data..data_end (the bytes readable directly), which is
 * `pkt_len` bytes long in all (XDP: data_end - data; TC: skb->len).
 */
static __always_inline int sluice_parse_packet(void *data, void *data_end, __u64 pkt_len,
					       struct sluice_packet *pkt)
{
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__u64 l3_off = sizeof(*eth);
	__u16 proto;
	int i;

	if (l3 > data_end || pkt_len < l3_off)
		return PARSE_MALFORMED;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < SLUICE_MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > data_end || pkt_len < l3_off + sizeof(*tag))
			return PARSE_MALFORMED;
		proto = tag->encapsulated_proto;
		l3 = tag + 1;
		l3_off += sizeof(*tag);
	}
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(l3, data_end, pkt_len - l3_off, pkt);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(l3, data_end, pkt_len - l3_off, pkt);
	/* A third VLAN tag is more than we parse: unparseable, not "other". */
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return PARSE_MALFORMED;
	return PARSE_NOT_IP;
}

#endif /* SLUICE_PARSE_H */
