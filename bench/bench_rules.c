/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Micro-benchmark of routing-rule matching: ns per message added by vd_rules_match() over the
 * corpus requests, against rule sets of 10, 1,000 and 10,000 rules.
 *
 * The sets look like a real number-routing table: number-prefix rules on the R-URI
 * ("^sip:\+1NNNNN", none of which matches the corpus), then the tail: two prefix rules that do
 * match corpus numbers (+1012..., +1123...), a REGISTER domain rule, a P-Preferred-Identity rule,
 * a From rule and a default rule. Every rule that matches sits at the end, so all are in play.
 * Two scenarios: "mix" as above, where a prefix rule decides most requests after the R-URI scan;
 * "miss", where the two tail prefixes match nothing, so every request also pays for the From and
 * header scans (the worst case of this shape). Messages are scanned once beforehand: only
 * matching is timed. Each size is timed RUNS times and the median is reported (the machine is
 * shared and noisy), with the minimum next to it.
 *
 * Output: a table, then one machine-readable line (the mix; miss_* for the other scenario)
 *   bench=rules rules10_ns=.. rules1000_ns=.. rules10000_ns=.. miss_rules10_ns=.. ...
 * Usage: bench_rules [CORPUS_DIR] [--callgrind N]
 * With --callgrind N [miss] only the N-rule set is built and matched CALLGRIND_ROUNDS times over
 * the corpus, for: valgrind --tool=callgrind --toggle-collect=vd_rules_match bench_rules DIR
 * --callgrind 1000 (instructions per message = Ir / calls).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viaduct/rules.h"

#define MAX_MSGS	 128
#define MAX_MSG_BYTES	 70000
#define RUNS		 9
#define TARGET_MATCHES	 2000000.0 /* per run: long enough to swamp timer noise */
#define CALLGRIND_ROUNDS 100
#define TAIL_RULES	 6	/* two prefixes, domain, header, From, default */
#define PREFIX_BASE	 20000u /* "+1" + 5 digits from here: no corpus number starts so */
#define REGEX_LEN	 32
#define NS_PER_S	 1e9
#define NS_PER_MS	 1e6
#define DEFAULT_CORPUS	 "tests/corpus/good"

static const unsigned sizes[] = {10, 1000, 10000};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

struct corpus {
	unsigned n;
	char *bufs[MAX_MSGS];
	struct vd_sip_msg *msgs[MAX_MSGS];
};

static const struct vd_sip_limits limits = {96, 16};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * NS_PER_S + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Keep one file if it scans as a request. */
static void load_one(struct corpus *c, const char *dir, const char *file)
{
	char path[1024];
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	if (!f)
		return;
	c->bufs[c->n] = malloc(MAX_MSG_BYTES);
	c->msgs[c->n] = malloc(sizeof(struct vd_sip_msg));
	len = fread(c->bufs[c->n], 1, MAX_MSG_BYTES, f);
	fclose(f);
	if (vd_sip_scan(c->bufs[c->n], len, &limits, c->msgs[c->n]) == VD_SIP_OK &&
	    c->msgs[c->n]->is_request) {
		c->n++;
		return;
	}
	free(c->bufs[c->n]);
	free(c->msgs[c->n]);
}

static int load_corpus(struct corpus *c, const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((e = readdir(d)) && c->n < MAX_MSGS)
		if (strstr(e->d_name, ".sip"))
			load_one(c, dir, e->d_name);
	closedir(d);
	return c->n ? 0 : -1;
}

/* n rules: n - TAIL_RULES number prefixes, then the tail. `miss`: the tail prefixes never
 * match. */
static struct vd_rule_spec *make_rules(unsigned n, bool miss, char (**regexes)[REGEX_LEN])
{
	struct vd_rule_spec *s = calloc(n, sizeof(*s));
	char(*re)[REGEX_LEN] = calloc(n, REGEX_LEN);
	unsigned p = n - TAIL_RULES;

	if (!s || !re)
		return NULL;
	for (unsigned i = 0; i < p; i++) {
		snprintf(re[i], REGEX_LEN, "^sip:\\+1%05u", PREFIX_BASE + i);
		snprintf(s[i].name, sizeof(s[i].name), "prefix-%u", i);
		s[i].ruri = re[i];
		s[i].pool = i % 4;
	}
	s[p] = (struct vd_rule_spec){.name = "prefix-1012",
				     .ruri = miss ? "^sip:\\+19990" : "^sip:\\+1012"};
	s[p + 1] = (struct vd_rule_spec){.name = "prefix-1123",
					 .ruri = miss ? "^sip:\\+19991" : "^sip:\\+1123"};
	s[p + 2] = (struct vd_rule_spec){.name = "register-3gpp",
					 .methods = 1u << VD_M_REGISTER,
					 .ruri = "^sip:test\\.3gpp\\.com$"};
	s[p + 3] = (struct vd_rule_spec){.name = "ppi-3gpp", .n_headers = 1};
	strcpy(s[p + 3].headers[0].name, "P-Preferred-Identity");
	s[p + 3].headers[0].regex = "@test\\.3gpp\\.com>$";
	s[p + 4] = (struct vd_rule_spec){.name = "from-example", .from = "@ims\\.example\\.com>"};
	s[p + 5] = (struct vd_rule_spec){.name = "default"};
	*regexes = re;
	return s;
}

static int build(unsigned n, bool miss, struct vd_rules **r, struct vd_rules_scratch **s,
		 double *ms)
{
	char(*re)[REGEX_LEN] = NULL;
	struct vd_rule_spec *specs = make_rules(n, miss, &re);
	char err[512];
	double t0 = now_ns();
	int rc;

	if (!specs)
		return -1;
	rc = vd_rules_compile(specs, n, r, err, sizeof(err));
	*ms = (now_ns() - t0) / NS_PER_MS;
	free(specs);
	free(re);
	if (rc) {
		fprintf(stderr, "bench_rules: %s\n", err);
		return rc;
	}
	return vd_rules_scratch_alloc(*r, s);
}

/* One pass over the corpus; the sum of the rule indexes keeps the calls alive. */
static long pass(const struct vd_rules *r, struct vd_rules_scratch *s, const struct corpus *c,
		 const union vd_sockaddr *src)
{
	long sum = 0;

	for (unsigned m = 0; m < c->n; m++)
		sum += vd_rules_match(r, s, c->msgs[m], src, 0);
	return sum;
}

/* ns per message of RUNS timed runs: median and minimum. */
static void time_set(const struct vd_rules *r, struct vd_rules_scratch *s, const struct corpus *c,
		     double *median, double *min, long *check)
{
	union vd_sockaddr src = {.in = {.sin_family = AF_INET}};
	unsigned rounds = (unsigned)(TARGET_MATCHES / c->n) + 1;
	double ns[RUNS];

	*check = pass(r, s, c, &src); /* warm-up: caches, branch predictors */
	for (int k = 0; k < RUNS; k++) {
		double t0 = now_ns();
		long sum = 0;

		for (unsigned i = 0; i < rounds; i++)
			sum += pass(r, s, c, &src);
		ns[k] = (now_ns() - t0) / ((double)rounds * c->n);
		if (sum != *check * (long)rounds)
			fprintf(stderr, "bench_rules: results changed between runs\n");
	}
	qsort(ns, RUNS, sizeof(ns[0]), cmp_double);
	*median = ns[RUNS / 2];
	*min = ns[0];
}

/* Which of the tail rules each request went to: the sets must decide alike whatever n is. */
static void print_hits(const struct vd_rules *r, struct vd_rules_scratch *s, const struct corpus *c)
{
	union vd_sockaddr src = {.in = {.sin_family = AF_INET}};
	unsigned n = vd_rules_count(r), hits[TAIL_RULES + 1] = {0};

	for (unsigned m = 0; m < c->n; m++) {
		int i = vd_rules_match(r, s, c->msgs[m], &src, 0);

		hits[i >= (int)(n - TAIL_RULES) ? (unsigned)i - (n - TAIL_RULES) : TAIL_RULES]++;
	}
	printf("%8s", "");
	for (unsigned t = 0; t < TAIL_RULES; t++)
		printf(" %s=%u", vd_rules_get(r, n - TAIL_RULES + t)->name, hits[t]);
	printf(" other=%u\n", hits[TAIL_RULES]);
}

static int callgrind_mode(const struct corpus *c, unsigned n, bool miss)
{
	union vd_sockaddr src = {.in = {.sin_family = AF_INET}};
	struct vd_rules_scratch *s = NULL;
	struct vd_rules *r = NULL;
	long sum = 0;
	double ms;

	if (n < TAIL_RULES || build(n, miss, &r, &s, &ms))
		return 1;
	for (unsigned i = 0; i < CALLGRIND_ROUNDS; i++)
		sum += pass(r, s, c, &src);
	printf("bench=rules-callgrind rules=%u scenario=%s calls=%u checksum=%ld\n", n,
	       miss ? "miss" : "mix", CALLGRIND_ROUNDS * c->n, sum);
	vd_rules_scratch_free(s);
	vd_rules_free(r);
	return 0;
}

/* Build, check and time every size of one scenario; medians into med[]. */
static int run_scenario(const struct corpus *c, bool miss, double *med)
{
	printf("scenario %s\n", miss ? "miss (every field scanned)" : "mix");
	printf("%8s %12s %14s %12s %10s\n", "rules", "compile_ms", "median_ns/msg", "min_ns/msg",
	       "checksum");
	for (size_t k = 0; k < N_SIZES; k++) {
		struct vd_rules_scratch *s = NULL;
		struct vd_rules *r = NULL;
		double ms, min;
		long check;

		if (build(sizes[k], miss, &r, &s, &ms))
			return 1;
		time_set(r, s, c, &med[k], &min, &check);
		printf("%8u %12.1f %14.1f %12.1f %10ld\n", sizes[k], ms, med[k], min, check);
		print_hits(r, s, c);
		vd_rules_scratch_free(s);
		vd_rules_free(r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct corpus c;
	const char *dir = argc > 1 && argv[1][0] != '-' ? argv[1] : DEFAULT_CORPUS;
	double mix[N_SIZES], miss[N_SIZES];

	if (load_corpus(&c, dir)) {
		fprintf(stderr, "bench_rules: no requests in %s\n", dir);
		return 1;
	}
	for (int a = 1; a + 1 < argc; a++)
		if (!strcmp(argv[a], "--callgrind"))
			return callgrind_mode(&c, (unsigned)atoi(argv[a + 1]),
					      a + 2 < argc && !strcmp(argv[a + 2], "miss"));
	printf("%u requests from %s, %d runs per size\n", c.n, dir, RUNS);
	if (run_scenario(&c, false, mix) || run_scenario(&c, true, miss))
		return 1;
	printf("bench=rules rules10_ns=%.1f rules1000_ns=%.1f rules10000_ns=%.1f "
	       "miss_rules10_ns=%.1f miss_rules1000_ns=%.1f miss_rules10000_ns=%.1f\n",
	       mix[0], mix[1], mix[2], miss[0], miss[1], miss[2]);
	return 0;
}
