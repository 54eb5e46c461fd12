/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of which routing rule (src/route/rules.c, rules_compile.c) matches which real corpus
 * message.
 *
 * One table pins which rule matches which message for every kind of condition: methods, R-URI
 * number prefixes and domains, From and To (also written compact, f:/t:), other headers (by full
 * or compact name, absent, folded over lines, first occurrence only), source prefixes over IPv4
 * and IPv6 at their boundaries, arrival listeners, several conditions at once, first match wins
 * and the default rule. Then the empty set, a set without regexes, and an empty header value.
 * Shared helpers: tests/support/rules_fixture.h.
 */
#include "rules_fixture.h"

#define CASE_RULES_MAX 3
#define CASE_CIDRS_MAX 3
#define NO_SRC	       NULL
#define LISTENER_HIGH  40 /* beyond the 32 bits of vd_rule_spec.listeners */

/* ---- the behaviour table ---- */

struct match_case {
	const char *what;
	unsigned n;
	struct vd_rule_spec rules[CASE_RULES_MAX];
	const char *cidrs[CASE_RULES_MAX][CASE_CIDRS_MAX]; /* parsed into rules[i].cidrs */
	const char *file;
	const char *src;
	unsigned listener;
	int want;
};

/* A rule with one header condition. */
#define HDR(hname, re) {.name = "h", .n_headers = 1, .headers = {{hname, re}}}

static const struct match_case cases[] = {
	/* methods */
	{"method INVITE on INVITE", 1, {{.name = "inv", .methods = M(INVITE)}}, {{0}},
	 "14-invite-sdp.sip", "192.168.1.15", 0, 0},
	{"method INVITE on MESSAGE", 1, {{.name = "inv", .methods = M(INVITE)}}, {{0}},
	 "26-message.sip", "192.168.1.15", 0, -1},
	{"method set INVITE|MESSAGE", 1, {{.name = "im", .methods = M(INVITE) | M(MESSAGE)}},
	 {{0}}, "26-message.sip", "192.168.1.15", 0, 0},
	{"extension method is VD_M_UNKNOWN", 2,
	 {{.name = "inv", .methods = M(INVITE)}, {.name = "ext", .methods = M(UNKNOWN)}}, {{0}},
	 "34-extension-method.sip", "192.168.1.15", 0, 1},
	/* R-URI */
	{"ruri number prefix", 1, {{.name = "p", .ruri = "^sip:\\+1012"}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, 0},
	{"ruri number prefix, other number", 1, {{.name = "p", .ruri = "^sip:\\+1012"}}, {{0}},
	 "05-subscribe-reg.sip", NULL, 0, -1},
	{"ruri prefix of the subscriber", 1, {{.name = "p", .ruri = "^sip:\\+1123"}}, {{0}},
	 "05-subscribe-reg.sip", NULL, 0, 0},
	{"ruri is scanned from its first byte", 1, {{.name = "p", .ruri = "^\\+1012"}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, -1},
	{"ruri domain", 1, {{.name = "d", .ruri = "@ims\\.sharetechnote\\.com$"}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, 0},
	{"ruri domain, other domain", 1, {{.name = "d", .ruri = "@ims\\.sharetechnote\\.com$"}},
	 {{0}}, "41-ipv6-request.sip", NULL, 0, -1},
	{"ruri regex with class and count", 1, {{.name = "d", .ruri = "^sip:\\+1[0-9]{10}@"}},
	 {{0}}, "26-message.sip", NULL, 0, 0},
	{"ruri regex not anchored at the end", 1, {{.name = "d", .ruri = "^sip:\\+1[0-9]{10}$"}},
	 {{0}}, "26-message.sip", NULL, 0, -1},
	/* '^' must keep anchoring however the pattern is compiled, and bind to the first
	 * alternative only, also behind quoting and comments that hide a '(' */
	{"anchored fixed width does not float", 1, {{.name = "a", .ruri = "^ims\\.share"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, -1},
	{"anchored fixed width, with $", 1, {{.name = "a", .ruri = "^sip:\\+1012$"}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, -1},
	{"'^' binds to the first alternative", 1, {{.name = "a", .ruri = "^abc|com"}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, 0},
	{"'^' and an alternative behind \\Q(\\E", 1, {{.name = "a", .ruri = "^\\Q(ab\\E|com"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 0},
	{"'^' and an alternative behind (?#()", 1, {{.name = "a", .ruri = "^(?#()abc|com"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 0},
	{"'^' and an alternative behind a (?x) comment", 1,
	 {{.name = "a", .ruri = "^(?x)abc #(\n|com"}}, {{0}}, "14-invite-sdp.sip", NULL, 0, 0},
	{"'^' with an alternation inside a group", 1,
	 {{.name = "a", .ruri = "^sip:\\+1(999|012)"}}, {{0}}, "14-invite-sdp.sip", NULL, 0, 0},
	{"'^' with an alternation inside a group, no match", 1,
	 {{.name = "a", .ruri = "^(999|ims)"}}, {{0}}, "14-invite-sdp.sip", NULL, 0, -1},
	/* From / To */
	{"from", 1, {{.name = "f", .from = "sip:\\+11234567890@ims\\.sharetechnote"}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, 0},
	/* the second rule makes the R-URI and To scanned too: their matches must not count */
	{"from does not see the R-URI or To", 2,
	 {{.name = "f", .from = "\\+10123456789"}, {.name = "o", .ruri = "^x", .to = "^x"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, -1},
	{"from written f:", 1, {{.name = "f", .from = "@test\\.3gpp\\.com>;tag=2722997041$"}},
	 {{0}}, "01-register-compact-ipv6.sip", NULL, 0, 0},
	{"to", 1, {{.name = "t", .to = "^<sip:\\+10123456789@"}}, {{0}}, "14-invite-sdp.sip",
	 NULL, 0, 0},
	{"to does not see From or Contact", 3,
	 {{.name = "t", .to = "\\+11234567890"}, HDR("Contact", "^x"),
	  {.name = "f", .from = "^x"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, -1},
	{"to written t:", 1, {{.name = "t", .to = "^<sip:\\+11234567890@test\\.3gpp\\.com>$"}},
	 {{0}}, "01-register-compact-ipv6.sip", NULL, 0, 0},
	/* other headers */
	{"header P-Preferred-Identity", 1,
	 {HDR("P-Preferred-Identity", "\\+11234567890@test\\.3gpp\\.com")}, {{0}},
	 "05-subscribe-reg.sip", NULL, 0, 0},
	{"header name is case-insensitive", 1,
	 {HDR("p-preferred-identity", "sharetechnote")}, {{0}}, "26-message.sip", NULL, 0, 0},
	{"header value mismatch", 1, {HDR("P-Preferred-Identity", "test\\.3gpp")}, {{0}},
	 "26-message.sip", NULL, 0, -1},
	{"absent header fails its condition", 1, {HDR("P-Preferred-Identity", ".*")}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, -1},
	{"present header matches .*", 1, {HDR("P-Preferred-Identity", ".*")}, {{0}},
	 "26-message.sip", NULL, 0, 0},
	{"header written compact (s:)", 1, {HDR("Subject", "^Call transfer$")}, {{0}},
	 "39-compact-all.sip", NULL, 0, 0},
	{"header written compact (k:)", 1, {HDR("Supported", "norefersub")}, {{0}},
	 "39-compact-all.sip", NULL, 0, 0},
	{"rule names the compact form (o)", 1, {HDR("o", "^refer$")}, {{0}},
	 "39-compact-all.sip", NULL, 0, 0},
	{"compact rule name, full header (o = Event)", 1, {HDR("o", "^reg$")}, {{0}},
	 "05-subscribe-reg.sip", NULL, 0, 0},
	{"header condition on From (f)", 1, {HDR("f", "tag=659747293$")}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, 0},
	{"folded header: . crosses the fold", 1,
	 {HDR("Authorization", "username=.*realm=\"test\\.3gpp\\.com\"")}, {{0}},
	 "01-register-compact-ipv6.sip", NULL, 0, 0},
	{"first occurrence: first Via", 1, {HDR("Via", "\\[2001:db8:10::2\\]")}, {{0}},
	 "41-ipv6-request.sip", NULL, 0, 0},
	{"first occurrence only: second Via is not seen", 1,
	 {HDR("Via", "\\[2001::21f:29ff:fe7c:8f51\\]")}, {{0}}, "41-ipv6-request.sip", NULL, 0,
	 -1},
	/* several conditions */
	{"ruri + from + header, all hold", 1,
	 {{.name = "all", .ruri = "^sip:\\+1012", .from = "\\+1123", .n_headers = 1,
	   .headers = {{"Content-Type", "sdp$"}}}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 0},
	{"ruri + from + header, header fails", 1,
	 {{.name = "all", .ruri = "^sip:\\+1012", .from = "\\+1123", .n_headers = 1,
	   .headers = {{"Content-Type", "plain"}}}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, -1},
	{"two header conditions", 1,
	 {{.name = "two", .n_headers = 2,
	   .headers = {{"Event", "^reg$"}, {"P-Preferred-Identity", "test\\.3gpp"}}}},
	 {{0}}, "05-subscribe-reg.sip", NULL, 0, 0},
	{"ruri + method, method fails", 1,
	 {{.name = "rm", .ruri = "^sip:\\+1012", .methods = M(MESSAGE)}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, -1},
	{"ruri + method, both hold", 1,
	 {{.name = "rm", .ruri = "^sip:\\+1012", .methods = M(MESSAGE)}}, {{0}},
	 "26-message.sip", NULL, 0, 0},
	{"ruri + source, source fails", 1, {{.name = "rs", .ruri = "^sip:", .n_cidrs = 1}},
	 {{"10.0.0.0/8"}}, "14-invite-sdp.sip", "192.168.1.15", 0, -1},
	/* source prefixes, IPv4 */
	{"v4 /8, last address", 1, {{.name = "c", .n_cidrs = 1}}, {{"10.0.0.0/8"}},
	 "14-invite-sdp.sip", "10.255.255.255", 0, 0},
	{"v4 /8, next address", 1, {{.name = "c", .n_cidrs = 1}}, {{"10.0.0.0/8"}},
	 "14-invite-sdp.sip", "11.0.0.0", 0, -1},
	{"v4 /8, previous address", 1, {{.name = "c", .n_cidrs = 1}}, {{"10.0.0.0/8"}},
	 "14-invite-sdp.sip", "9.255.255.255", 0, -1},
	{"v4 /25, last inside", 1, {{.name = "c", .n_cidrs = 1}}, {{"192.168.1.0/25"}},
	 "14-invite-sdp.sip", "192.168.1.127", 0, 0},
	{"v4 /25, first outside", 1, {{.name = "c", .n_cidrs = 1}}, {{"192.168.1.0/25"}},
	 "14-invite-sdp.sip", "192.168.1.128", 0, -1},
	{"v4 bare address is /32", 1, {{.name = "c", .n_cidrs = 1}}, {{"192.168.1.15"}},
	 "14-invite-sdp.sip", "192.168.1.15", 0, 0},
	{"v4 bare address, neighbour", 1, {{.name = "c", .n_cidrs = 1}}, {{"192.168.1.15"}},
	 "14-invite-sdp.sip", "192.168.1.14", 0, -1},
	{"v4 /0 takes every IPv4 source", 1, {{.name = "c", .n_cidrs = 1}}, {{"0.0.0.0/0"}},
	 "14-invite-sdp.sip", "203.0.113.7", 0, 0},
	{"v4 /0 takes no IPv6 source", 1, {{.name = "c", .n_cidrs = 1}}, {{"0.0.0.0/0"}},
	 "14-invite-sdp.sip", "2001:db8::1", 0, -1},
	{"v4 prefix, v4-mapped IPv6 source", 1, {{.name = "c", .n_cidrs = 1}}, {{"10.0.0.0/8"}},
	 "14-invite-sdp.sip", "::ffff:10.1.2.3", 0, 0},
	{"v4 host bits in the rule are ignored", 1, {{.name = "c", .n_cidrs = 1}},
	 {{"10.9.9.9/8"}}, "14-invite-sdp.sip", "10.0.0.1", 0, 0},
	{"no source address fails a prefix rule", 1, {{.name = "c", .n_cidrs = 1}},
	 {{"0.0.0.0/0"}}, "14-invite-sdp.sip", NO_SRC, 0, -1},
	{"no source address passes a rule without prefixes", 1, {{.name = "any"}}, {{0}},
	 "14-invite-sdp.sip", NO_SRC, 0, 0},
	/* source prefixes, IPv6 */
	{"v6 /32 inside", 1, {{.name = "c", .n_cidrs = 1}}, {{"2001:db8::/32"}},
	 "41-ipv6-request.sip", "2001:db8:ffff:ffff::1", 0, 0},
	{"v6 /32 next prefix", 1, {{.name = "c", .n_cidrs = 1}}, {{"2001:db8::/32"}},
	 "41-ipv6-request.sip", "2001:db9::", 0, -1},
	{"v6 prefix takes no IPv4 source", 1, {{.name = "c", .n_cidrs = 1}}, {{"::/0"}},
	 "41-ipv6-request.sip", "10.0.0.1", 0, -1},
	{"v6 /127 inside", 1, {{.name = "c", .n_cidrs = 1}}, {{"2001:db8::/127"}},
	 "41-ipv6-request.sip", "2001:db8::1", 0, 0},
	{"v6 /127 outside", 1, {{.name = "c", .n_cidrs = 1}}, {{"2001:db8::/127"}},
	 "41-ipv6-request.sip", "2001:db8::2", 0, -1},
	{"v6 /65 (second word) inside", 1, {{.name = "c", .n_cidrs = 1}},
	 {{"2001:db8:0:0:8000::/65"}}, "41-ipv6-request.sip", "2001:db8::ffff:0:0:1", 0, 0},
	{"v6 /65 (second word) outside", 1, {{.name = "c", .n_cidrs = 1}},
	 {{"2001:db8:0:0:8000::/65"}}, "41-ipv6-request.sip", "2001:db8::7fff:ffff:ffff:ffff",
	 0, -1},
	{"v6 bare address is /128", 1, {{.name = "c", .n_cidrs = 1}},
	 {{"2001::21f:29ff:fe7c:8f51"}}, "01-register-compact-ipv6.sip",
	 "2001::21f:29ff:fe7c:8f51", 0, 0},
	{"v6 bare address, neighbour", 1, {{.name = "c", .n_cidrs = 1}},
	 {{"2001::21f:29ff:fe7c:8f51"}}, "01-register-compact-ipv6.sip",
	 "2001::21f:29ff:fe7c:8f50", 0, -1},
	{"prefix list: second entry", 1, {{.name = "c", .n_cidrs = 3}},
	 {{"10.0.0.0/8", "2001:db8::/32", "192.168.0.0/16"}}, "14-invite-sdp.sip",
	 "192.168.1.15", 0, 0},
	{"prefix list: none", 1, {{.name = "c", .n_cidrs = 3}},
	 {{"10.0.0.0/8", "2001:db8::/32", "192.168.0.0/16"}}, "14-invite-sdp.sip",
	 "172.16.0.1", 0, -1},
	/* listeners */
	{"listener in the set", 1, {{.name = "l", .listeners = 1u << 2}}, {{0}},
	 "14-invite-sdp.sip", NULL, 2, 0},
	{"listener not in the set", 1, {{.name = "l", .listeners = 1u << 2}}, {{0}},
	 "14-invite-sdp.sip", NULL, 1, -1},
	{"listener 31", 1, {{.name = "l", .listeners = 1u << 31}}, {{0}}, "14-invite-sdp.sip",
	 NULL, 31, 0},
	{"listener beyond the bit set, rule for some", 1, {{.name = "l", .listeners = ~0u}},
	 {{0}}, "14-invite-sdp.sip", NULL, LISTENER_HIGH, -1},
	{"listener beyond the bit set, rule for any", 1, {{.name = "l"}}, {{0}},
	 "14-invite-sdp.sip", NULL, LISTENER_HIGH, 0},
	/* order */
	{"first match wins", 2, {{.name = "a", .ruri = "^sip:\\+1012"}, {.name = "b"}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, 0},
	{"first match wins over a later regex rule", 2,
	 {{.name = "a", .methods = M(INVITE)}, {.name = "b", .ruri = "^sip:\\+1012"}}, {{0}},
	 "14-invite-sdp.sip", NULL, 0, 0},
	{"plain rule between regex rules", 3,
	 {{.name = "a", .ruri = "^sip:\\+1999"}, {.name = "b", .methods = M(INVITE)},
	  {.name = "c", .ruri = "^sip:\\+1012"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 1},
	{"plain rule between regex rules fails", 3,
	 {{.name = "a", .ruri = "^sip:\\+1999"}, {.name = "b", .methods = M(BYE)},
	  {.name = "c", .ruri = "^sip:\\+1012"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 2},
	{"regex rule matches but its method fails", 3,
	 {{.name = "a", .ruri = "^sip:\\+1012", .methods = M(BYE)},
	  {.name = "b", .ruri = "^sip:\\+10123456789@"}, {.name = "dflt"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 1},
	{"a later field decides an earlier rule", 3,
	 {{.name = "a", .ruri = "^sip:\\+1999"}, {.name = "b", .from = "\\+1123"},
	  {.name = "c", .ruri = "^sip:\\+1012"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 1},
	{"an earlier rule waits for all its fields", 3,
	 {{.name = "a", .ruri = "^sip:\\+1012", .n_headers = 1,
	   .headers = {{"Content-Type", "sdp"}}},
	  {.name = "b", .ruri = "^sip:\\+10123"}, {.name = "dflt"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 0},
	{"default rule at the end", 3,
	 {{.name = "a", .ruri = "^sip:\\+1999"}, {.name = "b", .from = "\\+1999"},
	  {.name = "dflt"}},
	 {{0}}, "14-invite-sdp.sip", NULL, 0, 2},
	{"responses never match", 1, {{.name = "dflt"}}, {{0}}, "15-100-trying.sip", NULL, 0,
	 -1},
};

static void case_specs(const struct match_case *c, struct vd_rule_spec *out)
{
	for (unsigned i = 0; i < c->n; i++) {
		out[i] = c->rules[i];
		for (unsigned k = 0; k < out[i].n_cidrs; k++)
			cr_assert_eq(vd_prefix_parse(c->cidrs[i][k], &out[i].cidrs[k]), 0,
				     "%s: bad test prefix %s", c->what, c->cidrs[i][k]);
	}
}

Test(rules, table)
{
	static struct vd_rule_spec specs[CASE_RULES_MAX];

	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		const struct match_case *c = &cases[t];
		struct vd_rules_scratch *s = NULL;
		struct vd_rules *r;
		int got;

		case_specs(c, specs);
		r = compile_ok(specs, c->n);
		cr_assert_eq(vd_rules_scratch_alloc(r, &s), 0);
		got = match_file(r, s, c->file, c->src, c->listener);
		cr_expect_eq(got, c->want, "%s: got rule %d, want %d", c->what, got, c->want);
		vd_rules_scratch_free(s);
		vd_rules_free(r);
	}
}

Test(rules, empty_set_matches_nothing)
{
	struct vd_rules_scratch *s = NULL;
	struct vd_rules *r = compile_ok(NULL, 0);

	cr_assert_eq(vd_rules_count(r), 0);
	cr_assert_eq(vd_rules_scratch_alloc(r, &s), 0);
	cr_expect_eq(match_file(r, s, "14-invite-sdp.sip", NULL, 0), -1);
	cr_expect_eq(match_file(r, NULL, "14-invite-sdp.sip", NULL, 0), -1);
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

/* Without regexes there is no database and nothing to scan: not even a scratch is needed. */
Test(rules, no_regex_needs_no_scratch)
{
	struct vd_rule_spec specs[2] = {{.name = "bye", .methods = M(BYE)},
					{.name = "dflt", .listeners = 1u}};
	struct vd_rules *r = compile_ok(specs, 2);

	cr_expect_eq(match_file(r, NULL, "19-bye.sip", NULL, 0), 0);
	cr_expect_eq(match_file(r, NULL, "14-invite-sdp.sip", NULL, 0), 1);
	cr_expect_eq(match_file(r, NULL, "14-invite-sdp.sip", NULL, 1), -1);
	vd_rules_free(r);
}

/* A header that is present with an empty value is scanned as such: `^$` matches it. */
Test(rules, empty_header_value)
{
	static const char text[] = "OPTIONS sip:+10123456789@ims.example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP 192.168.1.15:5060;branch=z9hG4bKe1\r\n"
				   "From: <sip:a@ims.example.com>;tag=1\r\n"
				   "To: <sip:+10123456789@ims.example.com>\r\n"
				   "Call-ID: e1@192.168.1.15\r\n"
				   "CSeq: 1 OPTIONS\r\n"
				   "Subject:\r\n"
				   "Content-Length: 0\r\n\r\n";
	struct vd_rule_spec specs[3] = {HDR("Subject", "."), HDR("Subject", "^$"),
					{.name = "dflt"}};
	struct vd_rules *r = compile_ok(specs, 3);
	struct vd_rules_scratch *s = NULL;
	char *buf = malloc(sizeof(text) - 1);

	cr_assert_not_null(buf);
	memcpy(buf, text, sizeof(text) - 1);
	cr_assert_eq(vd_sip_scan(buf, sizeof(text) - 1, &limits, &msg), VD_SIP_OK);
	cr_assert_eq(vd_rules_scratch_alloc(r, &s), 0);
	cr_expect_eq(vd_rules_match(r, s, &msg, NULL, 0), 1);
	free(buf);
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

