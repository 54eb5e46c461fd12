/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Messages captured from real SIP software (tests/corpus/captured/, see its MANIFEST): what
 * baresip, sipsak and Kamailio put on the wire, byte for byte, through the proxy. The proxy is
 * the harness's, its IPv4 listener moved to 127.0.0.1:5960: the address the clients were
 * pointed at when they were captured, so their Route and Request-URI name it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "corpus.h"
#include "proxy_harness.h"

#define PROXY_PORT 5960

static void setup(void)
{
	harness_init(VD_HASH_CALL_ID);
	fixture_set(&cfg.listeners[0].addr, &cfg.listeners[0].addrlen, "127.0.0.1", PROXY_PORT);
	strcpy(cfg.listeners[0].advertise, "127.0.0.1");
	cfg.listeners[0].advertise_port = PROXY_PORT;
	harness_reload();
}

TestSuite(captured, .init = setup, .fini = harness_fini);

/* The line of `msg` starting with `prefix`, without its CRLF. */
static const char *line_of(const char *msg, const char *prefix)
{
	static char l[1024];
	const char *p = strstr(msg, prefix);
	cr_assert_not_null(p, "no \"%s\" in %s", prefix, msg);
	size_t n = (size_t)(strstr(p, "\r\n") - p);
	cr_assert_lt(n, sizeof(l));
	memcpy(l, p, n);
	l[n] = '\0';
	return l;
}

/* Forward a captured request from its source; then the member's 200 (its Vias copied, RFC 3261
 * 8.2.6) must go back to that source with the client's Via on top as forwarded. */
static void request_round_trip(const char *file, const char *src_ip, uint16_t src_port,
			       const char *want_client_via)
{
	struct corpus_msg m = corpus_load(file);
	run_bytes(m.buf, m.len, src_ip, src_port);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s", file);
	cr_expect_geq(res.member, 0, "%s: our Route popped, a pool member chosen", file);
	char fwd[4096];
	strcpy(fwd, out());
	cr_expect_null(strstr(fwd, "\r\nRoute: <sip:127.0.0.1:5960;lr>"), "%s: Route popped", file);
	cr_expect(strstr(fwd, "\r\nVia: SIP/2.0/UDP 127.0.0.1:5960;branch=z9hG4bKvd"), "%s", fwd);
	const char *second = strstr(strstr(fwd, "\r\nVia: ") + 2, "\r\nVia: ") + 2;
	cr_expect_str_eq(line_of(second, "Via: "), want_client_via, "%s", file);
	/* the body is forwarded byte for byte */
	const char *body_in = memmem(m.buf, m.len, "\r\n\r\n", 4) + 4;
	const char *body_out = strstr(fwd, "\r\n\r\n") + 4;
	cr_expect_eq(strlen(body_out), m.len - (size_t)(body_in - m.buf));
	cr_expect(memcmp(body_in, body_out, strlen(body_out)) == 0, "%s: body", file);

	char resp[4200];
	snprintf(resp, sizeof(resp), "SIP/2.0 200 OK%.*s\r\nContent-Length: 0\r\n\r\n",
		 (int)(strstr(fwd, "\r\nContent-Length") - strstr(fwd, "\r\n")),
		 strstr(fwd, "\r\n"));
	uint16_t member_port = (uint16_t)(5070 + 10 * res.member);
	run_text(resp, "127.0.0.1", member_port);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s: the member's 200", file);
	cr_expect(dst_is(src_ip, src_port), "%s: back to %s:%u", file, src_ip, src_port);
	cr_expect_str_eq(line_of(out(), "Via: "), want_client_via, "%s: client Via on top", file);
	corpus_free(&m);
}

Test(captured, baresip_register_with_rport_last_goes_out_and_its_response_comes_back)
{
	request_round_trip("captured/baresip-register.sip", "127.0.0.31", 5961,
			   "Via: SIP/2.0/UDP 127.0.0.31:5961;branch=z9hG4bK3d6e82d69b46356c;"
			   "rport=5961;received=127.0.0.31");
}

Test(captured, baresip_invite_with_sdp_goes_out_and_its_response_comes_back)
{
	request_round_trip("captured/baresip-invite.sip", "127.0.0.31", 5961,
			   "Via: SIP/2.0/UDP 127.0.0.31:5961;branch=z9hG4bKe5e43e78d103f8ab;"
			   "rport=5961;received=127.0.0.31");
}

/* sipsak sends from another port than its sent-by (rport in the middle): the answer goes to
 * the port it came from. */
Test(captured, sipsak_options_to_us_is_answered_where_it_came_from)
{
	struct corpus_msg m = corpus_load("captured/sipsak-options.sip");
	run_bytes(m.buf, m.len, "127.0.0.1", 59103);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 200);
	cr_expect(dst_is("127.0.0.1", 59103), "rport: the source port, not 5962");
	cr_expect_str_eq(line_of(reply(), "Via: "),
			 "Via: SIP/2.0/UDP 127.0.0.1:5962;branch=z9hG4bK.3879fafd;rport=59103;alias;"
			 "received=127.0.0.1");
	cr_expect(strstr(reply(), "\r\nAllow: "));
	corpus_free(&m);
}

/* Kamailio's responses (its own rport=/received= order in the client's Via) leave as they came,
 * minus our Via, for the client's address. */
static void member_response(const char *file)
{
	struct corpus_msg m = corpus_load(file);
	char text[4096], resp[4300];
	memcpy(text, m.buf, m.len);
	text[m.len] = '\0';
	const char *eol = strstr(text, "\r\n") + 2;
	snprintf(resp, sizeof(resp), "%.*sVia: SIP/2.0/UDP 127.0.0.1:5960;branch=%s\r\n%s",
		 (int)(eol - text), text, branch_for_response(text), eol);
	run_text(resp, "127.0.0.41", 5970);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s", file);
	cr_expect(dst_is("127.0.0.31", 5961), "%s: to received:rport", file);
	cr_expect_str_eq(out(), text, "%s: exactly Kamailio's bytes", file);
	corpus_free(&m);
}

Test(captured, kamailio_401_and_200_reach_the_client_byte_exact)
{
	member_response("captured/kamailio-401.sip");
	member_response("captured/kamailio-200-register.sip");
}
