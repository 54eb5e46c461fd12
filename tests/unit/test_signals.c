/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What members say about themselves in their responses, read by the proxy (src/proxy/
 * response.c) on real messages: a corpus INVITE goes through the proxy of
 * tests/support/proxy_fixture.h to a pool member, the member answers it (its Vias copied, as
 * a UAS does) with a 503 and Retry-After, or with RFC 7339 overload control parameters in
 * our Via, and the result names the member and carries the signal. The parsers alone
 * (vd_sip_retry_after, vd_sip_via_oc) get their edge cases; the per-member counters
 * (vd_stats_count) their inputs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "proxy_harness.h"
#include "viaduct/dpview.h"
#include "viaduct/stats.h"

static union vd_sockaddr member_addr; /* where the INVITE went */
static char invite_out[8192];	      /* the INVITE as the member got it */

static void setup(void)
{
	harness_init(VD_HASH_CALL_ID);
	cfg.pools[0].outlier.retry_after = true;
	cfg.pools[0].outlier.overload_control = true;
	harness_reload();
	struct corpus_msg m = corpus_load("good/14-invite-sdp.sip");
	run_bytes(m.buf, m.len, "192.168.1.15", 5060);
	corpus_free(&m);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_assert_geq(res.member, 0);
	cr_expect_eq(res.peer, res.member, "a request names the member it goes to");
	cr_expect_eq(res.peer_pool, 0);
	member_addr = res.dst;
	cr_assert_lt(pkt.len, sizeof(invite_out));
	memcpy(invite_out, out(), pkt.len + 1);
}

static void teardown(void)
{
	harness_fini();
}

TestSuite(signals, .init = setup, .fini = teardown);

/*
 * The member's answer to the INVITE: `status`, every Via of the request (ours first, with
 * `our_via_params` appended to it), From, To with a tag, Call-ID, CSeq, the `extra` header
 * lines, no body.
 */
static size_t answer(const char *status, const char *our_via_params, const char *extra, char *resp,
		     size_t cap)
{
	size_t w = (size_t)snprintf(resp, cap, "SIP/2.0 %s\r\n", status);
	bool first = true;
	for (const char *p = strstr(invite_out, "\r\n") + 2; strncmp(p, "\r\n", 2);
	     p = strstr(p, "\r\n") + 2) {
		size_t n = (size_t)(strstr(p, "\r\n") - p);
		bool via = strncmp(p, "Via: ", 5) == 0;
		bool keep = via || !strncmp(p, "From: ", 6) || !strncmp(p, "Call-ID: ", 9) ||
			    !strncmp(p, "CSeq: ", 6);
		if (keep) {
			memcpy(resp + w, p, n);
			w += n;
			if (via && first)
				w += (size_t)snprintf(resp + w, cap - w, "%s", our_via_params);
			first = first && !via;
			w += (size_t)snprintf(resp + w, cap - w, "\r\n");
		}
	}
	w += (size_t)snprintf(resp + w, cap - w,
			      "To: <sip:+10123456789@ims.sharetechnote.com>;tag=m1\r\n%s"
			      "Content-Length: 0\r\n\r\n",
			      extra);
	return w;
}

static void from_member(const char *status, const char *via_params, const char *extra)
{
	char resp[8192], ip[64];
	size_t n = answer(status, via_params, extra, resp, sizeof(resp));
	ip[vd_addr_ip_text(&member_addr, ip)] = '\0';
	run_bytes(resp, n, ip, vd_addr_port(&member_addr));
}

Test(signals, a_503_with_retry_after_names_the_member_and_its_seconds)
{
	from_member("503 Service Unavailable", "", "Retry-After: 2\r\n");
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "relayed to the caller as any response");
	cr_expect_eq(res.peer_pool, 0);
	cr_expect_eq(res.peer >= 0 && dst_is("192.168.1.15", 5060), true);
	cr_expect_eq(res.signal.bits, VD_SIGNAL_RETRY_AFTER);
	cr_expect_eq(res.signal.retry_after_s, 2);
	cr_expect(strstr(out(), "\r\nRetry-After: 2\r\n"), "the caller gets it too: %s", out());
}

Test(signals, retry_after_forms_and_what_is_no_signal)
{
	static const struct {
		const char *status, *extra;
		unsigned bits, secs;
	} cases[] = {
		{"503 Service Unavailable", "Retry-After: 18000;duration=3600\r\n", 1, 18000},
		{"503 Service Unavailable", "Retry-After: 120 (I'm in a meeting)\r\n", 1, 120},
		{"503 Service Unavailable", "Retry-After: 99999999999999999999\r\n", 1,
		 VD_SIP_RETRY_AFTER_MAX},
		{"503 Service Unavailable", "Retry-After: soon\r\n", 0, 0},
		{"503 Service Unavailable", "", 0, 0}, /* a 5xx, no more */
		{"500 Server Internal Error", "Retry-After: 5\r\n", 0, 0}, /* only 503 */
		/* the callee's, not the member's */
		{"480 Temporarily Unavailable", "Retry-After: 5\r\n", 0, 0},
		{"200 OK", "Retry-After: 5\r\n", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		from_member(cases[i].status, "", cases[i].extra);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
		cr_expect_geq(res.peer, 0);
		cr_expect_eq(res.signal.bits, cases[i].bits, "%s / %s", cases[i].status,
			     cases[i].extra);
		if (cases[i].bits)
			cr_expect_eq(res.signal.retry_after_s, cases[i].secs, "%s", cases[i].extra);
	}
}

Test(signals, oc_in_our_via_is_read_and_leaves_with_our_via)
{
	from_member("200 OK", ";oc=50;oc-validity=30000;oc-seq=1282321615.782;oc-algo=\"loss\"",
		    "");
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.signal.bits, VD_SIGNAL_OC);
	cr_expect_eq(res.signal.oc, 50);
	cr_expect_eq(res.signal.oc_validity_ms, 30000);
	cr_expect(res.signal.oc_has_seq);
	cr_expect_eq(res.signal.oc_seq, 128232161578200ULL);
	cr_expect_null(strstr(out(), "oc="), "our Via and its parameters stay here: %s", out());
}

Test(signals, oc_forms_the_loss_algorithm_only)
{
	static const struct {
		const char *params;
		bool taken;
		unsigned oc, validity;
	} cases[] = {
		{";oc=20", true, 20, VD_SIP_OC_VALIDITY_DEFAULT},
		{";oc=0;oc-validity=0", true, 0, 0},
		{";oc-algo=loss;oc=100;oc-validity=99999999999", true, 100, VD_SIP_OC_VALIDITY_MAX},
		{";oc", false, 0, 0},	  /* the flag alone: no feedback */
		{";oc=101", false, 0, 0}, /* not a percentage */
		{";oc=50;oc-validity=soon", false, 0, 0},
		{";oc=50;oc-algo=\"A\"", false, 0, 0}, /* an algorithm we do not apply */
		{";oc=50;oc-seq=12.x", false, 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		from_member("180 Ringing", cases[i].params, "");
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s", cases[i].params);
		cr_expect_eq(res.signal.bits, cases[i].taken ? VD_SIGNAL_OC : 0, "%s",
			     cases[i].params);
		if (!cases[i].taken)
			continue;
		cr_expect_eq(res.signal.oc, cases[i].oc, "%s", cases[i].params);
		cr_expect_eq(res.signal.oc_validity_ms, cases[i].validity, "%s", cases[i].params);
	}
}

Test(signals, requests_to_a_pool_that_honours_oc_offer_it)
{
	cr_expect(strstr(invite_out, "\r\nVia: SIP/2.0/UDP 192.168.1.2:5060;oc;oc-algo=\"loss\";"
				     "branch=z9hG4bKvd"),
		  "RFC 7339 5.1: %s", invite_out);
	/* the member answers with our Via as it got it, oc=30 appended (or put in its place) */
	from_member("200 OK", ";oc=30", "");
	cr_expect_eq(res.signal.bits, VD_SIGNAL_OC, "the offer echoed, then the value");
	cr_expect_eq(res.signal.oc, 30);
	from_member("200 OK", "", "");
	cr_expect_eq(res.signal.bits, 0, "the offer alone: no feedback");
	cfg.pools[0].outlier.overload_control = false;
	harness_reload();
	struct corpus_msg m = corpus_load("good/14-invite-sdp.sip");
	run_bytes(m.buf, m.len, "192.168.1.15", 5060);
	corpus_free(&m);
	cr_expect_null(strstr(out(), ";oc"), "not offered: %s", out());
}

Test(signals, oc_and_retry_after_together)
{
	from_member("503 Service Unavailable", ";oc=70;oc-validity=1000", "Retry-After: 30\r\n");
	cr_expect_eq(res.signal.bits, VD_SIGNAL_OC | VD_SIGNAL_RETRY_AFTER);
	cr_expect_eq(res.signal.oc, 70);
	cr_expect_eq(res.signal.retry_after_s, 30);
}

Test(signals, only_members_and_authentic_responses_signal)
{
	char resp[8192];
	size_t n = answer("503 Service Unavailable", ";oc=50", "Retry-After: 2\r\n", resp,
			  sizeof(resp));
	run_bytes(resp, n, "10.9.9.9", 5060); /* not a member: relayed, no signal */
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.peer, -1);
	cr_expect_eq(res.signal.bits, 0);
	/* a forged branch: dropped before anything is believed */
	char *b = strstr(resp, ";branch=z9hG4bKvd") + 8 + VD_BRANCH_LEN - 1; /* the check's */
	*b = *b == '0' ? '1' : '0';
	char ip[64];
	ip[vd_addr_ip_text(&member_addr, ip)] = '\0';
	run_bytes(resp, n, ip, vd_addr_port(&member_addr));
	cr_expect_eq(res.drop, VD_DROP_FORGED_RESPONSE);
	cr_expect_eq(res.peer, -1);
	cr_expect_eq(res.signal.bits, 0);
}

Test(signals, a_pool_that_does_not_read_them_gets_none)
{
	cfg.pools[0].outlier.retry_after = false;
	cfg.pools[0].outlier.overload_control = false;
	harness_reload();
	from_member("503 Service Unavailable", ";oc=50", "Retry-After: 2\r\n");
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_geq(res.peer, 0, "still its response, for its counters");
	cr_expect_eq(res.signal.bits, 0);
}

Test(signals, a_route_to_a_member_names_it_too)
{
	static const char bye[] = "BYE sip:+10123456789@127.0.0.1:5080 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 192.168.1.15:5060;branch=z9hG4bKbye1\r\n"
				  "Route: <sip:192.168.1.2:5060;lr>, <sip:127.0.0.1:5080;lr>\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: r1\r\n"
				  "CSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
	run_text(bye, "192.168.1.15", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.route, VD_ROUTE_FOLLOWED);
	cr_expect_eq(res.member, -1, "not a selection");
	cr_expect_eq(res.peer, 1, "but the request is member 1's");
	cr_expect_eq(res.peer_pool, 0);
}

Test(signals, counters_per_member)
{
	static struct vd_stats st;
	memset(&st, 0, sizeof(st));
	struct corpus_msg m = corpus_load("good/14-invite-sdp.sip");
	run_bytes(m.buf, m.len, "192.168.1.15", 5060);
	corpus_free(&m);
	int16_t who = res.peer;
	vd_stats_count(&st, &res, 100);
	from_member("100 Trying", "", "");
	vd_stats_count(&st, &res, 100);
	from_member("200 OK", "", "");
	vd_stats_count(&st, &res, 100);
	from_member("503 Service Unavailable", "", "");
	vd_stats_count(&st, &res, 100);
	from_member("486 Busy Here", "", "");
	vd_stats_count(&st, &res, 100);
	cr_expect_eq(st.member_requests[0][who], 1);
	cr_expect_eq(st.member_successes[0][who], 2, "200 and 486 (a 1xx is no answer yet)");
	cr_expect_eq(st.member_5xx[0][who], 1);
	struct corpus_msg ack = corpus_load("good/18-ack.sip");
	run_bytes(ack.buf, ack.len, "192.168.1.15", 5060);
	corpus_free(&ack);
	vd_stats_count(&st, &res, 100);
	cr_expect_eq(st.member_requests[0][who] + st.member_requests[0][1 - who], 1,
		     "an ACK expects no answer: not counted");
}

/* ---- the parsers alone ---- */

static struct vd_slice sl(const char *s)
{
	return (struct vd_slice){s, (uint32_t)strlen(s)};
}

Test(signals_parse, retry_after)
{
	uint32_t s = 7;
	cr_expect(vd_sip_retry_after(sl("0"), &s) && s == 0);
	cr_expect(vd_sip_retry_after(sl("3600;duration=10"), &s) && s == 3600);
	cr_expect(vd_sip_retry_after(sl("86401"), &s) && s == VD_SIP_RETRY_AFTER_MAX);
	cr_expect_not(vd_sip_retry_after(sl(""), &s));
	cr_expect_not(vd_sip_retry_after(sl("-1"), &s));
	cr_expect_not(vd_sip_retry_after(sl(" 5"), &s), "the scanner strips the leading space");
}

Test(signals_parse, via_oc)
{
	struct vd_sip_oc oc;
	const char *v = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;oc=30;oc-seq=1.5;"
			"oc-validity=2000";
	cr_assert(vd_sip_via_oc(v, v + strlen(v), &oc));
	cr_expect_eq(oc.oc, 30);
	cr_expect_eq(oc.seq, 150000, "1.5 s in units of 10^-5 s");
	cr_expect_eq(oc.validity_ms, 2000);
	cr_expect(oc.loss);
	const char *w = "SIP/2.0/UDP [2001:db8::1]:5060 ; oc = 10 ; oc-algo=\"loss,A\"";
	cr_assert(vd_sip_via_oc(w, w + strlen(w), &oc), "LWS around = and ;");
	cr_expect_eq(oc.oc, 10);
	cr_expect(oc.loss);
	cr_expect_not(oc.has_seq);
	const char *x = "SIP/2.0/UDP 10.0.0.1;oc-seq=1234567890123.1;oc=1";
	cr_expect_not(vd_sip_via_oc(x, x + strlen(x), &oc), "13 digits of seconds");
	const char *y = "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1";
	cr_expect_not(vd_sip_via_oc(y, y + strlen(y), &oc), "no oc");
}

Test(signals_parse, the_scanner_marks_oc_in_the_top_via_only)
{
	static const char msg[] = "SIP/2.0 200 OK\r\n"
				  "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;oc=5\r\n"
				  "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\n"
				  "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	static struct vd_sip_msg m;
	static const struct vd_sip_limits lim = {96, 16};
	cr_assert_eq(vd_sip_scan(msg, sizeof(msg) - 1, &lim, &m), VD_SIP_OK);
	cr_expect(slice_is(m.via.oc, "5"));
	static const char bare[] = "SIP/2.0 200 OK\r\n"
				   "Via: SIP/2.0/UDP 10.0.0.1;oc;branch=z9hG4bK1\r\n"
				   "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\n"
				   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	cr_assert_eq(vd_sip_scan(bare, sizeof(bare) - 1, &lim, &m), VD_SIP_OK);
	cr_expect(m.via.oc.p && m.via.oc.len == 0, "the flag: an empty slice");
}

/* ---- the workers' event rings (src/stats/events.c) ---- */

static unsigned drained;
static struct vd_member_event last;

static void take(void *arg, const struct vd_member_event *e)
{
	(void)arg;
	drained++;
	last = *e;
}

static struct vd_result signal_result(uint8_t bits, uint32_t ra, uint8_t pct, uint64_t seq)
{
	struct vd_result r;
	memset(&r, 0, sizeof(r));
	r.signal = (struct vd_peer_signal){.bits = bits,
					   .retry_after_s = ra,
					   .oc = pct,
					   .oc_has_seq = true,
					   .oc_validity_ms = 500,
					   .oc_seq = seq};
	return r;
}

Test(events, a_full_ring_drops_and_counts_and_drains_in_order)
{
	static struct vd_mev_ring ring;
	memset(&ring, 0, sizeof(ring));
	struct vd_member_event e;
	memset(&e, 0, sizeof(e));
	e.kind = VD_MEV_CONN_FAILED;
	for (unsigned i = 0; i < VD_MEV_RING + 3; i++) {
		e.value = i;
		cr_expect_eq(vd_mev_push(&ring, &e), i < VD_MEV_RING);
	}
	cr_expect_eq(vd_mev_lost(&ring), 3);
	cr_expect(vd_mev_take_wake(&ring));
	cr_expect_not(vd_mev_take_wake(&ring), "one wake-up for the lot");
	drained = 0;
	cr_expect_eq(vd_mev_drain(&ring, take, NULL), VD_MEV_RING);
	cr_expect_eq(last.value, VD_MEV_RING - 1, "oldest first, the last one last");
	cr_expect_eq(vd_mev_drain(&ring, take, NULL), 0);
	cr_expect(vd_mev_push(&ring, &e), "room again");
}

Test(events, a_members_repeats_are_filtered_for_a_while)
{
	static struct vd_mev_ring ring;
	memset(&ring, 0, sizeof(ring));
	union vd_sockaddr a = fixture_addr("127.0.0.1", 5070), b = fixture_addr("127.0.0.1", 5080);
	struct vd_result ra = signal_result(VD_SIGNAL_RETRY_AFTER, 2, 0, 0);
	struct vd_result oc = signal_result(VD_SIGNAL_OC, 0, 50, 7);
	drained = 0;
	vd_mev_signal(&ring, &ra, &a, 1000);
	vd_mev_signal(&ring, &ra, &a, 1100); /* the same, soon: dropped */
	vd_mev_signal(&ring, &ra, &b, 1100); /* another member */
	vd_mev_signal(&ring, &oc, &a, 1100); /* another signal */
	vd_mev_signal(&ring, &oc, &a, 1200);
	struct vd_result oc2 = signal_result(VD_SIGNAL_OC, 0, 60, 8);
	vd_mev_signal(&ring, &oc2, &a, 1200);			/* news: through at once */
	vd_mev_signal(&ring, &ra, &a, 1000 + VD_MEV_REPEAT_MS); /* again, after a while */
	cr_expect_eq(vd_mev_drain(&ring, take, NULL), 5);
	cr_expect_eq(last.kind, VD_MEV_RETRY_AFTER);
	struct vd_result both = signal_result(VD_SIGNAL_OC | VD_SIGNAL_RETRY_AFTER, 9, 70, 9);
	vd_mev_signal(&ring, &both, &b, 5000);
	cr_expect_eq(vd_mev_drain(&ring, take, NULL), 2, "one event per signal");
	cr_expect_eq(last.kind, VD_MEV_OVERLOAD);
	cr_expect_eq(last.oc, 70);
	cr_expect_eq(last.value, 500);
	cr_expect_eq(last.seq, 9);
	cr_expect(last.has_seq);
}
