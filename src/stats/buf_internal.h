/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What buf.c shares with the renderers of the stats module (metrics.c) and nobody else: the
 * decimal form of an integer, written by hand because snprintf("%u") for each label value
 * of each sample was a large part of rendering /metrics; and a sample split in two, the label
 * set made once and then copied into several lines, for series that several families share
 * (the member gauges: two families, the same 4,096 label sets of five labels).
 */
#ifndef VIADUCT_STATS_BUF_INTERNAL_H
#define VIADUCT_STATS_BUF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct vd_buf;

#define VD_U64_DEC_MAX 20 /* digits of UINT64_MAX, 18446744073709551615 */

/**
 * Write v in decimal ("%" PRIu64: no sign, no leading zeros, "0" for 0) to out, which has
 * room for VD_U64_DEC_MAX + 1 bytes, and a NUL after it. Returns the number of digits.
 */
size_t vd_buf_u64_dec(char *out, uint64_t v);

/**
 * Append the label set of vd_prom_sample with these labels ({k1="v1",...}, escaped; nothing
 * without labels), to be copied into lines by vd_prom_sample_labelled. Same arguments as the
 * labels of vd_prom_sample.
 */
void vd_prom_labels(struct vd_buf *b, ...) __attribute__((sentinel));

/**
 * Append the line vd_prom_sample would write, given name (name_len bytes) and the text
 * labels (labels_len bytes) that vd_prom_labels made: "name{...} value\n".
 */
void vd_prom_sample_labelled(struct vd_buf *b, const char *name, size_t name_len,
			     const char *labels, size_t labels_len, uint64_t value);

#endif
