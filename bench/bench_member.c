/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_member: what a member state change costs the control plane (issue 12). Loads a
 * config into a routing snapshot the way viaduct starts (vd_control_build), then times
 * vd_route_with_members for one member down, and for N members of one pool down together
 * (a site failure: one snapshot), each many times; prints the median and p99 in
 * microseconds. The snapshot is not published (no workers here): publication adds one RCU
 * grace period, which bench_reload.sh measures.
 *
 *   bench_member CONFIG [ROUNDS] [TOGETHER]      (default 200 rounds, 16 together)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viaduct/control.h"
#include "viaduct/route.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *t, unsigned n)
{
	qsort(t, n, sizeof(*t), cmp);
	printf("bench_member %s: median %.1f us, p99 %.1f us (%u rounds)\n", what,
	       (double)t[n / 2] / 1000, (double)t[n * 99 / 100] / 1000, n);
}

int main(int argc, char **argv)
{
	char err[1024];
	if (argc < 2) {
		fprintf(stderr, "usage: bench_member CONFIG [ROUNDS] [TOGETHER]\n");
		return 2;
	}
	unsigned rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 200;
	unsigned together = argc > 3 ? (unsigned)atoi(argv[3]) : 16;
	uint64_t t0 = now_ns();
	struct vd_route *base = vd_control_build(argv[1], NULL, err, sizeof(err));
	if (!base) {
		fprintf(stderr, "bench_member: %s\n", err);
		return 1;
	}
	printf("bench_member config: %u pools, %u rules, built in %.1f ms\n", base->px.n_pools,
	       base->cfg.n_rules, (double)(now_ns() - t0) / 1e6);
	uint64_t *t = calloc(rounds, sizeof(*t));
	struct vd_member_change *ch = calloc(together, sizeof(*ch));
	unsigned pool = base->px.n_pools / 2, nm = base->px.pools[pool].n_members;
	if (together > nm)
		together = nm;
	for (int multi = 0; multi < 2; multi++) {
		unsigned n = multi ? together : 1;
		for (unsigned r = 0; r < rounds; r++) {
			for (unsigned i = 0; i < n; i++)
				ch[i] = (struct vd_member_change){ pool, (r + i) % nm, false, false,
								   NULL };
			uint64_t s = now_ns();
			struct vd_route *x = vd_route_with_members(base, ch, n, err, sizeof(err));
			t[r] = now_ns() - s;
			if (!x) {
				fprintf(stderr, "bench_member: %s\n", err);
				return 1;
			}
			vd_route_free(x);
		}
		char what[64];
		snprintf(what, sizeof(what), "%u member(s) of a %u-member pool down", n, nm);
		report(what, t, rounds);
	}
	vd_route_free(base);
	free(t);
	free(ch);
	return 0;
}
