// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sluice's egress shaper: a leaky bucket as a queue. Each packet toward a
 * shaped destination prefix gets an earliest departure time (skb->tstamp)
 * one packet-length's worth of its class's rate after the class's previous
 * packet; the fq qdisc holds it until then. What would leave later than the
 * class's horizon is dropped instead: the queue stays bounded and TCP sees
 * the loss. Other destinations pass untouched. The same scheme as Cilium's
 * bandwidth manager (bpf/lib/edt.h), per destination class instead of per pod.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sluice_shaper.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Load-time knob: pace by sluice_shaper_now_ns instead of the kernel clock (tests). */
const volatile __u32 sluice_shaper_test_clock = 0;
__u64 sluice_shaper_now_ns = 0;

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SLUICE_SHAPE_MAX_PREFIXES);
	__type(key, struct sluice_lpm_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} sluice_shape_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_SHAPE_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct sluice_shape_class);
} sluice_shape_classes SEC(".maps");

/* The class of the packet's destination, or NULL when it is not shaped. */
static __always_inline struct sluice_shape_class *class_of(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct sluice_lpm_key key = {};
	__u32 *index;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + sizeof(struct ethhdr);

		if ((void *)(ip + 1) > data_end)
			return NULL;
		key.prefixlen = SLUICE_LPM_FAMILY_BITS + 32;
		key.family = SLUICE_LPM_FAMILY_V4;
		__builtin_memcpy(key.addr, &ip->daddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if ((void *)(ip6 + 1) > data_end)
			return NULL;
		key.prefixlen = SLUICE_LPM_FAMILY_BITS + 128;
		key.family = SLUICE_LPM_FAMILY_V6;
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
	} else {
		return NULL;
	}
	index = bpf_map_lookup_elem(&sluice_shape_prefixes, &key);
	return index ? bpf_map_lookup_elem(&sluice_shape_classes, index) : NULL;
}

SEC("tc")
int sluice_shaper(struct __sk_buff *skb)
{
	struct sluice_shape_class *c;
	__u64 now, delay, earliest, prev, next;

	/* Ethernet and the IP header must be linear for class_of(). */
	if (skb->data + sizeof(struct ethhdr) + sizeof(struct ipv6hdr) > skb->data_end)
		bpf_skb_pull_data(skb, sizeof(struct ethhdr) + sizeof(struct ipv6hdr));
	c = class_of(skb);
	if (!c || !c->rate_bytes)
		return TC_ACT_OK;

	delay = (__u64)skb->len * 1000000000ULL / c->rate_bytes;
	now = sluice_shaper_test_clock ? sluice_shaper_now_ns : bpf_ktime_get_ns();
	/* A socket's own pacing (TCP's EDT) may already ask for later. */
	earliest = skb->tstamp > now ? skb->tstamp : now;
	/*
	 * The class's departure clock moves by compare-and-swap, so two CPUs
	 * sending to one class never hand out the same slot; a CPU that keeps
	 * losing the race (others move the clock under it) sends unpaced.
	 */
	prev = READ_ONCE(c->next_departure_ns);
	for (int i = 0; i < 4; i++) {
		next = prev + delay;
		if (next <= earliest) {
			/* Idle long enough: leave now, the class's clock restarts here. */
			if (__sync_val_compare_and_swap(&c->next_departure_ns, prev, earliest) !=
			    prev)
				goto retry;
			__sync_fetch_and_add(&c->passed, 1);
			__sync_fetch_and_add(&c->bytes, skb->len);
			return TC_ACT_OK;
		}
		if (next - now > c->horizon_ns) {
			__sync_fetch_and_add(&c->dropped, 1);
			return TC_ACT_SHOT;
		}
		if (__sync_val_compare_and_swap(&c->next_departure_ns, prev, next) == prev) {
			bpf_skb_set_tstamp(skb, next, BPF_SKB_TSTAMP_DELIVERY_MONO);
			__sync_fetch_and_add(&c->delayed, 1);
			__sync_fetch_and_add(&c->bytes, skb->len);
			return TC_ACT_OK;
		}
	retry:
		prev = READ_ONCE(c->next_departure_ns);
	}
	__sync_fetch_and_add(&c->passed, 1);
	return TC_ACT_OK;
}
