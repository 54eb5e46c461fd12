/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Longest-prefix match over IPv4 and IPv6 prefixes, for lists of thousands of entries (ACLs,
 * allow-lists) checked for every message before any parsing.
 *
 * Built on the control plane: the prefixes (nested or disjoint, as prefixes always are) are
 * flattened into sorted, disjoint address ranges, each holding the value of the most specific
 * prefix that covers it. A lookup is a binary search over the range starts of the address's
 * family: about log2(ranges) compares (14 for 10,000 prefixes), no per-entry loop, no
 * allocation, the same cost whatever matches.
 */
#ifndef VIADUCT_LPM_H
#define VIADUCT_LPM_H

#include <stddef.h>
#include <stdint.h>

#include "viaduct/addr.h"

/** One prefix and what it maps to. */
struct vd_lpm_entry {
	struct vd_prefix prefix;
	uint32_t value;
};

/** An immutable table (opaque). */
struct vd_lpm;

/**
 * Build a table over n entries; an address no prefix covers maps to `none`. The same prefix
 * twice with different values is refused (-EINVAL, its text in err); twice with the same
 * value is one entry. Host bits are ignored. 0, -EINVAL or -ENOMEM. Control plane only.
 */
int vd_lpm_build(const struct vd_lpm_entry *e, unsigned n, uint32_t none, struct vd_lpm **out,
		 char *err, size_t errlen);
void vd_lpm_free(struct vd_lpm *l);

/** The value of the longest prefix covering a (an IPv4-mapped IPv6 address as IPv4), or the
 * table's `none`. Hot path. */
uint32_t vd_lpm_lookup(const struct vd_lpm *l, const union vd_sockaddr *a);

/** Number of ranges the prefixes flattened to, per family (for logs and the benchmark). */
unsigned vd_lpm_ranges(const struct vd_lpm *l, int family);

#endif
