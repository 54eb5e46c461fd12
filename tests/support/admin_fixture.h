/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the admin API's unit tests share (test_admin_buf.c, test_admin_metrics.c,
 * test_admin_http.c, test_admin_ctl.c): fake ops whose answers are known and which record what
 * the server asked, two workers with known counters, the Prometheus checks every /metrics
 * document goes through (the strict parser of prom_parse.h, EXPECT, the per-worker sums), and
 * the server under test: it runs for real on 127.0.0.1 with an ephemeral port and is spoken to
 * over sockets by the client viaductctl uses (tools/httpc.h).
 * Include it once per test binary.
 */
#ifndef VD_TEST_ADMIN_FIXTURE_H
#define VD_TEST_ADMIN_FIXTURE_H

#include <viaduct/admin.h>
#include <viaduct/metrics.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "httpc.h"
#include "prom_parse.h"

#define TEST_TIMEOUT_S	30
#define HTTP_TIMEOUT_MS 5000
#define ERR_LEN		512
#define NAME_LEN	256
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

static inline void fake_metrics(void *arg, struct vd_buf *out)
{
	struct fake *f = arg;

	if (f->metrics_oom) {
		vd_buf_printf(out, "# HELP partial_total half a docu");
		out->oom = true;
		return;
	}
	vd_metrics_render_stats(out, f->workers, N_WORKERS);
}

static inline void fake_status(void *arg, struct vd_buf *out)
{
	(void)arg;
	vd_buf_printf(out, "%s", STATUS_JSON);
}

/* Succeeds, then refuses a bad config, then fails without a message. */
static inline int fake_reload(void *arg, char *msg, size_t len)
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

static inline int fake_drain(void *arg, const char *pool, const char *member, bool drain,
			     char *msg, size_t len)
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
static inline void fake_counters(struct vd_stats *w)
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

static inline void render(struct vd_buf *b, const struct vd_stats *w, unsigned n)
{
	*b = (struct vd_buf){0};
	vd_metrics_render_stats(b, w, n);
	cr_assert(!b->oom);
	cr_assert_not_null(b->p);
}

static inline void parse_ok(const char *text, size_t len, struct prom_doc *d)
{
	char err[ERR_LEN];
	int rc = prom_parse(text, len, d, err, sizeof(err));

	cr_assert_eq(rc, 0, "strict parser: %s\n---\n%s", err, text);
}

static inline double value_of(const struct prom_sample *s, const char *what)
{
	cr_assert_not_null(s, "no series %s", what);
	return s->value;
}

/* Expect one series with exactly these labels and this value. */
#define EXPECT(doc, v, name, ...)                                                                  \
	cr_expect_eq(value_of(prom_find(doc, name, __VA_ARGS__), name " " #__VA_ARGS__),           \
		     (double)(v), "%s %s", name, #__VA_ARGS__)

/* A copy of the NUL-terminated value of a response header, or "" when absent. */
static inline const char *header(const struct httpc_resp *r, const char *name)
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

static inline void server_up(void)
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

static inline void server_down(void)
{
	vd_admin_stop(srv);
	srv = NULL;
}

static inline void request(const char *method, const char *path, struct httpc_resp *r)
{
	int rc = httpc_request("127.0.0.1", srv_port, method, path, HTTP_TIMEOUT_MS, r);

	cr_assert_eq(rc, 0, "%s %s: %s", method, path, strerror(-rc));
}

/* Raw request bytes (several pipelined requests allowed); r holds the first response. */
static inline void exchange(const char *req, size_t len, struct httpc_resp *r)
{
	int rc = httpc_exchange("127.0.0.1", srv_port, req, len, HTTP_TIMEOUT_MS, false, r);

	cr_assert_eq(rc, 0, "exchange: %s", strerror(-rc));
}

static inline void expect_json_error(const struct httpc_resp *r, int status, const char *body)
{
	cr_expect_eq(r->status, status, "status %d, want %d: %s", r->status, status, r->body);
	cr_expect_str_eq(header(r, "Content-Type"), TYPE_JSON);
	cr_expect_str_eq(r->body, body);
}

/* ---- the per-worker families against their totals ---- */

/* Does worker series s have the labels of total t, plus worker? */
static inline bool same_series(const struct prom_sample *s, const struct prom_sample *t)
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
static inline void expect_sums(const struct prom_doc *d)
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

#endif
