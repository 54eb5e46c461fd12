/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network
 * Load Balancer", NSDI 2016), with weights.
 *
 * The table is built on the control plane from config only: no randomness, so two instances
 * with the same member list build byte-identical tables and route every key the same way.
 * A lookup is one array index. Removing one of N members moves only the keys that were on it
 * (plus a small fraction, bounded by the paper's analysis).
 */
#ifndef VIADUCT_MAGLEV_H
#define VIADUCT_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

#define VD_MAGLEV_NO_MEMBER UINT16_MAX

/** One member as the builder sees it: a stable name (e.g. "10.0.0.1:5060") and a weight. */
struct vd_maglev_member {
	const char *name; /* hashed for the permutation: the member's identity across reloads */
	size_t name_len;
	uint32_t weight; /* 0 = not in the table (down or drained) */
};

struct vd_maglev {
	uint32_t size;     /* prime */
	uint16_t *entries; /* size entries, each a member index, or VD_MAGLEV_NO_MEMBER if none */
};

/** True if n is prime (table sizes must be). */
int vd_maglev_is_prime(uint32_t n);

/**
 * Build a table of `size` entries (prime, > n_members) over the members.
 * Members with weight 0 get no entry; if all weights are 0 every entry is VD_MAGLEV_NO_MEMBER.
 * Returns 0, -EINVAL (size not prime, too small, n_members > 65534) or -ENOMEM.
 * Control plane only (allocates).
 */
int vd_maglev_build(struct vd_maglev *t, uint32_t size, const struct vd_maglev_member *members,
		    unsigned n_members);

void vd_maglev_free(struct vd_maglev *t);

/** Member index for a 64-bit key hash, or VD_MAGLEV_NO_MEMBER. Hot path. */
static inline uint16_t vd_maglev_lookup(const struct vd_maglev *t, uint64_t key_hash)
{
	return t->entries[key_hash % t->size];
}

#endif
