/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the weighted Maglev builder (src/route/maglev.c).
 *
 * They pin the properties the proxy relies on: identical tables from identical config (and a
 * golden table that freezes the hash seeds), near-perfect balance for equal weights, shares that
 * follow weights, small disruption when a member leaves, and -EINVAL for bad sizes or inputs.
 */
#include <viaduct/maglev.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <xxhash.h>

#define BIG_PRIME	       65537u /* the default table size of the config */
#define NAME_MAX_LEN	       32
#define MAX_TEST_MEMBERS       64
#define SHARE_TOLERANCE	       0.01 /* absolute, as a fraction of the table */
#define DISRUPTION_SLACK       0.01 /* moves allowed beyond the 1/N that must move */
#define CALLID_COUNT	       100000u
#define CALLID_SHARE_TOLERANCE 0.02 /* sampling noise of 100k keys is ~0.15%: ample margin */
#define TEST_TIMEOUT_S	       10   /* a skip of 0 (mod size) never ends: fail, do not hang */

/* A member list whose names live next to it, so tests can copy and edit it freely. */
struct pool {
	char names[MAX_TEST_MEMBERS][NAME_MAX_LEN];
	struct vd_maglev_member m[MAX_TEST_MEMBERS];
	unsigned n;
};

static void pool_init(struct pool *p, unsigned n, uint32_t weight)
{
	cr_assert_leq(n, MAX_TEST_MEMBERS);
	p->n = n;
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(p->names[i], NAME_MAX_LEN, "10.0.%u.%u:5060", i / 250,
				   i % 250 + 1);

		p->m[i].name = p->names[i];
		p->m[i].name_len = (size_t)len;
		p->m[i].weight = weight;
	}
}

/* Copy of `src` without member `skip`; map[j] is the index in `src` of member j of `dst`. */
static void pool_remove(struct pool *dst, const struct pool *src, unsigned skip, unsigned *map)
{
	unsigned j = 0;

	for (unsigned i = 0; i < src->n; i++) {
		if (i == skip)
			continue;
		memcpy(dst->names[j], src->names[i], NAME_MAX_LEN);
		dst->m[j] = src->m[i];
		dst->m[j].name = dst->names[j];
		map[j++] = i;
	}
	dst->n = j;
}

static void build_ok(struct vd_maglev *t, uint32_t size, const struct pool *p)
{
	int rc = vd_maglev_build(t, size, p->m, p->n);

	cr_assert_eq(rc, 0, "build(size=%u, n=%u) returned %d", size, p->n, rc);
	cr_assert_not_null(t->entries);
	cr_assert_eq(t->size, size);
}

/* Counts entries per member, asserting every entry is a valid index. */
static void count_entries(const struct vd_maglev *t, unsigned n, uint32_t *counts)
{
	memset(counts, 0, n * sizeof(*counts));
	for (uint32_t s = 0; s < t->size; s++) {
		cr_assert_lt(t->entries[s], n, "slot %u holds %u, n=%u", s, t->entries[s], n);
		counts[t->entries[s]]++;
	}
}

static void assert_share(uint32_t count, uint32_t size, double expected, const char *what)
{
	double share = (double)count / size;

	cr_assert(share > expected - SHARE_TOLERANCE && share < expected + SHARE_TOLERANCE,
		  "%s: share %.4f, expected %.4f", what, share, expected);
}

TestSuite(maglev, .timeout = TEST_TIMEOUT_S);

Test(maglev, is_prime)
{
	static const uint32_t primes[] = {2, 3, 5, 13, 251, 65521, 65537, 1000003, 4294967291u};
	/* Squares of primes catch an off-by-one in the sqrt bound of trial division. */
	static const uint32_t composites[] = {
		0, 1, 4, 9, 25, 49, 65535, 65536, 1000001, 65537u * 65521u, 4294967295u};

	for (size_t i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		cr_assert(vd_maglev_is_prime(primes[i]), "%u is prime", primes[i]);
	for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++)
		cr_assert_not(vd_maglev_is_prime(composites[i]), "%u is not prime", composites[i]);
}

Test(maglev, deterministic)
{
	struct pool p, q;
	struct vd_maglev a, b;
	unsigned map[MAX_TEST_MEMBERS];

	pool_init(&p, 10, 1);
	p.m[3].weight = 5;
	/* Same content at other addresses: the table depends on names, not on pointers. */
	pool_remove(&q, &p, MAX_TEST_MEMBERS, map);
	build_ok(&a, BIG_PRIME, &p);
	build_ok(&b, BIG_PRIME, &q);
	cr_assert_eq(memcmp(a.entries, b.entries, BIG_PRIME * sizeof(*a.entries)), 0);
	vd_maglev_free(&a);
	vd_maglev_free(&b);
}

/*
 * Compatibility contract: every instance with the same config must route identically, across
 * versions too (rolling upgrades run mixed versions side by side). These 13 entries were computed
 * once from this implementation and are hard-coded on purpose: if this test fails, the hash
 * seeds, the permutation or the weighted fill changed, and every deployed table would reshuffle.
 * Update the golden only for a deliberate, documented break.
 */
Test(maglev, golden_table)
{
	static const uint16_t golden[13] = {1, 2, 1, 2, 2, 2, 1, 2, 2, 2, 0, 0, 0};
	struct pool p;
	struct vd_maglev t;

	pool_init(&p, 3, 1);
	p.m[2].weight = 2;
	build_ok(&t, 13, &p);
	for (unsigned s = 0; s < 13; s++)
		cr_assert_eq(t.entries[s], golden[s], "slot %u: got %u, golden %u", s, t.entries[s],
			     golden[s]);
	vd_maglev_free(&t);
}

/*
 * The same contract at production scale: XXH3 of whole tables (entries serialised little-endian,
 * so the figure does not depend on the host's byte order), for member sets and sizes that take
 * every path of the builder: equal weights (the bench's pool), mixed weights with a drained
 * member, a large prime, huge weights, many members. The hashes were computed from the builder
 * as it was before the 2026-12 speed-up (commit 15dce90) and must never change by accident.
 */
struct golden_hash {
	const char *what;
	unsigned n;
	uint32_t size;
	uint32_t (*weight)(unsigned i);
	uint64_t xxh3;
};

static uint32_t w_one(unsigned i)
{
	(void)i;
	return 1;
}

static uint32_t w_mixed(unsigned i)
{
	return i == 5 ? 0 : i % 4 + 1;
}

static uint32_t w_thousands(unsigned i)
{
	return (i + 1) * 1000;
}

static uint32_t w_huge(unsigned i)
{
	return i == 0 ? UINT32_MAX / 3 : UINT32_MAX - i;
}

static uint32_t w_sparse(unsigned i)
{
	return (i * 7) % 5; /* every fifth member drained */
}

static uint64_t table_hash(const struct vd_maglev *t)
{
	uint8_t *le = malloc((size_t)t->size * 2);
	uint64_t h;

	cr_assert_not_null(le);
	for (uint32_t s = 0; s < t->size; s++) {
		le[2 * s] = (uint8_t)(t->entries[s] & 0xff);
		le[2 * s + 1] = (uint8_t)(t->entries[s] >> 8);
	}
	h = XXH3_64bits(le, (size_t)t->size * 2);
	free(le);
	return h;
}

Test(maglev, golden_hashes)
{
	static const struct golden_hash cases[] = {
		{"32 equal", 32, BIG_PRIME, w_one, 0xbcbcc9ef3cbef3a6ull},
		{"32 mixed, one drained", 32, BIG_PRIME, w_mixed, 0x755dee436cab5ee5ull},
		{"10 weights 1000..10000", 10, 1000003, w_thousands, 0x67f5d75f69a1c1fdull},
		{"3 huge weights", 3, BIG_PRIME, w_huge, 0x3f4c4ca5c1ed49f4ull},
		{"64 sparse", 64, BIG_PRIME, w_sparse, 0x6dfbe706af9fe109ull},
		{"7 equal, small table", 7, 251, w_one, 0x50f32a0c25cec68cull},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct golden_hash *c = &cases[k];
		struct pool p;
		struct vd_maglev t;
		uint64_t h;

		pool_init(&p, c->n, 0);
		for (unsigned i = 0; i < c->n; i++)
			p.m[i].weight = c->weight(i);
		build_ok(&t, c->size, &p);
		h = table_hash(&t);
		cr_log_info("golden hash %s: 0x%016llx", c->what, (unsigned long long)h);
		cr_expect_eq(h, c->xxh3, "%s: table hash 0x%016llx, golden 0x%016llx", c->what,
			     (unsigned long long)h, (unsigned long long)c->xxh3);
		vd_maglev_free(&t);
	}
}

/*
 * The builder in its plainest form, as it was before it was made faster (15dce90): each member
 * walks (offset + j * skip) % size, and rounds of credit hand out turns. The seeds repeat the
 * private ones of src/route/maglev.c (golden_table and golden_hashes pin them). The fast
 * builder must give the same bytes for every input.
 */
#define REF_SEED_OFFSET 0x4d41474c45564f46ULL
#define REF_SEED_SKIP	0x4d41474c4556534bULL

static uint16_t *reference_build(uint32_t size, const struct vd_maglev_member *m, unsigned n)
{
	uint16_t *e = malloc(size * sizeof(*e));
	uint64_t *next = calloc(n, sizeof(*next)), *skip = calloc(n, sizeof(*skip));
	uint64_t *credit = calloc(n, sizeof(*credit));
	uint32_t max = 0, filled = 0;

	cr_assert(e != NULL && next != NULL && skip != NULL && credit != NULL);
	memset(e, 0xff, size * sizeof(*e));
	for (unsigned i = 0; i < n; i++) {
		next[i] = XXH3_64bits_withSeed(m[i].name, m[i].name_len, REF_SEED_OFFSET) % size;
		skip[i] =
			XXH3_64bits_withSeed(m[i].name, m[i].name_len, REF_SEED_SKIP) % (size - 1) +
			1;
		max = m[i].weight > max ? m[i].weight : max;
	}
	while (max > 0 && filled < size) {
		for (unsigned i = 0; i < n && filled < size; i++) {
			for (credit[i] += m[i].weight; credit[i] >= max && filled < size;
			     credit[i] -= max) {
				while (e[next[i]] != VD_MAGLEV_NO_MEMBER)
					next[i] = (next[i] + skip[i]) % size;
				e[next[i]] = (uint16_t)i;
				filled++;
			}
		}
	}
	free(next);
	free(skip);
	free(credit);
	return e;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A random weight of one of several shapes: equal, small, zero-heavy, huge, any. */
static uint32_t random_weight(uint64_t *rng, unsigned shape, uint32_t same)
{
	switch (shape) {
	case 0:
		return same;
	case 1:
		return (uint32_t)(splitmix64(rng) % 4);
	case 2:
		return splitmix64(rng) % 5 == 0 ? 0 : same;
	case 3:
		return splitmix64(rng) % 2 ? UINT32_MAX : (uint32_t)(splitmix64(rng) % 3);
	default:
		return (uint32_t)splitmix64(rng);
	}
}

/*
 * Random member sets, weights and sizes (small tables are filled by the tail pick alone, large
 * ones mostly by walking), each built by both builders: the tables must be identical.
 */
Test(maglev, same_as_reference)
{
	static const uint32_t sizes[] = {2,   3,    5,	  13,	61,    251,   257,  263,
					 509, 1021, 2053, 4099, 16381, 65521, 65537};
	enum { CASES = 300, SHAPES = 5 };
	uint64_t rng = 0x6d61676c6576ULL; /* fixed: the same cases every run */
	char names[MAX_TEST_MEMBERS][NAME_MAX_LEN];
	struct vd_maglev_member m[MAX_TEST_MEMBERS];

	for (unsigned c = 0; c < CASES; c++) {
		uint32_t size = sizes[splitmix64(&rng) % (sizeof(sizes) / sizeof(sizes[0]))];
		unsigned max_n = size - 1 < MAX_TEST_MEMBERS ? size - 1 : MAX_TEST_MEMBERS;
		unsigned n = 1 + (unsigned)(splitmix64(&rng) % max_n);
		unsigned shape = (unsigned)(splitmix64(&rng) % SHAPES);
		uint32_t same = 1 + (uint32_t)(splitmix64(&rng) % 1000);
		struct vd_maglev t;
		uint16_t *want;

		for (unsigned i = 0; i < n; i++) {
			int len = snprintf(names[i], NAME_MAX_LEN, "10.%u.%u.%u:%u", c % 256, i,
					   (unsigned)(splitmix64(&rng) % 256), 5060 + i);

			m[i] = (struct vd_maglev_member){names[i], (size_t)len,
							 random_weight(&rng, shape, same)};
		}
		want = reference_build(size, m, n);
		cr_assert_eq(vd_maglev_build(&t, size, m, n), 0);
		for (uint32_t s = 0; s < size; s++)
			cr_assert_eq(t.entries[s], want[s],
				     "case %u (size %u, %u members, shape %u) slot %u: %u, want %u",
				     c, size, n, shape, s, t.entries[s], want[s]);
		vd_maglev_free(&t);
		free(want);
	}
}

/* Equal weights: the fill is strict round robin, so counts differ by at most one entry. */
Test(maglev, balance_equal_weights)
{
	static const unsigned ns[] = {2, 3, 5, 10};

	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		struct pool p;
		struct vd_maglev t;
		uint32_t counts[MAX_TEST_MEMBERS];
		uint32_t lo = UINT32_MAX, hi = 0;

		pool_init(&p, ns[k], 7);
		build_ok(&t, BIG_PRIME, &p);
		count_entries(&t, p.n, counts);
		for (unsigned i = 0; i < p.n; i++) {
			lo = counts[i] < lo ? counts[i] : lo;
			hi = counts[i] > hi ? counts[i] : hi;
			assert_share(counts[i], BIG_PRIME, 1.0 / p.n, "equal weights");
		}
		cr_assert_leq(hi - lo, 1, "N=%u: min %u max %u", p.n, lo, hi);
		vd_maglev_free(&t);
	}
}

Test(maglev, weights_one_and_three)
{
	struct pool p;
	struct vd_maglev t;
	uint32_t counts[2];

	pool_init(&p, 2, 1);
	p.m[1].weight = 3;
	build_ok(&t, BIG_PRIME, &p);
	count_entries(&t, 2, counts);
	assert_share(counts[0], BIG_PRIME, 0.25, "weight 1 of 4");
	assert_share(counts[1], BIG_PRIME, 0.75, "weight 3 of 4");
	vd_maglev_free(&t);
}

Test(maglev, weights_mixed)
{
	struct pool p;
	struct vd_maglev t;
	uint32_t counts[4];

	pool_init(&p, 4, 0);
	for (unsigned i = 0; i < 4; i++)
		p.m[i].weight = i + 1;
	build_ok(&t, BIG_PRIME, &p);
	count_entries(&t, 4, counts);
	for (unsigned i = 0; i < 4; i++)
		assert_share(counts[i], BIG_PRIME, (i + 1) / 10.0, "weights 1..4");
	vd_maglev_free(&t);
}

/* Weights near UINT32_MAX must not overflow the turn credit. */
Test(maglev, weights_huge)
{
	struct pool p;
	struct vd_maglev t;
	uint32_t counts[2];

	pool_init(&p, 2, UINT32_MAX);
	p.m[0].weight = UINT32_MAX / 3;
	build_ok(&t, BIG_PRIME, &p);
	count_entries(&t, 2, counts);
	assert_share(counts[0], BIG_PRIME, 0.25, "weight max/3");
	assert_share(counts[1], BIG_PRIME, 0.75, "weight max");
	vd_maglev_free(&t);
}

static double changed_fraction(const struct vd_maglev *before, const struct vd_maglev *after,
			       const unsigned *map)
{
	uint32_t changed = 0;

	for (uint32_t s = 0; s < before->size; s++)
		if (before->entries[s] != map[after->entries[s]])
			changed++;
	return (double)changed / before->size;
}

/* Removes each member in turn; only the removed member's ~1/N must move, plus a little churn. */
static void check_disruption(unsigned n)
{
	struct pool p, q;
	struct vd_maglev full, less;
	unsigned map[MAX_TEST_MEMBERS];
	double worst = 0;

	pool_init(&p, n, 1);
	build_ok(&full, BIG_PRIME, &p);
	for (unsigned r = 0; r < n; r++) {
		double f;

		pool_remove(&q, &p, r, map);
		build_ok(&less, BIG_PRIME, &q);
		f = changed_fraction(&full, &less, map);
		worst = f > worst ? f : worst;
		cr_assert_leq(f, 1.0 / n + DISRUPTION_SLACK, "N=%u remove %u: %.4f moved", n, r, f);
		vd_maglev_free(&less);
	}
	cr_log_info("disruption N=%u: worst %.4f moved (1/N = %.4f)", n, worst, 1.0 / n);
	vd_maglev_free(&full);
}

Test(maglev, disruption_remove_one)
{
	static const unsigned ns[] = {3, 5, 10, 32};

	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++)
		check_disruption(ns[k]);
}

/*
 * Draining a member (weight 0) keeps the indices of the others stable, which the data plane
 * needs; the table must equal the one built without the member, up to that renumbering.
 */
Test(maglev, weight_zero_is_removal)
{
	struct pool p, drained, removed;
	struct vd_maglev full, tz, tr;
	unsigned map[MAX_TEST_MEMBERS], ident[MAX_TEST_MEMBERS];
	const unsigned n = 10, r = 4;

	pool_init(&p, n, 1);
	drained = p;
	for (unsigned i = 0; i < n; i++) {
		drained.m[i].name = drained.names[i];
		ident[i] = i;
	}
	drained.m[r].weight = 0;
	pool_remove(&removed, &p, r, map);
	build_ok(&full, BIG_PRIME, &p);
	build_ok(&tz, BIG_PRIME, &drained);
	build_ok(&tr, BIG_PRIME, &removed);
	for (uint32_t s = 0; s < BIG_PRIME; s++) {
		cr_assert_neq(tz.entries[s], r, "slot %u still on the drained member", s);
		cr_assert_eq(tz.entries[s], map[tr.entries[s]], "slot %u differs", s);
	}
	cr_assert_leq(changed_fraction(&full, &tz, ident), 1.0 / n + DISRUPTION_SLACK);
	vd_maglev_free(&full);
	vd_maglev_free(&tz);
	vd_maglev_free(&tr);
}

Test(maglev, all_weights_zero)
{
	struct pool p;
	struct vd_maglev t;

	pool_init(&p, 5, 0);
	build_ok(&t, BIG_PRIME, &p);
	for (uint32_t s = 0; s < BIG_PRIME; s++)
		cr_assert_eq(t.entries[s], VD_MAGLEV_NO_MEMBER, "slot %u", s);
	cr_assert_eq(vd_maglev_lookup(&t, XXH3_64bits("x@y", 3)), VD_MAGLEV_NO_MEMBER);
	vd_maglev_free(&t);
}

/* Real-looking Call-IDs hashed as the proxy does: valid members, shares following weights. */
Test(maglev, lookup_callids)
{
	struct pool p;
	struct vd_maglev t;
	uint32_t hits[4] = {0};
	char callid[96];

	pool_init(&p, 4, 2);
	p.m[3].weight = 0;
	build_ok(&t, BIG_PRIME, &p);
	for (uint32_t i = 0; i < CALLID_COUNT; i++) {
		int len = snprintf(callid, sizeof(callid), "%08x%04x-%u@pc%u.atlanta.example.com",
				   i * 2654435761u, i & 0xffff, i, i % 97);
		uint16_t m = vd_maglev_lookup(&t, XXH3_64bits(callid, (size_t)len));

		cr_assert_lt(m, 3, "Call-ID %s -> %u", callid, m);
		hits[m]++;
	}
	for (unsigned i = 0; i < 3; i++) {
		double share = (double)hits[i] / CALLID_COUNT;

		cr_assert(share > 1.0 / 3 - CALLID_SHARE_TOLERANCE &&
				  share < 1.0 / 3 + CALLID_SHARE_TOLERANCE,
			  "member %u got %.4f of Call-IDs", i, share);
	}
	vd_maglev_free(&t);
}

/* The largest member count: one index below VD_MAGLEV_NO_MEMBER; one more is rejected. */
Test(maglev, max_members)
{
	const unsigned n = VD_MAGLEV_NO_MEMBER - 1;
	struct vd_maglev_member *m = calloc(n + 1, sizeof(*m));
	char(*names)[NAME_MAX_LEN] = calloc(n + 1, NAME_MAX_LEN);
	uint32_t *counts = calloc(n, sizeof(*counts));
	unsigned doubles = 0;
	struct vd_maglev t;

	cr_assert(m != NULL && names != NULL && counts != NULL);
	for (unsigned i = 0; i <= n; i++) {
		m[i].name = names[i];
		m[i].name_len = (size_t)snprintf(names[i], NAME_MAX_LEN, "member-%u", i);
		m[i].weight = 1;
	}
	cr_assert_eq(vd_maglev_build(&t, BIG_PRIME, m, n), 0);
	count_entries(&t, n, counts);
	/* 65537 slots over 65534 members: three own two slots, all others exactly one. */
	for (unsigned i = 0; i < n; i++) {
		cr_assert(counts[i] == 1 || counts[i] == 2, "member %u owns %u", i, counts[i]);
		doubles += counts[i] == 2;
	}
	cr_assert_eq(doubles, BIG_PRIME - n);
	vd_maglev_free(&t);
	cr_assert_eq(vd_maglev_build(&t, BIG_PRIME, m, n + 1), -EINVAL);
	cr_assert_null(t.entries);
	free(m);
	free(names);
	free(counts);
}

static void assert_einval(uint32_t size, const struct vd_maglev_member *m, unsigned n)
{
	/* Garbage that the builder must overwrite, never free. */
	struct vd_maglev t = {.size = 1, .entries = (uint16_t *)&t};

	cr_assert_eq(vd_maglev_build(&t, size, m, n), -EINVAL, "size=%u n=%u", size, n);
	cr_assert_null(t.entries);
}

Test(maglev, invalid_arguments)
{
	struct pool p;
	struct vd_maglev_member bad = {.name = NULL, .name_len = 4, .weight = 1};

	pool_init(&p, 3, 1);
	assert_einval(65536, p.m, 3); /* not prime */
	assert_einval(15, p.m, 3);    /* not prime */
	assert_einval(0, p.m, 3);
	assert_einval(1, p.m, 3);
	assert_einval(2, p.m, 3); /* prime but smaller than n */
	assert_einval(3, p.m, 3); /* prime but equal to n */
	assert_einval(13, p.m, 0);
	assert_einval(13, NULL, 3);
	assert_einval(13, &bad, 1);
	cr_assert_eq(vd_maglev_build(NULL, 13, p.m, 3), -EINVAL);
}

Test(maglev, smallest_valid_size)
{
	struct pool p;
	struct vd_maglev t;
	uint32_t counts[3];

	pool_init(&p, 3, 1);
	build_ok(&t, 5, &p);
	count_entries(&t, 3, counts);
	for (unsigned i = 0; i < 3; i++)
		cr_assert(counts[i] == 1 || counts[i] == 2, "member %u owns %u", i, counts[i]);
	vd_maglev_free(&t);
}

Test(maglev, free_twice)
{
	struct pool p;
	struct vd_maglev t;

	pool_init(&p, 2, 1);
	build_ok(&t, 13, &p);
	vd_maglev_free(&t);
	cr_assert_null(t.entries);
	vd_maglev_free(&t);
	cr_assert_null(t.entries);
}
