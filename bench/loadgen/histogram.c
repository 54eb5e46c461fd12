/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Log-linear latency histogram (see histogram.h for the layout). Percentiles walk the 2,304
 * buckets once, which is only done at the end of a run, so the walk is not optimised.
 */
#include <math.h>
#include <string.h>

#include "histogram.h"

#define RANK_EPSILON 1e-6

void lg_hist_reset(struct lg_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned lg_hist_index(uint64_t us)
{
	if (us < LG_HIST_SUB)
		return (unsigned)us;
	/* shift brings the value into [128, 256): its top 8 bits pick the bucket. */
	unsigned shift = (unsigned)(63 - __builtin_clzll(us)) - (LG_HIST_SUB_BITS - 1);
	return LG_HIST_SUB + (shift - 1) * LG_HIST_HALF + (unsigned)((us >> shift) - LG_HIST_HALF);
}

uint64_t lg_hist_bucket_high(unsigned idx)
{
	if (idx < LG_HIST_SUB)
		return idx;
	unsigned shift = (idx - LG_HIST_SUB) / LG_HIST_HALF + 1;
	uint64_t top = (idx - LG_HIST_SUB) % LG_HIST_HALF + LG_HIST_HALF;
	return ((top + 1) << shift) - 1;
}

void lg_hist_record(struct lg_hist *h, uint64_t us)
{
	if (us > LG_HIST_MAX_US)
		h->overflow++;
	else
		h->count[lg_hist_index(us)]++;
	h->total++;
	if (us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
}

uint64_t lg_hist_percentile(const struct lg_hist *h, double pct)
{
	if (h->total == 0)
		return 0;
	/* The rank is 1-based: p50 of {1, 2} is 1, p100 is the max. The epsilon keeps a rank that
	 * is whole in decimal (99.9 % of 10,000) from being pushed up by binary rounding. */
	uint64_t rank = (uint64_t)ceil(pct / 100.0 * (double)h->total - RANK_EPSILON);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank) {
			uint64_t v = lg_hist_bucket_high(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max; /* the rank is in the overflow */
}
