/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Parser comparison: viaduct's scanner against libosip2 and sofia-sip, same corpus, same process.
 *
 * Every good corpus message is first put through every parser outside any timing: a message a
 * parser refuses is printed with the parser's own error and counted, and what each parser
 * extracted (Call-ID, CSeq number, top Via branch, From tag, body length) must equal what viaduct
 * extracted, so a parser that returns "success" without having parsed anything cannot go
 * unnoticed. Then
 * each parser runs over the whole corpus mix (every message in turn) for a fixed time, the
 * parsers alternating (A B C A B C ...) for several rounds, and the medians are reported: the
 * machine is shared, and alternating spreads its noise evenly over the three.
 *
 * The three do not do the same work, and the output says so: viaduct fills a fixed view of
 * slices into the caller's buffer and parses eagerly only what a proxy decides on; libosip2 and
 * sofia-sip copy the message and build a tree of allocated objects for every header they know.
 * That allocation (osip_message_init/free, msg_make/msg_destroy) is what they cost a caller, so
 * it is inside the timing.
 *
 * BENCH_ROUNDS=N runs each parser exactly N passes over the corpus, untimed, for instruction
 * counts under callgrind (bench/parsers/callgrind.sh takes the difference of two N).
 *
 * Usage: bench_parsers [CORPUS_DIR] [SECONDS_PER_PARSER_PER_ROUND] [ROUNDS]
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osipparser2/osip_parser.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>

#include "viaduct/sip.h"

#define MAX_MSGS	128
#define MAX_MSG_BYTES	65536
#define MAX_ROUNDS	64
#define DEFAULT_SECONDS 1.0
#define DEFAULT_ROUNDS	5
#define FACT_CAP	160
#define N_PARSERS	3
/* The clock is read once per batch of corpus passes; batches double until one lasts this long,
 * so even for the fastest parser the clock costs well under 0.1% of the measured time. */
#define MIN_BATCH_SECONDS 1e-3
#define REPORT_WIDTH	  100

/* The proxy's defaults (limits.max_headers, limits.max_vias in rules/example.yaml). */
static const struct vd_sip_limits limits = {96, 16};

struct corpus {
	int n;
	size_t bytes;
	char *name[MAX_MSGS];
	char *buf[MAX_MSGS]; /* exactly len bytes each, no terminator a parser could lean on */
	size_t len[MAX_MSGS];
};

/* What a parse extracted, compared across parsers; n_opaque counts the header lines the parser
 * left as unparsed name/value text (osip's generic headers, sofia's unknown headers). */
struct facts {
	char call_id[FACT_CAP];
	unsigned long cseq;
	char branch[FACT_CAP];
	char from_tag[FACT_CAP];
	long body_len;
	int n_headers;
	int n_opaque;
};

/* A parser under test. check() parses one message outside the timing and either fills *f or
 * says in err why the message was refused; run() is the timed loop: `passes` times over the
 * corpus, a direct call per message, returning something derived from every result so the
 * compiler cannot drop the work. */
struct parser {
	const char *name;
	int (*check)(const char *buf, size_t len, struct facts *f, char *err, size_t cap);
	uint64_t (*run)(const struct corpus *c, long passes);
	const char *gives;
	int fails;
	int mismatches;
	long headers, opaque;
	double ns[MAX_ROUNDS];
};

/* Where the results end up: a volatile store the compiler must keep, so no parse is dead code
 * even if a parser's entry point were ever inlined (LTO). */
static volatile uint64_t sink_out;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void copy_str(char *dst, const char *src, size_t len)
{
	if (!src)
		len = 0;
	if (len >= FACT_CAP)
		len = FACT_CAP - 1;
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

static void copy_cstr(char *dst, const char *src)
{
	copy_str(dst, src, src ? strlen(src) : 0);
}

/* ---- viaduct ---- */

/* The view is large (a slot per header); static, like the proxy's per-worker scratch view. */
static struct vd_sip_msg vd_view;

static int vd_check(const char *buf, size_t len, struct facts *f, char *err, size_t cap)
{
	struct vd_sip_msg *m = &vd_view;
	enum vd_sip_err e = vd_sip_scan(buf, len, &limits, m);
	if (e != VD_SIP_OK) {
		snprintf(err, cap, "vd_sip_scan: %s (%s)", vd_sip_err_name(e),
			 vd_sip_err_reason(e));
		return -1;
	}
	copy_str(f->call_id, m->call_id.p, m->call_id.len);
	f->cseq = m->cseq;
	copy_str(f->branch, m->via.branch.p, m->via.branch.len);
	copy_str(f->from_tag, m->from_tag.p, m->from_tag.len);
	f->body_len = m->body_len;
	f->n_headers = m->n_hdrs;
	f->n_opaque = 0; /* every header is a name/value slice; see the fairness note */
	return 0;
}

static uint64_t run_viaduct(const struct corpus *c, long passes)
{
	uint64_t sink = 0;
	for (long k = 0; k < passes; k++)
		for (int i = 0; i < c->n; i++)
			sink += vd_sip_scan(c->buf[i], c->len[i], &limits, &vd_view) + vd_view.len;
	return sink;
}

/* ---- libosip2 ---- */

static const char *osip_err_name(int rc)
{
	switch (rc) {
	case OSIP_UNDEFINED_ERROR:
		return "OSIP_UNDEFINED_ERROR";
	case OSIP_BADPARAMETER:
		return "OSIP_BADPARAMETER";
	case OSIP_NOMEM:
		return "OSIP_NOMEM";
	case OSIP_SYNTAXERROR:
		return "OSIP_SYNTAXERROR";
	default:
		return "?";
	}
}

static void osip_facts(osip_message_t *m, struct facts *f)
{
	osip_generic_param_t *p = NULL;
	char id[2 * FACT_CAP];
	if (m->call_id->host)
		snprintf(id, sizeof(id), "%s@%s", m->call_id->number, m->call_id->host);
	else
		snprintf(id, sizeof(id), "%s", m->call_id->number);
	copy_cstr(f->call_id, id);
	f->cseq = strtoul(m->cseq->number, NULL, 10);
	osip_via_t *via = osip_list_get(&m->vias, 0);
	f->branch[0] = '\0';
	if (osip_via_param_get_byname(via, "branch", &p) == OSIP_SUCCESS)
		copy_cstr(f->branch, p->gvalue);
	f->from_tag[0] = '\0';
	if (osip_from_get_tag(m->from, &p) == OSIP_SUCCESS)
		copy_cstr(f->from_tag, p->gvalue);
	osip_body_t *body = osip_list_get(&m->bodies, 0);
	f->body_len = body ? (long)body->length : 0;
	f->n_opaque = osip_list_size(&m->headers);
	f->n_headers = -1; /* osip keeps no per-line count */
}

static int osip_check(const char *buf, size_t len, struct facts *f, char *err, size_t cap)
{
	osip_message_t *m;
	if (osip_message_init(&m) != OSIP_SUCCESS) {
		snprintf(err, cap, "osip_message_init failed");
		return -1;
	}
	int rc = osip_message_parse(m, buf, len);
	const char *missing = NULL;
	if (rc == OSIP_SUCCESS) {
		/* a success without the headers every SIP message has would be a parse not done */
		if (!m->call_id || !m->call_id->number)
			missing = "Call-ID";
		else if (!m->cseq || !m->cseq->number)
			missing = "CSeq";
		else if (osip_list_size(&m->vias) < 1)
			missing = "Via";
		else if (!m->from || !m->to)
			missing = "From/To";
	}
	if (rc != OSIP_SUCCESS)
		snprintf(err, cap, "osip_message_parse: %d (%s)", rc, osip_err_name(rc));
	else if (missing)
		snprintf(err, cap, "osip_message_parse: success but no %s", missing);
	else
		osip_facts(m, f);
	osip_message_free(m);
	return rc != OSIP_SUCCESS || missing ? -1 : 0;
}

static uint64_t run_osip(const struct corpus *c, long passes)
{
	uint64_t sink = 0;
	for (long k = 0; k < passes; k++)
		for (int i = 0; i < c->n; i++) {
			osip_message_t *m;
			if (osip_message_init(&m) != OSIP_SUCCESS)
				continue;
			sink += (uint64_t)osip_message_parse(m, c->buf[i], c->len[i]);
			osip_message_free(m);
		}
	return sink;
}

/* ---- sofia-sip ---- */

static msg_mclass_t const *sofia_mclass;

/* The first thing missing from a parsed message, or NULL when it is whole. */
static const char *sofia_missing(const sip_t *sip)
{
	if (!MSG_HAS_COMPLETE(sip->sip_flags))
		return "completion (MSG_FLG_COMPLETE not set)";
	if (!sip->sip_request && !sip->sip_status)
		return "start line";
	if (!sip->sip_via)
		return "Via";
	if (!sip->sip_from || !sip->sip_to)
		return "From/To";
	if (!sip->sip_call_id || !sip->sip_call_id->i_id)
		return "Call-ID";
	if (!sip->sip_cseq)
		return "CSeq";
	return NULL;
}

static void sofia_facts(const sip_t *sip, struct facts *f)
{
	copy_cstr(f->call_id, sip->sip_call_id->i_id);
	f->cseq = sip->sip_cseq->cs_seq;
	copy_cstr(f->branch, sip->sip_via->v_branch);
	copy_cstr(f->from_tag, sip->sip_from->a_tag);
	f->body_len = sip->sip_payload ? (long)sip->sip_payload->pl_len : 0;
	f->n_opaque = 0;
	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
		f->n_opaque++;
}

/* Header objects in the message's fragment chain: the proof that every line was parsed into a
 * structure, not just split. A comma list counts once per value, as sofia splits it. */
static int sofia_count_headers(msg_t *msg)
{
	int n = 0;
	for (const msg_header_t *h = *msg_chain_head(msg); h; h = h->sh_succ) {
		const msg_hclass_t *hc = h->sh_class;
		if (hc != sip_request_class && hc != sip_status_class &&
		    hc != sip_separator_class && hc != sip_payload_class &&
		    hc != sip_unknown_class && hc != sip_error_class)
			n++;
	}
	return n;
}

static int sofia_check(const char *buf, size_t len, struct facts *f, char *err, size_t cap)
{
	msg_t *msg = msg_make(sofia_mclass, 0, buf, (ssize_t)len);
	if (!msg) {
		snprintf(err, cap, "msg_make returned NULL");
		return -1;
	}
	const sip_t *sip = sip_object(msg);
	const char *missing = NULL;
	int rc = -1;
	if (!sip)
		snprintf(err, cap, "msg_make: no sip_t");
	else if (MSG_HAS_ERROR(sip->sip_flags) || sip->sip_error)
		/* sip_error lists the header lines that failed to parse: name the first */
		snprintf(err, cap, "msg_make: parse error (msg_extract_errors 0x%x, bad header %s)",
			 msg_extract_errors(msg),
			 sip->sip_error && sip->sip_error->er_name ? sip->sip_error->er_name
								   : "none listed");
	else if ((missing = sofia_missing(sip)))
		snprintf(err, cap, "msg_make: no error flagged but no %s", missing);
	else {
		sofia_facts(sip, f);
		f->n_headers = sofia_count_headers(msg);
		rc = 0;
	}
	msg_destroy(msg);
	return rc;
}

static uint64_t run_sofia(const struct corpus *c, long passes)
{
	uint64_t sink = 0;
	for (long k = 0; k < passes; k++)
		for (int i = 0; i < c->n; i++) {
			msg_t *msg = msg_make(sofia_mclass, 0, c->buf[i], (ssize_t)c->len[i]);
			if (!msg)
				continue;
			sink += (uint64_t)sip_object(msg)->sip_flags;
			msg_destroy(msg);
		}
	return sink;
}

static struct parser parsers[N_PARSERS] = {
	{.name = "viaduct",
	 .check = vd_check,
	 .run = run_viaduct,
	 .gives = "a view of slices into the caller's buffer (no copy, no allocation): start line, "
		  "every header line as name/value slices with its kind (full or compact name), "
		  "and parsed: top Via (transport, host, port, branch, received, rport, maddr), "
		  "Via count, top Route (URI, host, port, lr), Max-Forwards, Call-ID, CSeq number "
		  "and method, From/To tags, Content-Length and the body; any other header is "
		  "found by name with vd_sip_find() and parsed by the caller"},
	{.name = "osip",
	 .check = osip_check,
	 .run = run_osip,
	 .gives = "osip_message_t: a malloc'd copy of the message and a tree of malloc'd strings "
		  "and structs: Request-URI, Via, From, To, Contact, Route, Record-Route, Call-ID, "
		  "CSeq, Content-Type, Content-Length, Allow, Accept*, Authorization, "
		  "WWW-Authenticate, ... parsed into objects with URI and parameter lists; every "
		  "other header (Max-Forwards, Expires, Supported, P-*, ...) as a copied "
		  "name/value string; the body copied into an osip_body_t (SDP not parsed)"},
	{.name = "sofia",
	 .check = sofia_check,
	 .run = run_sofia,
	 .gives = "msg_t/sip_t: the message copied into a su_home arena and every header known to "
		  "sip_default_mclass() parsed into its structure (sip_via_t with all params, "
		  "sip_from_t with url_t and tag, sip_contact_t, sip_route_t, Max-Forwards, "
		  "Expires, ...), comma lists split into one object per value, other headers as "
		  "sip_unknown_t name/value, the payload as sip_payload_t (SDP not parsed)"},
};

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(const char *dir, const char *file, struct corpus *c)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	static char raw[MAX_MSG_BYTES];
	size_t n = fread(raw, 1, sizeof(raw), fp);
	fclose(fp);
	char *buf = malloc(n ? n : 1);
	if (!buf)
		return -1;
	memcpy(buf, raw, n);
	c->name[c->n] = strdup(file);
	c->buf[c->n] = buf;
	c->len[c->n] = n;
	c->bytes += n;
	c->n++;
	return 0;
}

/* Every *.sip file of the directory, in name order so runs are comparable. */
static int load_corpus(const char *dir, struct corpus *c)
{
	char *names[MAX_MSGS];
	int n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d)) && n < MAX_MSGS;) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".sip") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), by_name);
	for (int i = 0; i < n; i++) {
		if (load_file(dir, names[i], c))
			return -1;
		free(names[i]);
	}
	return c->n ? 0 : -1;
}

static int same_facts(const struct facts *a, const struct facts *b)
{
	return strcmp(a->call_id, b->call_id) == 0 && a->cseq == b->cseq &&
	       strcmp(a->branch, b->branch) == 0 && strcmp(a->from_tag, b->from_tag) == 0 &&
	       a->body_len == b->body_len;
}

/* One message through every parser; viaduct's facts are the reference. */
static void verify_one(const struct corpus *c, int i)
{
	struct facts ref = {0}, f;
	char err[512];
	bool have_ref = false;
	for (int p = 0; p < N_PARSERS; p++) {
		struct parser *ps = &parsers[p];
		memset(&f, 0, sizeof(f));
		if (ps->check(c->buf[i], c->len[i], &f, err, sizeof(err))) {
			ps->fails++;
			printf("  REJECTED by %-7s %s: %s\n", ps->name, c->name[i], err);
			continue;
		}
		ps->opaque += f.n_opaque;
		ps->headers += f.n_headers > 0 ? f.n_headers : 0;
		if (p == 0) {
			ref = f;
			have_ref = true;
		} else if (have_ref && !same_facts(&ref, &f)) {
			ps->mismatches++;
			printf("  MISMATCH %-7s %s: call-id '%s' cseq %lu branch '%s' "
			       "from-tag '%s' body %ld (viaduct: '%s' %lu '%s' '%s' %ld)\n",
			       ps->name, c->name[i], f.call_id, f.cseq, f.branch, f.from_tag,
			       f.body_len, ref.call_id, ref.cseq, ref.branch, ref.from_tag,
			       ref.body_len);
		}
	}
}

static void verify(const struct corpus *c)
{
	printf("acceptance: every message through every parser, before any timing\n");
	for (int i = 0; i < c->n; i++)
		verify_one(c, i);
	for (int p = 0; p < N_PARSERS; p++) {
		const struct parser *ps = &parsers[p];
		printf("  %-7s accepted %d/%d", ps->name, c->n - ps->fails, c->n);
		if (p > 0)
			printf(", same Call-ID, CSeq, top branch, From tag, body length as "
			       "viaduct on %d/%d",
			       c->n - ps->fails - ps->mismatches, c->n - ps->fails);
		printf("\n");
	}
	printf("  (rejected messages stay in the timed mix: nothing is excluded)\n");
	printf("headers over the corpus: viaduct %ld lines, each a name/value slice; osip kept %ld "
	       "lines as unparsed\nname/value strings; sofia parsed %ld header objects "
	       "(comma lists split) and kept %ld lines unparsed\n\n",
	       parsers[0].headers, parsers[1].opaque, parsers[2].headers, parsers[2].opaque);
}

/* ns per message of one run of at least `seconds`, over the corpus mix. */
static double time_parser(const struct parser *ps, const struct corpus *c, double seconds,
			  uint64_t *sink)
{
	long batch = 1, passes = 0;
	*sink += ps->run(c, 1); /* warm caches and lazy bindings outside the timing */
	double t0 = now(), t = t0;
	do {
		double tb = t;
		*sink += ps->run(c, batch);
		passes += batch;
		t = now();
		if (t - tb < MIN_BATCH_SECONDS)
			batch *= 2;
	} while (t - t0 < seconds);
	return (t - t0) * 1e9 / ((double)passes * (double)c->n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* `text` word-wrapped to `width` columns; the caller has printed `indent` columns already, and
 * every further line is indented as much. */
static void print_wrapped(const char *text, int indent, int width)
{
	int col = indent;
	bool first = true;
	while (*text) {
		int n = (int)strcspn(text, " ");
		if (!first && col + 1 + n > width) {
			printf("\n%*s", indent, "");
			col = indent;
			first = true;
		}
		printf("%s%.*s", first ? "" : " ", n, text);
		col += n + !first;
		first = false;
		text += n;
		text += strspn(text, " ");
	}
	printf("\n");
}

static void print_fairness(void)
{
	static const char note[] =
		"fairness: the work differs. viaduct's scanner parses eagerly only the headers a "
		"proxy needs (start line, all header names/values as slices, top Via with params, "
		"top Route, Max-Forwards, Call-ID, CSeq, From/To tags, Content-Length) and never "
		"copies or allocates; libosip2 and sofia-sip copy the message and build a full "
		"object tree of every header they know. Their allocation and free "
		"(osip_message_init + osip_message_parse + osip_message_free, msg_make + "
		"msg_destroy) are inside their timing, because a caller pays them on "
		"every message. "
		"The ratios compare the cost of getting what each gives, not the same output.";
	printf("\n");
	print_wrapped(note, 0, REPORT_WIDTH);
	printf("what each gives the caller:\n");
	for (int p = 0; p < N_PARSERS; p++) {
		printf("  %-7s ", parsers[p].name);
		print_wrapped(parsers[p].gives, 10, REPORT_WIDTH);
	}
}

static void report(const struct corpus *c, int rounds, double seconds)
{
	double med[N_PARSERS];
	printf("\n%-6s", "round");
	for (int p = 0; p < N_PARSERS; p++)
		printf(" %12s", parsers[p].name);
	for (int p = 1; p < N_PARSERS; p++)
		printf(" %8s/vd", parsers[p].name);
	printf("   (ns/message, %.1f s each, alternating)\n", seconds);
	for (int r = 0; r < rounds; r++) {
		printf("%-6d", r + 1);
		for (int p = 0; p < N_PARSERS; p++)
			printf(" %12.1f", parsers[p].ns[r]);
		for (int p = 1; p < N_PARSERS; p++)
			printf(" %10.1fx", parsers[p].ns[r] / parsers[0].ns[r]);
		printf("\n");
	}
	for (int p = 0; p < N_PARSERS; p++)
		med[p] = median(parsers[p].ns, rounds);
	printf("\nmedian of %d rounds, corpus mix of %d messages (avg %zu bytes)\n", rounds, c->n,
	       c->bytes / (size_t)c->n);
	printf("%-8s %10s %14s %18s %9s\n", "parser", "ns/msg", "msgs/s", "viaduct faster by",
	       "rejected");
	for (int p = 0; p < N_PARSERS; p++)
		printf("%-8s %10.1f %14.0f %17.1fx %9d\n", parsers[p].name, med[p], 1e9 / med[p],
		       med[p] / med[0], parsers[p].fails);
	printf("(\"viaduct faster by\" = other's ns/msg / viaduct's ns/msg = viaduct's msgs/s / "
	       "other's msgs/s)\n");
	print_fairness();
	printf("bench=parsers messages=%d rounds=%d viaduct_ns=%.1f osip_ns=%.1f sofia_ns=%.1f "
	       "ratio_osip=%.2f ratio_sofia=%.2f viaduct_rejected=%d osip_rejected=%d "
	       "sofia_rejected=%d\n",
	       c->n, rounds, med[0], med[1], med[2], med[1] / med[0], med[2] / med[0],
	       parsers[0].fails, parsers[1].fails, parsers[2].fails);
}

/* BENCH_ROUNDS=N: N untimed passes per parser, for callgrind's per-function inclusive counts. */
static void run_fixed(const struct corpus *c, long passes)
{
	uint64_t sink = 0;
	for (int p = 0; p < N_PARSERS; p++)
		sink += parsers[p].run(c, passes);
	sink_out = sink;
	printf("bench=parsers-fixed messages=%d rounds=%ld\n", c->n, passes);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/corpus/good";
	double seconds = argc > 2 ? atof(argv[2]) : DEFAULT_SECONDS;
	int rounds = argc > 3 ? atoi(argv[3]) : DEFAULT_ROUNDS;
	static struct corpus c;

	if (rounds < 1 || rounds > MAX_ROUNDS || !(seconds > 0)) {
		fprintf(stderr, "usage: bench_parsers [CORPUS_DIR] [SECONDS] [ROUNDS 1..%d]\n",
			MAX_ROUNDS);
		return 2;
	}
	if (load_corpus(dir, &c)) {
		fprintf(stderr, "bench_parsers: cannot load *.sip from %s\n", dir);
		return 1;
	}
	if (parser_init() != OSIP_SUCCESS) {
		fprintf(stderr, "bench_parsers: osip parser_init failed\n");
		return 1;
	}
	sofia_mclass = sip_default_mclass();
	printf("corpus: %s, %d messages, avg %zu bytes\n", dir, c.n, c.bytes / (size_t)c.n);
	verify(&c);

	const char *fixed = getenv("BENCH_ROUNDS");
	if (fixed) {
		run_fixed(&c, atol(fixed));
		return 0;
	}
	uint64_t sink = 0;
	for (int r = 0; r < rounds; r++)
		for (int p = 0; p < N_PARSERS; p++)
			parsers[p].ns[r] = time_parser(&parsers[p], &c, seconds, &sink);
	report(&c, rounds, seconds);
	sink_out = sink;
	return 0;
}
