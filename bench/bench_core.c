/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Microbenchmark of the SIP core: scan + decide + rewrite over the corpus, in memory, no I/O.
 *
 * Every good corpus message is processed by the proxy of tests/support/proxy_fixture.h (it
 * plays the P-CSCF 192.168.1.2 of the corpus call flows, pool of two). Responses get our Via put
 * on top first, so they take the real path (Via check, removal, forward). Before each run the
 * message is copied back into the packet buffer, because the rewrite edits it in place; that
 * copy is measured separately and reported, so the core's own cost is visible.
 *
 * Output: one line per message type, the mix, and a final machine-readable summary line.
 * Usage: bench_core [CORPUS_DIR] [SECONDS_PER_MESSAGE]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy_fixture.h"
#include "viaduct/proxy.h"
#include "viaduct/sip.h"

#define MAX_MSGS 128
#define REPLY_CAP 8192
#define OUR_VIA_HEAD "Via: SIP/2.0/UDP 192.168.1.2:5060;branch="
#define OUR_VIA_MAX (sizeof(OUR_VIA_HEAD) + VD_BRANCH_LEN + 2)
#define BENCH_TXN 0x0123456789abcdefULL /* any transaction hash: responses do not check it */

struct sample {
	char name[64];
	char *buf;
	size_t len;
	double ns; /* per message, including the copy */
	int verdict;
};

static struct vd_proxy px;
static struct vd_proxy_scratch scratch;
static char reply_buf[REPLY_CAP];
static char pktmem[VD_PROXY_HEADROOM + 70000];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void proxy_setup(void)
{
	static struct vd_config cfg;
	char err[256];
	if (fixture_proxy(&cfg, &px, VD_HASH_CALL_ID, err, sizeof(err))) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	scratch.reply = reply_buf;
	scratch.reply_cap = REPLY_CAP;
	/* the admission state every datapath worker has: a source table and the default reply
	 * budget per source (raised so that the replay's one source is never out of it: the
	 * bench measures the work of admitting, not of refusing) */
	px.guard.reply_rate = 1000000;
	px.guard.reply_burst = 1000000000;
	scratch.guard = vd_guard_new(VD_CFG_DEFAULT_SOURCES);
	if (!scratch.guard) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	vd_guard_tick(scratch.guard, 1, false);
}

/* Load a message; responses get our Via on top, with the branch we would have written for the
 * request they answer (its keyed check names the response's next hop), so the proxy forwards
 * them. */
static int load(const char *dir, const char *file, struct sample *s)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	static char raw[70000];
	size_t n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	s->buf = malloc(n + OUR_VIA_MAX);
	if (strncmp(raw, "SIP/2.0 ", 8) == 0) {
		static struct vd_sip_msg m;
		char branch[VD_BRANCH_LEN], via[OUR_VIA_MAX];
		vd_sip_scan(raw, n, &px.limits, &m);
		if (vd_branch_for_response(px.branch_key, &m, BENCH_TXN, branch))
			return -1;
		int vl = snprintf(via, sizeof(via), OUR_VIA_HEAD "%.*s\r\n", VD_BRANCH_LEN, branch);
		size_t sl = (size_t)(strstr(raw, "\r\n") + 2 - raw);
		memcpy(s->buf, raw, sl);
		memcpy(s->buf + sl, via, (size_t)vl);
		memcpy(s->buf + sl + (size_t)vl, raw + sl, n - sl);
		s->len = n + (size_t)vl;
		snprintf(s->name, sizeof(s->name), "%.3s response", raw + 8);
	} else {
		memcpy(s->buf, raw, n);
		s->len = n;
		snprintf(s->name, sizeof(s->name), "%.*s", (int)strcspn(raw, " "), raw);
	}
	return 0;
}

static inline void process(const struct sample *s, const union vd_sockaddr *src,
			   struct vd_result *res)
{
	memcpy(pktmem + VD_PROXY_HEADROOM, s->buf, s->len);
	struct vd_pktbuf pkt = { pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, (uint32_t)s->len };
	vd_proxy_process(&px, &pkt, src, 0, &scratch, res);
}

static double time_one(const struct sample *s, const union vd_sockaddr *src, double seconds,
		       int *verdict)
{
	struct vd_result res;
	long iters = 0, chunk = 1000;
	double t0 = now(), t;
	do {
		for (long i = 0; i < chunk; i++)
			process(s, src, &res);
		iters += chunk;
		t = now();
	} while (t - t0 < seconds);
	*verdict = res.verdict;
	return (t - t0) * 1e9 / (double)iters;
}

static double time_copy(const struct sample *s, long iters)
{
	double t0 = now();
	for (long i = 0; i < iters; i++) {
		memcpy(pktmem + VD_PROXY_HEADROOM, s->buf, s->len);
		__asm__ volatile("" ::: "memory");
	}
	return (now() - t0) * 1e9 / (double)iters;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/corpus/good";
	double seconds = argc > 2 ? atof(argv[2]) : 0.2;
	static struct sample s[MAX_MSGS];
	static char *names[MAX_MSGS]; /* static: reachable until exit (LeakSanitizer) */
	int n = 0;

	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "bench: cannot open %s\n", dir);
		return 1;
	}
	for (struct dirent *e; (e = readdir(d)) && n < MAX_MSGS;)
		if (strstr(e->d_name, ".sip"))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), by_name);
	proxy_setup();
	union vd_sockaddr src = fixture_addr("192.168.1.15", 5060);

	/* BENCH_ROUNDS=N: process the mix exactly N times and exit, for instruction counting
	 * under `valgrind --tool=callgrind` (repeatable on a shared, noisy machine) */
	const char *fixed = getenv("BENCH_ROUNDS");
	if (fixed) {
		struct vd_result r;
		long rounds = atol(fixed);
		for (int i = 0; i < n; i++)
			if (load(dir, names[i], &s[i]))
				return 1;
		for (long k = 0; k < rounds; k++)
			for (int i = 0; i < n; i++)
				process(&s[i], &src, &r);
		printf("bench=core-fixed messages=%d rounds=%ld\n", n, rounds);
		return 0;
	}
	static const char *const verdicts[] = { "forward", "reply", "drop" };
	double sum_ns = 0, sum_copy = 0;
	size_t bytes = 0;
	printf("%-34s %-10s %6s %10s %12s\n", "message", "type", "bytes", "ns/msg", "msgs/s/core");
	for (int i = 0; i < n; i++) {
		if (load(dir, names[i], &s[i]))
			return 1;
		s[i].ns = time_one(&s[i], &src, seconds, &s[i].verdict);
		double copy = time_copy(&s[i], 200000);
		sum_ns += s[i].ns;
		sum_copy += copy;
		bytes += s[i].len;
		printf("%-34s %-10.10s %6zu %10.1f %12.0f  %s\n", names[i], s[i].name, s[i].len,
		       s[i].ns, 1e9 / s[i].ns, verdicts[s[i].verdict]);
	}
	/* the mix: every message in turn, as one stream */
	struct vd_result res;
	long rounds = 0;
	double t0 = now(), t;
	do {
		for (int r = 0; r < 100; r++)
			for (int i = 0; i < n; i++)
				process(&s[i], &src, &res);
		rounds += 100;
		t = now();
	} while (t - t0 < seconds * 5);
	double mix_ns = (t - t0) * 1e9 / (double)(rounds * n);
	/* the scanner alone over the same stream: the rest is decide + rewrite */
	static struct vd_sip_msg view;
	long scans = 0;
	t0 = now();
	do {
		for (int r = 0; r < 100; r++)
			for (int i = 0; i < n; i++)
				vd_sip_scan(s[i].buf, s[i].len, &px.limits, &view);
		scans += 100;
		t = now();
	} while (t - t0 < seconds * 5);
	double scan_ns = (t - t0) * 1e9 / (double)(scans * n);
	double copy_ns = sum_copy / n;
	printf("\nmix of %d messages (avg %zu bytes): %.1f ns/msg = %.0f msgs/s/core "
	       "(includes %.1f ns/msg of buffer reset copy; core alone %.0f msgs/s/core)\n",
	       n, bytes / (size_t)n, mix_ns, 1e9 / mix_ns, copy_ns, 1e9 / (mix_ns - copy_ns));
	printf("share: scan %.1f ns (%.0f%%), decide + rewrite %.1f ns (%.0f%%)\n", scan_ns,
	       100 * scan_ns / mix_ns, mix_ns - scan_ns - copy_ns,
	       100 * (mix_ns - scan_ns - copy_ns) / mix_ns);
	printf("bench=core messages=%d avg_bytes=%zu mix_ns=%.1f mix_msgs_per_s=%.0f "
	       "copy_ns=%.1f core_only_msgs_per_s=%.0f scan_ns=%.1f\n",
	       n, bytes / (size_t)n, mix_ns, 1e9 / mix_ns, copy_ns, 1e9 / (mix_ns - copy_ns),
	       scan_ns);
	(void)sum_ns;
	return 0;
}
