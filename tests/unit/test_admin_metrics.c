/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the Prometheus side of the admin API: the strict exposition-format parser
 * (tests/support/prom_parse.h) on its own, since a parser that accepts everything would prove
 * nothing, then the counters rendered as families (src/ctl/metrics.c): known values, a fixed
 * set of series, no workers, the last member, every per-worker family summing to its total.
 * Shared fakes and checks: tests/support/admin_fixture.h.
 */
#include "admin_fixture.h"

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
