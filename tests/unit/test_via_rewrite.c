/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's Via as real user agents write it, through the proxy and back: every placement
 * of rport (first, middle, last; with and without a value), with and without an existing
 * received, IPv4/IPv6/FQDN sent-by, compact `v:`, comma-separated values, parameter names in
 * other cases and LWS. Each table case pins the exact forwarded Via bytes (RFC 3261 18.2.1:
 * received when sent-by is not the source; RFC 3581 4: received always and rport filled when
 * rport is present without a value).
 *
 * The property test generates top Vias and checks the round trip a real dialog makes: the
 * request is forwarded, a member's response carrying the forwarded Vias comes back, and the
 * response must leave for the client's source address and port (rport) with the client's Via
 * on top, re-scanning to the same branch and sent-by with received and rport set.
 *
 * These cases exist because the most common real Via form (baresip, linphone, pjsip, IMS UEs:
 * `;rport` last) was once rewritten to `;rport;received=IP=PORT` and every response was lost.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_harness.h"
#include "viaduct/sip.h"

#define MSG_CAP 4096

static void setup(void)
{
	harness_init(VD_HASH_CALL_ID);
}

TestSuite(via_rewrite, .init = setup, .fini = harness_fini);

/* Run text through the proxy as received from ip:port; a forwarded message, NUL-terminated,
 * into fwd (which outlives the next run). */
static void run(const char *text, const char *ip, uint16_t port, char *fwd)
{
	run_text(text, ip, port);
	if (res.verdict == VD_VERDICT_FORWARD)
		strcpy(fwd, out());
}

/* A request whose top Via header line is `via_line` (name included, no CRLF). */
static void request_with(const char *via_line, int n, char *msg, size_t cap)
{
	snprintf(msg, cap,
		 "OPTIONS sip:bob@ims.example.com SIP/2.0\r\n"
		 "%s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@ims.example.com>;tag=a%d\r\n"
		 "To: <sip:bob@ims.example.com>\r\n"
		 "Call-ID: rewrite-%d@ims.example.com\r\n"
		 "CSeq: 1 OPTIONS\r\n"
		 "Content-Length: 0\r\n\r\n",
		 via_line, n, n);
}

/* The line after our own Via in a forwarded request: the client's (rewritten) Via line. */
static const char *client_via_line(const char *fwd, char *line, size_t cap)
{
	const char *p = strstr(fwd, ";branch=z9hG4bKvd");
	cr_assert_not_null(p, "our Via on top: %s", fwd);
	p = strstr(p, "\r\n");
	cr_assert_not_null(p);
	p += 2;
	const char *e = strstr(p, "\r\n");
	cr_assert_not_null(e);
	size_t n = (size_t)(e - p);
	cr_assert_lt(n, cap);
	memcpy(line, p, n);
	line[n] = '\0';
	return line;
}

struct via_case {
	const char *in;   /* the client's top Via line */
	const char *ip;   /* source address */
	uint16_t port;    /* source port */
	const char *want; /* the same line as forwarded */
};

static const struct via_case cases[] = {
	/* rport last: baresip, linphone, pjsip, sipp scenarios copied from real UAs */
	{ "Via: SIP/2.0/UDP 127.0.0.1:53390;branch=z9hG4bKa1;rport", "127.0.0.1", 53390,
	  "Via: SIP/2.0/UDP 127.0.0.1:53390;branch=z9hG4bKa1;rport=53390;received=127.0.0.1" },
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa2;rport", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa2;rport=40123;received=203.0.113.7" },
	/* rport first (Kamailio's own UAC, several IMS UEs) */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKa3", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;rport=40123;branch=z9hG4bKa3;received=203.0.113.7" },
	/* rport in the middle */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa4;rport;alias", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa4;rport=40123;alias;received=203.0.113.7" },
	/* rport with a value is left as it is; received still goes in */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa5;rport=5062", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa5;rport=5062;received=203.0.113.7" },
	/* an existing received is replaced, whether before or after rport */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa6;received=192.0.2.1;rport", "203.0.113.7",
	  40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa6;received=203.0.113.7;rport=40123" },
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;rport;received=192.0.2.1;branch=z9hG4bKa7", "203.0.113.7",
	  40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;rport=40123;received=203.0.113.7;branch=z9hG4bKa7" },
	/* no rport: received only when sent-by is not the source (RFC 3261 18.2.1) */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa8", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa8;received=203.0.113.7" },
	{ "Via: SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bKa9", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bKa9" },
	/* a received the client wrote itself never decides where responses go: replaced by the
	 * source even when sent-by is the source (else a request could aim responses anywhere) */
	{ "Via: SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bKa0;received=198.51.100.1", "203.0.113.7",
	  40123, "Via: SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bKa0;received=203.0.113.7" },
	/* IPv6 sent-by (received is the address without brackets, RFC 3261 20.42 grammar) */
	{ "Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKb1;rport", "2001:db8::9", 7000,
	  "Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKb1;rport=7000;received=2001:db8::9" },
	{ "Via: SIP/2.0/UDP [2001:db8::9]:7000;rport;branch=z9hG4bKb2", "2001:db8::9", 7000,
	  "Via: SIP/2.0/UDP [2001:db8::9]:7000;rport=7000;branch=z9hG4bKb2;received=2001:db8::9" },
	/* FQDN sent-by without a port */
	{ "Via: SIP/2.0/UDP ue.example.com;branch=z9hG4bKb3;rport", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP ue.example.com;branch=z9hG4bKb3;rport=40123;received=203.0.113.7" },
	/* compact form */
	{ "v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb4;rport", "203.0.113.7", 40123,
	  "v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb4;rport=40123;received=203.0.113.7" },
	/* comma-separated values: only the first one is the client's */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb5;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx",
	  "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb5;rport=40123;received=203.0.113.7, "
	  "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx" },
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb6;rport,SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx",
	  "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb6;rport=40123;received=203.0.113.7,"
	  "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx" },
	/* parameter names are case-insensitive (RFC 3261 7.3.1) */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;Branch=z9hG4bKb7;RPort", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;Branch=z9hG4bKb7;RPort=40123;received=203.0.113.7" },
	/* LWS around the parameter separators (RFC 3261 25.1 SEMI) */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060 ; branch=z9hG4bKb8 ; rport", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060 ; branch=z9hG4bKb8 ; rport=40123;received=203.0.113.7" },
	/* rport with an empty value (fuzz_proxy_rules found these forwarded, and answered, as
	 * "rport==PORT", which no response could follow): the port goes after the '=' */
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKc1;rport=", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKc1;rport=40123;received=203.0.113.7" },
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;rport=;branch=z9hG4bKc2", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;rport=40123;branch=z9hG4bKc2;received=203.0.113.7" },
	{ "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKc3;rport = ;alias", "203.0.113.7", 40123,
	  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKc3;rport = 40123;alias;"
	  "received=203.0.113.7" },
	/* TCP in the client's Via (transport is not ours to change) */
	{ "Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKb9;rport", "203.0.113.7", 40123,
	  "Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKb9;rport=40123;received=203.0.113.7" },
};

Test(via_rewrite, every_rport_placement_gives_the_exact_forwarded_via)
{
	char msg[MSG_CAP], fwd[MSG_CAP + VD_PROXY_HEADROOM], line[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct via_case *c = &cases[i];
		request_with(c->in, (int)i, msg, sizeof(msg));
		run(msg, c->ip, c->port, fwd);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "case %zu: %s", i, c->in);
		cr_expect_str_eq(client_via_line(fwd, line, sizeof(line)), c->want, "case %zu", i);
	}
}

Test(via_rewrite, a_whole_request_with_rport_last_is_forwarded_byte_exact)
{
	static const char in[] = "REGISTER sip:ims.example.com SIP/2.0\r\n"
				 "Via: SIP/2.0/UDP 127.0.0.1:53390;branch=z9hG4bK.x8Kd2;rport\r\n"
				 "Max-Forwards: 70\r\n"
				 "To: <sip:alice@ims.example.com>\r\n"
				 "From: <sip:alice@ims.example.com>;tag=9fxced76sl\r\n"
				 "Call-ID: 3848276298220188511@127.0.0.1\r\n"
				 "CSeq: 1 REGISTER\r\n"
				 "Contact: <sip:alice@127.0.0.1:53390;transport=udp>\r\n"
				 "Expires: 3600\r\n"
				 "Content-Length: 0\r\n\r\n";
	char fwd[MSG_CAP + VD_PROXY_HEADROOM], want[MSG_CAP];
	run(in, "127.0.0.1", 53390, fwd);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	const char *b = strstr(fwd, ";branch=z9hG4bKvd");
	cr_assert_not_null(b);
	char branch[VD_BRANCH_LEN + 1];
	memcpy(branch, b + 8, VD_BRANCH_LEN);
	branch[VD_BRANCH_LEN] = '\0';
	snprintf(want, sizeof(want),
		 "REGISTER sip:ims.example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.168.1.2:5060;branch=%s\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:53390;branch=z9hG4bK.x8Kd2;rport=53390;"
		 "received=127.0.0.1\r\n"
		 "Max-Forwards: 69\r\n"
		 "To: <sip:alice@ims.example.com>\r\n"
		 "From: <sip:alice@ims.example.com>;tag=9fxced76sl\r\n"
		 "Call-ID: 3848276298220188511@127.0.0.1\r\n"
		 "CSeq: 1 REGISTER\r\n"
		 "Contact: <sip:alice@127.0.0.1:53390;transport=udp>\r\n"
		 "Expires: 3600\r\n"
		 "Content-Length: 0\r\n\r\n",
		 branch);
	cr_expect_str_eq(fwd, want);
}

Test(via_rewrite, a_local_reply_fills_an_empty_rport_value)
{
	/* Max-Forwards: 0 on an OPTIONS for someone else: 483, which copies the top Via with
	 * received and rport as the server transport adds them */
	static const char in[] = "OPTIONS sip:bob@ims.example.com SIP/2.0\r\n"
				 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKc4;rport=\r\n"
				 "Max-Forwards: 0\r\n"
				 "From: <sip:alice@ims.example.com>;tag=c4\r\n"
				 "To: <sip:bob@ims.example.com>\r\n"
				 "Call-ID: rewrite-c4@ims.example.com\r\n"
				 "CSeq: 1 OPTIONS\r\n"
				 "Content-Length: 0\r\n\r\n";
	run_text(in, "203.0.113.7", 40123);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_not_null(strstr(reply(), "\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKc4;"
					  "rport=40123;received=203.0.113.7\r\n"),
			   "%s", reply());
	cr_expect(dst_is("203.0.113.7", 40123), "to the source port, as rport asked");
}

/* ---- property: any top Via survives the round trip ---------------------------------- */

static unsigned rng_state = 12345;

static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) % n;
}

struct gen_via {
	char line[400];
	char host[64];  /* sent-by host as written (IPv6 with brackets) */
	uint16_t port;  /* 0: none written */
	char branch[40];
	int rport;      /* 0 absent, 1 flag, 2 with a value */
	bool received;  /* the client wrote a received parameter (stale or forged) */
	uint16_t rport_value;
	char src_ip[48];
	uint16_t src_port;
};

/* Shuffle n strings in place. */
static void shuffle(const char **v, unsigned n)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = rnd(i);
		const char *t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static void generate(struct gen_via *g, int n)
{
	static const char *const v4_hosts[] = { "10.0.0.1", "127.0.0.1", "203.0.113.7" };
	static const char *const v6_hosts[] = { "[2001:db8::1]", "[::1]", "[2001:db8::9]" };
	static const char *const fqdns[] = { "ue.example.com", "pcscf1.ims.example.net", "a" };
	static const char *const seps[] = { ";", " ;", "; ", " ; " };
	bool v6 = rnd(2);
	if (rnd(3) < 2)
		strcpy(g->host, v6 ? v6_hosts[rnd(3)] : v4_hosts[rnd(3)]);
	else
		strcpy(g->host, fqdns[rnd(3)]);
	g->port = rnd(3) ? (uint16_t)(1024 + rnd(60000)) : 0;
	strcpy(g->src_ip, v6 ? (rnd(2) ? "2001:db8::9" : "::1") : (rnd(2) ? "203.0.113.7" : "127.0.0.1"));
	g->src_port = (uint16_t)(1024 + rnd(60000));
	snprintf(g->branch, sizeof(g->branch), "z9hG4bK%u.%u", rnd(1000000), (unsigned)n);
	g->rport = (int)rnd(3);
	g->rport_value = (uint16_t)(1 + rnd(65535));

	char params[6][64];
	const char *pv[6];
	unsigned np = 0;
	snprintf(params[np], 64, "%s=%s", rnd(4) ? "branch" : "BRANCH", g->branch);
	np++;
	if (g->rport == 1)
		snprintf(params[np++], 64, "%s", rnd(4) ? "rport" : "RPORT");
	else if (g->rport == 2)
		snprintf(params[np++], 64, "rport=%u", g->rport_value);
	g->received = rnd(3) == 0;
	if (g->received)
		snprintf(params[np++], 64, "received=%s", rnd(2) ? "192.0.2.1" : "2001:db8::77");
	if (rnd(3) == 0)
		snprintf(params[np++], 64, "alias");
	if (rnd(3) == 0)
		snprintf(params[np++], 64, "x-ue=%u", rnd(100));
	for (unsigned i = 0; i < np; i++)
		pv[i] = params[i];
	shuffle(pv, np);

	char *w = g->line;
	size_t cap = sizeof(g->line);
	int k = snprintf(w, cap, "%s SIP/2.0/UDP %s", rnd(4) ? "Via:" : "v:", g->host);
	if (g->port)
		k += snprintf(w + k, cap - (size_t)k, ":%u", g->port);
	for (unsigned i = 0; i < np; i++)
		k += snprintf(w + k, cap - (size_t)k, "%s%s", seps[rnd(8) ? 0 : rnd(4)], pv[i]);
	if (rnd(4) == 0) /* a second value on the same line: an earlier hop */
		snprintf(w + k, cap - (size_t)k, "%sSIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKprev",
			 rnd(2) ? ", " : ",");
}

static bool slice_is(struct vd_slice s, const char *t)
{
	return s.p && s.len == strlen(t) && memcmp(s.p, t, s.len) == 0;
}

/* The response a member builds from the forwarded request: status line, then every header
 * of the request (Vias in order) and no body. */
static void response_from(const char *fwd, char *rsp, size_t cap)
{
	const char *hdrs = strstr(fwd, "\r\n");
	cr_assert_not_null(hdrs);
	snprintf(rsp, cap, "SIP/2.0 200 OK%s", hdrs);
}

Test(via_rewrite, any_top_via_round_trips_to_the_client_with_received_and_rport)
{
	char msg[MSG_CAP], fwd[MSG_CAP + VD_PROXY_HEADROOM], rsp[MSG_CAP + 64];
	char back[MSG_CAP + VD_PROXY_HEADROOM];
	for (int n = 0; n < 20000; n++) {
		struct gen_via g;
		generate(&g, n);
		request_with(g.line, n, msg, sizeof(msg));
		run(msg, g.src_ip, g.src_port, fwd);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%d: %s", n, g.line);

		/* a member answers from its own address */
		uint16_t member_port = (uint16_t)(5070 + 10 * res.member);
		response_from(fwd, rsp, sizeof(rsp));
		run(rsp, "127.0.0.1", member_port, back);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%d: %s\n%s", n, g.line, rsp);

		/* to the source address, and the source port when rport was a flag */
		uint16_t want_port = g.rport == 1 ? g.src_port
				     : g.rport == 2 ? g.rport_value
				     : g.port ? g.port : 5060;
		union vd_sockaddr want = fixture_addr(g.src_ip, want_port);
		cr_assert(memcmp(&res.dst, &want, vd_sockaddr_len(&want)) == 0,
			  "%d: %s from %s:%u: response not sent to %s:%u", n, g.line, g.src_ip,
			  g.src_port, g.src_ip, want_port);

		/* the client's Via is on top again and re-scans to what it sent, plus received and
		 * rport as RFC 3581 says */
		struct vd_sip_msg m;
		struct vd_sip_limits lim = { 96, 16 };
		cr_assert_eq(vd_sip_scan(back, strlen(back), &lim, &m), VD_SIP_OK, "%d: %s", n, back);
		cr_expect(slice_is(m.via.branch, g.branch), "%d: branch in %s", n, back);
		cr_expect(slice_is(m.via.host, g.host), "%d: host in %s", n, back);
		cr_expect_eq(m.via.port, g.port, "%d: port in %s", n, back);
		if (g.rport) {
			char p[8];
			snprintf(p, sizeof(p), "%u", g.rport == 1 ? g.src_port : g.rport_value);
			cr_expect(slice_is(m.via.rport, p), "%d: rport in %s", n, back);
		} else {
			cr_expect_null(m.via.rport.p, "%d: no rport in %s", n, back);
		}
		char host_ip[sizeof(g.line)];
		const char *h = g.host;
		snprintf(host_ip, sizeof(host_ip), "%s", h[0] == '[' ? h + 1 : h);
		if (h[0] == '[')
			host_ip[strlen(host_ip) - 1] = '\0';
		if (g.rport || g.received || strcmp(host_ip, g.src_ip) != 0)
			cr_expect(slice_is(m.via.received, g.src_ip), "%d: received in %s", n, back);
	}
}
