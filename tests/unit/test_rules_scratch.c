/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of big routing rule sets and the match scratch (src/route/rules.c, rules_compile.c):
 * 10,000 rules, a scratch that is too small, grown across rule sets, the anchoring of '^'
 * patterns in a set large enough to be compiled unanchored, and the per-message reset of the
 * scratch (candidate bits across the words of the bitmap).
 * Shared helpers: tests/support/rules_fixture.h.
 */
#include "rules_fixture.h"

#define MANY_RULES	10000u
#define BIGGER_RULES	2000u /* enough to grow every part of the scratch, quick to compile */
#define PREFIX_RULE_LEN 32
#define COMPILE_TIMEOUT 60 /* seconds: 10,000 patterns take a few */

/* ---- a scratch too small ---- */

/* A scratch that was never sized for a rule set with regexes is refused, not crashed on. */
Test(rules, scratch_too_small_is_refused)
{
	struct vd_rule_spec small[1] = {{.name = "a", .methods = M(BYE)}};
	struct vd_rule_spec big[2] = {{.name = "a", .ruri = "^sip:"}, {.name = "b"}};
	struct vd_rules *rs = compile_ok(small, 1), *rb = compile_ok(big, 2);
	struct vd_rules_scratch *s = NULL;

	cr_assert_eq(vd_rules_scratch_alloc(rs, &s), 0);
	cr_expect_eq(match_file(rb, s, "14-invite-sdp.sip", NULL, 0), -EINVAL);
	cr_expect_eq(match_file(rb, NULL, "14-invite-sdp.sip", NULL, 0), -EINVAL);
	vd_rules_scratch_free(s);
	vd_rules_free(rs);
	vd_rules_free(rb);
}

/* ---- many rules ---- */

/* n rules "^sip:\+1NNNN" (NNNN = 0000..n-1) and a default rule at index n. */
static struct vd_rule_spec *prefix_rules(unsigned n, char (**regexes)[PREFIX_RULE_LEN])
{
	struct vd_rule_spec *specs = calloc(n + 1, sizeof(*specs));
	char(*re)[PREFIX_RULE_LEN] = calloc(n, PREFIX_RULE_LEN);

	cr_assert(specs && re);
	for (unsigned i = 0; i < n; i++) {
		snprintf(re[i], PREFIX_RULE_LEN, "^sip:\\+1%04u", i);
		snprintf(specs[i].name, sizeof(specs[i].name), "prefix-%04u", i);
		specs[i].ruri = re[i];
	}
	snprintf(specs[n].name, sizeof(specs[n].name), "default");
	*regexes = re;
	return specs;
}

Test(rules, ten_thousand_rules, .timeout = COMPILE_TIMEOUT)
{
	char(*re)[PREFIX_RULE_LEN];
	struct vd_rule_spec *specs = prefix_rules(MANY_RULES, &re);
	struct vd_rules_scratch *s = NULL;
	struct vd_rules *r = compile_ok(specs, MANY_RULES + 1);

	free(specs);
	free(re);
	cr_assert_eq(vd_rules_count(r), MANY_RULES + 1);
	cr_assert_eq(vd_rules_scratch_alloc(r, &s), 0);
	/* sip:+10123456789 -> "0123"; sip:+11234567890 -> "1234"; sip:127.0.0.1 -> default */
	cr_expect_eq(match_file(r, s, "14-invite-sdp.sip", NULL, 0), 123);
	cr_expect_eq(match_file(r, s, "05-subscribe-reg.sip", NULL, 0), 1234);
	cr_expect_eq(match_file(r, s, "27-options-keepalive.sip", NULL, 0), (int)MANY_RULES);
	cr_expect_eq(match_file(r, s, "14-invite-sdp.sip", NULL, 0), 123);
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

/* A scratch sized for a small set is grown in place for a 2,000-rule set and still serves the
 * small one; one sized for a set without regexes is grown for a set with them. */
Test(rules, scratch_reuse_across_rule_sets, .timeout = COMPILE_TIMEOUT)
{
	struct vd_rule_spec plain[1] = {{.name = "inv", .methods = M(INVITE)}};
	struct vd_rule_spec small[2] = {{.name = "msg", .ruri = "^sip:\\+1012", .methods =
					 M(MESSAGE)}, {.name = "dflt"}};
	char(*re)[PREFIX_RULE_LEN];
	struct vd_rule_spec *specs = prefix_rules(BIGGER_RULES, &re);
	struct vd_rules *rp = compile_ok(plain, 1), *rs = compile_ok(small, 2),
			*rb = compile_ok(specs, BIGGER_RULES + 1);
	struct vd_rules_scratch *s = NULL;

	free(specs);
	free(re);
	cr_assert_eq(vd_rules_scratch_alloc(rp, &s), 0);
	cr_expect_eq(match_file(rp, s, "14-invite-sdp.sip", NULL, 0), 0);
	cr_assert_eq(vd_rules_scratch_alloc(rs, &s), 0);
	cr_expect_eq(match_file(rs, s, "26-message.sip", NULL, 0), 0);
	cr_expect_eq(match_file(rs, s, "14-invite-sdp.sip", NULL, 0), 1);
	cr_assert_eq(vd_rules_scratch_alloc(rb, &s), 0);
	cr_expect_eq(match_file(rb, s, "05-subscribe-reg.sip", NULL, 0), 1234);
	cr_expect_eq(match_file(rb, s, "27-options-keepalive.sip", NULL, 0), (int)BIGGER_RULES);
	/* the grown scratch still serves the smaller sets */
	cr_expect_eq(match_file(rs, s, "26-message.sip", NULL, 0), 0);
	cr_expect_eq(match_file(rp, s, "14-invite-sdp.sip", NULL, 0), 0);
	/* growing for a set it already fits is a no-op that keeps it valid */
	cr_assert_eq(vd_rules_scratch_alloc(rs, &s), 0);
	cr_expect_eq(match_file(rb, s, "14-invite-sdp.sip", NULL, 0), 123);
	vd_rules_scratch_free(s);
	vd_rules_free(rp);
	vd_rules_free(rs);
	vd_rules_free(rb);
}

/* ---- anchoring in large sets ---- */

/* rules_compile.c compiles fixed-width '^' patterns unanchored, keeping only matches that start
 * at 0, once a set has more than 128 of them (faster to compile and to scan at that size). The
 * anchoring cases again, in one set padded past that: rule k is the case under test for
 * listener k only, and the padding never matches. */
#define PAD_RULES 500u

struct anchor_case {
	const char *ruri;
	const char *file;
	int match;
};

static const struct anchor_case anchor_cases[] = {
	{"^sip:\\+1012", "14-invite-sdp.sip", 1},
	{"^ims\\.share", "14-invite-sdp.sip", 0},
	{"^\\+1012", "14-invite-sdp.sip", 0},
	{"^sip:\\+1012$", "14-invite-sdp.sip", 0},
	{"^.{4}\\+", "14-invite-sdp.sip", 1},
	{"^.{5}\\+", "14-invite-sdp.sip", 0},
	{"^sip:\\+1[0-9]{10}@", "26-message.sip", 1},
	{"^sip:\\+1[0-9]{10}$", "26-message.sip", 0},
	{"^abc|com", "14-invite-sdp.sip", 1},
	{"^\\Q(ab\\E|com", "14-invite-sdp.sip", 1},
	{"^(?#()abc|com", "14-invite-sdp.sip", 1},
	{"^(?x)abc #(\n|com", "14-invite-sdp.sip", 1},
	{"^sip:\\+1(999|012)", "14-invite-sdp.sip", 1},
	{"^(999|ims)", "14-invite-sdp.sip", 0},
};
#define N_ANCHOR_CASES (sizeof(anchor_cases) / sizeof(anchor_cases[0]))

Test(rules, anchoring_in_a_large_set, .timeout = COMPILE_TIMEOUT)
{
	unsigned n = N_ANCHOR_CASES + PAD_RULES;
	struct vd_rule_spec *specs = calloc(n, sizeof(*specs));
	char(*pad)[PREFIX_RULE_LEN] = calloc(PAD_RULES, PREFIX_RULE_LEN);
	struct vd_rules_scratch *s = NULL;
	struct vd_rules *r;

	cr_assert(specs && pad);
	cr_assert_leq(N_ANCHOR_CASES, 32, "one listener bit per case");
	for (unsigned k = 0; k < N_ANCHOR_CASES; k++) {
		snprintf(specs[k].name, sizeof(specs[k].name), "case-%u", k);
		specs[k].ruri = anchor_cases[k].ruri;
		specs[k].listeners = 1u << k;
	}
	for (unsigned i = 0; i < PAD_RULES; i++) {
		snprintf(pad[i], PREFIX_RULE_LEN, "^zz%05u", i);
		snprintf(specs[N_ANCHOR_CASES + i].name, VD_RULE_NAME_MAX, "pad-%u", i);
		specs[N_ANCHOR_CASES + i].ruri = pad[i];
	}
	r = compile_ok(specs, n);
	free(specs);
	free(pad);
	cr_assert_eq(vd_rules_scratch_alloc(r, &s), 0);
	for (unsigned k = 0; k < N_ANCHOR_CASES; k++) {
		int got = match_file(r, s, anchor_cases[k].file, NULL, k);

		cr_expect_eq(got, anchor_cases[k].match ? (int)k : -1, "\"%s\" on %s: got %d",
			     anchor_cases[k].ruri, anchor_cases[k].file, got);
	}
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

/* ---- per-message state ---- */

/* Candidate bits and partial counts of one message must not leak into the next. */
Test(rules, scratch_state_is_per_message)
{
	struct vd_rule_spec specs[3] = {
		{.name = "sdp-call", .ruri = "^sip:\\+1012", .n_headers = 1,
		 .headers = {{"Content-Type", "^application/sdp$"}}},
		{.name = "ims", .to = "@ims\\.sharetechnote\\.com>$"},
		{.name = "dflt"}};
	struct vd_rules *r = compile_ok(specs, 3);
	struct vd_rules_scratch *s = NULL;

	cr_assert_eq(vd_rules_scratch_alloc(r, &s), 0);
	/* MESSAGE: R-URI matches, Content-Type is text/plain: 1 of 2, each time */
	for (int i = 0; i < 3; i++)
		cr_expect_eq(match_file(r, s, "26-message.sip", NULL, 0), 1, "round %d", i);
	cr_expect_eq(match_file(r, s, "14-invite-sdp.sip", NULL, 0), 0);
	cr_expect_eq(match_file(r, s, "27-options-keepalive.sip", NULL, 0), 2);
	cr_expect_eq(match_file(r, s, "26-message.sip", NULL, 0), 1);
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

/* Candidates in different 64-bit words of the bitmap, touched in reverse order. */
Test(rules, candidates_across_words)
{
	enum { N = 200 };
	static struct vd_rule_spec specs[N];
	struct vd_rules_scratch *s = NULL;
	struct vd_rules *r;

	for (unsigned i = 0; i < N; i++) {
		snprintf(specs[i].name, sizeof(specs[i].name), "r%u", i);
		specs[i].ruri = "^sip:\\+1999"; /* never matches */
	}
	specs[150].ruri = NULL;
	specs[150].to = "\\+10123456789"; /* matches 14 and 26 */
	specs[70].ruri = "@ims\\.sharetechnote\\.com$";
	specs[70].methods = M(MESSAGE);
	specs[10].from = "\\+11234567890";
	specs[10].ruri = NULL;
	specs[10].listeners = 1u << 1;
	r = compile_ok(specs, N);
	cr_assert_eq(vd_rules_scratch_alloc(r, &s), 0);
	cr_expect_eq(match_file(r, s, "14-invite-sdp.sip", NULL, 0), 150);
	cr_expect_eq(match_file(r, s, "26-message.sip", NULL, 0), 70);
	cr_expect_eq(match_file(r, s, "26-message.sip", NULL, 1), 10);
	cr_expect_eq(match_file(r, s, "05-subscribe-reg.sip", NULL, 0), -1);
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

