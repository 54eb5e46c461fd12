/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * loadgen: a UDP SIP load generator for benchmarking viaduct (or any SIP proxy) against a pool
 * of responders. It sends a realistic request mix, one new transaction per request, at a paced
 * rate or flat out, bounded by a count and a duration, matches every response by the branch of
 * its own top Via, and prints one summary line: offered and achieved rate, loss, and latency
 * percentiles from a fixed-memory log-linear histogram.
 *
 * This file is the command line and the summary; lgrun.c is the loop. The CLI and the summary
 * keys are a contract other scripts rely on: add keys at the end, never rename.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lgrun.h"
#include "netaddr.h"

#define EXIT_USAGE	   2
#define EXIT_RUN	   1
#define DEFAULT_RATE	   1000.0
#define DEFAULT_DURATION_S 10.0
#define DEFAULT_TIMEOUT_MS 2000u
#define DEFAULT_BATCH	   32u
#define DEFAULT_SOCKETS	   4u
#define MAX_DURATION_S	   86400.0
#define MAX_TIMEOUT_MS	   60000u

static volatile sig_atomic_t stop_requested;

static const char usage[] =
	"usage: loadgen --target HOST:PORT [--bind IP] [--rate MSGS_PER_S] [--count N]\n"
	"               [--duration SECONDS] [--mix invite=30,register=30,bye=20,options=10,"
	"message=10]\n"
	"               [--via-mix FORM=WEIGHT,...]\n"
	"               [--timeout-ms 2000] [--batch 32] [--sockets 4] [--csv]\n"
	"  HOST is an IPv4 address or a bracketed IPv6 address ([::1]:5060).\n"
	"  --via-mix weights (0..1000) the top Via forms real UAs send (same branch in each);\n"
	"  default rport-last=40,rport-middle=10,rport-first=10,received=10,compact=10,plain=20\n"
	"    rport-last    Via: SIP/2.0/UDP H:P;branch=B;rport   (baresip, linphone, pjsip, UEs)\n"
	"    rport-middle  Via: SIP/2.0/UDP H:P;branch=B;rport;alias\n"
	"    rport-first   Via: SIP/2.0/UDP H:P;rport;branch=B   (loadgen's only form before)\n"
	"    received      Via: SIP/2.0/UDP H:P;branch=B;received=192.0.2.1;rport (v6 2001:db8::1)\n"
	"    compact       v: SIP/2.0/UDP H:P;branch=B;rport\n"
	"    plain         Via: SIP/2.0/UDP H:P;branch=B         (sipp's built-in scenarios)\n"
	"  e.g. --via-mix rport-last=100 for one form.\n"
	"  --rate 0 sends flat out; default 1000. --duration defaults to 10 s; the run ends at\n"
	"  --count or --duration, whichever comes first, then waits --timeout-ms for responses.\n"
	"  Summary (stdout): offered_rate and achieved_msgs_per_s are sent and received over the\n"
	"  sending phase; lost = sent - received (late responses count as lost).\n";

struct cli {
	struct lg_opts o;
	bool csv;
	bool have_bind;
	const char *target;
};

static void on_signal(int sig)
{
	(void)sig;
	stop_requested++;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	uint64_t v;
	int r = parse_u64(s, lo, hi, &v);

	if (!r)
		*out = (unsigned)v;
	return r;
}

enum {
	OPT_TARGET = 256,
	OPT_BIND,
	OPT_RATE,
	OPT_COUNT,
	OPT_DURATION,
	OPT_MIX,
	OPT_VIA_MIX,
	OPT_TIMEOUT,
	OPT_BATCH,
	OPT_SOCKETS,
	OPT_CSV,
	OPT_HELP
};

static const struct option long_opts[] = {
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "mix", required_argument, NULL, OPT_MIX },
	{ "via-mix", required_argument, NULL, OPT_VIA_MIX },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "sockets", required_argument, NULL, OPT_SOCKETS },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* One option into the cli; returns an error message, or NULL. */
static const char *apply_opt(struct cli *c, int opt, const char *arg)
{
	struct lg_opts *o = &c->o;

	switch (opt) {
	case OPT_TARGET:
		c->target = arg;
		return lg_addr_parse_hostport(arg, &o->target)
			       ? "--target: expected IPv4:PORT or [IPv6]:PORT"
			       : NULL;
	case OPT_BIND:
		c->have_bind = true;
		return lg_addr_parse_ip(arg, 0, &o->bind) ? "--bind: expected an IP address" : NULL;
	case OPT_RATE:
		return parse_double(arg, 0, 1e9, &o->rate) ? "--rate: expected 0..1e9" : NULL;
	case OPT_COUNT:
		return parse_u64(arg, 0, UINT64_MAX / 2, &o->count) ? "--count: expected N >= 0"
								    : NULL;
	case OPT_DURATION:
		return parse_double(arg, 0.001, MAX_DURATION_S, &o->duration_s)
			       ? "--duration: expected 0.001..86400 seconds"
			       : NULL;
	case OPT_MIX:
		return lg_mix_parse(arg, &o->mix) ? "--mix: expected NAME=WEIGHT,... with names "
						    "invite register bye options message, weights "
						    "0..1000, not all 0"
						  : NULL;
	case OPT_VIA_MIX:
		return lg_via_mix_parse(arg, &o->via)
			       ? "--via-mix: expected NAME=WEIGHT,... with names rport-last "
				 "rport-middle rport-first received compact plain, weights 0..1000, "
				 "not all 0"
			       : NULL;
	case OPT_TIMEOUT:
		return parse_uint(arg, 1, MAX_TIMEOUT_MS, &o->timeout_ms)
			       ? "--timeout-ms: expected 1..60000"
			       : NULL;
	case OPT_BATCH:
		return parse_uint(arg, 1, LG_BATCH_MAX, &o->batch) ? "--batch: expected 1..1024"
								   : NULL;
	case OPT_SOCKETS:
		return parse_uint(arg, 1, LG_MAX_SOCKETS, &o->sockets) ? "--sockets: expected 1..32"
								       : NULL;
	case OPT_CSV:
		c->csv = true;
		return NULL;
	default:
		return "";
	}
}

static void cli_defaults(struct cli *c)
{
	memset(c, 0, sizeof(*c));
	c->o.rate = DEFAULT_RATE;
	c->o.duration_s = DEFAULT_DURATION_S;
	c->o.timeout_ms = DEFAULT_TIMEOUT_MS;
	c->o.batch = DEFAULT_BATCH;
	c->o.sockets = DEFAULT_SOCKETS;
	(void)lg_mix_parse(LG_DEFAULT_MIX, &c->o.mix);
	(void)lg_via_mix_parse(LG_DEFAULT_VIA_MIX, &c->o.via);
}

/* Without --bind: the address the kernel would send from, so our Via names a real address. */
static const char *resolve_bind(struct cli *c)
{
	if (!c->have_bind)
		return lg_addr_source_for(&c->o.target, &c->o.bind)
			       ? "cannot find a local address to reach --target"
			       : NULL;
	if (c->o.bind.ss_family != c->o.target.ss_family)
		return "--bind and --target must be the same address family";
	return NULL;
}

/* Returns 0, 1 for --help, or -EINVAL after printing the problem. */
static int parse_cli(struct cli *c, int argc, char **argv)
{
	const char *msg;
	int opt;

	cli_defaults(c);
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (opt == OPT_HELP)
			return 1;
		msg = apply_opt(c, opt, optarg);
		if (msg)
			goto bad;
	}
	msg = optind < argc ? "unexpected argument" : !c->target ? "--target is required" : NULL;
	if (!msg)
		msg = resolve_bind(c);
	if (!msg)
		return 0;
bad:
	if (*msg)
		fprintf(stderr, "loadgen: %s\n", msg);
	fputs(usage, stderr);
	return -EINVAL;
}

struct summary {
	double offered, achieved, loss_pct;
	uint64_t lost, p50, p99, p999, max;
};

static void summarise(const struct lg_result *r, struct summary *s)
{
	double t = r->send_s > 0 ? r->send_s : 1e-9;

	s->offered = (double)r->sent / t;
	s->achieved = (double)r->received / t;
	s->lost = r->sent - r->received;
	s->loss_pct = r->sent ? 100.0 * (double)s->lost / (double)r->sent : 0;
	s->p50 = lg_hist_percentile(&r->hist, 50);
	s->p99 = lg_hist_percentile(&r->hist, 99);
	s->p999 = lg_hist_percentile(&r->hist, 99.9);
	s->max = r->hist.total ? r->hist.max : 0;
}

static void print_line(const struct cli *c, const struct lg_result *r, const struct summary *s)
{
	printf("loadgen target=%s offered_rate=%.0f duration_s=%.3f sent=%llu received=%llu "
	       "lost=%llu late=%llu loss_pct=%.4f achieved_msgs_per_s=%.0f p50_us=%llu "
	       "p99_us=%llu p999_us=%llu max_us=%llu rate=%.0f unknown=%llu non2xx=%llu "
	       "evicted=%llu send_errors=%llu rx_drops=%llu\n",
	       c->target, s->offered, r->send_s, (unsigned long long)r->sent,
	       (unsigned long long)r->received, (unsigned long long)s->lost,
	       (unsigned long long)r->late, s->loss_pct, s->achieved, (unsigned long long)s->p50,
	       (unsigned long long)s->p99, (unsigned long long)s->p999, (unsigned long long)s->max,
	       c->o.rate, (unsigned long long)r->unknown, (unsigned long long)r->non2xx,
	       (unsigned long long)r->evicted, (unsigned long long)r->send_errors,
	       (unsigned long long)r->rx_drops);
}

static void print_csv(const struct cli *c, const struct lg_result *r, const struct summary *s)
{
	puts("target,offered_rate,duration_s,sent,received,lost,late,loss_pct,achieved_msgs_per_s,"
	     "p50_us,p99_us,p999_us,max_us,rate,unknown,non2xx,evicted,send_errors,rx_drops");
	printf("%s,%.0f,%.3f,%llu,%llu,%llu,%llu,%.4f,%.0f,%llu,%llu,%llu,%llu,%.0f,%llu,%llu,%llu,"
	       "%llu,%llu\n",
	       c->target, s->offered, r->send_s, (unsigned long long)r->sent,
	       (unsigned long long)r->received, (unsigned long long)s->lost,
	       (unsigned long long)r->late, s->loss_pct, s->achieved, (unsigned long long)s->p50,
	       (unsigned long long)s->p99, (unsigned long long)s->p999, (unsigned long long)s->max,
	       c->o.rate, (unsigned long long)r->unknown, (unsigned long long)r->non2xx,
	       (unsigned long long)r->evicted, (unsigned long long)r->send_errors,
	       (unsigned long long)r->rx_drops);
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: ppoll returns at once and the loop sees the flag. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
	static struct lg_result res; /* the histogram is 18 kB: not on the stack */
	struct summary sum;
	struct cli c;
	char err[256];

	int r = parse_cli(&c, argc, argv);
	if (r) {
		if (r > 0)
			fputs(usage, stdout);
		return r > 0 ? 0 : EXIT_USAGE;
	}
	install_signals();
	r = lg_run(&c.o, &stop_requested, &res, err, sizeof(err));
	if (r) {
		fprintf(stderr, "loadgen: %s\n", err);
		return EXIT_RUN;
	}
	summarise(&res, &sum);
	if (c.csv)
		print_csv(&c, &res, &sum);
	else
		print_line(&c, &res, &sum);
	return 0;
}
