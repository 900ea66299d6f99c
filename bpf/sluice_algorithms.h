/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sluice's four rate-limit algorithms, each one function over one 64-bit word
 * of state, compiled into BPF programs and into the C++ library alike:
 *
 *   token_bucket    GCRA (sluice_bucket.h): state is the theoretical arrival
 *                   time; a burst of `burst` passes at once, then the rate.
 *   fixed_window    a counter per window of one period; resets at each
 *                   boundary, so up to 2x the limit can pass across one.
 *   sliding_window  the two-counter estimate: previous window's count x the
 *                   fraction of the window still ahead + current count.
 *   leaky_bucket    GCRA as a meter: a bucket that drains at the rate and
 *                   holds `burst` requests (default one: strict spacing of
 *                   1/rate, the smooth output a leaky bucket is known for).
 *
 * Every spend function is pure: it reads the state word and, when it allows,
 * writes the word to store. Lock-free use in BPF is a compare-and-swap of that
 * one word (see sluice_algo_spend_atomic below): a refused spend writes
 * nothing, an allowed one retries when another CPU changed the word first, so
 * no two CPUs ever both spend the same capacity. Because each state is one
 * word, the usual race of window limiters (a CPU resetting the counter at a
 * boundary while another increments it) cannot happen: the window tag and the
 * counters move together.
 *
 * What is accepted: window states carry the low bits of the window number as
 * a tag, not the whole number. A key idle for an exact multiple of 2^tag_bits
 * windows (2^32 windows for fixed_window: 136 years of 1 s windows; for
 * sliding_window 2^32 windows when the limit is below 65536, 2^16 windows up
 * to 2^24) finds its old count looking current and is refused more than it
 * should be, for one window at most; it is never admitted more.
 *
 * All arithmetic is 64-bit integer and exact; no intermediate overflows.
 */
#ifndef SLUICE_ALGORITHMS_H
#define SLUICE_ALGORITHMS_H

#include "sluice_bucket.h"

#define SLUICE_ALGO_TOKEN_BUCKET 0
#define SLUICE_ALGO_FIXED_WINDOW 1
#define SLUICE_ALGO_SLIDING_WINDOW 2
#define SLUICE_ALGO_LEAKY_BUCKET 3
#define SLUICE_ALGO_COUNT 4

/* The largest limit per window a window state can count. */
#define SLUICE_FIXED_WINDOW_LIMIT_MAX 0xffffffffULL
#define SLUICE_SLIDING_WINDOW_LIMIT_MAX 0xffffffULL

/* One limit under one algorithm. limit == 0 and rate.interval_fp == 0: unlimited. */
struct sluice_algo {
	__u32 algorithm;	 /* SLUICE_ALGO_* */
	__u32 count_bits;	 /* sliding_window: width of each counter (16 or 24) */
	__u64 limit;		 /* window algorithms: tokens admitted per window */
	__u64 window_ns;	 /* window algorithms: the window, one period */
	struct sluice_rate rate; /* token_bucket, leaky_bucket */
};

/*
 * floor(a * b / c) and the remainder, exactly, for a < 2^24, b < 2^48 and
 * 0 < c < 2^48: a is split in two 12-bit halves so that no product exceeds
 * 2^61. The sliding window's weighting of the previous count needs it.
 */
SLUICE_INLINE __u64 sluice_mul_div(__u64 a, __u64 b, __u64 c, __u64 *rem)
{
	__u64 high = (a >> 12) * b; /* < 2^60 */
	__u64 q_high = high / c;
	__u64 low = ((high % c) << 12) + (a & 0xfff) * b; /* < 2^61 */

	*rem = low % c;
	return (q_high << 12) + low / c;
}

/*
 * Width of each of a sliding window's two counters for `limit`: 16 bits (room
 * for a 32-bit window tag) up to 65535, else 24. Part of what a state word
 * means: a window state carries across a change only when this stays the same.
 */
SLUICE_INLINE __u32 sluice_sliding_count_bits(__u64 limit)
{
	return limit <= 0xffff ? 16 : 24;
}

/*
 * Builds `tokens` per `period_ns` under `algorithm`. `burst`: the token
 * bucket's burst (0: one period's tokens), the leaky bucket's depth (0: one);
 * window algorithms ignore it. tokens == 0 is unlimited. Returns 0, or -1 for
 * an unknown algorithm or a limit out of the algorithm's range.
 */
SLUICE_INLINE int sluice_algo_make(struct sluice_algo *algo, __u32 algorithm, __u64 tokens,
				   __u64 period_ns, __u64 burst, __u32 spend)
{
	algo->algorithm = algorithm;
	algo->count_bits = 0;
	algo->limit = 0;
	algo->window_ns = 0;
	algo->rate.interval_fp = 0;
	algo->rate.tau_ns = 0;
	switch (algorithm) {
	case SLUICE_ALGO_TOKEN_BUCKET:
		return sluice_rate_make(&algo->rate, tokens, period_ns, burst ? burst : tokens,
					spend);
	case SLUICE_ALGO_LEAKY_BUCKET:
		return sluice_rate_make(&algo->rate, tokens, period_ns, burst ? burst : 1, spend);
	case SLUICE_ALGO_FIXED_WINDOW:
	case SLUICE_ALGO_SLIDING_WINDOW:
		break;
	default:
		return -1;
	}
	if (tokens == 0)
		return 0;
	if (period_ns == 0 || period_ns > SLUICE_PERIOD_MAX_NS)
		return -1;
	if (algorithm == SLUICE_ALGO_FIXED_WINDOW && tokens > SLUICE_FIXED_WINDOW_LIMIT_MAX)
		return -1;
	if (algorithm == SLUICE_ALGO_SLIDING_WINDOW) {
		if (tokens > SLUICE_SLIDING_WINDOW_LIMIT_MAX)
			return -1;
		algo->count_bits = sluice_sliding_count_bits(tokens);
	}
	algo->limit = tokens;
	algo->window_ns = period_ns;
	return 0;
}

/* ---- token bucket and leaky bucket: GCRA over one TAT ---- */

SLUICE_INLINE int sluice_token_bucket_spend(const struct sluice_algo *algo, __u64 tat, __u64 now,
					    __u64 n, __u64 *next)
{
	return sluice_gcra_spend(tat, now, sluice_cost_ns(algo->rate.interval_fp, n),
				 algo->rate.tau_ns, next);
}

/*
 * The same meter as the token bucket: a leaky bucket that drains one request
 * per interval and overflows past `depth` is exactly GCRA with tau = depth x
 * interval. What differs is the depth users expect: one request by default.
 */
SLUICE_INLINE int sluice_leaky_bucket_spend(const struct sluice_algo *algo, __u64 tat, __u64 now,
					    __u64 n, __u64 *next)
{
	return sluice_gcra_spend(tat, now, sluice_cost_ns(algo->rate.interval_fp, n),
				 algo->rate.tau_ns, next);
}

/* ---- fixed window: [window tag: 32][count: 32] ---- */

SLUICE_INLINE __u64 sluice_fixed_window_count(const struct sluice_algo *algo, __u64 state,
					      __u64 now)
{
	__u64 tag = (now / algo->window_ns) & 0xffffffffULL;

	return (state >> 32) == tag ? (state & 0xffffffffULL) : 0;
}

SLUICE_INLINE int sluice_fixed_window_spend(const struct sluice_algo *algo, __u64 state, __u64 now,
					    __u64 n, __u64 *next)
{
	__u64 count, tag;

	if (algo->limit == 0) {
		*next = state;
		return 1;
	}
	count = sluice_fixed_window_count(algo, state, now);
	if (n > algo->limit || count + n > algo->limit)
		return 0;
	tag = (now / algo->window_ns) & 0xffffffffULL;
	*next = (tag << 32) | (count + n);
	return 1;
}

/* ---- sliding window: [window tag][previous count][current count] ---- */

struct sluice_sliding_counts {
	__u64 previous; /* the window before now's, 0 when older */
	__u64 current;	/* now's window */
	__u64 elapsed;	/* ns since now's window began */
};

SLUICE_INLINE struct sluice_sliding_counts
sluice_sliding_window_counts(const struct sluice_algo *algo, __u64 state, __u64 now)
{
	__u32 bits = algo->count_bits;
	__u64 count_mask = (1ULL << bits) - 1;
	__u64 tag_mask = (1ULL << (64 - 2 * bits)) - 1;
	__u64 index = now / algo->window_ns;
	__u64 tag = index & tag_mask;
	__u64 stored_tag = state >> (2 * bits);
	struct sluice_sliding_counts counts = {0, 0, now - index * algo->window_ns};

	if (stored_tag == tag) {
		counts.previous = (state >> bits) & count_mask;
		counts.current = state & count_mask;
	} else if (stored_tag == ((tag - 1) & tag_mask)) {
		counts.previous = state & count_mask;
	}
	return counts;
}

/* ceil(previous x (window - elapsed) / window): the previous window's share. */
SLUICE_INLINE __u64 sluice_sliding_window_weight(const struct sluice_algo *algo,
						 struct sluice_sliding_counts counts)
{
	__u64 rem;
	__u64 q = sluice_mul_div(counts.previous, algo->window_ns - counts.elapsed, algo->window_ns,
				 &rem);

	return q + (rem != 0);
}

/*
 * Allowed when previous x remaining fraction + current + n <= limit, exactly
 * (in integers: ceil of the weighted previous count plus the rest).
 */
SLUICE_INLINE int sluice_sliding_window_spend(const struct sluice_algo *algo, __u64 state,
					      __u64 now, __u64 n, __u64 *next)
{
	struct sluice_sliding_counts counts;
	__u32 bits = algo->count_bits;
	__u64 tag;

	if (algo->limit == 0) {
		*next = state;
		return 1;
	}
	counts = sluice_sliding_window_counts(algo, state, now);
	if (n > algo->limit || counts.current + n > algo->limit)
		return 0;
	if (sluice_sliding_window_weight(algo, counts) > algo->limit - counts.current - n)
		return 0;
	tag = (now / algo->window_ns) & ((1ULL << (64 - 2 * bits)) - 1);
	*next = (tag << (2 * bits)) | (counts.previous << bits) | (counts.current + n);
	return 1;
}

/* ---- dispatch, and what headers report ---- */

/* One spend under the limit's algorithm; see the spend functions above. */
SLUICE_INLINE int sluice_algo_spend(const struct sluice_algo *algo, __u64 state, __u64 now, __u64 n,
				    __u64 *next)
{
	switch (algo->algorithm) {
	case SLUICE_ALGO_FIXED_WINDOW:
		return sluice_fixed_window_spend(algo, state, now, n, next);
	case SLUICE_ALGO_SLIDING_WINDOW:
		return sluice_sliding_window_spend(algo, state, now, n, next);
	case SLUICE_ALGO_LEAKY_BUCKET:
		return sluice_leaky_bucket_spend(algo, state, now, n, next);
	default:
		return sluice_token_bucket_spend(algo, state, now, n, next);
	}
}

/* Time in ns from `now` until n tokens could be spent (SLUICE_TIME_MAX: never). */
SLUICE_INLINE __u64 sluice_algo_wait_ns(const struct sluice_algo *algo, __u64 state, __u64 now,
					__u64 n)
{
	struct sluice_sliding_counts counts;
	__u64 window = algo->window_ns, slack, allowed, rem, to_next;

	if (algo->algorithm == SLUICE_ALGO_TOKEN_BUCKET ||
	    algo->algorithm == SLUICE_ALGO_LEAKY_BUCKET)
		return sluice_gcra_wait_ns(state, now, sluice_cost_ns(algo->rate.interval_fp, n),
					   algo->rate.tau_ns);
	if (algo->limit == 0)
		return 0;
	if (n > algo->limit)
		return SLUICE_TIME_MAX;
	to_next = window - now % window;
	if (algo->algorithm == SLUICE_ALGO_FIXED_WINDOW)
		return sluice_fixed_window_count(algo, state, now) + n <= algo->limit ? 0 : to_next;
	counts = sluice_sliding_window_counts(algo, state, now);
	if (counts.current + n > algo->limit) {
		/* Not in this window: in the next, this window's count is the previous. */
		counts.previous = counts.current;
		counts.current = 0;
		counts.elapsed = 0;
	} else {
		to_next = 0;
	}
	slack = algo->limit - counts.current - n;
	if (counts.previous <= slack)
		return to_next;
	/* previous x (window - t) <= slack x window  <=>  window - t <= allowed */
	allowed = sluice_mul_div(slack, window, counts.previous, &rem);
	if (window - counts.elapsed <= allowed)
		return to_next;
	return to_next + (window - allowed - counts.elapsed);
}

/* Whole tokens that could be spent at `now`. */
SLUICE_INLINE __u64 sluice_algo_remaining(const struct sluice_algo *algo, __u64 state, __u64 now)
{
	struct sluice_sliding_counts counts;
	__u64 used;

	if (algo->algorithm == SLUICE_ALGO_TOKEN_BUCKET ||
	    algo->algorithm == SLUICE_ALGO_LEAKY_BUCKET) {
		/* In whole spends of one (rounded-up) cost each, so that exactly this
		 * many single spends pass now, also when the interval is fractional. */
		__u64 cost = sluice_cost_ns(algo->rate.interval_fp, 1);

		used = state > now ? state - now : 0;
		if (cost == 0 || used >= algo->rate.tau_ns)
			return 0;
		return (algo->rate.tau_ns - used) / cost;
	}
	if (algo->algorithm == SLUICE_ALGO_FIXED_WINDOW)
		return algo->limit - sluice_fixed_window_count(algo, state, now);
	counts = sluice_sliding_window_counts(algo, state, now);
	used = counts.current + sluice_sliding_window_weight(algo, counts);
	return used >= algo->limit ? 0 : algo->limit - used;
}

/* Time in ns until the state equals no state at all (every token back). */
SLUICE_INLINE __u64 sluice_algo_reset_ns(const struct sluice_algo *algo, __u64 state, __u64 now)
{
	struct sluice_sliding_counts counts;
	__u64 to_next;

	if (algo->algorithm == SLUICE_ALGO_TOKEN_BUCKET ||
	    algo->algorithm == SLUICE_ALGO_LEAKY_BUCKET)
		return state > now ? state - now : 0;
	if (algo->limit == 0)
		return 0;
	to_next = algo->window_ns - now % algo->window_ns;
	if (algo->algorithm == SLUICE_ALGO_FIXED_WINDOW)
		return sluice_fixed_window_count(algo, state, now) ? to_next : 0;
	counts = sluice_sliding_window_counts(algo, state, now);
	if (counts.current)
		return to_next + algo->window_ns;
	return counts.previous ? to_next : 0;
}

/*
 * The lock-free form: spends from the word at `state` with compare-and-swap,
 * retrying while other CPUs change it first. Returns 1 when allowed (and
 * stored), 0 when refused (nothing written), -1 when SLUICE_ALGO_CAS_TRIES
 * attempts all lost a race: the caller decides (the data path counts it and
 * refuses). Works in BPF (BPF_ATOMIC cmpxchg, -mcpu=v3) and in C and C++.
 */
#define SLUICE_ALGO_CAS_TRIES 8

SLUICE_INLINE int sluice_algo_spend_atomic(const struct sluice_algo *algo, __u64 *state, __u64 now,
					   __u64 n)
{
	__u64 old = *(volatile __u64 *)state, seen, next;

	for (int i = 0; i < SLUICE_ALGO_CAS_TRIES; i++) {
		next = old;
		if (!sluice_algo_spend(algo, old, now, n, &next))
			return 0;
		if (next == old)
			return 1; /* unlimited: nothing to store */
		seen = __sync_val_compare_and_swap(state, old, next);
		if (seen == old)
			return 1;
		old = seen;
	}
	return -1;
}

#endif /* SLUICE_ALGORITHMS_H */
