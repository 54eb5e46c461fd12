/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Weighted Maglev table builder (Eisenbud et al., NSDI 2016, section 3.4).
 *
 * Each member walks its own permutation of the table slots, derived only from its name, and the
 * members take turns claiming their next preferred free slot until every slot is owned. Turns
 * are handed out in proportion to weight, so a member of weight 2 owns about twice the slots of
 * a member of weight 1. Nothing here is random and nothing depends on the process: the same
 * member list always yields the same bytes, which is what lets independent proxy instances agree
 * on where a Call-ID goes without talking to each other.
 */
#include <viaduct/maglev.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/*
 * Seeds of the two name hashes (ASCII "MAGLEVOF" and "MAGLEVSK"). They are part of the routing
 * contract: changing either one reshuffles every table, so instances running different versions
 * would route the same key to different members. Change them only on purpose.
 */
#define MAGLEV_SEED_OFFSET 0x4d41474c45564f46ULL
#define MAGLEV_SEED_SKIP   0x4d41474c4556534bULL

/* Index values must stay below VD_MAGLEV_NO_MEMBER, which marks an unowned slot. */
#define MAGLEV_MAX_MEMBERS (VD_MAGLEV_NO_MEMBER - 1u)

/* memset() byte that turns every uint16_t entry into VD_MAGLEV_NO_MEMBER (0xffff). */
#define MAGLEV_EMPTY_BYTE 0xff

/*
 * A member's position in its permutation. `slot` is permutation[j] for the member's current
 * j, i.e. (offset + j * skip) % size; it is advanced by one add-and-wrap per probe instead of
 * being recomputed with a multiply and a 64-bit division, and no size x members permutation
 * matrix is ever stored. 64-bit fields: slot + skip can exceed 2^32 for sizes above 2^31, and
 * credit + weight can exceed 2^32 for large weights.
 */
struct maglev_cursor {
	uint64_t slot;
	uint64_t skip;
	uint64_t credit; /* turns earned but not yet spent, in units of 1 / max_weight */
};

int vd_maglev_is_prime(uint32_t n)
{
	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	/* Trial division: at most ~32768 odd divisors for any uint32_t, control plane only. */
	for (uint64_t d = 3; d * d <= n; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

static int maglev_check_args(uint32_t size, const struct vd_maglev_member *members,
			     unsigned n_members)
{
	if (members == NULL || n_members == 0 || n_members > MAGLEV_MAX_MEMBERS)
		return -EINVAL;
	if (size <= n_members || !vd_maglev_is_prime(size))
		return -EINVAL;
	for (unsigned i = 0; i < n_members; i++)
		if (members[i].name == NULL && members[i].name_len != 0)
			return -EINVAL;
	return 0;
}

static uint32_t maglev_max_weight(const struct vd_maglev_member *members, unsigned n_members)
{
	uint32_t max = 0;

	for (unsigned i = 0; i < n_members; i++)
		if (members[i].weight > max)
			max = members[i].weight;
	return max;
}

/*
 * Size is prime, so any skip in [1, size - 1] is coprime with it and the walk visits every
 * slot exactly once: a member never runs out of candidates while a free slot remains.
 */
static void maglev_init_cursor(struct maglev_cursor *c, const struct vd_maglev_member *m,
			       uint32_t size)
{
	uint64_t h1 = XXH3_64bits_withSeed(m->name, m->name_len, MAGLEV_SEED_OFFSET);
	uint64_t h2 = XXH3_64bits_withSeed(m->name, m->name_len, MAGLEV_SEED_SKIP);

	c->slot = h1 % size;
	c->skip = h2 % (size - 1) + 1;
	c->credit = 0;
}

/* Caller guarantees at least one free slot, so the walk terminates. */
static void maglev_claim_next(uint16_t *entries, uint32_t size, struct maglev_cursor *c,
			      uint16_t member)
{
	while (entries[c->slot] != VD_MAGLEV_NO_MEMBER) {
		c->slot += c->skip;
		if (c->slot >= size)
			c->slot -= size;
	}
	entries[c->slot] = member;
}

/*
 * Credit-based round robin: every round each member earns weight / max_weight of a turn and
 * spends each whole turn on one slot. The heaviest member claims once per round, so the loop
 * ends within `size` rounds; cost is O(rounds * n_members) plus the probes, which total about
 * size * ln(size) for equal weights (the paper's bound). Members of weight 0 never earn a turn.
 */
static void maglev_populate(uint16_t *entries, uint32_t size, struct maglev_cursor *cursors,
			    const struct vd_maglev_member *members, unsigned n_members,
			    uint32_t max_weight)
{
	uint32_t filled = 0;

	for (;;) {
		for (unsigned i = 0; i < n_members; i++) {
			struct maglev_cursor *c = &cursors[i];

			c->credit += members[i].weight;
			while (c->credit >= max_weight) {
				c->credit -= max_weight;
				maglev_claim_next(entries, size, c, (uint16_t)i);
				if (++filled == size)
					return;
			}
		}
	}
}

/*
 * `t` must not hold a live table (free it first): it is overwritten, and on error its entries
 * are NULL. Callers swapping tables under traffic build into a fresh struct and publish it.
 */
int vd_maglev_build(struct vd_maglev *t, uint32_t size, const struct vd_maglev_member *members,
		    unsigned n_members)
{
	struct maglev_cursor *cursors;
	uint32_t max_weight;
	int err;

	if (t == NULL)
		return -EINVAL;
	t->entries = NULL;
	t->size = 0;
	err = maglev_check_args(size, members, n_members);
	if (err)
		return err;
	t->entries = malloc((size_t)size * sizeof(*t->entries));
	if (t->entries == NULL)
		return -ENOMEM;
	memset(t->entries, MAGLEV_EMPTY_BYTE, (size_t)size * sizeof(*t->entries));
	t->size = size;
	max_weight = maglev_max_weight(members, n_members);
	if (max_weight == 0)
		return 0;
	cursors = calloc(n_members, sizeof(*cursors));
	if (cursors == NULL) {
		vd_maglev_free(t);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n_members; i++)
		maglev_init_cursor(&cursors[i], &members[i], size);
	maglev_populate(t->entries, size, cursors, members, n_members, max_weight);
	free(cursors);
	return 0;
}

void vd_maglev_free(struct vd_maglev *t)
{
	if (t == NULL)
		return;
	free(t->entries);
	t->entries = NULL;
	t->size = 0;
}
