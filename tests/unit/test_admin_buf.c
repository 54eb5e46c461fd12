/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the admin API's text buffer and its escapers (src/ctl/buf.c): growth, the
 * sticky out-of-memory flag, JSON strings (control bytes, invalid UTF-8) and Prometheus
 * HELP/TYPE and sample lines with their label escaping, read back by the strict parser.
 * Shared fakes and checks: tests/support/admin_fixture.h.
 */
#include "admin_fixture.h"

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
