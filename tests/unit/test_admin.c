/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the admin API: the text buffer and its escapers (src/ctl/buf.c), the
 * Prometheus rendering of the counters (src/ctl/metrics.c), the HTTP server and its routes
 * (src/ctl/admin.c), and the viaductctl binary against it.
 *
 * The server runs for real on 127.0.0.1 with an ephemeral port, with fake ops whose answers
 * are known, and is spoken to over sockets by the client viaductctl uses (tools/httpc.h).
 * Every /metrics document goes through a strict exposition-format parser (prom_parse.h),
 * which has tests of its own here: a parser that accepts everything would prove nothing.
 * VD_VIADUCTCTL is the path of the built viaductctl.
 */
#include <viaduct/admin.h>
#include <viaduct/metrics.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "httpc.h"
#include "prom_parse.h"

#ifndef VD_VIADUCTCTL
#error "VD_VIADUCTCTL must be the path of the viaductctl binary"
#endif

#define TEST_TIMEOUT_S	30
#define HTTP_TIMEOUT_MS 5000
#define CTL_TIMEOUT_MS	10000
#define ERR_LEN		512
#define NAME_LEN	256
#define CTL_OUT_MAX	(1u << 20)
#define BIG_BODY	(200u * 1024) /* takes the server several reads */
#define N_WORKERS	2

#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_JSON    "application/json"
#define POOL	     "pcscf"
#define STATUS_JSON                                                                                \
	"{\"version\":\"test\",\"pools\":[{\"name\":\"pcscf\",\"members\":"                        \
	"[{\"name\":\"127.0.0.1:5070\",\"up\":true,\"draining\":false}]}]}\n"
#define RELOAD_BAD_MSG "rules.yaml: pools[0].members[1].port: 70000 is out of range 1..65535"

/* ---- fake ops: known answers, and a record of what the server asked ---- */

struct fake {
	struct vd_stats workers[N_WORKERS];
	int reload_calls;
	int drain_calls;
	char pool[NAME_LEN];
	char member[NAME_LEN];
	bool drain;
	bool metrics_oom;
};

static struct fake fake;

static void fake_metrics(void *arg, struct vd_buf *out)
{
	struct fake *f = arg;

	if (f->metrics_oom) {
		vd_buf_printf(out, "# HELP partial_total half a docu");
		out->oom = true;
		return;
	}
	vd_metrics_render_stats(out, f->workers, N_WORKERS);
}

static void fake_status(void *arg, struct vd_buf *out)
{
	(void)arg;
	vd_buf_printf(out, "%s", STATUS_JSON);
}

/* Succeeds, then refuses a bad config, then fails without a message. */
static int fake_reload(void *arg, char *msg, size_t len)
{
	struct fake *f = arg;

	switch (++f->reload_calls) {
	case 1:
		return 0;
	case 2:
		snprintf(msg, len, "%s", RELOAD_BAD_MSG);
		return -EINVAL;
	default:
		return -EIO;
	}
}

static int fake_drain(void *arg, const char *pool, const char *member, bool drain, char *msg,
		      size_t len)
{
	static const char *const members[] = {"127.0.0.1:5070", "[::1]:5070", "0", "1", "busy"};
	struct fake *f = arg;

	f->drain_calls++;
	snprintf(f->pool, sizeof(f->pool), "%s", pool);
	snprintf(f->member, sizeof(f->member), "%s", member);
	f->drain = drain;
	if (strcmp(pool, POOL)) {
		snprintf(msg, len, "no pool \"%s\"", pool);
		return -ENOENT;
	}
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		if (!strcmp(member, members[i]))
			return strcmp(member, "busy") ? 0 : -EBUSY;
	snprintf(msg, len, "no member \"%s\" in pool %s", member, pool);
	return -ENOENT;
}

static const struct vd_admin_ops fake_ops = {
	.arg = &fake,
	.metrics = fake_metrics,
	.status = fake_status,
	.reload = fake_reload,
	.drain = fake_drain,
};

/* Two workers with distinct, known counters; member 2 is the highest ever selected. */
static void fake_counters(struct vd_stats *w)
{
	memset(w, 0, N_WORKERS * sizeof(*w));
	w[0].rx = 100;
	w[0].tx = 60;
	w[0].replies = 30;
	w[0].drops = 10;
	w[0].rx_bytes = 64000;
	w[0].tx_bytes = 51000;
	w[0].rx_requests[VD_M_INVITE] = 40;
	w[0].rx_requests[VD_M_REGISTER] = 20;
	w[0].rx_responses[2] = 25;
	w[0].rx_responses[4] = 5;
	w[0].reply_codes[VD_STATS_REPLY_400] = 20;
	w[0].reply_codes[VD_STATS_REPLY_503] = 10;
	w[0].drop[VD_DROP_NOT_SIP] = 7;
	w[0].drop[VD_DROP_VIA_NOT_OURS] = 3;
	w[0].sip_err[VD_SIP_E_MISSING_VIA] = 4;
	w[0].member[0][0] = 30;
	w[0].member[0][1] = 30;
	w[0].member[3][0] = 6;
	w[0].batches = 12;

	w[1].rx = 200;
	w[1].tx = 150;
	w[1].replies = 45;
	w[1].drops = 5;
	w[1].rx_bytes = 128000;
	w[1].tx_bytes = 99000;
	w[1].rx_requests[VD_M_INVITE] = 70;
	w[1].rx_requests[VD_M_UNKNOWN] = 1;
	w[1].rx_responses[2] = 80;
	w[1].reply_codes[VD_STATS_REPLY_OTHER] = 45;
	w[1].drop[VD_DROP_NOT_SIP] = 5;
	w[1].sip_err[VD_SIP_E_TOO_LARGE] = 9;
	w[1].member[0][0] = 50;
	w[1].member[0][2] = 25;
	w[1].batches = 30;
}

/* ---- helpers ---- */

static void render(struct vd_buf *b, const struct vd_stats *w, unsigned n)
{
	*b = (struct vd_buf){0};
	vd_metrics_render_stats(b, w, n);
	cr_assert(!b->oom);
	cr_assert_not_null(b->p);
}

static void parse_ok(const char *text, size_t len, struct prom_doc *d)
{
	char err[ERR_LEN];
	int rc = prom_parse(text, len, d, err, sizeof(err));

	cr_assert_eq(rc, 0, "strict parser: %s\n---\n%s", err, text);
}

static double value_of(const struct prom_sample *s, const char *what)
{
	cr_assert_not_null(s, "no series %s", what);
	return s->value;
}

/* Expect one series with exactly these labels and this value. */
#define EXPECT(doc, v, name, ...)                                                                  \
	cr_expect_eq(value_of(prom_find(doc, name, __VA_ARGS__), name " " #__VA_ARGS__),           \
		     (double)(v), "%s %s", name, #__VA_ARGS__)

/* A copy of the NUL-terminated value of a response header, or "" when absent. */
static const char *header(const struct httpc_resp *r, const char *name)
{
	static char v[ERR_LEN];
	size_t n;
	const char *p = httpc_header(r, name, &n);

	snprintf(v, sizeof(v), "%.*s", p ? (int)n : 0, p ? p : "");
	return v;
}

/* ---- the server under test ---- */

static struct vd_admin *srv;
static char srv_port[HTTPC_PORT_MAX];
static char srv_addr[64];

static void server_up(void)
{
	char err[ERR_LEN];

	memset(&fake, 0, sizeof(fake));
	fake_counters(fake.workers);
	srv = vd_admin_start("127.0.0.1", 0, &fake_ops, err, sizeof(err));
	cr_assert_not_null(srv, "start: %s", err);
	cr_assert_neq(vd_admin_port(srv), 0);
	snprintf(srv_port, sizeof(srv_port), "%u", vd_admin_port(srv));
	snprintf(srv_addr, sizeof(srv_addr), "127.0.0.1:%u", vd_admin_port(srv));
}

static void server_down(void)
{
	vd_admin_stop(srv);
	srv = NULL;
}

static void request(const char *method, const char *path, struct httpc_resp *r)
{
	int rc = httpc_request("127.0.0.1", srv_port, method, path, HTTP_TIMEOUT_MS, r);

	cr_assert_eq(rc, 0, "%s %s: %s", method, path, strerror(-rc));
}

/* Raw request bytes (several pipelined requests allowed); r holds the first response. */
static void exchange(const char *req, size_t len, struct httpc_resp *r)
{
	int rc = httpc_exchange("127.0.0.1", srv_port, req, len, HTTP_TIMEOUT_MS, false, r);

	cr_assert_eq(rc, 0, "exchange: %s", strerror(-rc));
}

static void expect_json_error(const struct httpc_resp *r, int status, const char *body)
{
	cr_expect_eq(r->status, status, "status %d, want %d: %s", r->status, status, r->body);
	cr_expect_str_eq(header(r, "Content-Type"), TYPE_JSON);
	cr_expect_str_eq(r->body, body);
}

#define HTTP_TEST(name)                                                                            \
	Test(http, name, .init = server_up, .fini = server_down, .timeout = TEST_TIMEOUT_S)
#define CTL_TEST(name)                                                                             \
	Test(ctl, name, .init = server_up, .fini = server_down, .timeout = TEST_TIMEOUT_S)

/* ==== vd_buf and the escapers ==== */

Test(buf, printf_grows_and_stays_terminated)
{
	struct vd_buf b = {0};

	for (int i = 0; i < 10000; i++)
		vd_buf_printf(&b, "%05d,", i);
	cr_assert(!b.oom);
	cr_assert_eq(b.len, 60000);
	cr_assert_eq(strlen(b.p), b.len);
	cr_assert_geq(b.cap, b.len + 1);
	cr_assert(!strncmp(b.p, "00000,00001,", 12));
	cr_assert_str_eq(b.p + b.len - 6, "09999,");
	vd_buf_printf(&b, "%s", ""); /* an empty append keeps everything */
	cr_assert_eq(b.len, 60000);
	vd_buf_free(&b);
	cr_assert_null(b.p);
	cr_assert_eq(b.len + b.cap, 0);
	vd_buf_printf(&b, "again %d", 1); /* reusable after free */
	cr_assert_str_eq(b.p, "again 1");
	vd_buf_free(&b);
}

Test(buf, oom_is_sticky)
{
	struct vd_buf b = {0};

	vd_buf_printf(&b, "abc");
	b.oom = true;
	vd_buf_printf(&b, "def");
	vd_buf_json_str(&b, "x");
	vd_prom_sample(&b, "x_total", 1, NULL);
	cr_assert_str_eq(b.p, "abc");
	cr_assert_eq(b.len, 3);
	vd_buf_free(&b);
	cr_assert(!b.oom);
}

Test(buf, one_big_append)
{
	struct vd_buf b = {0};
	char *big = malloc(100001);

	memset(big, 'x', 100000);
	big[100000] = '\0';
	vd_buf_printf(&b, "[%s]", big);
	cr_assert_eq(b.len, 100002);
	cr_assert_eq(b.p[100001], ']');
	free(big);
	vd_buf_free(&b);
}

struct esc_case {
	const char *in;
	const char *out;
};

Test(buf, json_escaping)
{
	static const struct esc_case cases[] = {
		{"", "\"\""},
		{"plain text", "\"plain text\""},
		{"q\"uote", "\"q\\\"uote\""},
		{"back\\slash", "\"back\\\\slash\""},
		{"slash/stays", "\"slash/stays\""},
		{"nl\ncr\rtab\tbs\bff\f", "\"nl\\ncr\\rtab\\tbs\\bff\\f\""},
		{"\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\""}, /* DEL needs no escape */
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
		{"\xe2\x80\xa8", "\"\xe2\x80\xa8\""}, /* U+2028 is valid JSON as is */
		{"bad\xff", "\"bad\\ufffd\""},
		{"\xc3", "\"\\ufffd\""},		       /* truncated sequence */
		{"\xc3(", "\"\\ufffd(\""},		       /* lead without continuation */
		{"\xc0\x80", "\"\\ufffd\\ufffd\""},	       /* overlong NUL */
		{"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""}, /* overlong '/' */
		{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
		{"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* above U+10FFFF */
		{"\x80x", "\"\\ufffdx\""}, /* lone continuation byte */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vd_buf b = {0};

		vd_buf_json_str(&b, cases[i].in);
		cr_expect_str_eq(b.p, cases[i].out, "case %zu", i);
		vd_buf_free(&b);
	}
}

Test(buf, json_null)
{
	struct vd_buf b = {0};

	vd_buf_json_str(&b, NULL);
	cr_assert_str_eq(b.p, "null");
	vd_buf_free(&b);
}

Test(buf, prom_sample_lines)
{
	struct vd_buf b = {0};

	vd_prom_sample(&b, "a_total", 0, NULL);
	vd_prom_sample(&b, "a_total", UINT64_MAX, "k", "v", NULL);
	vd_prom_sample(&b, "a_total", 7, "k", "v", "l", "w", NULL);
	vd_prom_sample(&b, "a_total", 8, "k", NULL, NULL);	 /* NULL value: empty */
	vd_prom_sample(&b, "a_total", 9, NULL, "ignored", NULL); /* NULL key ends labels */
	cr_assert_str_eq(b.p, "a_total 0\n"
			      "a_total{k=\"v\"} 18446744073709551615\n"
			      "a_total{k=\"v\",l=\"w\"} 7\n"
			      "a_total{k=\"\"} 8\n"
			      "a_total 9\n");
	vd_buf_free(&b);
}

Test(buf, prom_label_escaping)
{
	static const struct esc_case cases[] = {
		{"q\"b", "q\\\"b"},
		{"back\\slash", "back\\\\slash"},
		{"two\nlines", "two\\nlines"},
		{"\\n literally", "\\\\n literally"},
		{"tab\tcr\r", "tab\tcr\r"}, /* only the three escapes exist */
		{"caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80"},
		{"bad\xff", "bad\xef\xbf\xbd"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vd_buf b = {0};
		char want[128];

		vd_prom_sample(&b, "x_total", 1, "l", cases[i].in, NULL);
		snprintf(want, sizeof(want), "x_total{l=\"%s\"} 1\n", cases[i].out);
		cr_expect_str_eq(b.p, want, "case %zu", i);
		vd_buf_free(&b);
	}
}

/* What the renderer escapes, the strict parser reads back byte for byte. */
Test(buf, prom_round_trip)
{
	static const char *const values[] = {
		"", "q\"b", "a\\b", "a\nb", "\\\"\n", "caf\xc3\xa9", "}{,=\" 1", "\t",
	};
	struct vd_buf b = {0};
	struct prom_doc d;

	vd_prom_family(&b, "rt_total", "counter", "Help with \\ and\nnewline and \"quotes\".");
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		vd_prom_sample(&b, "rt_total", i, "v", values[i], NULL);
	parse_ok(b.p, b.len, &d);
	cr_assert_eq(d.n, sizeof(values) / sizeof(values[0]));
	cr_assert_str_eq(d.fam[0].help, "Help with \\ and\nnewline and \"quotes\".");
	for (size_t i = 0; i < d.n; i++) {
		cr_expect_str_eq(prom_label(&d.s[i], "v"), values[i], "value %zu", i);
		cr_expect_eq(d.s[i].value, (double)i);
	}
	prom_doc_free(&d);
	vd_buf_free(&b);
}

Test(buf, prom_family_lines)
{
	struct vd_buf b = {0};

	vd_prom_family(&b, "f_total", "counter", "a\\b\nc \"q\"");
	vd_prom_family(&b, "g", "gauge", NULL);
	cr_assert_str_eq(b.p, "# HELP f_total a\\\\b\\nc \"q\"\n# TYPE f_total counter\n"
			      "# HELP g \n# TYPE g gauge\n");
	vd_buf_free(&b);
}

/* ==== the strict parser itself ==== */

Test(prom, accepts_the_format)
{
	static const char doc[] = "# HELP a_total A counter.\n"
				  "# TYPE a_total counter\n"
				  "a_total{x=\"1\",y=\"\\\\ \\\" \\n\"} 3\n"
				  "a_total{y=\"2\",x=\"1\"} 4 1700000000000\n"
				  "a_total 0\n"
				  "# a plain comment\n"
				  "# HELP g A gauge.\n"
				  "# TYPE g gauge\n"
				  "g -1.5e3\n"
				  "g{k=\"+Inf\"} +Inf\n"
				  "g{k=\"NaN\"} NaN\n"
				  "# HELP h A histogram.\n"
				  "# TYPE h histogram\n"
				  "h_bucket{le=\"1\"} 2\n"
				  "h_bucket{le=\"+Inf\"} 3\n"
				  "h_sum 4.5\n"
				  "h_count 3\n";
	struct prom_doc d;

	parse_ok(doc, strlen(doc), &d);
	cr_assert_eq(d.n_fam, 3);
	cr_assert_eq(d.n, 10);
	cr_assert_str_eq(prom_label(&d.s[0], "y"), "\\ \" \n");
	EXPECT(&d, 4, "a_total", "x", "1", "y", "2", NULL);
	EXPECT(&d, -1500, "g", NULL);
	cr_assert_str_eq(prom_family(&d, "h")->type, "histogram");
	prom_doc_free(&d);
}

Test(prom, refuses_what_is_wrong)
{
	static const char *const bad[] = {
		"# HELP a_total x\n# TYPE a_total counter\na_total 1", /* no final newline */
		"# HELP a_total x\n# TYPE a_total counter\n\na_total 1\n",
		"# HELP a_total x\r\n# TYPE a_total counter\na_total 1\n",
		"a_total 1\n",			       /* undeclared */
		"# TYPE a_total counter\na_total 1\n", /* no HELP */
		"# HELP a_total x\na_total 1\n",       /* no TYPE */
		"# HELP a x\n# TYPE a counter\na 1\n", /* counter without _total */
		"# HELP a_total x\n# TYPE a_total counter\na_total -1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total NaN\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total 1\na_total 2\n", /* duplicate */
		"# HELP a_total x\n# TYPE a_total counter\n"
		"a_total{x=\"1\",y=\"2\"} 1\na_total{y=\"2\",x=\"1\"} 2\n", /* same set */
		"# HELP a_total x\n# TYPE a_total counter\na_total abc\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total 0x10\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total inf\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total  1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total 1 \n",
		"# HELP a_total x\n# TYPE a_total counter\na_total 1 12a\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\\t\"} 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1} 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\",} 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{} 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\",x=\"2\"} 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{__x=\"1\"} 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{1x=\"1\"} 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{x=1} 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total{x=\"\xff\"} 1\n",
		"# HELP a_total bad \\t escape\n# TYPE a_total counter\na_total 1\n",
		"# HELP a_total x\n# HELP a_total y\n# TYPE a_total counter\na_total 1\n",
		"# HELP a_total x\n# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total 1\n# HELP a_total y\n",
		"# HELP a_total x\n# TYPE a_total counter\na_total 1\n"
		"# HELP b x\n# TYPE b gauge\nb 1\na_total{x=\"2\"} 1\n", /* not contiguous */
		"# HELP a_total x\n# TYPE a_total counter\na_total 1\n"
		"# HELP b x\n# TYPE b gauge\nb 1\n# HELP a_total x\n", /* declared twice */
		"# HELP a_total x\n# TYPE a_total countr\na_total 1\n",
		"# HELP 1a x\n# TYPE 1a gauge\n",
		"# HELP g x\n# TYPE g gauge\ng_other 1\n",
		"# HELP h x\n# TYPE h histogram\nh 1\n",
		"# HELP g x\n# TYPE g gauge\ng 1\0\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct prom_doc d;
		char err[ERR_LEN];
		size_t len = strlen(bad[i]);

		if (i == sizeof(bad) / sizeof(bad[0]) - 1)
			len += 2; /* the one with a NUL inside */
		cr_expect_neq(prom_parse(bad[i], len, &d, err, sizeof(err)), 0,
			      "case %zu accepted:\n%s", i, bad[i]);
		cr_expect_neq(err[0], '\0', "case %zu: no message", i);
		prom_doc_free(&d);
	}
}

/* ==== the counters as Prometheus families ==== */

/* Does worker series s have the labels of total t, plus worker? */
static bool same_series(const struct prom_sample *s, const struct prom_sample *t)
{
	if (s->n_labels != t->n_labels + 1)
		return false;
	for (unsigned i = 0; i < t->n_labels; i++) {
		const char *v = prom_label(s, t->labels[i].name);

		if (!v || strcmp(v, t->labels[i].value))
			return false;
	}
	return true;
}

/* Every per-worker family adds up to its total family, series by series, and nothing else. */
static void expect_sums(const struct prom_doc *d)
{
	unsigned totals = 0;

	for (unsigned i = 0; i < d->n; i++) {
		const struct prom_sample *t = &d->s[i];
		char wname[128];
		unsigned found = 0;
		double sum = 0;

		if (!strncmp(t->name, "viaduct_worker_", 15))
			continue;
		cr_assert(!prom_label(t, "worker"), "%s: a total with a worker label", t->name);
		snprintf(wname, sizeof(wname), "viaduct_worker_%s", t->name + strlen("viaduct_"));
		for (unsigned k = 0; k < d->n; k++)
			if (!strcmp(d->s[k].name, wname) && same_series(&d->s[k], t)) {
				sum += d->s[k].value;
				found++;
			}
		cr_expect_eq(found, N_WORKERS, "%s (line %u): %u worker series", t->name, t->line,
			     found);
		cr_expect_eq(sum, t->value, "%s (line %u)", t->name, t->line);
		totals++;
	}
	cr_expect_eq(totals * (N_WORKERS + 1), d->n, "worker series without a total");
}

Test(metrics, two_workers)
{
	struct vd_stats w[N_WORKERS];
	struct vd_buf b;
	struct prom_doc d;

	fake_counters(w);
	render(&b, w, N_WORKERS);
	parse_ok(b.p, b.len, &d);
	/* the INVITE counter of worker 1 and the total */
	EXPECT(&d, 70, "viaduct_worker_received_requests_total", "worker", "1", "method", "INVITE",
	       NULL);
	EXPECT(&d, 40, "viaduct_worker_received_requests_total", "worker", "0", "method", "INVITE",
	       NULL);
	EXPECT(&d, 110, "viaduct_received_requests_total", "method", "INVITE", NULL);
	EXPECT(&d, 0, "viaduct_received_requests_total", "method", "BYE", NULL);
	EXPECT(&d, 1, "viaduct_received_requests_total", "method", "unknown", NULL);
	EXPECT(&d, 300, "viaduct_received_messages_total", NULL);
	EXPECT(&d, 200, "viaduct_worker_received_messages_total", "worker", "1", NULL);
	EXPECT(&d, 210, "viaduct_forwarded_messages_total", NULL);
	EXPECT(&d, 75, "viaduct_replied_messages_total", NULL);
	EXPECT(&d, 192000, "viaduct_received_bytes_total", NULL);
	EXPECT(&d, 150000, "viaduct_sent_bytes_total", NULL);
	EXPECT(&d, 105, "viaduct_received_responses_total", "class", "2xx", NULL);
	EXPECT(&d, 5, "viaduct_worker_received_responses_total", "worker", "0", "class", "4xx",
	       NULL);
	EXPECT(&d, 20, "viaduct_replies_total", "code", "400", NULL);
	EXPECT(&d, 10, "viaduct_replies_total", "code", "503", NULL);
	EXPECT(&d, 45, "viaduct_replies_total", "code", "other", NULL);
	EXPECT(&d, 12, "viaduct_drops_total", "reason", "not-sip", NULL);
	EXPECT(&d, 3, "viaduct_drops_total", "reason", "via-not-ours", NULL);
	EXPECT(&d, 0, "viaduct_drops_total", "reason", "send-failed", NULL);
	EXPECT(&d, 4, "viaduct_scan_errors_total", "reason", "missing-via", NULL);
	EXPECT(&d, 9, "viaduct_worker_scan_errors_total", "worker", "1", "reason", "too-large",
	       NULL);
	EXPECT(&d, 80, "viaduct_member_selections_total", "pool", "0", "member", "0", NULL);
	EXPECT(&d, 0, "viaduct_worker_member_selections_total", "worker", "1", "pool", "0",
	       "member", "1", NULL);
	EXPECT(&d, 25, "viaduct_member_selections_total", "pool", "0", "member", "2", NULL);
	EXPECT(&d, 6, "viaduct_member_selections_total", "pool", "3", "member", "0", NULL);
	EXPECT(&d, 0, "viaduct_worker_member_selections_total", "worker", "1", "pool", "3",
	       "member", "0", NULL);
	EXPECT(&d, 42, "viaduct_receive_batches_total", NULL);
	/* no "none" reason, no 0xx class, members only up to the highest selected */
	cr_expect_null(prom_find(&d, "viaduct_drops_total", "reason", "none", NULL));
	cr_expect_null(prom_find(&d, "viaduct_received_responses_total", "class", "0xx", NULL));
	cr_expect_null(
		prom_find(&d, "viaduct_member_selections_total", "pool", "0", "member", "3", NULL));
	cr_expect_null(
		prom_find(&d, "viaduct_member_selections_total", "pool", "3", "member", "1", NULL));
	cr_expect_null(
		prom_find(&d, "viaduct_member_selections_total", "pool", "1", "member", "0", NULL));
	expect_sums(&d);
	prom_doc_free(&d);
	vd_buf_free(&b);
}

/* The set of series does not depend on the values (except members): dashboards rely on it. */
Test(metrics, fixed_series)
{
	struct vd_stats w[N_WORKERS];
	struct vd_buf b;
	struct prom_doc d;
	unsigned n_methods = 0, n_drops = 0;

	memset(w, 0, sizeof(w));
	render(&b, w, N_WORKERS);
	parse_ok(b.p, b.len, &d);
	for (unsigned i = 0; i < d.n; i++) {
		n_methods += !strcmp(d.s[i].name, "viaduct_received_requests_total");
		n_drops += !strcmp(d.s[i].name, "viaduct_worker_drops_total");
		cr_expect_eq(d.s[i].value, 0);
	}
	cr_expect_eq(n_methods, VD_M__COUNT);
	cr_expect_eq(n_drops, N_WORKERS * (VD_DROP__COUNT - 1));
	/* no member selected yet: the family is announced, without series */
	cr_expect_not_null(prom_family(&d, "viaduct_member_selections_total"));
	cr_expect_null(
		prom_find(&d, "viaduct_member_selections_total", "pool", "0", "member", "0", NULL));
	for (unsigned f = 0; f < d.n_fam; f++) {
		cr_expect_str_eq(d.fam[f].type, "counter", "%s", d.fam[f].name);
		cr_expect(d.fam[f].help && strlen(d.fam[f].help) > 10, "%s", d.fam[f].name);
		cr_expect(!strncmp(d.fam[f].name, "viaduct_", 8), "%s", d.fam[f].name);
	}
	expect_sums(&d);
	prom_doc_free(&d);
	vd_buf_free(&b);
}

Test(metrics, no_workers)
{
	struct vd_buf b;
	struct prom_doc d;

	render(&b, NULL, 0);
	parse_ok(b.p, b.len, &d);
	EXPECT(&d, 0, "viaduct_received_messages_total", NULL);
	cr_expect_null(
		prom_find(&d, "viaduct_worker_received_messages_total", "worker", "0", NULL));
	cr_expect_not_null(prom_family(&d, "viaduct_worker_received_messages_total"));
	prom_doc_free(&d);
	vd_buf_free(&b);
}

Test(metrics, last_member)
{
	struct vd_stats w[1];
	struct vd_buf b;
	struct prom_doc d;

	memset(w, 0, sizeof(w));
	w[0].member[VD_STATS_POOLS - 1][VD_CFG_MAX_MEMBERS - 1] = UINT32_MAX;
	render(&b, w, 1);
	parse_ok(b.p, b.len, &d);
	EXPECT(&d, UINT32_MAX, "viaduct_member_selections_total", "pool", "15", "member", "255",
	       NULL);
	EXPECT(&d, 0, "viaduct_member_selections_total", "pool", "15", "member", "0", NULL);
	cr_expect_null(
		prom_find(&d, "viaduct_member_selections_total", "pool", "0", "member", "0", NULL));
	prom_doc_free(&d);
	vd_buf_free(&b);
}

/* ==== the HTTP server ==== */

HTTP_TEST(metrics_endpoint)
{
	struct httpc_resp r;
	struct prom_doc d;

	request("GET", "/metrics", &r);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
	cr_expect_str_eq(header(&r, "Content-Type"), TYPE_METRICS);
	cr_expect_str_eq(header(&r, "Cache-Control"), "no-store");
	parse_ok(r.body, r.body_len, &d);
	EXPECT(&d, 70, "viaduct_worker_received_requests_total", "worker", "1", "method", "INVITE",
	       NULL);
	EXPECT(&d, 110, "viaduct_received_requests_total", "method", "INVITE", NULL);
	EXPECT(&d, 12, "viaduct_drops_total", "reason", "not-sip", NULL);
	expect_sums(&d);
	prom_doc_free(&d);
	httpc_resp_free(&r);
}

HTTP_TEST(metrics_ignores_query)
{
	struct httpc_resp r;

	request("GET", "/metrics?name[]=viaduct_drops_total", &r);
	cr_expect_eq(r.status, 200);
	httpc_resp_free(&r);
}

HTTP_TEST(head_has_headers_only)
{
	struct httpc_resp r;

	request("HEAD", "/metrics", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"), TYPE_METRICS);
	cr_expect_eq(r.body_len, 0);
	cr_expect_eq(r.consumed, r.raw_len, "bytes after the headers of a HEAD answer");
	httpc_resp_free(&r);
}

HTTP_TEST(status_endpoint)
{
	struct httpc_resp r;

	request("GET", "/status", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"), TYPE_JSON);
	cr_expect_str_eq(r.body, STATUS_JSON);
	httpc_resp_free(&r);
}

HTTP_TEST(reload_ok_then_errors)
{
	struct httpc_resp r;

	request("POST", "/reload", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"), TYPE_JSON);
	cr_expect_str_eq(r.body, "{\"ok\":true}\n");
	httpc_resp_free(&r);

	request("POST", "/reload", &r);
	expect_json_error(&r, 409, "{\"error\":\"" RELOAD_BAD_MSG "\"}\n");
	httpc_resp_free(&r);

	request("POST", "/reload", &r); /* -EIO without a message: strerror */
	expect_json_error(&r, 500, "{\"error\":\"Input/output error\"}\n");
	httpc_resp_free(&r);
	cr_expect_eq(fake.reload_calls, 3);
}

HTTP_TEST(drain_and_undrain)
{
	struct httpc_resp r;

	request("POST", "/pools/pcscf/members/127.0.0.1:5070/drain", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(r.body, "{\"ok\":true,\"pool\":\"pcscf\",\"member\":\"127.0.0.1:5070\","
				 "\"draining\":true}\n");
	cr_expect_str_eq(fake.pool, POOL);
	cr_expect_str_eq(fake.member, "127.0.0.1:5070");
	cr_expect(fake.drain);
	httpc_resp_free(&r);

	request("POST", "/pools/pcscf/members/1/undrain", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(r.body, "{\"ok\":true,\"pool\":\"pcscf\",\"member\":\"1\","
				 "\"draining\":false}\n");
	cr_expect(!fake.drain);
	cr_expect_eq(fake.drain_calls, 2);
	httpc_resp_free(&r);
}

HTTP_TEST(drain_decodes_segments)
{
	struct httpc_resp r;

	request("POST", "/pools/pc%73cf/members/%5B%3a%3A1%5D:5070/drain", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(fake.pool, POOL);
	cr_expect_str_eq(fake.member, "[::1]:5070");
	httpc_resp_free(&r);

	/* an encoded '/' stays inside its segment; '+' is not a space in a path */
	request("POST", "/pools/pcscf/members/a%2Fb+c/drain", &r);
	expect_json_error(&r, 404, "{\"error\":\"no member \\\"a/b+c\\\" in pool pcscf\"}\n");
	cr_expect_str_eq(fake.member, "a/b+c");
	httpc_resp_free(&r);
}

HTTP_TEST(drain_errors)
{
	struct httpc_resp r;

	request("POST", "/pools/nope/members/0/drain", &r);
	expect_json_error(&r, 404, "{\"error\":\"no pool \\\"nope\\\"\"}\n");
	httpc_resp_free(&r);

	request("POST", "/pools/pcscf/members/127.0.0.9:5070/undrain", &r);
	expect_json_error(&r, 404,
			  "{\"error\":\"no member \\\"127.0.0.9:5070\\\" in pool pcscf\"}\n");
	cr_expect(!fake.drain);
	httpc_resp_free(&r);

	request("POST", "/pools/pcscf/members/busy/drain", &r);
	expect_json_error(&r, 409, "{\"error\":\"Device or resource busy\"}\n");
	httpc_resp_free(&r);

	/* names with quotes, newlines and UTF-8 come back as valid JSON */
	request("POST", "/pools/q%22%0A%C3%A9/members/0/drain", &r);
	expect_json_error(&r, 404, "{\"error\":\"no pool \\\"q\\\"\\n\xc3\xa9\\\"\"}\n");
	cr_expect_str_eq(fake.pool, "q\"\n\xc3\xa9");
	httpc_resp_free(&r);

	request("POST", "/pools/%FF/members/0/drain", &r); /* not UTF-8: replaced */
	expect_json_error(&r, 404, "{\"error\":\"no pool \\\"\\ufffd\\\"\"}\n");
	httpc_resp_free(&r);
}

HTTP_TEST(bad_percent_encoding)
{
	static const char *const paths[] = {
		"/pools/pcscf/members/%zz/drain",
		"/pools/pcscf/members/ab%/drain",
		"/pools/pcscf/members/ab%4/drain",
		"/pools/pcscf/members/a%00b/drain",
		"/metric%",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct httpc_resp r;

		request("POST", paths[i], &r);
		expect_json_error(&r, 400, "{\"error\":\"bad percent-encoding in the path\"}\n");
		httpc_resp_free(&r);
	}
	cr_expect_eq(fake.drain_calls, 0);
}

HTTP_TEST(wrong_method_is_405)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{"GET", "/reload", "POST"},
		{"PUT", "/reload", "POST"},
		{"POST", "/metrics", "GET, HEAD"},
		{"DELETE", "/metrics", "GET, HEAD"},
		{"POST", "/status", "GET, HEAD"},
		{"GET", "/pools/pcscf/members/0/drain", "POST"},
		{"PUT", "/pools/pcscf/members/0/undrain", "POST"},
		{"OPTIONS", "/status", "GET, HEAD"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct httpc_resp r;

		request(cases[i].method, cases[i].path, &r);
		expect_json_error(&r, 405, "{\"error\":\"method not allowed\"}\n");
		cr_expect_str_eq(header(&r, "Allow"), cases[i].allow, "%s %s", cases[i].method,
				 cases[i].path);
		httpc_resp_free(&r);
	}
	cr_expect_eq(fake.reload_calls + fake.drain_calls, 0);
}

HTTP_TEST(unknown_path_is_404)
{
	static const char *const paths[] = {
		"/",
		"/nope",
		"/metrics/",
		"/Metrics",
		"//metrics",
		"/metrics/x",
		"/pools",
		"/pools/pcscf",
		"/pools/pcscf/members/0",
		"/pools/pcscf/members/0/frobnicate",
		"/pools/pcscf/members/0/drain/",
		"/pools/pcscf/members/0/drain/x",
		"/pools//members/0/drain",
		"/pools/pcscf/members//drain",
		"/pools/pcscf/member/0/drain",
		"/pool/pcscf/members/0/drain",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct httpc_resp r;

		request("POST", paths[i], &r);
		expect_json_error(&r, 404, "{\"error\":\"not found\"}\n");
		httpc_resp_free(&r);
		request("GET", paths[i], &r);
		cr_expect_eq(r.status, 404, "GET %s", paths[i]);
		httpc_resp_free(&r);
	}
	cr_expect_eq(fake.drain_calls, 0);
}

HTTP_TEST(long_segment_is_404)
{
	char path[1024];
	struct httpc_resp r;

	snprintf(path, sizeof(path), "/pools/pcscf/members/%0300d/drain", 0);
	request("POST", path, &r);
	cr_expect_eq(r.status, 404);
	httpc_resp_free(&r);
}

/* A body is read and thrown away, and the connection stays usable for the next request. */
HTTP_TEST(post_bodies_are_consumed)
{
	static const char next[] = "GET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	static const char *const heads[] = {
		"POST /reload HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n\r\n",
		"POST /reload HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n"
		"Expect: 100-continue\r\n\r\n",
	};
	char *req = malloc(BIG_BODY + 512);

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct httpc_resp r, r2;
		int n = snprintf(req, 512, heads[i], BIG_BODY);

		memset(req + n, 'b', BIG_BODY);
		memcpy(req + n + BIG_BODY, next, sizeof(next) - 1);
		fake.reload_calls = 0;
		exchange(req, (size_t)n + BIG_BODY + sizeof(next) - 1, &r);
		cr_expect_eq(r.status, 200, "case %zu: %s", i, r.body);
		cr_expect_str_eq(r.body, "{\"ok\":true}\n");
		r2 = r;
		r2.body = NULL;
		cr_assert_eq(httpc_parse(&r2, r.consumed, false), 0, "case %zu: no second answer",
			     i);
		cr_expect_eq(r2.status, 200);
		cr_expect_str_eq(r2.body, STATUS_JSON);
		free(r2.body);
		httpc_resp_free(&r);
		cr_expect_eq(fake.reload_calls, 1);
	}
	free(req);
}

HTTP_TEST(chunked_body_is_consumed)
{
	static const char req[] = "POST /pools/pcscf/members/0/drain HTTP/1.1\r\nHost: t\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n"
				  "5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"
				  "GET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	struct httpc_resp r, r2;

	exchange(req, sizeof(req) - 1, &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(fake.member, "0");
	r2 = r;
	r2.body = NULL;
	cr_assert_eq(httpc_parse(&r2, r.consumed, false), 0);
	cr_expect_str_eq(r2.body, STATUS_JSON);
	free(r2.body);
	httpc_resp_free(&r);
}

HTTP_TEST(render_oom_is_500)
{
	struct httpc_resp r;

	fake.metrics_oom = true;
	request("GET", "/metrics", &r);
	expect_json_error(&r, 500, "{\"error\":\"out of memory\"}\n");
	httpc_resp_free(&r);
}

HTTP_TEST(many_requests_in_a_row)
{
	for (int i = 0; i < 200; i++) {
		struct httpc_resp r;

		request("GET", i % 2 ? "/status" : "/metrics", &r);
		cr_assert_eq(r.status, 200, "request %d", i);
		httpc_resp_free(&r);
	}
}

Test(http, missing_callbacks_are_501, .timeout = TEST_TIMEOUT_S)
{
	static const struct {
		const char *method, *path;
	} cases[] = {
		{"GET", "/metrics"},
		{"GET", "/status"},
		{"POST", "/reload"},
		{"POST", "/pools/p/members/m/drain"},
	};
	struct vd_admin_ops none = {.arg = NULL};
	char err[ERR_LEN], port[HTTPC_PORT_MAX];
	struct vd_admin *a = vd_admin_start("127.0.0.1", 0, &none, err, sizeof(err));

	cr_assert_not_null(a, "%s", err);
	snprintf(port, sizeof(port), "%u", vd_admin_port(a));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct httpc_resp r;

		cr_assert_eq(httpc_request("127.0.0.1", port, cases[i].method, cases[i].path,
					   HTTP_TIMEOUT_MS, &r),
			     0);
		expect_json_error(&r, 501, "{\"error\":\"not implemented\"}\n");
		httpc_resp_free(&r);
	}
	vd_admin_stop(a);
}

Test(http, ipv6_loopback, .timeout = TEST_TIMEOUT_S)
{
	static const char *const addrs[] = {"::1", "[::1]"};
	char err[ERR_LEN], port[HTTPC_PORT_MAX];

	memset(&fake, 0, sizeof(fake));
	for (size_t i = 0; i < 2; i++) {
		struct vd_admin *a = vd_admin_start(addrs[i], 0, &fake_ops, err, sizeof(err));
		struct httpc_resp r;

		if (!a && strstr(err, "Cannot assign requested address"))
			cr_skip_test("no ::1 here: %s", err);
		cr_assert_not_null(a, "%s", err);
		snprintf(port, sizeof(port), "%u", vd_admin_port(a));
		cr_assert_eq(httpc_request("::1", port, "GET", "/status", HTTP_TIMEOUT_MS, &r), 0);
		cr_expect_eq(r.status, 200);
		cr_expect_str_eq(r.body, STATUS_JSON);
		httpc_resp_free(&r);
		vd_admin_stop(a);
	}
}

Test(http, start_errors, .timeout = TEST_TIMEOUT_S)
{
	static const char *const bad[] = {"localhost", "999.1.1.1",  "",  "[127.0.0.1",
					  "::1]",      "1.2.3.4:80", NULL};
	char err[ERR_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_null(vd_admin_start(bad[i], 0, &fake_ops, err, sizeof(err)), "%s",
			       bad[i] ? bad[i] : "NULL");
		cr_expect(strstr(err, "not a numeric IPv4 or IPv6 address"), "%s", err);
	}
	cr_expect_null(vd_admin_start("127.0.0.1", 0, NULL, err, sizeof(err)));
	cr_expect_str_eq(err, "admin: no operations given");
	cr_expect_null(vd_admin_start("192.0.2.1", 0, &fake_ops, err, sizeof(err)));
	cr_expect_str_eq(err, "admin 192.0.2.1:0: cannot bind: Cannot assign requested address");
	cr_expect_null(vd_admin_start("nope", 0, &fake_ops, NULL, 0)); /* no err buffer: fine */
	vd_admin_stop(NULL);
}

HTTP_TEST(address_in_use)
{
	char err[ERR_LEN], want[ERR_LEN];
	struct vd_admin *again =
		vd_admin_start("127.0.0.1", vd_admin_port(srv), &fake_ops, err, sizeof(err));

	cr_expect_null(again);
	snprintf(want, sizeof(want), "admin %s: cannot bind: Address already in use", srv_addr);
	cr_expect_str_eq(err, want);
	vd_admin_stop(again);
}

/* Stop with a client still connected and idle: must not hang. */
HTTP_TEST(stop_with_idle_client)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(vd_admin_port(srv))};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(write(fd, "GET /sta", 8), 8);
	usleep(50 * 1000);
	vd_admin_stop(srv);
	srv = NULL;
	close(fd);
}

/* ==== viaductctl ==== */

struct ctl_run {
	int status; /* exit code, -1 if killed */
	char out[CTL_OUT_MAX];
	char err[ERR_LEN * 4];
};

static struct ctl_run run;

/* Read what is there from fd into buf (NUL-terminated); false at EOF. */
static bool drain_fd(int fd, char *buf, size_t cap, size_t *len)
{
	char sink[4096];
	ssize_t n;

	if (*len + 1 < cap)
		n = read(fd, buf + *len, cap - 1 - *len);
	else
		n = read(fd, sink, sizeof(sink));
	if (n <= 0)
		return n < 0 && errno == EINTR;
	if (*len + 1 < cap)
		*len += (size_t)n;
	buf[*len] = '\0';
	return true;
}

/* Run viaductctl with argv (argv[0] included) and env (NULL-terminated), bounded in time. */
static void ctl(const char *const argv[], const char *const env[])
{
	int out[2], err[2];
	size_t out_len = 0, err_len = 0;
	int64_t deadline = httpc_now_ms() + CTL_TIMEOUT_MS;
	struct pollfd p[2];
	pid_t pid;
	int ws;

	memset(&run, 0, sizeof(run));
	cr_assert_eq(pipe(out), 0);
	cr_assert_eq(pipe(err), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(out[0]);
		close(err[0]);
		execve(VD_VIADUCTCTL, (char *const *)argv, (char *const *)env);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	p[0] = (struct pollfd){.fd = out[0], .events = POLLIN};
	p[1] = (struct pollfd){.fd = err[0], .events = POLLIN};
	while ((p[0].fd >= 0 || p[1].fd >= 0) && httpc_now_ms() < deadline) {
		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents && !drain_fd(out[0], run.out, sizeof(run.out), &out_len))
			p[0].fd = -1;
		if (p[1].revents && !drain_fd(err[0], run.err, sizeof(run.err), &err_len))
			p[1].fd = -1;
	}
	if (p[0].fd >= 0 || p[1].fd >= 0)
		kill(pid, SIGKILL); /* over time: fail below, do not hang */
	close(out[0]);
	close(err[0]);
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	run.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static const char *const no_env[] = {NULL};

#define CTL(...) ctl((const char *const[]){"viaductctl", "-a", srv_addr, __VA_ARGS__, NULL}, no_env)

CTL_TEST(status)
{
	CTL("status");
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	cr_expect_str_eq(run.out, STATUS_JSON);
	cr_expect_str_eq(run.err, "");
}

CTL_TEST(metrics)
{
	struct prom_doc d;

	CTL("metrics");
	cr_assert_eq(run.status, 0, "stderr: %s", run.err);
	parse_ok(run.out, strlen(run.out), &d);
	EXPECT(&d, 110, "viaduct_received_requests_total", "method", "INVITE", NULL);
	prom_doc_free(&d);
}

CTL_TEST(drain)
{
	CTL("drain", POOL, "[::1]:5070");
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	cr_expect_str_eq(run.out, "{\"ok\":true,\"pool\":\"pcscf\",\"member\":\"[::1]:5070\","
				  "\"draining\":true}\n");
	cr_expect_str_eq(fake.member, "[::1]:5070");
	cr_expect(fake.drain);
	CTL("undrain", POOL, "0");
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	cr_expect(!fake.drain);
	cr_expect_eq(fake.drain_calls, 2);
}

/* Names are percent-encoded by viaductctl and decoded by the server: they arrive intact. */
CTL_TEST(drain_odd_names)
{
	CTL("drain", "p o/o%l?#\xc3\xa9", "m\"1");
	cr_expect_eq(run.status, 1);
	cr_expect_str_eq(fake.pool, "p o/o%l?#\xc3\xa9");
	cr_expect_str_eq(fake.member, "m\"1");
	cr_expect_str_eq(run.err,
			 "viaductctl: HTTP 404 Not Found: no pool \"p o/o%l?#\xc3\xa9\"\n");
}

CTL_TEST(drain_unknown)
{
	CTL("drain", POOL, "127.0.0.9:5070");
	cr_expect_eq(run.status, 1);
	cr_expect_str_eq(run.out, "");
	cr_expect_str_eq(run.err, "viaductctl: HTTP 404 Not Found: no member \"127.0.0.9:5070\" "
				  "in pool pcscf\n");
}

CTL_TEST(reload)
{
	CTL("reload");
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	CTL("reload");
	cr_expect_eq(run.status, 1);
	cr_expect_str_eq(run.err, "viaductctl: HTTP 409 Conflict: " RELOAD_BAD_MSG "\n");
}

CTL_TEST(address_from_environment)
{
	char env[80];

	snprintf(env, sizeof(env), "VIADUCT_ADMIN=%s", srv_addr);
	ctl((const char *const[]){"viaductctl", "status", NULL}, (const char *const[]){env, NULL});
	cr_expect_eq(run.status, 0, "stderr: %s", run.err);
	cr_expect_str_eq(run.out, STATUS_JSON);
}

CTL_TEST(usage_errors)
{
	static const char *const cases[][5] = {
		{"viaductctl", NULL},
		{"viaductctl", "frobnicate", NULL},
		{"viaductctl", "status", "extra", NULL},
		{"viaductctl", "drain", POOL, NULL},
		{"viaductctl", "drain", POOL, "", NULL},
		{"viaductctl", "-a", "127.0.0.1", "status", NULL},
		{"viaductctl", "-a", "::1:80", "status", NULL},
		{"viaductctl", "-t", "0", "status", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctl(cases[i], no_env);
		cr_expect_eq(run.status, 2, "case %zu: exit %d", i, run.status);
		cr_expect_neq(run.err[0], '\0', "case %zu: no message", i);
	}
	cr_expect_eq(fake.drain_calls, 0);
}

CTL_TEST(no_server)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char addr[64];

	/* a bound port that does not listen: connections are refused */
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	ctl((const char *const[]){"viaductctl", "-a", addr, "status", NULL}, no_env);
	close(fd);
	cr_expect_eq(run.status, 3);
	cr_expect(strstr(run.err, "Connection refused"), "%s", run.err);
}

/* A server that accepts and never answers: viaductctl gives up at -t. */
CTL_TEST(timeout)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char addr[64];
	int64_t t0;

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	t0 = httpc_now_ms();
	ctl((const char *const[]){"viaductctl", "-a", addr, "-t", "1", "status", NULL}, no_env);
	close(fd);
	cr_expect_eq(run.status, 3);
	cr_expect(strstr(run.err, "timed out"), "%s", run.err);
	cr_expect_lt(httpc_now_ms() - t0, 5000);
}
