/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the load generator's and responder's shared modules: request construction
 * (sipgen.c), response matching (sipmsg.c + txwin.c), the responder's 200 OK (sipmsg.c), the
 * latency histogram (histogram.c) and address parsing (netaddr.c).
 *
 * Requests are checked with small independent helpers here (not with the code under test), so a
 * template bug cannot hide behind a parser with the same bug.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>

#include "histogram.h"
#include "netaddr.h"
#include "sipgen.h"
#include "sipmsg.h"
#include "txwin.h"

#define NONCE	   0x1234abcdu
#define UNIQUE_N   20000u
#define REPLY_CAP  4096
#define PROXY_VIA  "Via: SIP/2.0/UDP 127.0.0.1:15060;branch=z9hG4bKvd0123456789abcdef\r\n"
#define MS	   1000000ull
#define TIMEOUT_NS (2000 * MS)

static struct lg_gen gen;
static const char *const sentby4[] = { "127.0.0.1:40000", "127.0.0.1:40001" };

static void gen_setup(void)
{
	struct lg_mix mix;
	struct lg_via_mix via;
	cr_assert_eq(lg_mix_parse(LG_DEFAULT_MIX, &mix), 0);
	cr_assert_eq(lg_via_mix_parse(LG_DEFAULT_VIA_MIX, &via), 0);
	cr_assert_eq(lg_gen_init(&gen, &mix, &via, sentby4, 2, NONCE), 0);
}

/* ---- independent helpers over a NUL-terminated message ---- */

/*
 * Value of the first header named `name` (exact case, as the templates write it), or NULL. "Via"
 * also finds the compact "v" the templates may write instead.
 */
static char *hdr(const char *msg, const char *name, char *val, size_t cap)
{
	char key[64];
	snprintf(key, sizeof(key), "\r\n%s: ", name);
	const char *p = strstr(msg, key);
	if (!p && strcmp(name, "Via") == 0) {
		snprintf(key, sizeof(key), "\r\nv: ");
		p = strstr(msg, key);
	}
	const char *eoh = strstr(msg, "\r\n\r\n");
	if (!p || p > eoh)
		return NULL;
	p += strlen(key);
	size_t n = (size_t)(strstr(p, "\r\n") - p);
	cr_assert_lt(n, cap);
	memcpy(val, p, n);
	val[n] = '\0';
	return val;
}

static unsigned count_str(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static size_t build(uint64_t seq, unsigned sock, char *out)
{
	size_t len = lg_gen_build(&gen, sock, seq, out);
	cr_assert_lt(len, LG_MSG_MAX);
	out[len] = '\0';
	cr_assert_eq(strlen(out), len, "no NUL bytes inside a message");
	return len;
}

/* ---- message construction ---- */

struct shape {
	enum lg_method m;
	const char *method;
	size_t min_len, max_len;
	const char *ctype; /* NULL: no body */
};

static const struct shape shapes[] = {
	{ LG_INVITE, "INVITE", 800, 1000, "application/sdp" },
	{ LG_REGISTER, "REGISTER", 500, 700, NULL },
	{ LG_BYE, "BYE", 250, 500, NULL },
	{ LG_OPTIONS, "OPTIONS", 250, 500, NULL },
	{ LG_MESSAGE, "MESSAGE", 300, 600, "text/plain" },
};

static uint64_t seq_of_method(enum lg_method m)
{
	for (uint64_t s = 0; s < 1000; s++)
		if (lg_gen_method(&gen, s) == m)
			return s;
	cr_assert_fail("method %d not in the mix", m);
	return 0;
}

static void check_start_and_cseq(const char *msg, const struct shape *sh)
{
	char v[256], start[128];
	snprintf(start, sizeof(start), "%s sip:", sh->method);
	cr_assert_eq(strncmp(msg, start, strlen(start)), 0, "start line: %.60s", msg);
	const char *eol = strstr(msg, "\r\n");
	cr_assert_eq(strncmp(eol - 8, " SIP/2.0", 8), 0);
	cr_assert_not_null(hdr(msg, "CSeq", v, sizeof(v)));
	char *sp = strchr(v, ' ');
	cr_assert_not_null(sp);
	cr_assert_str_eq(sp + 1, sh->method, "CSeq method matches the start line");
	cr_assert_gt(atoi(v), 0);
}

static void check_required(const char *msg, const struct shape *sh)
{
	char v[512];
	cr_assert_str_eq(hdr(msg, "Max-Forwards", v, sizeof(v)), "70");
	cr_assert_not_null(hdr(msg, "Via", v, sizeof(v)));
	cr_assert_eq(strncmp(v, "SIP/2.0/UDP 127.0.0.1:40000;", 28), 0, "Via sent-by: %s", v);
	cr_assert_not_null(strstr(v, ";branch=z9hG4bK"), "RFC 3261 magic cookie");
	cr_assert_not_null(hdr(msg, "From", v, sizeof(v)));
	cr_assert_not_null(strstr(v, ";tag="));
	cr_assert_not_null(hdr(msg, "To", v, sizeof(v)));
	cr_assert_not_null(hdr(msg, "Call-ID", v, sizeof(v)));
	for (const char *h = "Via\0From\0To\0Call-ID\0CSeq\0Content-Length\0"; *h;
	     h += strlen(h) + 1) {
		char key[32];
		snprintf(key, sizeof(key), "\r\n%s: ", h);
		unsigned n = count_str(msg, key);
		if (strcmp(h, "Via") == 0)
			n += count_str(msg, "\r\nv: ");
		cr_assert_eq(n, 1, "%s exactly once in %s", h, sh->method);
	}
	if (sh->m == LG_REGISTER) {
		cr_assert_not_null(hdr(msg, "Authorization", v, sizeof(v)));
		cr_assert_eq(strncmp(v, "Digest username=\"", 17), 0);
		cr_assert_not_null(strstr(v, "response=\""));
	}
}

static void check_body(const char *msg, size_t len, const struct shape *sh)
{
	char v[256];
	const char *eoh = strstr(msg, "\r\n\r\n");
	cr_assert_not_null(eoh);
	size_t body = len - (size_t)(eoh + 4 - msg);
	cr_assert_not_null(hdr(msg, "Content-Length", v, sizeof(v)));
	cr_assert_eq(strtoul(v, NULL, 10), body, "%s: Content-Length %s, body %zu", sh->method, v,
		     body);
	if (sh->ctype) {
		cr_assert_gt(body, 0);
		cr_assert_str_eq(hdr(msg, "Content-Type", v, sizeof(v)), sh->ctype);
	} else {
		cr_assert_eq(body, 0, "%s has no body", sh->method);
	}
	cr_assert(len >= sh->min_len && len <= sh->max_len, "%s is %zu bytes", sh->method, len);
}

Test(sipgen, every_type_is_well_formed, .init = gen_setup)
{
	char msg[LG_MSG_MAX + 1];

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		size_t len = build(seq_of_method(shapes[i].m), 0, msg);
		check_start_and_cseq(msg, &shapes[i]);
		check_required(msg, &shapes[i]);
		check_body(msg, len, &shapes[i]);
	}
}

Test(sipgen, sdp_body_is_an_offer, .init = gen_setup)
{
	char msg[LG_MSG_MAX + 1];

	build(seq_of_method(LG_INVITE), 0, msg);
	const char *body = strstr(msg, "\r\n\r\n") + 4;
	cr_assert_eq(strncmp(body, "v=0\r\n", 5), 0);
	cr_assert_not_null(strstr(body, "\r\nm=audio "));
	cr_assert_eq(strcmp(msg + strlen(msg) - 2, "\r\n"), 0, "SDP lines end in CRLF");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every value of header `name` (parameter `param` if given) over UNIQUE_N messages differs. */
static void check_unique(const char *name, const char *param)
{
	static char vals[UNIQUE_N][96];
	static char *ptr[UNIQUE_N];
	char msg[LG_MSG_MAX + 1], v[512];

	for (unsigned i = 0; i < UNIQUE_N; i++) {
		build(i, i % 2, msg);
		cr_assert_not_null(hdr(msg, name, v, sizeof(v)));
		const char *p = param ? strstr(v, param) : v;
		cr_assert_not_null(p);
		cr_assert_lt(strlen(p), sizeof(vals[i]));
		memcpy(vals[i], p, strlen(p) + 1);
		ptr[i] = vals[i];
	}
	qsort(ptr, UNIQUE_N, sizeof(ptr[0]), cmp_str);
	for (unsigned i = 1; i < UNIQUE_N; i++)
		cr_assert_str_neq(ptr[i - 1], ptr[i], "duplicate %s%s", name, param ? param : "");
}

Test(sipgen, call_id_branch_and_from_tag_unique, .init = gen_setup)
{
	check_unique("Call-ID", NULL);
	check_unique("Via", ";branch=");
	check_unique("From", ";tag=");
}

Test(sipgen, per_socket_sent_by_and_ipv6, .init = gen_setup)
{
	static const char *const sb6[] = { "[::1]:41000" };
	struct lg_mix mix = { { [LG_OPTIONS] = 1 } };
	struct lg_via_mix via = { { [LG_VIA_RPORT_FIRST] = 1 } };
	char msg[LG_MSG_MAX + 1], v[256];

	build(3, 1, msg);
	cr_assert_not_null(strstr(hdr(msg, "Via", v, sizeof(v)), "UDP 127.0.0.1:40001;"));
	cr_assert_eq(lg_gen_init(&gen, &mix, &via, sb6, 1, NONCE), 0);
	build(3, 0, msg);
	cr_assert_eq(strncmp(msg, "OPTIONS ", 8), 0, "options-only mix");
	cr_assert_not_null(strstr(hdr(msg, "Via", v, sizeof(v)), "UDP [::1]:41000;rport;"));
}

Test(sipgen, mix_proportions_are_exact, .init = gen_setup)
{
	unsigned n[LG_METHOD_COUNT] = { 0 };

	for (uint64_t s = 0; s < 1000; s++)
		n[lg_gen_method(&gen, s)]++;
	cr_assert_eq(n[LG_INVITE], 300);
	cr_assert_eq(n[LG_REGISTER], 300);
	cr_assert_eq(n[LG_BYE], 200);
	cr_assert_eq(n[LG_OPTIONS], 100);
	cr_assert_eq(n[LG_MESSAGE], 100);
	/* interleaved, not in runs: the first ten already hold every type */
	unsigned seen = 0;
	for (uint64_t s = 0; s < 10; s++)
		seen |= 1u << lg_gen_method(&gen, s);
	cr_assert_eq(seen, (1u << LG_METHOD_COUNT) - 1);
}

Test(sipgen, mix_parse_rejects_bad_input)
{
	struct lg_mix mix;
	static const char *const bad[] = {
		"",	    "invite",	"invite=",	  "invite=x",  "invite=1001", "foo=1",
		"invite=0", "INVITE=1", "invite=1;bye=1", "invite=-1", "invite=5x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_neq(lg_mix_parse(bad[i], &mix), 0, "accepted '%s'", bad[i]);
	cr_assert_eq(lg_mix_parse("bye=3,message=1", &mix), 0);
	cr_assert_eq(mix.weight[LG_BYE], 3);
	cr_assert_eq(mix.weight[LG_MESSAGE], 1);
	cr_assert_eq(mix.weight[LG_INVITE], 0);
}

/* ---- response matching ---- */

static struct lg_slice sl(const char *s)
{
	return (struct lg_slice){ s, strlen(s) };
}

/* The branch of the top Via of response `rsp` as a seq of this generator, or -1. */
static int64_t matched_seq(const char *rsp)
{
	struct lg_slice br;
	unsigned status;
	uint64_t seq;

	if (lg_sip_response_branch(rsp, strlen(rsp), &status, &br))
		return -1;
	cr_assert_eq(status, 200);
	return lg_gen_branch_seq(&gen, br, &seq) ? -1 : (int64_t)seq;
}

static void respond(const char *req, char *out)
{
	size_t n = 0;
	cr_assert_eq(lg_sip_reply(req, strlen(req), out, REPLY_CAP, &n), LG_RX_REQUEST);
	out[n] = '\0';
}

Test(match, reply_to_generated_request_matches_its_seq, .init = gen_setup)
{
	char req[LG_MSG_MAX + 1], rsp[REPLY_CAP];

	for (uint64_t seq = 0; seq < 50; seq += 7) {
		build(seq, 0, req);
		respond(req, rsp);
		cr_assert_eq(matched_seq(rsp), (int64_t)seq);
	}
	build(0x0123456789abcdefull, 1, req);
	respond(req, rsp);
	cr_assert_eq(matched_seq(rsp), (int64_t)0x0123456789abcdefull, "all 16 digits");
}

/* The proxy puts its Via on top; the responder copies both; the proxy removes its own. */
Test(match, through_a_proxy_via, .init = gen_setup)
{
	char req[LG_MSG_MAX + 1], fwd[LG_MSG_MAX + 256], rsp[REPLY_CAP];

	build(42, 0, req);
	size_t sl_len = (size_t)(strstr(req, "\r\n") + 2 - req);
	snprintf(fwd, sizeof(fwd), "%.*s%s%s", (int)sl_len, req, PROXY_VIA, req + sl_len);
	respond(fwd, rsp);
	cr_assert_eq(matched_seq(rsp), -1, "the proxy's Via is on top: not ours yet");
	char *top = strstr(rsp, PROXY_VIA);
	cr_assert_not_null(top);
	memmove(top, top + strlen(PROXY_VIA), strlen(top + strlen(PROXY_VIA)) + 1);
	cr_assert_eq(matched_seq(rsp), 42);
}

Test(match, top_via_of_a_comma_list_and_compact_form, .init = gen_setup)
{
	char req[LG_MSG_MAX + 1], rsp[512];
	char v[256], br[64];

	build(9, 0, req);
	hdr(req, "Via", v, sizeof(v));
	snprintf(br, sizeof(br), "%s", strstr(v, "branch=") + 7);
	snprintf(rsp, sizeof(rsp),
		 "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.1:40000;BRANCH=%s , "
		 "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother\r\nContent-Length: 0\r\n\r\n",
		 br);
	cr_assert_eq(matched_seq(rsp), 9);
	snprintf(rsp, sizeof(rsp),
		 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother,"
		 " SIP/2.0/UDP 127.0.0.1:40000;branch=%s\r\n\r\n",
		 br);
	cr_assert_eq(matched_seq(rsp), -1, "only the first value of the list is the top Via");
	snprintf(rsp, sizeof(rsp),
		 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;rport, SIP/2.0/UDP "
		 "127.0.0.1:40000;branch=%s\r\n\r\n",
		 br);
	cr_assert_eq(matched_seq(rsp), -1, "a top Via without branch does not borrow the next's");
}

Test(match, unknown_branches_are_rejected, .init = gen_setup)
{
	struct lg_slice b;
	uint64_t seq;
	unsigned st;

	cr_assert_neq(lg_gen_branch_seq(&gen, sl("z9hG4bKvd0123456789abcdef"), &seq), 0);
	cr_assert_neq(lg_gen_branch_seq(&gen, sl("z9hG4bKlg1234abcc000000000000002a"), &seq), 0,
		      "another run's nonce");
	cr_assert_neq(lg_gen_branch_seq(&gen, sl("z9hG4bKlg1234abcd00000000000000zz"), &seq), 0);
	cr_assert_neq(lg_gen_branch_seq(&gen, sl("z9hG4bKlg1234abcd000000000000002"), &seq), 0);
	cr_assert_eq(lg_gen_branch_seq(&gen, sl("z9hG4bKlg1234abcd000000000000002a"), &seq), 0);
	cr_assert_eq(seq, 42);
	const char *nobranch = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;rport\r\n\r\n";
	cr_assert_neq(lg_sip_response_branch(nobranch, strlen(nobranch), &st, &b), 0);
	const char *req =
		"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n\r\n";
	cr_assert_neq(lg_sip_response_branch(req, strlen(req), &st, &b), 0, "a request");
}

/* ---- Via forms (--via-mix) ---- */

/* The exact Via line each form makes, for sent-by `sb`, run nonce NONCE and sequence `seq`. */
static void expected_via(enum lg_via f, const char *sb, uint64_t seq, char *out, size_t cap)
{
	char br[64];
	const char *rcv = sb[0] == '[' ? "2001:db8::1" : "192.0.2.1";

	snprintf(br, sizeof(br), "branch=z9hG4bKlg1234abcd%016llx", (unsigned long long)seq);
	switch (f) {
	case LG_VIA_RPORT_LAST:
		snprintf(out, cap, "Via: SIP/2.0/UDP %s;%s;rport", sb, br);
		break;
	case LG_VIA_RPORT_MIDDLE:
		snprintf(out, cap, "Via: SIP/2.0/UDP %s;%s;rport;alias", sb, br);
		break;
	case LG_VIA_RPORT_FIRST:
		snprintf(out, cap, "Via: SIP/2.0/UDP %s;rport;%s", sb, br);
		break;
	case LG_VIA_RECEIVED:
		snprintf(out, cap, "Via: SIP/2.0/UDP %s;%s;received=%s;rport", sb, br, rcv);
		break;
	case LG_VIA_COMPACT:
		snprintf(out, cap, "v: SIP/2.0/UDP %s;%s;rport", sb, br);
		break;
	default:
		snprintf(out, cap, "Via: SIP/2.0/UDP %s;%s", sb, br);
		break;
	}
}

/* The second line of a request: where the templates put the Via. */
static void second_line(const char *msg, char *out, size_t cap)
{
	const char *p = strstr(msg, "\r\n") + 2;
	size_t n = (size_t)(strstr(p, "\r\n") - p);
	cr_assert_lt(n, cap);
	memcpy(out, p, n);
	out[n] = '\0';
}

static void init_one_form(enum lg_via f, const char *const *sb, unsigned nsock)
{
	struct lg_mix mix;
	struct lg_via_mix via = { { 0 } };
	char arg[64];

	snprintf(arg, sizeof(arg), "%s=100", lg_via_name(f));
	cr_assert_eq(lg_via_mix_parse(arg, &via), 0, "%s", arg);
	cr_assert_eq(via.weight[f], 100);
	cr_assert_eq(lg_mix_parse(LG_DEFAULT_MIX, &mix), 0);
	cr_assert_eq(lg_gen_init(&gen, &mix, &via, sb, nsock, NONCE), 0);
}

/*
 * Every form, IPv4 and IPv6 sent-by, every request type: the exact Via line, a well-formed
 * message, and the branch recovered both from the request and from the responder's 200 OK.
 */
Test(via, each_form_exact_line_and_seq_recovered)
{
	static const char *const sb4[] = { "127.0.0.1:40000" };
	static const char *const sb6[] = { "[::1]:41000" };
	static const char *const *const sbs[] = { sb4, sb6 };
	char msg[LG_MSG_MAX + 1], want[256], got[256], rsp[REPLY_CAP];

	for (unsigned a = 0; a < 2; a++) {
		for (unsigned f = 0; f < LG_VIA_COUNT; f++) {
			init_one_form((enum lg_via)f, sbs[a], 1);
			for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
				/* a turn of the type wheel far out: all 16 hex digits in use */
				uint64_t seq = seq_of_method(shapes[i].m) +
					       (uint64_t)gen.wheel_len * 0x2e8ba2e8ba2e8ull;
				cr_assert_eq(lg_gen_method(&gen, seq), shapes[i].m);
				cr_assert_eq(lg_gen_via(&gen, seq), (enum lg_via)f);
				size_t len = build(seq, 0, msg);
				second_line(msg, got, sizeof(got));
				expected_via((enum lg_via)f, sbs[a][0], seq, want, sizeof(want));
				cr_assert_str_eq(got, want, "form %s", lg_via_name((enum lg_via)f));
				check_start_and_cseq(msg, &shapes[i]);
				check_body(msg, len, &shapes[i]);

				struct lg_slice v, br;
				uint64_t s2 = 0;
				cr_assert(lg_sip_header(msg, len, "Via", 'v', 0, &v, NULL));
				cr_assert(lg_sip_param(v, "branch", &br));
				cr_assert_eq(lg_gen_branch_seq(&gen, br, &s2), 0);
				cr_assert_eq(s2, seq, "form %s", lg_via_name((enum lg_via)f));
				respond(msg, rsp);
				cr_assert_eq(matched_seq(rsp), (int64_t)seq, "form %s response",
					     lg_via_name((enum lg_via)f));
			}
		}
	}
}

/* A single-form mix sends only that form; the other forms' templates are not even made. */
Test(via, single_form_mix)
{
	static const char *const sb4[] = { "127.0.0.1:40000", "127.0.0.1:40001" };
	char msg[LG_MSG_MAX + 1], v[256];

	init_one_form(LG_VIA_RPORT_LAST, sb4, 2);
	for (uint64_t s = 0; s < 2000; s++) {
		cr_assert_eq(lg_gen_via(&gen, s), LG_VIA_RPORT_LAST);
		build(s, (unsigned)(s & 1), msg);
		cr_assert_not_null(hdr(msg, "Via", v, sizeof(v)));
		cr_assert_eq(strcmp(v + strlen(v) - 6, ";rport"), 0, "%s", v);
		cr_assert_null(strstr(msg, "\r\nv: "));
	}
	cr_assert_eq(gen.tmpl[0][LG_INVITE][LG_VIA_COMPACT].len, 0);
}

/* Which form a generated message carries, read back from its bytes. */
static enum lg_via form_of(const char *msg)
{
	char v[256];

	second_line(msg, v, sizeof(v));
	if (strncmp(v, "v: ", 3) == 0)
		return LG_VIA_COMPACT;
	cr_assert_eq(strncmp(v, "Via: ", 5), 0, "%s", v);
	if (strstr(v, ";received="))
		return LG_VIA_RECEIVED;
	if (strstr(v, ";rport;alias"))
		return LG_VIA_RPORT_MIDDLE;
	if (strstr(v, ";rport;branch="))
		return LG_VIA_RPORT_FIRST;
	if (strstr(v, ";rport"))
		return LG_VIA_RPORT_LAST;
	return LG_VIA_PLAIN;
}

/*
 * The default mix: over one full period (type wheel x Via wheel messages) every form has exactly
 * its share, and so has every (type, form) pair; a short run is already close and holds every
 * form in its first 100 messages.
 */
Test(via, default_mix_proportions, .init = gen_setup)
{
	struct lg_via_mix via;
	struct lg_mix mix;
	static unsigned n[LG_METHOD_COUNT][LG_VIA_COUNT];
	unsigned nf[LG_VIA_COUNT] = { 0 }, vtotal = 0, mtotal = 0;
	char msg[LG_MSG_MAX + 1];

	cr_assert_eq(lg_via_mix_parse(LG_DEFAULT_VIA_MIX, &via), 0);
	cr_assert_eq(lg_mix_parse(LG_DEFAULT_MIX, &mix), 0);
	for (unsigned f = 0; f < LG_VIA_COUNT; f++) {
		cr_assert_gt(via.weight[f], 0, "the default mix has %s", lg_via_name((enum lg_via)f));
		vtotal += via.weight[f];
	}
	for (unsigned m = 0; m < LG_METHOD_COUNT; m++)
		mtotal += mix.weight[m];
	const uint64_t period = (uint64_t)gen.wheel_len * gen.via_len;
	cr_assert_eq(period, (uint64_t)mtotal * vtotal);
	unsigned first = 0;
	for (uint64_t s = 0; s < period; s++) {
		build(s, (unsigned)(s & 1), msg);
		enum lg_via f = form_of(msg);
		cr_assert_eq(f, lg_gen_via(&gen, s), "seq %llu", (unsigned long long)s);
		n[lg_gen_method(&gen, s)][f]++;
		if (s < 100)
			first |= 1u << f;
		if (s + 1 == 1000)
			for (unsigned g = 0; g < LG_VIA_COUNT; g++) {
				unsigned got = 0;
				for (unsigned m = 0; m < LG_METHOD_COUNT; m++)
					got += n[m][g];
				unsigned want = 1000 * via.weight[g] / vtotal;
				cr_assert(got + LG_METHOD_COUNT >= want && got <= want + LG_METHOD_COUNT,
					  "%s: %u of 1000, want ~%u", lg_via_name((enum lg_via)g), got,
					  want);
			}
	}
	cr_assert_eq(first, (1u << LG_VIA_COUNT) - 1, "every form in the first 100 messages");
	for (unsigned m = 0; m < LG_METHOD_COUNT; m++)
		for (unsigned f = 0; f < LG_VIA_COUNT; f++) {
			cr_assert_eq(n[m][f], mix.weight[m] * via.weight[f], "%s/%s",
				     lg_method_name((enum lg_method)m), lg_via_name((enum lg_via)f));
			nf[f] += n[m][f];
		}
	for (unsigned f = 0; f < LG_VIA_COUNT; f++)
		cr_assert_eq((uint64_t)nf[f] * vtotal, period * via.weight[f]);
	/* the method mix is unchanged by the Via mix */
	for (unsigned m = 0; m < LG_METHOD_COUNT; m++) {
		unsigned t = 0;
		for (unsigned f = 0; f < LG_VIA_COUNT; f++)
			t += n[m][f];
		cr_assert_eq((uint64_t)t * mtotal, period * mix.weight[m]);
	}
}

Test(via, via_mix_parse_rejects_bad_input)
{
	struct lg_via_mix mix;
	static const char *const bad[] = {
		"",	     "rport-last",   "rport-last=", "rport-last=x", "rport-last=1001",
		"rport=1",   "plain=0",	     "Plain=1",	    "compact=1;plain=1", "invite=1",
		"compact=5x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_neq(lg_via_mix_parse(bad[i], &mix), 0, "accepted '%s'", bad[i]);
	cr_assert_eq(lg_via_mix_parse("plain=3,received=1", &mix), 0);
	cr_assert_eq(mix.weight[LG_VIA_PLAIN], 3);
	cr_assert_eq(mix.weight[LG_VIA_RECEIVED], 1);
	cr_assert_eq(mix.weight[LG_VIA_RPORT_LAST], 0);
	for (unsigned f = 0; f < LG_VIA_COUNT; f++) {
		char arg[32];
		snprintf(arg, sizeof(arg), "%s=7", lg_via_name((enum lg_via)f));
		cr_assert_eq(lg_via_mix_parse(arg, &mix), 0, "%s", arg);
	}
}

Test(match, window_ok_late_duplicate_unknown)
{
	struct lg_window w;
	uint64_t lat = 0;

	cr_assert_eq(lg_win_init(&w, 4), 0); /* 16 slots */
	for (uint64_t s = 0; s < 10; s++)
		lg_win_sent(&w, s, 1000 + s);
	cr_assert_eq(w.pending, 10);
	cr_assert_eq(lg_win_match(&w, 3, 5000, TIMEOUT_NS, &lat), LG_MATCH_OK);
	cr_assert_eq(lat, 5000 - 1003);
	cr_assert_eq(lg_win_match(&w, 3, 6000, TIMEOUT_NS, &lat), LG_MATCH_LATE, "duplicate");
	cr_assert_eq(lg_win_match(&w, 10, 6000, TIMEOUT_NS, &lat), LG_MATCH_UNKNOWN, "never sent");
	cr_assert_eq(lg_win_match(&w, 5, 1005 + TIMEOUT_NS + 1, TIMEOUT_NS, &lat), LG_MATCH_LATE);
	cr_assert_eq(w.pending, 8);
	/* wrap: seq 16 reuses seq 0's slot while 0 still waits */
	for (uint64_t s = 10; s < 17; s++)
		lg_win_sent(&w, s, 2000 + s);
	cr_assert_eq(w.evicted, 1);
	cr_assert_eq(lg_win_match(&w, 0, 9000, TIMEOUT_NS, &lat), LG_MATCH_LATE, "slot reused");
	cr_assert_eq(lg_win_match(&w, 16, 9000, TIMEOUT_NS, &lat), LG_MATCH_OK);
	cr_assert_eq(lat, 9000 - 2016);
	cr_assert_eq(w.pending, 13, "17 sent, 1 evicted, 3 answered (one of them late)");
	lg_win_free(&w);
}

/* ---- the responder's 200 OK ---- */

static const char folded_req[] =
	"INVITE sip:bob@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1;received=10.9.9.9\r\n"
	"Max-Forwards: 69\r\n"
	"v: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKproxy2, SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKue\r\n"
	"f: \"Alice; <the first>\" <sip:alice@example.com>;tag=a1\r\n"
	"To: <sip:bob@example.com;tag=uriparam>\r\n"
	"Subject: folded\r\n"
	" continuation\r\n"
	"Via: SIP/2.0/UDP 10.0.0.4\r\n"
	" ;branch=z9hG4bKfolded\r\n"
	"i: abc@host\r\n"
	"CSeq: 7 INVITE\r\n"
	"Contact: <sip:alice@10.0.0.3>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 4\r\n"
	"\r\n"
	"v=0\n";

static const char folded_rsp_head[] =
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1;received=10.9.9.9\r\n"
	"v: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKproxy2, SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKue\r\n"
	"f: \"Alice; <the first>\" <sip:alice@example.com>;tag=a1\r\n"
	"To: <sip:bob@example.com;tag=uriparam>;tag=rs";

static const char folded_rsp_tail[] = "\r\n"
				      "Via: SIP/2.0/UDP 10.0.0.4\r\n"
				      " ;branch=z9hG4bKfolded\r\n"
				      "i: abc@host\r\n"
				      "CSeq: 7 INVITE\r\n"
				      "Content-Length: 0\r\n"
				      "\r\n";

Test(reply, exact_bytes_every_via_in_order_tag_added)
{
	char out[REPLY_CAP];

	respond(folded_req, out);
	size_t head = strlen(folded_rsp_head), tag = 16;
	cr_assert_eq(strncmp(out, folded_rsp_head, head), 0, "got:\n%s", out);
	for (size_t i = head; i < head + tag; i++)
		cr_assert(strchr("0123456789abcdef", out[i]) && out[i], "hex tag at %zu", i);
	cr_assert_str_eq(out + head + tag, folded_rsp_tail, "got:\n%s", out);
}

static void to_tag(const char *rsp, char *tag, size_t cap)
{
	struct lg_slice to, t;
	cr_assert(lg_sip_header(rsp, strlen(rsp), "To", 't', 0, &to, NULL));
	cr_assert(lg_sip_param(to, "tag", &t));
	cr_assert_lt(t.len, cap);
	memcpy(tag, t.p, t.len);
	tag[t.len] = '\0';
}

Test(reply, to_tag_kept_or_derived_from_call_id, .init = gen_setup)
{
	char req[LG_MSG_MAX + 1], a[REPLY_CAP], b[REPLY_CAP], c[REPLY_CAP];
	char ta[64], tb[64], tc[64];

	build(seq_of_method(LG_BYE), 0, req);
	respond(req, a);
	to_tag(a, ta, sizeof(ta));
	cr_assert_str_eq(ta, "8321234356", "an existing To-tag is kept");
	cr_assert_eq(count_str(a, ";tag="), 2, "From and To, no second To-tag");
	uint64_t inv = seq_of_method(LG_INVITE);
	build(inv, 0, req);
	respond(req, a);
	respond(req, b);
	build(inv + gen.wheel_len, 0, req); /* the same type, the next Call-ID */
	respond(req, c);
	to_tag(a, ta, sizeof(ta));
	to_tag(b, tb, sizeof(tb));
	to_tag(c, tc, sizeof(tc));
	cr_assert_str_eq(ta, tb, "a retransmission gets the same tag");
	cr_assert_str_neq(ta, tc, "another Call-ID another tag");
	cr_assert_eq(strncmp(ta, "rs", 2), 0);
}

Test(reply, no_body_and_content_length_zero, .init = gen_setup)
{
	char req[LG_MSG_MAX + 1], rsp[REPLY_CAP];

	build(seq_of_method(LG_INVITE), 0, req);
	respond(req, rsp);
	const char *eoh = strstr(rsp, "\r\n\r\n");
	cr_assert_not_null(eoh);
	cr_assert_eq(eoh[4], '\0', "nothing after the blank line");
	cr_assert_eq(count_str(rsp, "Content-Length: 0\r\n"), 1);
	cr_assert_eq(count_str(rsp, "Content-Length"), 1, "the request's is not copied");
	cr_assert_null(strstr(rsp, "Contact:"));
	cr_assert_null(strstr(rsp, "Max-Forwards:"));
	cr_assert_null(strstr(rsp, "v=0"));
}

Test(reply, ack_response_and_bad_get_no_reply)
{
	char out[REPLY_CAP];
	size_t n = 12345;
	static const char *const bad[] = {
		"",
		"\r\n\r\n",
		"garbage without line end",
		"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: "
		"<sip:a>;tag=1"
		"\r\nTo: <sip:b>\r\nCSeq: 1 INVITE\r\n\r\n", /* no Call-ID */
		"INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a>;tag=1\r\nTo: <sip:b>\r\ni: x\r\n"
		"CSeq: 1 INVITE\r\n\r\n", /* no Via */
		"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: "
		"<sip:a>;tag=1"
		"\r\nTo: <sip:b>\r\ni: x\r\n\r\n",		       /* no CSeq */
		"INVITE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n", /* no colon */
		"INVITE SIP/2.0\r\nVia: x\r\n\r\n",		       /* no Request-URI */
		"INVITE sip:a@b HTTP/1.1\r\nVia: x\r\n\r\n",
	};
	const char *ack = "ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			  "From: <sip:a>;tag=1\r\nTo: <sip:b>;tag=2\r\ni: x\r\nCSeq: 1 ACK\r\n\r\n";
	const char *rsp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n";

	cr_assert_eq(lg_sip_reply(ack, strlen(ack), out, sizeof(out), &n), LG_RX_ACK);
	cr_assert_eq(lg_sip_reply(rsp, strlen(rsp), out, sizeof(out), &n), LG_RX_RESPONSE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(lg_sip_reply(bad[i], strlen(bad[i]), out, sizeof(out), &n), LG_RX_BAD,
			     "answered bad input %zu", i);
	cr_assert_eq(n, 12345, "out_len untouched when nothing is sent");
	cr_assert_eq(lg_sip_reply(folded_req, strlen(folded_req), out, 100, &n), LG_RX_BAD,
		     "no room: no truncated reply");
}

/* Every prefix, in an exact-size heap copy (ASan sees any over-read), must not crash. */
Test(reply, every_prefix_is_safe, .init = gen_setup)
{
	char req[LG_MSG_MAX + 1], out[REPLY_CAP];
	size_t len = build(seq_of_method(LG_INVITE), 0, req), n;
	unsigned answered = 0;

	for (size_t k = 0; k <= len; k++) {
		char *p = malloc(k ? k : 1);
		memcpy(p, req, k);
		answered += lg_sip_reply(p, k, out, sizeof(out), &n) == LG_RX_REQUEST;
		struct lg_slice b;
		unsigned st;
		(void)lg_sip_response_branch(p, k, &st, &b);
		free(p);
	}
	cr_assert_gt(answered, 0, "once every header is in, the prefix is answered");
	cr_assert_lt(answered, len, "a bare start line is not");
}

/* ---- histogram ---- */

static void assert_close(uint64_t got, uint64_t want)
{
	/* one bucket: within 1/128 above the true value, never below it */
	cr_assert(got >= want && got <= want + want / 128 + 1, "got %llu, want ~%llu",
		  (unsigned long long)got, (unsigned long long)want);
}

Test(histogram, uniform_distribution_percentiles)
{
	static struct lg_hist h;

	lg_hist_reset(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		lg_hist_record(&h, v);
	cr_assert_eq(h.total, 100000);
	cr_assert_eq(h.min, 1);
	cr_assert_eq(h.max, 100000);
	assert_close(lg_hist_percentile(&h, 50), 50000);
	assert_close(lg_hist_percentile(&h, 99), 99000);
	assert_close(lg_hist_percentile(&h, 99.9), 99900);
	cr_assert_eq(lg_hist_percentile(&h, 100), 100000, "p100 is the max");
	cr_assert_eq(lg_hist_percentile(&h, 0), 1);
}

Test(histogram, exact_below_256_and_bimodal)
{
	static struct lg_hist h;

	lg_hist_reset(&h);
	for (uint64_t v = 1; v <= 200; v++)
		lg_hist_record(&h, v);
	cr_assert_eq(lg_hist_percentile(&h, 50), 100, "exact buckets");
	cr_assert_eq(lg_hist_percentile(&h, 99), 198);
	lg_hist_reset(&h);
	for (int i = 0; i < 9990; i++)
		lg_hist_record(&h, 100);
	for (int i = 0; i < 10; i++)
		lg_hist_record(&h, 5000);
	cr_assert_eq(lg_hist_percentile(&h, 50), 100);
	cr_assert_eq(lg_hist_percentile(&h, 99.9), 100, "rank 9990 is the last 100");
	cr_assert_eq(lg_hist_percentile(&h, 99.91), 5000, "clamped to max within the bucket");
	cr_assert_eq(h.min, 100);
}

Test(histogram, bucket_precision_over_the_range)
{
	for (uint64_t v = 1; v <= LG_HIST_MAX_US; v += v / 64 + 1) {
		unsigned i = lg_hist_index(v);
		cr_assert_lt(i, LG_HIST_BUCKETS);
		uint64_t hi = lg_hist_bucket_high(i);
		cr_assert(hi >= v && hi <= v + v / 128 + 1, "v=%llu high=%llu",
			  (unsigned long long)v, (unsigned long long)hi);
		if (i > 0)
			cr_assert_lt(lg_hist_bucket_high(i - 1), v, "buckets are contiguous");
	}
}

Test(histogram, overflow_and_empty)
{
	static struct lg_hist h;

	lg_hist_reset(&h);
	cr_assert_eq(lg_hist_percentile(&h, 50), 0, "empty");
	lg_hist_record(&h, 10);
	lg_hist_record(&h, 0);
	lg_hist_record(&h, 20000000); /* 20 s */
	cr_assert_eq(h.overflow, 1);
	cr_assert_eq(h.total, 3);
	cr_assert_eq(h.min, 0);
	cr_assert_eq(h.max, 20000000);
	cr_assert_eq(lg_hist_percentile(&h, 50), 10);
	cr_assert_eq(lg_hist_percentile(&h, 99), 20000000, "a rank in the overflow is the max");
	uint64_t sum = 0;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
		sum += h.count[i];
	cr_assert_eq(sum, 2, "the overflow is not in a bucket");
}

/* ---- addresses ---- */

Test(netaddr, parse_and_format)
{
	struct sockaddr_storage ss;
	char buf[LG_ADDR_STRLEN];

	cr_assert_eq(lg_addr_parse_hostport("127.0.0.1:15060", &ss), 0);
	lg_addr_format(&ss, buf, sizeof(buf));
	cr_assert_str_eq(buf, "127.0.0.1:15060");
	cr_assert_eq(lg_addr_parse_hostport("[::1]:5060", &ss), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	lg_addr_format(&ss, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[::1]:5060");
	static const char *const bad[] = { "::1:5060",	"127.0.0.1", "127.0.0.1:0", "1.2.3.4:65536",
					   "[::1]5060", "host:5060", "[::1]:",	    "1.2.3.4:50x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_neq(lg_addr_parse_hostport(bad[i], &ss), 0, "accepted %s", bad[i]);
	cr_assert_eq(lg_addr_parse_ip("::1", 7, &ss), 0);
	cr_assert_eq(lg_addr_port(&ss), 7);
	cr_assert_eq(lg_addr_parse_ip("[2001:db8::1]", 0, &ss), 0);
	cr_assert_neq(lg_addr_parse_ip("localhost", 0, &ss), 0, "no DNS");
}
