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
 * The fill is the paper's, made cheaper without changing a single entry (the golden tests in
 * tests/unit/test_maglev.c hold it to the tables of the straightforward version, 15dce90):
 *
 * - Turns are handed out whole rounds at a time, without a branch per member, and then served
 *   by a loop that does nothing else.
 * - Which slots are taken is kept as a bitmap: 65,537 slots are 8 KiB, which stays in L1 while
 *   the walks probe it at random; the entries (128 KiB) are written once per slot, never read.
 * - A walk steps by one add-and-wrap per probe, never a multiply and a 64-bit division, and no
 *   size x members permutation matrix is stored.
 * - Once a quarter of the slots is taken, "is this slot taken?" is close to a coin toss and a
 *   mispredicted branch costs more than a probe: a walk tests its first MAGLEV_BATCH slots at
 *   once and picks the first free one of them without a branch per slot.
 * - The last MAGLEV_TAIL_SLOTS free slots are not searched by walking. Filling the last k of
 *   size slots takes about size * ln(k) probes (over 40% of all probes for k = 256 of 65,537):
 *   each walk crosses ever longer runs of taken slots. Instead, a member's next slot is found
 *   arithmetically: slot s is (s - slot) / skip (mod size) steps ahead of the member's cursor,
 *   and since every slot the walk would cross before its first free one is taken, that first
 *   free one is the free slot with the fewest steps ahead. So a member computes the steps to
 *   each free slot once (on its first turn in the tail) and each of its turns takes the free
 *   slot with the fewest: exactly the slot its walk would reach.
 */

/*
 * Free slots left when the fill switches from walking to the steps-ahead pick. The tail costs
 * one modular multiply per (member taking turns there, free slot) and a scan of the free slots
 * per turn (~tail^2 / 2 in all); the walks it replaces cost size * ln(tail) probes. 256 is
 * about the balance for 65,537 slots and 32 members (measured: 128 2% slower, 512 7%, 1,024
 * 35%, and no tail at all 30%).
 * Any value gives the same table: it is a speed knob, nothing else. Overridable only so that
 * an equivalence check can force either path.
 */
#ifndef MAGLEV_TAIL_SLOTS
#define MAGLEV_TAIL_SLOTS 256u
#endif

/* Slots a walk tests at once once a quarter of the table is taken (2 and 8 measured slower). */
#define MAGLEV_BATCH 4

/* Turns queued at a time, at least (whole rounds: a round has between 1 and n_members). */
#define MAGLEV_TURNS 256u

/*
 * A member's position in its permutation: `slot` is permutation[j] for the member's current
 * j, i.e. (offset + j * skip) % size. `back` = size - skip: a step is slot + skip, or
 * slot - back when that would reach size, so 32 bits suffice for any size (no sum >= 2^32).
 */
struct maglev_cursor {
	uint32_t slot;
	uint32_t skip;
	uint32_t back;
	uint32_t row; /* 1 + its row of steps in the tail, 0 before its first turn there */
};

/*
 * The slots still free when the tail began, and per member that took a turn since, the steps
 * from its cursor (as it was then) to each of them, packed as steps << 32 | index so that the
 * least value names the slot. Steps differ for distinct slots (skip is invertible), so there
 * are no ties. `live` lists the indices still free, in no order, so that scans skip the
 * claimed ones; pos[k] is where index k sits in it.
 */
struct maglev_tail {
	uint32_t *slots;
	uint32_t *live;
	uint32_t *pos;
	uint64_t *rows; /* row r at rows + r * cap */
	uint32_t n;	/* free slots when the tail began; 0 = not begun */
	uint32_t n_live;
	uint32_t n_rows;
	uint32_t cap; /* slots per row, and rows allocated */
};

struct maglev_fill {
	uint16_t *entries;
	uint64_t *taken;   /* bit s % 64 of word s / 64: slot s has an owner */
	uint64_t *credits; /* per member: turns earned not yet taken, in units of 1 / max weight */
	uint16_t *turns;   /* members taking the next turns, in order: whole rounds */
	uint32_t size;
	uint32_t n_free;
	uint32_t sparse; /* while more slots than this are free, walks test one slot at a time */
	struct maglev_tail tail;
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

/* The largest weight, and the index of the only member with a weight (-1 if not just one). */
static uint32_t maglev_max_weight(const struct vd_maglev_member *members, unsigned n_members,
				  int *only)
{
	uint32_t max = 0;

	*only = -1;
	for (unsigned i = 0; i < n_members; i++) {
		if (members[i].weight == 0)
			continue;
		*only = max == 0 ? (int)i : -1;
		if (members[i].weight > max)
			max = members[i].weight;
	}
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

	c->slot = (uint32_t)(h1 % size);
	c->skip = (uint32_t)(h2 % (size - 1) + 1);
	c->back = size - c->skip;
	c->row = 0;
}

/* Words of the taken bitmap (not (size + 63) / 64: that wraps for sizes near 2^32). */
static uint32_t maglev_words(uint32_t size)
{
	return size / 64 + (size % 64 != 0);
}

static uint32_t maglev_is_taken(const uint64_t *taken, uint32_t slot)
{
	return (uint32_t)(taken[slot / 64] >> (slot % 64) & 1);
}

/*
 * The next slot of a walk. Both successors are computed and one is selected, which gcc emits
 * as a cmov (check the assembly when touching this): a walk is a chain of dependent steps, so
 * a step's latency is what a probe costs, 2 cycles this way, 5 with a mask; a jump on "wraps"
 * mispredicts as often as skip / size (the build took 30% longer with it).
 */
static inline uint32_t maglev_step(uint32_t slot, uint32_t skip, uint32_t back)
{
	uint32_t ahead = slot + skip, wrapped = slot - back;

	return slot >= back ? wrapped : ahead;
}

/* The member's first free slot from its cursor on. Caller guarantees one, so this ends. */
static uint32_t maglev_walk(const uint64_t *taken, struct maglev_cursor *c)
{
	uint32_t slot = c->slot, skip = c->skip, back = c->back;

	while (maglev_is_taken(taken, slot))
		slot = maglev_step(slot, skip, back);
	c->slot = slot;
	return slot;
}

/* The same, testing the first MAGLEV_BATCH slots of the walk with one branch. */
static uint32_t maglev_walk_batch(const uint64_t *taken, struct maglev_cursor *c)
{
	uint32_t s[MAGLEV_BATCH], taken_mask = 0, skip = c->skip, back = c->back;

	s[0] = c->slot;
	for (int k = 1; k < MAGLEV_BATCH; k++)
		s[k] = maglev_step(s[k - 1], skip, back);
	/* Bit k for s[k]: built from the last one so that s[0] ends in bit 0. */
	for (int k = MAGLEV_BATCH - 1; k >= 0; k--)
		taken_mask = taken_mask * 2 + maglev_is_taken(taken, s[k]);
	if (taken_mask != (1u << MAGLEV_BATCH) - 1) {
		c->slot = s[__builtin_ctz(~taken_mask)];
		return c->slot;
	}
	c->slot = maglev_step(s[MAGLEV_BATCH - 1], skip, back);
	return maglev_walk(taken, c);
}

/* Inverse of a modulo the prime m, 0 < a < m (extended Euclid). */
static uint64_t maglev_inverse(uint32_t a, uint32_t m)
{
	int64_t t = 0, next_t = 1, r = m, next_r = a;

	while (next_r != 0) {
		int64_t q = r / next_r, x;

		x = t - q * next_t;
		t = next_t;
		next_t = x;
		x = r - q * next_r;
		r = next_r;
		next_r = x;
	}
	return (uint64_t)(t < 0 ? t + m : t);
}

/* The free slots, in slot order, become the tail's candidates. */
static void maglev_tail_begin(struct maglev_fill *f)
{
	struct maglev_tail *t = &f->tail;
	uint32_t words = maglev_words(f->size);

	t->n = 0;
	for (uint32_t w = 0; w < words; w++) {
		/* Bits past `size` in the last word were set at the start: never free. */
		for (uint64_t free_bits = ~f->taken[w]; free_bits != 0;
		     free_bits &= free_bits - 1) {
			t->slots[t->n] = w * 64 + (uint32_t)__builtin_ctzll(free_bits);
			t->live[t->n] = t->pos[t->n] = t->n;
			t->n++;
		}
	}
	t->n_live = t->n;
}

/* Steps from the member's cursor to each free slot: (s - slot) * skip^-1 mod size. */
static const uint64_t *maglev_tail_row(struct maglev_fill *f, struct maglev_cursor *c)
{
	struct maglev_tail *t = &f->tail;
	uint64_t *row, inv;

	if (c->row != 0)
		return t->rows + (size_t)(c->row - 1) * t->cap;
	row = t->rows + (size_t)t->n_rows * t->cap;
	c->row = ++t->n_rows;
	inv = maglev_inverse(c->skip, f->size);
	for (uint32_t j = 0; j < t->n_live; j++) {
		uint32_t k = t->live[j], s = t->slots[k];
		uint64_t ahead = s >= c->slot ? s - c->slot : (uint64_t)s + f->size - c->slot;

		row[k] = (ahead * inv % f->size) << 32 | k; /* < 2^64: both factors < size */
	}
	return row;
}

/*
 * The free slot the member's walk would reach: the one with the fewest steps ahead. Turns in
 * the tail number at most the free slots, so rows never outnumber min(members, tail slots).
 */
static uint32_t maglev_tail_pick(struct maglev_fill *f, struct maglev_cursor *c)
{
	struct maglev_tail *t = &f->tail;
	const uint64_t *row;
	uint64_t least = UINT64_MAX;
	uint32_t k, last;

	if (t->n == 0)
		maglev_tail_begin(f);
	row = maglev_tail_row(f, c);
	for (uint32_t j = 0; j < t->n_live; j++)
		least = row[t->live[j]] < least ? row[t->live[j]] : least;
	k = (uint32_t)least;
	last = t->live[--t->n_live];
	t->live[t->pos[k]] = last;
	t->pos[last] = t->pos[k];
	c->slot = t->slots[k];
	return c->slot;
}

/*
 * One round of the credit-based round robin: each member earns weight / max_weight of a turn
 * (credits are in units of 1 / max_weight) and takes a turn when it has a whole one. A member
 * takes at most one turn a round (weight <= max_weight, and credit < max_weight after a turn),
 * and the heaviest takes one every round, so a round has at least one turn and the fill ends
 * within `size` rounds. Members of weight 0 never earn a turn. Writes the round's turns in
 * member order, without a branch per member; returns their number.
 */
static uint32_t maglev_round(uint64_t *credits, uint16_t *turns,
			     const struct vd_maglev_member *members, unsigned n_members,
			     uint32_t max_weight)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < n_members; i++) {
		uint64_t credit = credits[i] + members[i].weight;
		uint64_t turn = credit >= max_weight;

		credits[i] = credit - (max_weight & -turn);
		turns[n] = (uint16_t)i;
		n += (uint32_t)turn;
	}
	return n;
}

static inline void maglev_take(struct maglev_fill *f, uint32_t slot, uint16_t member)
{
	f->taken[slot / 64] |= 1ull << (slot % 64);
	f->entries[slot] = member;
}

/*
 * Serves turns by walking while more than the tail's slots are free; returns how many. Two
 * loops, so that neither tests which walk to use per turn.
 */
static uint32_t maglev_walk_turns(struct maglev_fill *f, struct maglev_cursor *cursors,
				  const uint16_t *turns, uint32_t n)
{
	uint32_t walks = f->n_free > f->tail.cap ? f->n_free - f->tail.cap : 0;
	uint32_t plain = f->n_free > f->sparse ? f->n_free - f->sparse : 0;
	uint32_t k;

	walks = n < walks ? n : walks;
	plain = walks < plain ? walks : plain;
	for (k = 0; k < plain; k++)
		maglev_take(f, maglev_walk(f->taken, &cursors[turns[k]]), turns[k]);
	for (; k < walks; k++)
		maglev_take(f, maglev_walk_batch(f->taken, &cursors[turns[k]]), turns[k]);
	f->n_free -= walks;
	return walks;
}

/*
 * Whole rounds, until at least MAGLEV_TURNS turns are queued: serving a queue has a fixed
 * cost, which a round of one turn (a pool of one member) would pay per slot.
 */
static uint32_t maglev_rounds(struct maglev_fill *f, const struct vd_maglev_member *members,
			      unsigned n_members, uint32_t max_weight)
{
	uint32_t n = 0;

	while (n < MAGLEV_TURNS)
		n += maglev_round(f->credits, f->turns + n, members, n_members, max_weight);
	return n;
}

/*
 * Round after round, each turn claims the member's next free slot: by walking, then in the
 * tail by the steps-ahead pick. When every weight is 0 or the maximum (the usual pool), every
 * round's turns are the same list, so the queue is built once.
 */
static void maglev_populate(struct maglev_fill *f, struct maglev_cursor *cursors,
			    const struct vd_maglev_member *members, unsigned n_members,
			    uint32_t max_weight)
{
	int uniform = 1;
	uint32_t n = 0;

	for (unsigned i = 0; i < n_members; i++)
		uniform &= members[i].weight == 0 || members[i].weight == max_weight;
	if (uniform)
		n = maglev_rounds(f, members, n_members, max_weight);
	for (;;) {
		uint32_t k;

		if (!uniform)
			n = maglev_rounds(f, members, n_members, max_weight);
		k = maglev_walk_turns(f, cursors, f->turns, n);
		for (; k < n && f->n_free > 0; k++) {
			maglev_take(f, maglev_tail_pick(f, &cursors[f->turns[k]]), f->turns[k]);
			f->n_free--;
		}
		if (f->n_free == 0)
			return;
	}
}

static void maglev_scratch_free(struct maglev_fill *f, struct maglev_cursor *cursors)
{
	free(cursors);
	free(f->taken);
	free(f->credits);
	free(f->turns);
	free(f->tail.slots);
	free(f->tail.live);
	free(f->tail.pos);
	free(f->tail.rows);
}

/* Scratch of one build: the taken bitmap with the bits past `size` set, and the tail's rows. */
static int maglev_scratch_alloc(struct maglev_fill *f, struct maglev_cursor **cursors,
				unsigned n_members)
{
	uint32_t words = maglev_words(f->size);
	struct maglev_tail *t = &f->tail;
	/* One row per member taking a turn in the tail: at most min(members, tail slots). */
	size_t n_rows;

	t->cap = f->size < MAGLEV_TAIL_SLOTS ? f->size : MAGLEV_TAIL_SLOTS;
	n_rows = n_members < t->cap ? n_members : t->cap;
	*cursors = calloc(n_members, sizeof(**cursors));
	f->taken = calloc(words, sizeof(*f->taken));
	f->credits = calloc(n_members, sizeof(*f->credits));
	f->turns = malloc((MAGLEV_TURNS + n_members) * sizeof(*f->turns));
	t->slots = malloc(t->cap * sizeof(*t->slots));
	t->live = malloc(t->cap * sizeof(*t->live));
	t->pos = malloc(t->cap * sizeof(*t->pos));
	t->rows = malloc(n_rows * t->cap * sizeof(*t->rows));
	if (*cursors == NULL || f->taken == NULL || f->credits == NULL || f->turns == NULL ||
	    t->slots == NULL || t->live == NULL || t->pos == NULL || t->rows == NULL)
		return -ENOMEM;
	if (f->size % 64)
		f->taken[words - 1] = ~0ull << (f->size % 64);
	return 0;
}

/*
 * `t` must not hold a live table (free it first): it is overwritten, and on error its entries
 * are NULL. Callers swapping tables under traffic build into a fresh struct and publish it.
 */
int vd_maglev_build(struct vd_maglev *t, uint32_t size, const struct vd_maglev_member *members,
		    unsigned n_members)
{
	struct maglev_fill f = {0};
	struct maglev_cursor *cursors = NULL;
	uint32_t max_weight;
	int only;
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
	max_weight = maglev_max_weight(members, n_members, &only);
	if (max_weight == 0)
		return 0;
	if (only >= 0) {
		/* Only one member earns turns, so it claims every slot (pools down to one). */
		for (uint32_t s = 0; s < size; s++)
			t->entries[s] = (uint16_t)only;
		return 0;
	}
	f.entries = t->entries;
	f.size = size;
	f.n_free = size;
	f.sparse = size - size / 4;
	err = maglev_scratch_alloc(&f, &cursors, n_members);
	if (err)
		goto fail;
	for (unsigned i = 0; i < n_members; i++)
		maglev_init_cursor(&cursors[i], &members[i], size);
	maglev_populate(&f, cursors, members, n_members, max_weight);
	maglev_scratch_free(&f, cursors);
	return 0;
fail:
	maglev_scratch_free(&f, cursors);
	vd_maglev_free(t);
	return err;
}

void vd_maglev_free(struct vd_maglev *t)
{
	if (t == NULL)
		return;
	free(t->entries);
	t->entries = NULL;
	t->size = 0;
}
