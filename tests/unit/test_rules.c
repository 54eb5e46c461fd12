/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of the routing rules (src/route/rules.c, rules_compile.c) over real corpus messages.
 *
 * One table pins which rule matches which message for every kind of condition: methods, R-URI
 * number prefixes and domains, From and To (also written compact, f:/t:), other headers (by full
 * or compact name, absent, folded over lines, first occurrence only), source prefixes over IPv4
 * and IPv6 at their boundaries, arrival listeners, several conditions at once, first match wins
 * and the default rule. Other tests cover compile errors (naming the rule and the field), the
 * copy of the specs, 10,000 rules, the per-message reset of the scratch, scratch reuse across
 * rule sets, and vd_prefix_parse().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "corpus.h"
#include "viaduct/rules.h"

#define M(x)		 (1u << VD_M_##x)
#define CASE_RULES_MAX	 3
#define CASE_CIDRS_MAX	 3
#define ERR_LEN		 512
#define MANY_RULES	 10000u
#define BIGGER_RULES	 2000u /* enough to grow every part of the scratch, quick to compile */
#define PREFIX_RULE_LEN	 32
#define SRC_PORT	 5060
#define NO_SRC		 NULL
#define LISTENER_HIGH	 40 /* beyond the 32 bits of vd_rule_spec.listeners */
#define COMPILE_TIMEOUT	 60 /* seconds: 10,000 patterns take a few */

static const struct vd_sip_limits limits = {96, 16};
static struct vd_sip_msg msg; /* large: keep it off the stack */

/* ---- helpers ---- */

static union vd_sockaddr sockaddr_of(const char *ip)
{
	union vd_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':')) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(SRC_PORT);
		cr_assert_eq(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), 1, "bad test ip %s", ip);
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(SRC_PORT);
		cr_assert_eq(inet_pton(AF_INET, ip, &a.in.sin_addr), 1, "bad test ip %s", ip);
	}
	return a;
}

static struct vd_rules *compile_ok(const struct vd_rule_spec *specs, unsigned n)
{
	struct vd_rules *r = NULL;
	char err[ERR_LEN] = "";
	int rc = vd_rules_compile(specs, n, &r, err, sizeof(err));

	cr_assert_eq(rc, 0, "compile failed (%d): %s", rc, err);
	cr_assert_not_null(r);
	return r;
}

/* Scan good/<file> into the static view; the buffer stays alive in *cm. */
static void scan_file(const char *file, struct corpus_msg *cm)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "good/%s", file);
	*cm = corpus_load(rel);
	cr_assert_eq(vd_sip_scan(cm->buf, cm->len, &limits, &msg), VD_SIP_OK, "%s does not scan",
		     file);
}

/* Index of the rule r picks for good/<file> from source `src` (NULL: none) on `listener`. */
static int match_file(const struct vd_rules *r, struct vd_rules_scratch *s, const char *file,
		      const char *src, unsigned listener)
{
	struct corpus_msg cm;
	union vd_sockaddr a;
	int got;

	scan_file(file, &cm);
	if (src)
		a = sockaddr_of(src);
	got = vd_rules_match(r, s, &msg, src ? &a : NULL, listener);
	corpus_free(&cm);
	return got;
}

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
