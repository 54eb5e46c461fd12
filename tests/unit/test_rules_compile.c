/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of compiling routing rules (src/route/rules_compile.c): compile errors naming the rule
 * and the field, reject and drop actions, host bits of source prefixes, the copy of the specs
 * (the caller may free its own right after), and vd_prefix_parse().
 * Shared helpers: tests/support/rules_fixture.h.
 */
#include "rules_fixture.h"

/* ---- compile errors ---- */

struct bad_case {
	const char *what;
	struct vd_rule_spec spec;
	int want_rc;
	const char *want_err; /* prefix of the message */
};

static const struct bad_case bad_cases[] = {
	{"bad ruri regex", {.name = "emergency", .ruri = "^sip:(\\+1"}, -EINVAL,
	 "rule emergency: ruri: "},
	{"bad from regex", {.name = "f", .from = "[a-"}, -EINVAL, "rule f: from: "},
	{"bad to regex", {.name = "t", .to = "a{2,1}"}, -EINVAL, "rule t: to: "},
	{"backreference (hyperscan has none)", {.name = "br", .ruri = "(a)\\1"}, -EINVAL,
	 "rule br: ruri: "},
	{"bad header regex",
	 {.name = "h", .n_headers = 2,
	  .headers = {{"Event", "reg"}, {"P-Asserted-Identity", "(("}}},
	 -EINVAL, "rule h: header P-Asserted-Identity: "},
	{"empty regex", {.name = "e", .ruri = ""}, -EINVAL, "rule e: ruri: empty regex"},
	{"header without regex", {.name = "h", .n_headers = 1, .headers = {{"Event", NULL}}},
	 -EINVAL, "rule h: header Event: missing regex"},
	{"header name with a space", {.name = "h", .n_headers = 1, .headers = {{"X Y", "a"}}},
	 -EINVAL, "rule h: headers[0]: bad header name"},
	{"empty header name", {.name = "h", .n_headers = 1, .headers = {{"", "a"}}}, -EINVAL,
	 "rule h: headers[0]: bad header name"},
	{"too many headers", {.name = "h", .n_headers = VD_RULE_MAX_HEADERS + 1}, -EINVAL,
	 "rule h: 9 header conditions"},
	{"too many prefixes", {.name = "c", .n_cidrs = VD_RULE_MAX_CIDRS + 1}, -EINVAL,
	 "rule c: 33 source prefixes"},
	{"prefix of no family", {.name = "c", .n_cidrs = 1}, -EINVAL, "rule c: sources[0]: "},
	{"v4 prefix over 32",
	 {.name = "c", .n_cidrs = 1, .cidrs = {{.family = AF_INET, .bits = 33}}}, -EINVAL,
	 "rule c: sources[0]: bad prefix"},
	{"unknown method bit", {.name = "m", .methods = 1u << VD_M__COUNT}, -EINVAL,
	 "rule m: methods: "},
	{"reject code 399", {.name = "r", .action = VD_ACTION_REJECT, .code = 399}, -EINVAL,
	 "rule r: reject code 399 is out of range 400..699"},
	{"reject code 700", {.name = "r", .action = VD_ACTION_REJECT, .code = 700}, -EINVAL,
	 "rule r: reject code 700"},
	{"reject reason with CRLF",
	 {.name = "r", .action = VD_ACTION_REJECT, .code = 403, .reason = "No\r\nVia: x"},
	 -EINVAL, "rule r: bad reject reason"},
	{"unknown action", {.name = "a", .action = (enum vd_rule_action)7}, -EINVAL,
	 "rule a: unknown action 7"},
	{"unnamed rule is named by index", {.ruri = "("}, -EINVAL, "rule #0: ruri: "},
};

Test(rules, compile_errors)
{
	for (size_t t = 0; t < sizeof(bad_cases) / sizeof(bad_cases[0]); t++) {
		const struct bad_case *c = &bad_cases[t];
		struct vd_rules *r = (struct vd_rules *)&r; /* must be reset to NULL */
		char err[ERR_LEN] = "";
		int rc = vd_rules_compile(&c->spec, 1, &r, err, sizeof(err));

		cr_expect_eq(rc, c->want_rc, "%s: rc %d", c->what, rc);
		cr_expect_null(r, "%s: rules returned on error", c->what);
		cr_expect_eq(strncmp(err, c->want_err, strlen(c->want_err)), 0,
			     "%s: error \"%s\", want \"%s...\"", c->what, err, c->want_err);
	}
}

/* The bad rule is named even when it is not the first, and hyperscan's own text is kept. */
Test(rules, compile_error_names_the_rule)
{
	struct vd_rule_spec specs[3] = {{.name = "ok", .ruri = "^sip:"},
					{.name = "emergency", .ruri = "^sip:(911|112"},
					{.name = "dflt"}};
	struct vd_rules *r = NULL;
	char err[ERR_LEN] = "";

	cr_assert_eq(vd_rules_compile(specs, 3, &r, err, sizeof(err)), -EINVAL);
	cr_expect_eq(strncmp(err, "rule emergency: ruri: ", 22), 0, "error: %s", err);
	cr_expect(strlen(err) > 22, "hyperscan's message is missing: %s", err);
}

Test(rules, reject_and_drop_actions_compile)
{
	struct vd_rule_spec specs[3] = {
		{.name = "rej", .action = VD_ACTION_REJECT, .code = 403, .reason = "Forbidden"},
		{.name = "max", .action = VD_ACTION_REJECT, .code = 699, .reason = ""},
		{.name = "drop", .action = VD_ACTION_DROP}};
	struct vd_rules *r = compile_ok(specs, 3);

	cr_expect_eq(vd_rules_get(r, 0)->code, 403);
	cr_expect_str_eq(vd_rules_get(r, 0)->reason, "Forbidden");
	cr_expect_eq(vd_rules_get(r, 2)->action, VD_ACTION_DROP);
	cr_expect_null(vd_rules_get(r, 3));
	vd_rules_free(r);
}

/* Prefixes written straight into a spec (not through vd_prefix_parse) get their host bits
 * cleared too, and vd_rules_get() shows the canonical prefix. */
Test(rules, spec_prefix_host_bits_ignored)
{
	struct vd_rule_spec specs[1] = {
		{.name = "c", .n_cidrs = 1, .cidrs = {{AF_INET, 8, {10, 9, 9, 9}}}}};
	struct vd_rules *r = compile_ok(specs, 1);
	const uint8_t canonical[4] = {10, 0, 0, 0};

	cr_expect_eq(match_file(r, NULL, "14-invite-sdp.sip", "10.0.0.1", 0), 0);
	cr_expect_eq(match_file(r, NULL, "14-invite-sdp.sip", "11.9.9.9", 0), -1);
	cr_expect_eq(memcmp(vd_rules_get(r, 0)->cidrs[0].addr, canonical, sizeof(canonical)), 0);
	vd_rules_free(r);
}

/* ---- copies ---- */

static char *heap_str(const char *s)
{
	char *p = strdup(s);

	cr_assert_not_null(p);
	return p;
}

/* The caller's specs and strings may be freed (here: scribbled over, then freed) right after
 * compiling; matching and vd_rules_get() must not notice. */
Test(rules, specs_are_copied)
{
	struct vd_rule_spec *specs = calloc(2, sizeof(*specs));
	char *ruri = heap_str("^sip:\\+1012"), *ppi = heap_str("sharetechnote");
	const struct vd_rule_spec *got;
	struct vd_rules_scratch *s = NULL;
	struct vd_rules *r;

	cr_assert_not_null(specs);
	specs[0] = (struct vd_rule_spec){.name = "emergency", .ruri = ruri, .n_cidrs = 1,
					 .action = VD_ACTION_REJECT, .code = 503,
					 .reason = "Busy"};
	cr_assert_eq(vd_prefix_parse("192.168.1.0/24", &specs[0].cidrs[0]), 0);
	specs[1] = (struct vd_rule_spec){.name = "ppi", .n_headers = 1, .pool = 3};
	strcpy(specs[1].headers[0].name, "P-Preferred-Identity");
	specs[1].headers[0].regex = ppi;
	r = compile_ok(specs, 2);
	memset(ruri, 'x', strlen(ruri));
	memset(ppi, 'x', strlen(ppi));
	memset(specs, 0x5a, 2 * sizeof(*specs));
	free(ruri);
	free(ppi);
	free(specs);

	cr_assert_eq(vd_rules_count(r), 2);
	got = vd_rules_get(r, 0);
	cr_expect_str_eq(got->name, "emergency");
	cr_expect_str_eq(got->ruri, "^sip:\\+1012");
	cr_expect_null(got->from);
	cr_expect_eq(got->code, 503);
	cr_expect_str_eq(got->reason, "Busy");
	got = vd_rules_get(r, 1);
	cr_expect_str_eq(got->headers[0].name, "P-Preferred-Identity");
	cr_expect_str_eq(got->headers[0].regex, "sharetechnote");
	cr_expect_eq(got->pool, 3);
	cr_assert_eq(vd_rules_scratch_alloc(r, &s), 0);
	cr_expect_eq(match_file(r, s, "14-invite-sdp.sip", "192.168.1.15", 0), 0);
	cr_expect_eq(match_file(r, s, "26-message.sip", "10.0.0.1", 0), 1);
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

/* ---- vd_prefix_parse ---- */

struct cidr_case {
	const char *text;
	int rc;
	uint8_t family;
	uint8_t prefix;
	const char *canonical; /* address after clearing host bits */
};

static const struct cidr_case cidr_cases[] = {
	{"10.0.0.0/8", 0, AF_INET, 8, "10.0.0.0"},
	{"10.1.2.3/8", 0, AF_INET, 8, "10.0.0.0"},
	{"192.168.1.200/25", 0, AF_INET, 25, "192.168.1.128"},
	{"192.168.1.15", 0, AF_INET, 32, "192.168.1.15"},
	{"1.2.3.4/0", 0, AF_INET, 0, "0.0.0.0"},
	{"1.2.3.4/32", 0, AF_INET, 32, "1.2.3.4"},
	{"2001:db8::/32", 0, AF_INET6, 32, "2001:db8::"},
	{"2001:db8:ab:cd::1/48", 0, AF_INET6, 48, "2001:db8:ab::"},
	{"2001:db8::ffff/127", 0, AF_INET6, 127, "2001:db8::fffe"},
	{"::1", 0, AF_INET6, 128, "::1"},
	{"::/0", 0, AF_INET6, 0, "::"},
	{"::ffff:10.0.0.1/104", 0, AF_INET6, 104, "::ffff:10.0.0.0"},
	{"", -EINVAL, 0, 0, NULL},
	{"/8", -EINVAL, 0, 0, NULL},
	{"10.0.0.0/", -EINVAL, 0, 0, NULL},
	{"10.0.0.0/33", -EINVAL, 0, 0, NULL},
	{"10.0.0.0/-1", -EINVAL, 0, 0, NULL},
	{"10.0.0.0/8x", -EINVAL, 0, 0, NULL},
	{"10.0.0.0/ 8", -EINVAL, 0, 0, NULL},
	{"10.0.0.0/8/8", -EINVAL, 0, 0, NULL},
	{"10.0.0", -EINVAL, 0, 0, NULL},
	{"10.0.0.256", -EINVAL, 0, 0, NULL},
	{" 10.0.0.0/8", -EINVAL, 0, 0, NULL},
	{"example.com/8", -EINVAL, 0, 0, NULL},
	{"2001:db8::/129", -EINVAL, 0, 0, NULL},
	{"2001:db8::/0128", -EINVAL, 0, 0, NULL},
	{"2001:db8:::1/64", -EINVAL, 0, 0, NULL},
	{"fe80::1%eth0/64", -EINVAL, 0, 0, NULL},
	{"[2001:db8::]/32", -EINVAL, 0, 0, NULL},
};

Test(rules, cidr_parse)
{
	for (size_t t = 0; t < sizeof(cidr_cases) / sizeof(cidr_cases[0]); t++) {
		const struct cidr_case *c = &cidr_cases[t];
		struct vd_prefix got, want = {0};
		int rc;

		memset(&got, 0xee, sizeof(got));
		rc = vd_prefix_parse(c->text, &got);
		cr_expect_eq(rc, c->rc, "\"%s\": rc %d, want %d", c->text, rc, c->rc);
		if (rc || c->rc)
			continue;
		cr_expect_eq(got.family, c->family, "\"%s\": family %u", c->text, got.family);
		cr_expect_eq(got.bits, c->prefix, "\"%s\": prefix %u", c->text, got.bits);
		cr_assert_eq(inet_pton(c->family, c->canonical, want.addr), 1);
		cr_expect_eq(memcmp(got.addr, want.addr, sizeof(want.addr)), 0,
			     "\"%s\": address is not %s", c->text, c->canonical);
	}
}
