/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Micro-benchmark of the Maglev table: build time for 32 members over 65537 slots (a config
 * reload) and lookups per second (the per-request hot path).
 *
 * Prints one machine-readable line, e.g.
 *   bench=maglev members=32 size=65537 build_ms=1.23 lookups_per_s=456000000
 * build_ms is the best of BUILD_RUNS builds: the minimum is the least noisy estimate of the
 * cost itself on a shared machine. Lookup keys come from splitmix64 rather than XXH3 so that
 * the figure measures the table, not the key hash.
 */
#define _POSIX_C_SOURCE 200809L

#include <viaduct/maglev.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define BENCH_MEMBERS  32
#define BENCH_SIZE     65537u
#define BENCH_NAME_LEN 32
#define BUILD_RUNS     50
#define LOOKUPS	       100000000ull
#define SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL
#define SPLITMIX_MUL1  0xbf58476d1ce4e5b9ULL
#define SPLITMIX_MUL2  0x94d049bb133111ebULL
#define NS_PER_S       1e9
#define NS_PER_MS      1e6

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * NS_PER_S + (double)ts.tv_nsec;
}

/* splitmix64: cheap, well-mixed keys, so the lookup loop is not bound by key generation. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += SPLITMIX_GAMMA);

	z = (z ^ (z >> 30)) * SPLITMIX_MUL1;
	z = (z ^ (z >> 27)) * SPLITMIX_MUL2;
	return z ^ (z >> 31);
}

static double bench_build(struct vd_maglev *t, const struct vd_maglev_member *m)
{
	double best = -1;

	for (int r = 0; r < BUILD_RUNS; r++) {
		double t0 = now_ns(), dt;

		if (vd_maglev_build(t, BENCH_SIZE, m, BENCH_MEMBERS) != 0)
			return -1;
		dt = now_ns() - t0;
		best = (best < 0 || dt < best) ? dt : best;
		if (r + 1 < BUILD_RUNS)
			vd_maglev_free(t);
	}
	return best / NS_PER_MS;
}

static double bench_lookup(const struct vd_maglev *t, uint64_t *sink)
{
	uint64_t state = 0, acc = 0;
	double t0 = now_ns();

	for (uint64_t i = 0; i < LOOKUPS; i++)
		acc += vd_maglev_lookup(t, splitmix64(&state));
	*sink = acc; /* keeps the loop from being optimised away */
	return (double)LOOKUPS * NS_PER_S / (now_ns() - t0);
}

int main(void)
{
	static char names[BENCH_MEMBERS][BENCH_NAME_LEN];
	struct vd_maglev_member m[BENCH_MEMBERS];
	struct vd_maglev t;
	uint64_t sink;
	double build_ms, lps;

	for (unsigned i = 0; i < BENCH_MEMBERS; i++) {
		int len = snprintf(names[i], BENCH_NAME_LEN, "10.0.0.%u:5060", i + 1);

		m[i] = (struct vd_maglev_member){names[i], (size_t)len, 1};
	}
	build_ms = bench_build(&t, m);
	if (build_ms < 0) {
		fprintf(stderr, "bench_maglev: build failed\n");
		return 1;
	}
	lps = bench_lookup(&t, &sink);
	printf("bench=maglev members=%d size=%u build_ms=%.3f lookups_per_s=%.0f checksum=%llu\n",
	       BENCH_MEMBERS, BENCH_SIZE, build_ms, lps, (unsigned long long)sink);
	vd_maglev_free(&t);
	return 0;
}
