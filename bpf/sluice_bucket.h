/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sluice bucket arithmetic: one GCRA ("generic cell rate algorithm") meter,
 * compiled into the BPF programs and into the C++ library so that both layers
 * judge a request identically, to the nanosecond.
 *
 * A token bucket of rate r and burst b is kept as one 64-bit "theoretical
 * arrival time" (TAT) per key, in nanoseconds of CLOCK_MONOTONIC. Spending n
 * tokens moves TAT forward by n * interval (interval = 1/r); the spend is
 * allowed while TAT stays at most tau = b * interval ahead of now. One word of
 * state means one compare-and-swap updates it, so no lock is needed (LRU hash
 * values cannot hold a bpf_spin_lock anyway).
 *
 * Integer-only and overflow-free: the interval is fixed point with
 * SLUICE_INTERVAL_FRAC_BITS fractional bits (1/65536 ns), every product is
 * split so that no intermediate exceeds 64 bits, and every sum saturates at
 * SLUICE_TIME_MAX. Costs round up, so a meter never admits more than its rate.
 * The only lossy case: a burst whose refill time exceeds SLUICE_TIME_MAX
 * (~146 years, e.g. 2^32 tokens at 1/hour) is clamped to that span.
 */
#ifndef SLUICE_BUCKET_H
#define SLUICE_BUCKET_H

#include <linux/types.h>

#ifdef __bpf__
#define SLUICE_INLINE static __always_inline
#else
#define SLUICE_INLINE static inline
#endif

#define SLUICE_NSEC_PER_SEC 1000000000ULL
#define SLUICE_INTERVAL_FRAC_BITS 16
#define SLUICE_INTERVAL_ONE (1ULL << SLUICE_INTERVAL_FRAC_BITS)
/* Saturation point of every time sum: 2^62 ns, far beyond any uptime. */
#define SLUICE_TIME_MAX (1ULL << 62)
/* Longest accepted period of a rate (one day); slower rates are rejected. */
#define SLUICE_PERIOD_MAX_NS (86400ULL * SLUICE_NSEC_PER_SEC)

/* One limit dimension as the data path sees it. interval_fp == 0: unlimited. */
struct sluice_rate {
	__u64 interval_fp; /* ns per token, SLUICE_INTERVAL_FRAC_BITS fraction bits */
	__u64 tau_ns;	   /* burst tolerance: burst * interval, saturated */
};

SLUICE_INLINE __u64 sluice_sat_add(__u64 a, __u64 b)
{
	__u64 sum = a + b;

	return (sum < a || sum > SLUICE_TIME_MAX) ? SLUICE_TIME_MAX : sum;
}

/* ceil(n * interval_fp / 2^FRAC) in ns, saturated; n tokens of one rate. */
SLUICE_INLINE __u64 sluice_cost_ns(__u64 interval_fp, __u64 n)
{
	__u64 whole = interval_fp >> SLUICE_INTERVAL_FRAC_BITS;
	__u64 frac = interval_fp & (SLUICE_INTERVAL_ONE - 1);

	if (n == 0 || interval_fp == 0)
		return 0;
	/* The data path's case (one token, or a frame's length): whole < 2^48
	 * and n < 2^16, so neither product can overflow and no division is needed. */
	if (n <= 0xffff)
		return sluice_sat_add(n * whole, (n * frac + SLUICE_INTERVAL_ONE - 1) >>
						     SLUICE_INTERVAL_FRAC_BITS);
	if (n > (1ULL << 32) || (whole && n > SLUICE_TIME_MAX / whole))
		return SLUICE_TIME_MAX;
	/* n <= 2^32 and frac < 2^16: the fraction's product fits easily. */
	return sluice_sat_add(n * whole,
			      (n * frac + SLUICE_INTERVAL_ONE - 1) >> SLUICE_INTERVAL_FRAC_BITS);
}

/* How a meter is spent: one token per event, or many (bytes) at once. */
#define SLUICE_SPEND_UNIT 0 /* packets, SYNs, requests: each spend is one token */
#define SLUICE_SPEND_BULK 1 /* bytes: each spend is a packet's length */

/*
 * Builds a rate of `tokens` per `period_ns` with a burst of `burst` tokens.
 * tokens == 0 means unlimited. Returns 0, or -1 when the rate is out of the
 * supported range (period longer than a day, or over 65536 tokens per ns).
 * A burst below one token is raised to one: a meter must admit something.
 *
 * Costs round up to whole ns. For unit spends the burst tolerance is burst
 * times the rounded cost of one token, so that exactly `burst` events pass at
 * once; the price is that a rate whose interval is not a whole number of ns
 * admits up to 1/interval less than configured (0.1% at 10^6/s). For bulk
 * spends the tolerance is the cost of the whole burst: a packet loses under
 * 1 ns of its cost to rounding.
 */
SLUICE_INLINE int sluice_rate_make(struct sluice_rate *rate, __u64 tokens, __u64 period_ns,
				   __u64 burst, __u32 spend)
{
	__u64 unit_cost;

	rate->interval_fp = 0;
	rate->tau_ns = 0;
	if (tokens == 0)
		return 0;
	if (period_ns == 0 || period_ns > SLUICE_PERIOD_MAX_NS)
		return -1;
	if (tokens > (period_ns << SLUICE_INTERVAL_FRAC_BITS))
		return -1; /* less than 1/65536 ns per token */
	/* period_ns <= 8.64e13 < 2^47, so period_ns << 16 < 2^63. Rounded up:
	 * a meter may admit a hair less than its rate, never more. */
	rate->interval_fp = ((period_ns << SLUICE_INTERVAL_FRAC_BITS) + tokens - 1) / tokens;
	if (burst == 0)
		burst = 1;
	if (spend == SLUICE_SPEND_BULK) {
		rate->tau_ns = sluice_cost_ns(rate->interval_fp, burst);
		return 0;
	}
	unit_cost = sluice_cost_ns(rate->interval_fp, 1);
	rate->tau_ns = burst > SLUICE_TIME_MAX / unit_cost ? SLUICE_TIME_MAX : burst * unit_cost;
	return 0;
}

/*
 * Verdict of spending `cost_ns` against a meter whose TAT is `tat` at time
 * `now`. Returns 1 and the TAT to store in *next_tat when allowed, 0 when the
 * spend would exceed the burst tolerance (nothing is to be stored then).
 */
SLUICE_INLINE int sluice_gcra_spend(__u64 tat, __u64 now, __u64 cost_ns, __u64 tau_ns,
				    __u64 *next_tat)
{
	__u64 base = tat > now ? tat : now;
	__u64 next = sluice_sat_add(base, cost_ns);

	if (next - now > tau_ns)
		return 0;
	*next_tat = next;
	return 1;
}

/*
 * Time in ns from `now` until `cost_ns` could be spent (0: it can be now).
 * This is what Retry-After and rate-limit headers report.
 */
SLUICE_INLINE __u64 sluice_gcra_wait_ns(__u64 tat, __u64 now, __u64 cost_ns, __u64 tau_ns)
{
	__u64 base = tat > now ? tat : now;
	__u64 next = sluice_sat_add(base, cost_ns);

	if (cost_ns > tau_ns)
		return SLUICE_TIME_MAX; /* larger than the burst: never */
	if (next - now <= tau_ns)
		return 0;
	return next - now - tau_ns;
}

/* Whole tokens still available at `now` (for "remaining" headers). */
SLUICE_INLINE __u64 sluice_gcra_remaining(__u64 tat, __u64 now, __u64 interval_fp, __u64 tau_ns)
{
	__u64 used = tat > now ? tat - now : 0;
	__u64 avail, q, r;

	if (interval_fp == 0 || used >= tau_ns)
		return 0;
	avail = tau_ns - used;
	/* avail / (interval_fp / 2^FRAC), in two steps that cannot overflow. */
	if (interval_fp < (1ULL << 47)) {
		q = avail / interval_fp;
		r = avail % interval_fp;
		return (q << SLUICE_INTERVAL_FRAC_BITS) +
		       (r << SLUICE_INTERVAL_FRAC_BITS) / interval_fp;
	}
	/* Intervals over ~2 s per token: whole ns are exact to 1 part in 2^31. */
	return avail / (interval_fp >> SLUICE_INTERVAL_FRAC_BITS);
}

/*
 * ceil(a * b / c), saturated at SLUICE_TIME_MAX; c > 0. The product is kept in
 * two 64-bit halves (BPF has no 128-bit type) and divided bit by bit: 64 rounds,
 * paid only when a bucket is rescaled to a new rate, never per packet.
 */
SLUICE_INLINE __u64 sluice_mul_div_ceil(__u64 a, __u64 b, __u64 c)
{
	__u64 a_lo = a & 0xffffffffULL, a_hi = a >> 32;
	__u64 b_lo = b & 0xffffffffULL, b_hi = b >> 32;
	__u64 lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi;
	__u64 mid = (lo_lo >> 32) + (hi_lo & 0xffffffffULL) + (lo_hi & 0xffffffffULL);
	__u64 lo = (mid << 32) | (lo_lo & 0xffffffffULL);
	__u64 hi = a_hi * b_hi + (hi_lo >> 32) + (lo_hi >> 32) + (mid >> 32);
	__u64 quotient = 0, rest;

	if (hi >= c)
		return SLUICE_TIME_MAX; /* the quotient needs more than 64 bits */
	if (hi == 0) {
		quotient = lo / c;
		rest = lo % c;
	} else {
		rest = hi;
		/* Without branches, so that the verifier walks one path through
		 * the 64 rounds instead of 2^64. */
		for (int i = 0; i < 64; i++) {
			__u64 carry = rest >> 63, diff, borrow, take;

			rest = (rest << 1) | (lo >> 63);
			lo <<= 1;
			diff = rest - c;
			/* rest < c, from the sign of the subtraction's borrow */
			borrow = ((~rest & c) | (~(rest ^ c) & diff)) >> 63;
			/* With the carry the true value exceeds 2^64 > c; the
			 * wrapped difference is still the right remainder. */
			take = carry | (borrow ^ 1);
			rest -= c & (0 - take);
			quotient = (quotient << 1) | take;
		}
	}
	quotient += rest != 0;
	return quotient > SLUICE_TIME_MAX ? SLUICE_TIME_MAX : quotient;
}

/*
 * A meter's debt (TAT - now, in ns) after its rate changes from `from_fp` to
 * `to`: the same number of tokens at the new interval, rounded up, and at most
 * the new burst tolerance (a debt beyond it would stall the source). A change
 * from unlimited leaves no debt.
 */
SLUICE_INLINE __u64 sluice_rescale_debt(__u64 debt_ns, __u64 from_fp, const struct sluice_rate *to)
{
	__u64 debt;

	if (from_fp == 0 || to->interval_fp == 0)
		return 0;
	debt = from_fp == to->interval_fp ? debt_ns
					  : sluice_mul_div_ceil(debt_ns, to->interval_fp, from_fp);
	return debt < to->tau_ns ? debt : to->tau_ns;
}

#endif /* SLUICE_BUCKET_H */
