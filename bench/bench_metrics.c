/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Micro-benchmark of the /metrics page: the counter families of one worker and the member
 * state of 64 pools x 32 members (the config of bench_metrics_reload.sh: 4,096 member series,
 * ~454 KB), each page rendered into a fresh buffer as the admin API does for each request:
 * with room for the previous page's length and 1/RENDER_SLACK more (src/ctl/admin.c).
 *
 * Prints one machine-readable line, e.g.
 *   bench=metrics_render pools=64 members=32 bytes=458411 best_us=294.4 median_us=301.6
 * over RUNS pages; the best is the least noisy estimate on a shared machine. The worker's
 * counters are zero but for a few member selections, like a proxy that has seen little
 * traffic (the page of the reload benchmark, 454,523 bytes, has none); the member names are
 * those of bench/gen_config.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <viaduct/metrics.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_POOLS   64
#define BENCH_MEMBERS 32
#define BENCH_PORT    5060 /* gen_config.py: pool P listens on 5060 + P */
#define RUNS	      200
#define RENDER_SLACK  8 /* as src/ctl/admin.c */
#define NS_PER_S      1e9
#define NS_PER_US     1e3

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

static char names[BENCH_POOLS][BENCH_MEMBERS][VD_CFG_HOST_MAX + 8];
static uint32_t prio[BENCH_POOLS][BENCH_MEMBERS];
static bool up[BENCH_POOLS][BENCH_MEMBERS], drained[BENCH_POOLS][BENCH_MEMBERS];
static struct vd_proxy_pool pools[BENCH_POOLS];
static struct vd_stats worker;
static double times[RUNS];

static void make_pools(void)
{
	for (unsigned p = 0; p < BENCH_POOLS; p++) {
		snprintf(pools[p].name, sizeof(pools[p].name), "pool%u", p);
		pools[p].n_members = BENCH_MEMBERS;
		pools[p].member_names = names[p];
		pools[p].priorities = prio[p];
		pools[p].up = up[p];
		pools[p].drained = drained[p];
		for (unsigned m = 0; m < BENCH_MEMBERS; m++) {
			snprintf(names[p][m], sizeof(names[p][m]), "127.0.%u.%u:%u", p, m + 1,
				 BENCH_PORT + p);
			up[p][m] = true;
		}
	}
	worker.member[0][3] = 1234;
	worker.member[5][31] = 56;
}

/* One page, as render_metrics (src/ctl/admin_ops.c) writes it; returns its length. */
static size_t page(double *ns, size_t last)
{
	struct vd_buf b = {0};
	double t0 = now_ns();
	size_t len;

	if (last)
		vd_buf_reserve(&b, last + last / RENDER_SLACK);
	vd_metrics_render_stats(&b, &worker, 1);
	vd_metrics_render_members(&b, pools, BENCH_POOLS);
	*ns = now_ns() - t0;
	len = b.oom ? 0 : b.len;
	vd_buf_free(&b);
	return len;
}

int main(void)
{
	size_t bytes = 0;

	make_pools();
	for (int r = 0; r < RUNS; r++)
		bytes = page(&times[r], bytes);
	if (!bytes) {
		fprintf(stderr, "bench_metrics: out of memory\n");
		return 1;
	}
	qsort(times, RUNS, sizeof(times[0]), cmp_double);
	printf("bench=metrics_render pools=%u members=%u bytes=%zu best_us=%.1f median_us=%.1f\n",
	       BENCH_POOLS, BENCH_MEMBERS, bytes, times[0] / NS_PER_US,
	       times[RUNS / 2] / NS_PER_US);
	return 0;
}
