/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A fixed-memory latency histogram with log-linear buckets, in the manner of HdrHistogram.
 *
 * Values are whole microseconds from 1 us to 10 s. Below 256 us every microsecond has its own
 * bucket; above, each power of two is split into 128 equal buckets, so any recorded value is
 * known to within 1/128 (0.8 %) of itself. Values over the range land in an overflow counter
 * (they still count for min, max and percentiles, which report max for them). The whole thing
 * is one flat array: recording is a shift, a subtraction and an increment, no allocation.
 */
#ifndef LG_HISTOGRAM_H
#define LG_HISTOGRAM_H

#include <stdint.h>

#define LG_HIST_SUB_BITS 8 /* 256 exact buckets, then 128 per power of two */
#define LG_HIST_SUB	 (1u << LG_HIST_SUB_BITS)
#define LG_HIST_HALF	 (LG_HIST_SUB / 2)
#define LG_HIST_MAX_US	 10000000u /* 10 s: the top of the tracked range */
/* 2^23 <= 10 s < 2^24: shifts 1..16 above the exact range, 128 buckets each. */
#define LG_HIST_SHIFTS	16u
#define LG_HIST_BUCKETS (LG_HIST_SUB + LG_HIST_SHIFTS * LG_HIST_HALF)

struct lg_hist {
	uint64_t count[LG_HIST_BUCKETS];
	uint64_t overflow; /* values above LG_HIST_MAX_US */
	uint64_t total;
	uint64_t min;
	uint64_t max;
};

/** Empty the histogram. */
void lg_hist_reset(struct lg_hist *h);

/** Record one value in microseconds (0 is counted in the first bucket). */
void lg_hist_record(struct lg_hist *h, uint64_t us);

/**
 * Value at percentile @p pct (0..100): the highest value equivalent to the bucket holding
 * that rank, clamped to the recorded max. 0 when empty. A rank in the overflow returns max.
 */
uint64_t lg_hist_percentile(const struct lg_hist *h, double pct);

/** Bucket index of a value within range; exposed for the tests of bucket precision. */
unsigned lg_hist_index(uint64_t us);

/** Highest value that falls into bucket @p idx. */
uint64_t lg_hist_bucket_high(unsigned idx);

#endif
