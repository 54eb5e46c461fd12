/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The exact text of the Prometheus exposition (src/stats/buf.c, src/stats/metrics.c), pinned
 * byte for byte against files in tests/unit/golden/. test_admin.c proves the text is valid
 * and means the right thing; this file proves it does not change: names and label values are
 * a contract with dashboards, and the renderer is tuned for speed (direct appends instead of
 * printf, a fast path for label values that need no escaping), which must not show.
 *
 * The golden files were written by the printf-based renderer before it was tuned, and every
 * later version must reproduce them. Three fixtures:
 *   prom_helpers.txt   vd_prom_family, vd_prom_sample and vd_buf_json_str over odd values
 *                      (quotes, backslashes, newlines, control bytes, valid and invalid UTF-8)
 *                      and integers at every power of two and ten, plus GOLDEN_RANDOM strings
 *                      of such bytes drawn from splitmix64 with a named seed;
 *   metrics_stats.txt  vd_metrics_render_stats of 0, 1 and 3 workers with every counter set;
 *   metrics_members.txt vd_metrics_render_members of pools with odd names.
 *
 * To rewrite a golden file after an intended change of the output (a compatibility change:
 * say so in the commit), run the test with VD_GOLDEN_UPDATE=1.
 */
#include <viaduct/metrics.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#ifndef VD_SOURCE_ROOT
#error "VD_SOURCE_ROOT must be defined as the repository root"
#endif

#define GOLDEN_DIR	 VD_SOURCE_ROOT "/tests/unit/golden/"
#define GOLDEN_SEED	 0x6d657472696373ULL /* "metrics": any fixed value, never changed */
#define GOLDEN_RANDOM	 512		     /* random strings per escaper */
#define GOLDEN_STR_MAX	 48		     /* their longest length */
#define SPLITMIX_GAMMA	 0x9e3779b97f4a7c15ULL
#define SPLITMIX_MUL1	 0xbf58476d1ce4e5b9ULL
#define SPLITMIX_MUL2	 0x94d049bb133111ebULL
#define DIFF_CONTEXT	 60 /* bytes shown either side of the first difference */
#define N_STATS_WORKERS	 3
#define N_POOLS		 5
#define POOL_MEMBERS_MAX 5
#define BIG_POOL_MEMBERS 40 /* the last pool: long names, more members than the others */

/* ---- comparing with a golden file ---- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)n + 1)) && fread(p, 1, (size_t)n, f) == (size_t)n) {
		p[n] = '\0';
		*len = (size_t)n;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

/* b's text must be the file's, byte for byte; with VD_GOLDEN_UPDATE set, it becomes the file. */
static void expect_golden(struct vd_buf *b, const char *file)
{
	char path[512];
	size_t len = 0, i = 0;
	char *want;

	cr_assert(!b->oom);
	cr_assert_not_null(b->p);
	cr_assert_eq(strlen(b->p), b->len, "%s: a NUL inside the text", file);
	snprintf(path, sizeof(path), GOLDEN_DIR "%s", file);
	if (getenv("VD_GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "wb");

		cr_assert_not_null(f, "%s", path);
		cr_assert_eq(fwrite(b->p, 1, b->len, f), b->len);
		cr_assert_eq(fclose(f), 0);
	}
	want = read_file(path, &len);
	cr_assert_not_null(want, "%s: cannot read", path);
	while (i < len && i < b->len && want[i] == b->p[i])
		i++;
	if (i < len || i < b->len) {
		size_t from = i > DIFF_CONTEXT ? i - DIFF_CONTEXT : 0;

		cr_expect_fail("%s: differs at byte %zu (lengths %zu, want %zu)\n"
			       "got:  ...%.*s...\nwant: ...%.*s...",
			       file, i, b->len, len, (int)(i - from + DIFF_CONTEXT), b->p + from,
			       (int)(i - from + DIFF_CONTEXT), want + from);
	}
	free(want);
	vd_buf_free(b);
}

/* ---- odd values ---- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += SPLITMIX_GAMMA);

	z = (z ^ (z >> 30)) * SPLITMIX_MUL1;
	z = (z ^ (z >> 27)) * SPLITMIX_MUL2;
	return z ^ (z >> 31);
}

/*
 * A random string of the bytes that matter to the escapers: plain ASCII, the three escaped
 * characters, other control bytes, the pieces of valid UTF-8 sequences and bytes that never
 * start one; so it holds valid sequences, truncated ones and lone bytes in any order.
 */
static void random_string(uint64_t *state, char *out, size_t cap)
{
	static const char bytes[] = "a Z9_-.:{}=,\"\\\n\t\r\x01\x1f\x7f"
				    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\xc0\xf4\x90\xff";
	size_t n = splitmix64(state) % (cap - 1), i;

	for (i = 0; i < n; i++) {
		/* plain bytes half of the time, so runs to copy whole occur as well */
		uint64_t r = splitmix64(state);

		out[i] = (r & 1) ? "abcdefgh"[(r >> 1) % 8] : bytes[(r >> 4) % (sizeof(bytes) - 1)];
	}
	out[i] = '\0';
}

static const char *const odd_values[] = {
	"",
	"plain",
	"q\"uote",
	"back\\slash",
	"two\nlines",
	"\\n literally",
	"\"\\\n\"\\\n",
	"tab\tcr\rsoh\x01us\x1f"
	"del\x7f",
	"}{,=\" 1",
	"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	"\xe2\x80\xa8", /* U+2028 */
	"bad\xff",
	"\xc3",		       /* truncated at the end */
	"\xc3(",	       /* lead without continuation */
	"\xe2\x82",	       /* three-byte lead, one continuation, then the end */
	"\xf0\x9f\x98",	       /* four-byte lead, two continuations */
	"\xc0\x80",	       /* overlong NUL */
	"\xc1\xbf",	       /* overlong, C1 */
	"\xe0\x80\xaf",	       /* overlong '/' */
	"\xe0\xa0\x80",	       /* U+0800, the first three-byte one */
	"\xed\x9f\xbf",	       /* U+D7FF, below the surrogates */
	"\xed\xa0\x80",	       /* a surrogate */
	"\xef\xbf\xbd",	       /* U+FFFD itself */
	"\xf0\x90\x80\x80",    /* U+10000 */
	"\xf0\x8f\xbf\xbf",    /* overlong four-byte */
	"\xf4\x8f\xbf\xbf",    /* U+10FFFF */
	"\xf4\x90\x80\x80",    /* above U+10FFFF */
	"\xf5\x80\x80\x80",    /* F5: never a lead */
	"\x80x",	       /* lone continuation byte */
	"\xbf\x80\x80",	       /* continuation bytes only */
	"a\xc3\xa9\xff\"\\\n", /* everything in a row */
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789012345678901",
};
#define N_ODD (sizeof(odd_values) / sizeof(odd_values[0]))

/* Integers whose decimal forms cover every length and both ends of each. */
static void sample_values(struct vd_buf *b)
{
	uint64_t p10 = 1;

	vd_prom_family(b, "values", "gauge", "Powers of two and ten, and their neighbours.");
	for (unsigned i = 0; i < 64; i++) {
		uint64_t p2 = (uint64_t)1 << i;

		vd_prom_sample(b, "values", p2 - 1, NULL);
		vd_prom_sample(b, "values", p2, NULL);
		vd_prom_sample(b, "values", p2 + 1, NULL);
	}
	for (unsigned i = 0; i < 20; i++, p10 *= 10) {
		vd_prom_sample(b, "values", p10 - 1, "k", "v", NULL);
		vd_prom_sample(b, "values", p10, "k", "v", NULL);
	}
	vd_prom_sample(b, "values", UINT64_MAX - 1, NULL);
	vd_prom_sample(b, "values", UINT64_MAX, NULL);
	vd_prom_sample(b, "values", UINT32_MAX, NULL);
}

Test(golden, prom_helpers)
{
	struct vd_buf b = {0};
	uint64_t state = GOLDEN_SEED;
	char s[GOLDEN_STR_MAX];

	/* the calls' shapes: labels or not, NULL values, a NULL key ending the list early */
	vd_prom_family(&b, "shapes_total", "counter", "Shapes of calls.");
	vd_prom_family(&b, "no_help", "gauge", NULL);
	vd_prom_family(&b, "empty_help", "untyped", "");
	vd_prom_sample(&b, "shapes_total", 0, NULL);
	vd_prom_sample(&b, "shapes_total", 1, "k", "v", NULL);
	vd_prom_sample(&b, "shapes_total", 2, "k", "v", "l", "w", NULL);
	vd_prom_sample(&b, "shapes_total", 3, "a", "1", "b", "2", "c", "3", "d", "4", "e", "5",
		       NULL);
	vd_prom_sample(&b, "shapes_total", 4, "k", NULL, NULL);
	vd_prom_sample(&b, "shapes_total", 5, NULL, "ignored", NULL);
	vd_prom_sample(&b, "shapes_total", 6, "k", "v", NULL, "ignored", NULL);
	vd_prom_sample(&b, "shapes_total", 7, "k", NULL, "l", "", NULL);
	sample_values(&b);

	for (size_t i = 0; i < N_ODD; i++) {
		vd_prom_family(&b, "odd", "gauge", odd_values[i]);
		vd_prom_sample(&b, "odd", i, "v", odd_values[i], NULL);
		vd_prom_sample(&b, "odd", i, "a", odd_values[i], "b", odd_values[N_ODD - 1 - i],
			       NULL);
		vd_buf_json_str(&b, odd_values[i]);
		vd_buf_printf(&b, "\n");
	}
	for (unsigned i = 0; i < GOLDEN_RANDOM; i++) {
		random_string(&state, s, sizeof(s));
		vd_prom_family(&b, "random", "gauge", s);
		vd_prom_sample(&b, "random", i, "v", s, NULL);
		vd_buf_json_str(&b, s);
		vd_buf_printf(&b, "\n");
	}
	vd_buf_json_str(&b, NULL);
	vd_buf_printf(&b, "\n");
	expect_golden(&b, "prom_helpers.txt");
}

/* ---- the counters ---- */

/*
 * Every counter of worker w gets a value of its own (position and worker mixed, some zero,
 * some large); member selections only at a few places, as the trimming depends on them.
 */
static void fill_worker(struct vd_stats *st, unsigned w)
{
	uint64_t *c = (uint64_t *)st;
	size_t n = offsetof(struct vd_stats, member) / sizeof(uint64_t);

	memset(st, 0, sizeof(*st));
	for (size_t k = 0; k < n; k++)
		c[k] = (k * 7 + w) % 5 == 0 ? 0 : (k + 1) * 1000003u * (w + 1) + (k << (w * 13));
	st->batches = 12345u * (w + 1);
	st->member[0][0] = 1 + w;
	st->member[0][1] = w ? 0 : 77;
	st->member[0][2 + w] = 1000 * (w + 1);
	st->member[3][0] = w == 2 ? 5 : 0;
	st->member[7][30] = w == 1 ? UINT32_MAX : 0;
	st->member[VD_STATS_POOLS - 1][11] = (uint64_t)1 << 63;
}

Test(golden, metrics_stats)
{
	static struct vd_stats w[N_STATS_WORKERS];
	struct vd_buf b = {0};

	for (unsigned i = 0; i < N_STATS_WORKERS; i++)
		fill_worker(&w[i], i);
	vd_metrics_render_stats(&b, NULL, 0);
	vd_metrics_render_stats(&b, w, 1);
	vd_metrics_render_stats(&b, w, N_STATS_WORKERS);
	expect_golden(&b, "metrics_stats.txt");
}

/* ---- member state ---- */

struct pool_def {
	const char *name;
	unsigned n;
	const char *members[POOL_MEMBERS_MAX];
	uint32_t priorities[POOL_MEMBERS_MAX];
	bool up[POOL_MEMBERS_MAX], drained[POOL_MEMBERS_MAX];
};

static const struct pool_def pool_defs[N_POOLS - 1] = {
	{"pcscf",
	 3,
	 {"127.0.0.1:5060", "[::1]:5061", "sip.example.com:5062"},
	 {0, 1, 10},
	 {true, false, true},
	 {false, false, true}},
	{"empty", 0, {""}, {0}, {false}, {false}}, /* between others: indexes go on after it */
	{"q\"uote\\back\nnl",
	 2,
	 {"a\"b:1", "c\\d\ne:2"},
	 {7, UINT32_MAX},
	 {true, true},
	 {true, false}},
	{"caf\xc3\xa9 bad\xff\xc3(",
	 1,
	 {"\xed\xa0\x80\xf4\x90\x80\x80:5060"},
	 {99},
	 {false},
	 {true}},
};

static char names[N_POOLS][BIG_POOL_MEMBERS][VD_CFG_HOST_MAX + 8];
static uint32_t prio[N_POOLS][BIG_POOL_MEMBERS];
static bool up[N_POOLS][BIG_POOL_MEMBERS], drained[N_POOLS][BIG_POOL_MEMBERS];
static struct vd_proxy_pool pools[N_POOLS];

/* The pools of pool_defs, then one of BIG_POOL_MEMBERS members named up to the longest host. */
static void make_pools(void)
{
	struct vd_proxy_pool *big = &pools[N_POOLS - 1];

	for (unsigned p = 0; p < N_POOLS; p++) {
		pools[p].member_names = names[p];
		pools[p].priorities = prio[p];
		pools[p].up = up[p];
		pools[p].drained = drained[p];
	}
	for (unsigned p = 0; p < N_POOLS - 1; p++) {
		snprintf(pools[p].name, sizeof(pools[p].name), "%s", pool_defs[p].name);
		pools[p].n_members = pool_defs[p].n;
		for (unsigned m = 0; m < pool_defs[p].n; m++) {
			snprintf(names[p][m], sizeof(names[p][m]), "%s", pool_defs[p].members[m]);
			prio[p][m] = pool_defs[p].priorities[m];
			up[p][m] = pool_defs[p].up[m];
			drained[p][m] = pool_defs[p].drained[m];
		}
	}
	memset(big->name, 'p', sizeof(big->name) - 1); /* the longest pool name */
	big->n_members = BIG_POOL_MEMBERS;
	for (unsigned m = 0; m < BIG_POOL_MEMBERS; m++) {
		size_t len = (size_t)m * (VD_CFG_HOST_MAX - 1) / (BIG_POOL_MEMBERS - 1);

		memset(names[N_POOLS - 1][m], 'a' + m % 26, len);
		snprintf(names[N_POOLS - 1][m] + len, sizeof(names[0][0]) - len, ":%u", 5060 + m);
		prio[N_POOLS - 1][m] = m * m * m;
		up[N_POOLS - 1][m] = m % 3 != 0;
		drained[N_POOLS - 1][m] = m % 5 == 0;
	}
}

Test(golden, metrics_members)
{
	struct vd_buf b = {0};

	make_pools();
	vd_metrics_render_members(&b, pools, 0);
	vd_metrics_render_members(&b, pools, N_POOLS);
	expect_golden(&b, "metrics_members.txt");
}

/* A buffer with room reserved up front (as the admin API does from the last page's length)
 * takes the paths that never grow: the same text. */
Test(golden, into_a_reserved_buffer)
{
	static struct vd_stats w[N_STATS_WORKERS];
	struct vd_buf b = {0};

	for (unsigned i = 0; i < N_STATS_WORKERS; i++)
		fill_worker(&w[i], i);
	vd_buf_reserve(&b, 1u << 20);
	cr_assert(!b.oom);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.p, "");
	vd_metrics_render_stats(&b, NULL, 0);
	vd_metrics_render_stats(&b, w, 1);
	vd_metrics_render_stats(&b, w, N_STATS_WORKERS);
	expect_golden(&b, "metrics_stats.txt");

	make_pools();
	vd_buf_reserve(&b, 1u << 20);
	vd_metrics_render_members(&b, pools, 0);
	vd_metrics_render_members(&b, pools, N_POOLS);
	expect_golden(&b, "metrics_members.txt");
}
