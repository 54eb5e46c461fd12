/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stateless proxy tests on real messages: the verdict, the next hop and the exact bytes of
 * every rewrite and locally built reply.
 *
 * The proxy under test is tests/support/proxy_fixture.h: it plays the P-CSCF 192.168.1.2 of
 * the corpus call flows, with a pool of two members.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "proxy_harness.h"
#include "proxy_internal.h" /* vd_addr_ip_text */

static void setup_proxy(enum vd_hash_key hash)
{
	harness_init(hash);
}

static void setup(void)
{
	harness_init(VD_HASH_CALL_ID);
}

static void teardown(void)
{
	harness_fini();
}

static struct corpus_msg run_file(const char *rel, const char *ip, uint16_t port)
{
	struct corpus_msg m = corpus_load(rel);
	run_bytes(m.buf, m.len, ip, port);
	return m;
}

static void expect_dst(const char *ip, uint16_t port)
{
	cr_expect(dst_is(ip, port), "next hop is %s:%u", ip, port);
}

/* The branch we added: "z9hG4bKvd", 16 hex digits of transaction hash, 8 of response check. */
static const char *our_branch(const char *msg)
{
	static char b[VD_BRANCH_LEN + 1];
	const char *p = strstr(msg, ";branch=z9hG4bKvd");
	cr_assert_not_null(p);
	memcpy(b, p + 8, VD_BRANCH_LEN);
	b[VD_BRANCH_LEN] = '\0';
	for (int i = 9; i < VD_BRANCH_LEN; i++)
		cr_assert(strchr("0123456789abcdef", b[i]), "branch %s is hex", b);
	return b;
}

/* "z9hG4bKvd" and the transaction hash: what RFC 3261 16.11 keeps equal for a CANCEL and its
 * INVITE; the response check after it follows the reply address. */
#define TXN_PART 25

/* original with `from` replaced by `to` once (the test spells out each expected edit) */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	cr_assert_not_null(p, "\"%s\" in the message", from);
	size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to), sl = strlen(s);
	char *r = malloc(sl - fl + tl + 1);
	memcpy(r, s, a);
	memcpy(r + a, to, tl);
	memcpy(r + a + tl, p + fl, sl - a - fl + 1);
	return r;
}

static char *text_of(const struct corpus_msg *m)
{
	char *s = malloc(m->len + 1);
	memcpy(s, m->buf, m->len);
	s[m->len] = '\0';
	return s;
}

TestSuite(proxy, .init = setup, .fini = teardown);

Test(proxy, invite_pops_our_route_and_goes_to_a_pool_member_with_exact_bytes)
{
	struct corpus_msg m = run_file("good/14-invite-sdp.sip", "192.168.1.15", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_assert_geq(res.member, 0);
	expect_dst("127.0.0.1", (uint16_t)(5070 + 10 * res.member));
	cr_expect_eq(res.egress, 0);

	char *orig = text_of(&m), *want, *t;
	char via[128];
	snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 192.168.1.2:5060;branch=%s\r\nVia: SIP/2.0/UDP",
		 our_branch(out()));
	want = replace(orig, "Via: SIP/2.0/UDP", via);
	t = replace(want, "Route: <sip:192.168.1.2:5060;lr>\r\n", "");
	free(want);
	want = replace(t, "Max-Forwards: 70", "Max-Forwards: 69");
	/* sent-by equals the source: no received; body and Content-Length untouched */
	cr_expect_str_eq(out(), want);
	free(t);
	free(want);
	free(orig);
	corpus_free(&m);
}

Test(proxy, every_message_of_a_call_goes_to_the_same_member)
{
	static const char *const call[] = { "good/14-invite-sdp.sip", "good/18-ack.sip",
					    "good/19-bye.sip", "good/20-cancel.sip",
					    "good/22-ack-non2xx.sip" };
	int member = -1;
	for (size_t i = 0; i < sizeof(call) / sizeof(call[0]); i++) {
		struct corpus_msg m = run_file(call[i], "192.168.1.15", 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s", call[i]);
		if (member < 0)
			member = res.member;
		cr_expect_eq(res.member, member, "%s", call[i]);
		corpus_free(&m);
	}
}

Test(proxy, calls_spread_over_both_members)
{
	unsigned per_member[2] = { 0, 0 };
	char msg[512];
	for (int i = 0; i < 2000; i++) {
		int n = snprintf(msg, sizeof(msg),
				 "MESSAGE sip:+1555@ims.example.com SIP/2.0\r\n"
				 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%d\r\n"
				 "From: <sip:a@ims.example.com>;tag=1\r\nTo: <sip:+1555@ims.example.com>\r\n"
				 "Call-ID: call-%d@10.0.0.1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
				 "Content-Length: 0\r\n\r\n", i, i);
		run_bytes(msg, (size_t)n, "10.0.0.1", 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
		per_member[res.member]++;
	}
	cr_expect_gt(per_member[0], 850, "%u/%u", per_member[0], per_member[1]);
	cr_expect_gt(per_member[1], 850, "%u/%u", per_member[0], per_member[1]);
}

Test(proxy, source_ip_hash_keeps_a_ue_on_one_member)
{
	teardown();
	setup_proxy(VD_HASH_SOURCE_IP);
	static const char *const ue[] = { "good/14-invite-sdp.sip", "good/26-message.sip",
					  "good/28-options-user.sip", "good/33-publish.sip" };
	int member = -1;
	for (size_t i = 0; i < 4; i++) {
		struct corpus_msg m = run_file(ue[i], "192.168.1.15", 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s", ue[i]);
		if (member < 0)
			member = res.member;
		cr_expect_eq(res.member, member, "%s: different Call-IDs, same UE", ue[i]);
		corpus_free(&m);
	}
}

Test(proxy, branch_is_stable_for_retransmission_cancel_and_non2xx_ack)
{
	char invite[64], again[64], cancel[64], ack[64], ack2xx[64];
	struct corpus_msg m = run_file("good/14-invite-sdp.sip", "192.168.1.15", 5060);
	strcpy(invite, our_branch(out()));
	corpus_free(&m);
	m = run_file("good/14-invite-sdp.sip", "192.168.1.15", 5060);
	strcpy(again, our_branch(out()));
	corpus_free(&m);
	m = run_file("good/20-cancel.sip", "192.168.1.15", 5060);
	strcpy(cancel, our_branch(out()));
	corpus_free(&m);
	m = run_file("good/22-ack-non2xx.sip", "192.168.1.15", 5060);
	strcpy(ack, our_branch(out()));
	corpus_free(&m);
	m = run_file("good/18-ack.sip", "192.168.1.15", 5060);
	strcpy(ack2xx, our_branch(out()));
	corpus_free(&m);
	cr_expect_str_eq(again, invite, "a retransmission gets the same branch");
	cr_expect_str_eq(cancel, invite, "CANCEL matches its INVITE downstream");
	cr_expect_str_eq(ack, invite, "the ACK of a non-2xx matches its INVITE");
	cr_expect_neq(strncmp(ack2xx, invite, TXN_PART), 0, "the ACK of a 2xx is a new transaction");
}

Test(proxy, route_not_ours_is_followed_and_kept)
{
	struct corpus_msg m = run_file("good/29-invite-multivia.sip", "10.20.30.40", 6060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.route, VD_ROUTE_TO_POOL,
		     "as.ims.example.com is a name, never trusted (no DNS): to the pool");
	cr_expect_geq(res.member, 0);
	corpus_free(&m);
	trust("10.9.9.9/32");

	static const char req[] = "INVITE sip:+1555@ims.example.com SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKr1\r\n"
				  "Route: <sip:10.9.9.9:5099;lr>, <sip:10.8.8.8;lr>\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: <sip:+1555@ims.example.com>\r\n"
				  "Call-ID: r1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
				  "Content-Length: 0\r\n\r\n";
	run_bytes(req, sizeof(req) - 1, "10.0.0.1", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.member, -1, "the Route decides, not the pool");
	expect_dst("10.9.9.9", 5099);
	cr_expect(strstr(out(), "Route: <sip:10.9.9.9:5099;lr>, <sip:10.8.8.8;lr>\r\n"));
}

Test(proxy, our_route_values_are_popped_from_a_multi_value_line)
{
	static const char req[] = "BYE sip:+1555@10.7.7.7 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp1\r\n"
				  "Route: <sip:192.168.1.2:5060;lr>,<sip:10.9.9.9;lr>\r\n"
				  "Route: <sip:10.8.8.8;lr>\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
				  "Call-ID: p1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n"
				  "Content-Length: 0\r\n\r\n";
	trust("10.9.9.9/32");
	run_bytes(req, sizeof(req) - 1, "10.0.0.1", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	expect_dst("10.9.9.9", 5060);
	cr_expect(strstr(out(), "\r\nRoute: <sip:10.9.9.9;lr>\r\nRoute: <sip:10.8.8.8;lr>\r\n"),
		  "%s", out());
}

Test(proxy, strict_router_previous_hop_is_fixed_per_16_4)
{
	static const char req[] = "INFO sip:192.168.1.2:5060 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKs1\r\n"
				  "Route: <sip:10.9.9.9:5070;lr>, <sip:+1555@10.6.6.6:5062>\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
				  "Call-ID: s1\r\nCSeq: 3 INFO\r\nMax-Forwards: 70\r\n"
				  "Content-Length: 0\r\n\r\n";
	trust("10.9.9.9/32");
	run_bytes(req, sizeof(req) - 1, "10.0.0.1", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	expect_dst("10.9.9.9", 5070);
	cr_expect(strncmp(out(), "INFO sip:+1555@10.6.6.6:5062 SIP/2.0\r\n", 38) == 0, "%s", out());
	cr_expect(strstr(out(), "\r\nRoute: <sip:10.9.9.9:5070;lr>\r\n"), "%s", out());
}

Test(proxy, received_and_rport_for_a_natted_client)
{
	struct corpus_msg m = run_file("good/30-register-rport.sip", "203.0.113.7", 40123);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect(strstr(out(), "Via: SIP/2.0/UDP ue.example.com:5062;rport=40123;branch="
				"z9hG4bK5f1c39d2a7;received=203.0.113.7\r\n"),
		  "%s", out());
	corpus_free(&m);
}

Test(proxy, existing_received_is_replaced_and_rport_value_kept_ipv6)
{
	struct corpus_msg m = run_file("good/41-ipv6-request.sip", "2001:db8:10::77", 1234);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect(strstr(out(), "Via: SIP/2.0/UDP [2001:db8:10::2]:5060;received=2001:db8:10::77;"
				"rport=1234;branch=z9hG4bK2f8a1c0e5d\r\n"),
		  "%s", out());
	cr_expect_eq(res.egress, 0, "a v4 pool member leaves through the v4 listener");
	corpus_free(&m);
}

Test(proxy, missing_max_forwards_gets_70_and_zero_gets_483)
{
	struct corpus_msg m = run_file("good/36-invite-no-max-forwards.sip", "192.168.1.15", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect(strstr(out(), "\r\nMax-Forwards: 70\r\nVia: SIP/2.0/UDP 192.168.1.15"), "%s",
		  out());
	corpus_free(&m);

	m = run_file("good/35-options-max-forwards-0.sip", "192.168.1.15", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 483);
	cr_expect(strncmp(reply(), "SIP/2.0 483 Too Many Hops\r\n", 27) == 0);
	corpus_free(&m);
}

Test(proxy, options_to_the_proxy_itself_gets_200_with_exact_bytes)
{
	struct corpus_msg m = run_file("good/27-options-keepalive.sip", "127.0.0.1", 5070);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 200);
	expect_dst("127.0.0.1", 5070);
	char *orig = text_of(&m);
	/* the reply copies these lines of the request verbatim */
	const char *lines[] = { "\r\nVia: ", "\r\nFrom: ", "\r\nCall-ID: ", "\r\nCSeq: " };
	char want[2048];
	size_t w = (size_t)snprintf(want, sizeof(want), "SIP/2.0 200 OK\r\n");
	for (int i = 0; i < 4; i++) {
		const char *s = strstr(orig, lines[i]) + 2, *e = strstr(s, "\r\n") + 2;
		memcpy(want + w, s, (size_t)(e - s));
		w += (size_t)(e - s);
		if (i == 1) { /* To, with our tag */
			const char *t = strstr(orig, "\r\nTo: ") + 2, *te = strstr(t, "\r\n");
			memcpy(want + w, t, (size_t)(te - t));
			w += (size_t)(te - t);
			w += (size_t)snprintf(want + w, sizeof(want) - w, ";tag=vd");
			const char *tag = strstr(reply(), ";tag=vd") + 7;
			memcpy(want + w, tag, 16);
			w += 16;
			w += (size_t)snprintf(want + w, sizeof(want) - w, "\r\n");
		}
	}
	w += (size_t)snprintf(want + w, sizeof(want) - w,
			      "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, "
			      "SUBSCRIBE, NOTIFY, MESSAGE, INFO, REFER, PUBLISH\r\n"
			      "Accept: application/sdp\r\nAccept-Encoding: identity\r\n"
			      "Accept-Language: en\r\nSupported:\r\n"
			      "Server: viaduct\r\nContent-Length: 0\r\n\r\n");
	cr_expect_str_eq(reply(), want);
	free(orig);
	corpus_free(&m);
}

Test(proxy, options_to_a_user_is_forwarded)
{
	struct corpus_msg m = run_file("good/28-options-user.sip", "192.168.1.15", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_geq(res.member, 0);
	corpus_free(&m);
}

Test(proxy, every_malformed_request_is_answered_and_every_malformed_response_dropped)
{
	FILE *f = manifest_open();
	struct manifest_entry me;
	while (manifest_next(f, &me)) {
		const char *file = me.file, *what = me.what, *reason = me.reason;
		char rel[160], status[160];
		snprintf(rel, sizeof(rel), "bad/%s", file);
		struct corpus_msg m = run_file(rel, "192.168.1.15", 5060);
		if (strcmp(what, "drop") == 0) {
			cr_expect_eq(res.verdict, VD_VERDICT_DROP, "%s", file);
			cr_expect_str_eq(vd_drop_name((enum vd_drop)res.drop), reason, "%s", file);
		} else {
			cr_assert_eq(res.verdict, VD_VERDICT_REPLY, "%s", file);
			snprintf(status, sizeof(status), "SIP/2.0 %s %s\r\n", what, reason);
			cr_expect(strncmp(reply(), status, strlen(status)) == 0, "%s: %s", file,
				  reply());
			cr_expect(strstr(reply(), "\r\nContent-Length: 0\r\n\r\n"), "%s", file);
			if (scratch.msg.via.transport.p)
				expect_dst("192.168.1.15", scratch.msg.via.port ? scratch.msg.via.port : 5060);
			else /* no usable Via: back to the source */
				expect_dst("192.168.1.15", 5060);
		}
		corpus_free(&m);
	}
	fclose(f);
}

Test(proxy, reply_to_bad_request_keeps_dialog_headers_and_adds_a_to_tag)
{
	struct corpus_msg m = run_file("bad/max-forwards-not-number.sip", "192.168.1.15", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	const char *r = reply();
	cr_expect(strstr(r, "\r\nVia: "));
	cr_expect(strstr(r, "\r\nCall-ID: "));
	cr_expect(strstr(r, "\r\nCSeq: "));
	cr_expect(strstr(r, ";tag=vd"));
	char first[HARNESS_REPLY_CAP];
	strcpy(first, r);
	corpus_free(&m);
	m = run_file("bad/max-forwards-not-number.sip", "192.168.1.15", 5060);
	cr_expect_str_eq(reply(), first, "a retransmission gets the very same reply");
	corpus_free(&m);
}

Test(proxy, an_ack_is_never_answered)
{
	struct corpus_msg m = corpus_load("good/18-ack.sip");
	char *t = text_of(&m);
	char *z = replace(t, "Max-Forwards: 70", "Max-Forwards: 0");
	run_bytes(z, strlen(z), "192.168.1.15", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_BAD_ACK);
	free(z);
	z = replace(t, "CSeq: 1 ACK", "CSeq: x ACK");
	run_bytes(z, strlen(z), "192.168.1.15", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP, "malformed ACK: dropped, not answered");
	free(z);
	free(t);
	corpus_free(&m);
}

/* The ACK of a final response we generated carries our To-tag and the INVITE's branch: it ends
 * here (the pool never saw the INVITE). Any other ACK is forwarded as before. */
Test(proxy, ack_of_our_own_reply_is_absorbed_others_forwarded)
{
	struct corpus_msg m = corpus_load("good/18-ack.sip");
	char *ack = text_of(&m);
	char *a = replace(ack, "ACK sip:", "INVITE sip:");
	char *b = replace(a, "CSeq: 1 ACK", "CSeq: 1 INVITE");
	char *invite = replace(b, ";tag=123456789", "");
	free(a);
	free(b);
	cr_assert_eq(vd_proxy_member_state(&px, 0, 0, false, false), 0);
	cr_assert_eq(vd_proxy_member_state(&px, 0, 1, false, false), 0);
	run_bytes(invite, strlen(invite), "192.168.1.15", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_assert_eq(res.status, 503);
	const char *t = strstr(reply(), ";tag=vd");
	cr_assert_not_null(t, "%s", reply());
	char tag[32];
	snprintf(tag, sizeof(tag), ";tag=%.18s", t + 5);

	char *ours = replace(ack, ";tag=123456789", tag);
	run_bytes(ours, strlen(ours), "192.168.1.15", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_ACK_ABSORBED, "drop %d", res.drop);

	/* members up again: the same ACK is still ours; a changed tag or branch is not */
	cr_assert_eq(vd_proxy_member_state(&px, 0, 0, true, false), 0);
	cr_assert_eq(vd_proxy_member_state(&px, 0, 1, true, false), 0);
	run_bytes(ours, strlen(ours), "192.168.1.15", 5060);
	cr_expect_eq(res.drop, VD_DROP_ACK_ABSORBED);
	tag[strlen(tag) - 1] = tag[strlen(tag) - 1] == '0' ? '1' : '0';
	char *other = replace(ack, ";tag=123456789", tag);
	run_bytes(other, strlen(other), "192.168.1.15", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "a To-tag one digit off is not ours");
	char *branch = replace(ours, "z9hG4bK3608780455smg", "z9hG4bK3608780455smh");
	run_bytes(branch, strlen(branch), "192.168.1.15", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "another transaction's ACK is not ours");
	run_bytes(ack, strlen(ack), "192.168.1.15", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "the UAS's To-tag: forwarded");
	free(branch);
	free(other);
	free(ours);
	free(invite);
	free(ack);
	corpus_free(&m);
}

Test(proxy, no_member_up_gives_503_with_retry_after)
{
	cr_assert_eq(vd_proxy_member_state(&px, 0, 0, false, false), 0);
	cr_assert_eq(vd_proxy_member_state(&px, 0, 1, false, false), 0);
	struct corpus_msg m = run_file("good/26-message.sip", "192.168.1.15", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 503);
	cr_expect(strstr(reply(), "\r\nRetry-After: 5\r\n"), "%s", reply());
	corpus_free(&m);
}

Test(proxy, response_loses_exactly_our_via_value_and_goes_to_the_next)
{
	struct corpus_msg m = corpus_load("good/37-response-multivia.sip");
	char *t = text_of(&m);
	char *want = replace(t, "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-vd-test, ", "");
	/* the corpus file's placeholder branch, replaced by the one we would have written */
	char *resp = replace(t, "z9hG4bK-vd-test", branch_for_response(want));
	run_text(resp, "127.0.0.1", 5070);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	expect_dst("127.0.0.1", 5070);
	cr_expect_str_eq(out(), want);
	/* the placeholder itself is no branch of ours: a forged response */
	run_bytes(m.buf, m.len, "127.0.0.1", 5070);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_FORGED_RESPONSE);
	free(resp);
	free(want);
	free(t);
	corpus_free(&m);
}

Test(proxy, responses_not_for_us_or_without_a_next_via_are_dropped)
{
	struct corpus_msg m = run_file("good/15-100-trying.sip", "127.0.0.1", 5070);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_VIA_NOT_OURS);
	corpus_free(&m);
	static const char only_ours[] = "SIP/2.0 200 OK\r\n"
					"Via: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKvd1\r\n"
					"From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
					"Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	run_bytes(only_ours, sizeof(only_ours) - 1, "127.0.0.1", 5070);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_NO_NEXT_VIA);
}

/* A UAS's answer: the request's Via lines copied, as RFC 3261 8.2.6 says. */
static size_t uas_response(const char *req, char *resp, size_t cap)
{
	size_t w = (size_t)snprintf(resp, cap, "SIP/2.0 200 OK\r\n");
	for (const char *p = strstr(req, "\r\n") + 2; strncmp(p, "\r\n", 2); p = strstr(p, "\r\n") + 2)
		if (strncmp(p, "Via: ", 5) == 0) {
			size_t n = (size_t)(strstr(p, "\r\n") + 2 - p);
			memcpy(resp + w, p, n);
			w += n;
		}
	w += (size_t)snprintf(resp + w, cap - w, "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
						 "Call-ID: rt\r\nCSeq: 1 REGISTER\r\n"
						 "Content-Length: 0\r\n\r\n");
	return w;
}

Test(proxy, response_round_trip_reaches_the_natted_client_by_rport)
{
	struct corpus_msg m = run_file("good/30-register-rport.sip", "203.0.113.7", 40123);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	char req[4096], resp[4096];
	strcpy(req, out());
	size_t n = uas_response(req, resp, sizeof(resp));
	run_bytes(resp, n, "127.0.0.1", 5070);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	expect_dst("203.0.113.7", 40123);
	cr_expect(strstr(out(), "\r\nVia: SIP/2.0/UDP ue.example.com:5062;rport=40123;") &&
			  !strstr(out(), "192.168.1.2"),
		  "only the client's Via is left: %s", out());
	corpus_free(&m);
}

Test(proxy, udp_bytes_past_content_length_are_not_forwarded)
{
	struct corpus_msg m = run_file("good/38-body-longer.sip", "192.168.1.15", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	const char *o = out(), *body = strstr(o, "\r\n\r\n") + 4;
	cr_expect_eq(strlen(body), 13, "body cut to Content-Length: %s", body);
	corpus_free(&m);
}

Test(proxy, bodies_and_content_length_are_byte_identical_for_every_good_request)
{
	char rel[256];
	for (int i = 1; i <= 41; i++) {
		char pattern[16];
		snprintf(pattern, sizeof(pattern), "%02d-", i);
		/* find the file with this number */
		char path[512];
		snprintf(path, sizeof(path), "ls %s/tests/corpus/good/%s*", VD_SOURCE_ROOT, pattern);
		FILE *ls = popen(path, "r");
		char name[512];
		cr_assert(fgets(name, sizeof(name), ls));
		pclose(ls);
		name[strcspn(name, "\n")] = '\0';
		snprintf(rel, sizeof(rel), "good/%s", strrchr(name, '/') + 1);
		struct corpus_msg m = run_file(rel, "192.168.1.15", 5060);
		if (res.verdict != VD_VERDICT_FORWARD || !scratch.msg.is_request) {
			corpus_free(&m);
			continue;
		}
		const struct vd_sip_msg *s = &scratch.msg;
		uint32_t body_len = s->body_len;
		cr_expect_eq(pkt.len >= body_len, 1);
		cr_expect(memcmp(pkt.base + pkt.off + pkt.len - body_len, m.buf + s->body_off,
				 body_len) == 0,
			  "%s body", rel);
		uint16_t cl = s->first[VD_H_CONTENT_LENGTH];
		if (cl != VD_SIP_NO_HDR) {
			char line[64];
			uint32_t ll = s->hdrs[cl].line_end - s->hdrs[cl].line_off;
			memcpy(line, m.buf + s->hdrs[cl].line_off, ll);
			line[ll] = '\0';
			cr_expect(strstr(out(), line), "%s keeps \"%s\"", rel, line);
		}
		corpus_free(&m);
	}
}

Test(proxy, too_little_headroom_and_oversize_are_counted_drops)
{
	struct corpus_msg m = corpus_load("good/26-message.sip");
	union vd_sockaddr src = fixture_addr("192.168.1.15", 5060);
	memcpy(pktmem + 8, m.buf, m.len);
	pkt = (struct vd_pktbuf){ pktmem, sizeof(pktmem), 8, (uint32_t)m.len };
	vd_proxy_process(&px, &pkt, &src, 0, &scratch, &res);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_NO_ROOM);
	px.max_message_size = 100;
	run_bytes(m.buf, m.len, "192.168.1.15", 5060);
	cr_expect_eq(res.drop, VD_DROP_TOO_LARGE);
	corpus_free(&m);
}

/* received= is written by our own formatter (no sprintf per message): it must write what
 * inet_ntop writes for every address shape (RFC 5952 "::" choice, mapped/compatible IPv4). */
Test(proxy, ip_text_matches_inet_ntop)
{
	static const char *const edge[] = {
		"::", "::1", "1::", "::2:0:0:3", "1:0:0:2:0:0:0:3", "1:0:0:2:0:0:3:4", "1:0::",
		"0:1:0:1:0:1:0:1", "::ffff:1.2.3.4", "::1.2.3.4", "::fffe:1.2.3.4", "64:ff9b::1.2.3.4",
		"fd00:200::2", "2001:db8:0:0:1:0:0:1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"1:2:3:4:5:6:7:8", "0:0:0:0:0:0:0:1", "::ffff:0.0.0.0", "::0.0.1.0", "a:b:c:d::",
	};
	char want[INET6_ADDRSTRLEN], got[64];
	union vd_sockaddr a = { .in6 = { .sin6_family = AF_INET6 } };
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		cr_assert_eq(inet_pton(AF_INET6, edge[i], &a.in6.sin6_addr), 1, "%s", edge[i]);
		inet_ntop(AF_INET6, &a.in6.sin6_addr, want, sizeof(want));
		uint32_t n = vd_addr_ip_text(&a, got);
		got[n] = '\0';
		cr_expect_str_eq(got, want, "%s", edge[i]);
	}
	/* random addresses, each group zero with probability 1/2: every run layout */
	srand(4242);
	for (int k = 0; k < 50000; k++) {
		for (int g = 0; g < 8; g++) {
			uint16_t v = rand() & 1 ? 0 : (uint16_t)(rand() >> (rand() % 16));
			a.in6.sin6_addr.s6_addr[2 * g] = (uint8_t)(v >> 8);
			a.in6.sin6_addr.s6_addr[2 * g + 1] = (uint8_t)v;
		}
		inet_ntop(AF_INET6, &a.in6.sin6_addr, want, sizeof(want));
		uint32_t n = vd_addr_ip_text(&a, got);
		got[n] = '\0';
		if (strcmp(got, want) != 0)
			cr_assert_fail("got %s, inet_ntop writes %s", got, want);
	}
	a = (union vd_sockaddr){ .in = { .sin_family = AF_INET } };
	for (unsigned k = 0; k < 100000; k++) {
		a.in.sin_addr.s_addr = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
		inet_ntop(AF_INET, &a.in.sin_addr, want, sizeof(want));
		uint32_t n = vd_addr_ip_text(&a, got);
		got[n] = '\0';
		if (strcmp(got, want) != 0)
			cr_assert_fail("got %s, inet_ntop writes %s", got, want);
	}
}

/* IPv6 host text goes through our own parser (no inet_pton copy per message): same verdict
 * and bytes as inet_pton(AF_INET6) on edge cases, on printed addresses and on random text. */
static void expect_ip6_like_inet_pton(const char *text)
{
	char host[128];
	size_t n = strlen(text);
	host[0] = '[';
	memcpy(host + 1, text, n);
	host[n + 1] = ']';
	struct in6_addr want;
	union vd_sockaddr got;
	bool ok = vd_addr_from_host((struct vd_slice){ host, (uint32_t)n + 2 }, VD_HOST_IPV6, 5060,
				    &got);
	bool ref = n <= 46 && inet_pton(AF_INET6, text, &want) == 1;
	if (ok != ref)
		cr_assert_fail("\"%s\": ours %d, inet_pton %d", text, ok, ref);
	if (ok && memcmp(&got.in6.sin6_addr, &want, 16) != 0)
		cr_assert_fail("\"%s\": other bytes than inet_pton", text);
}

Test(addr, ipv6_host_parse_matches_inet_pton)
{
	static const char *const edge[] = {
		"::", ":", ":::", "::1", "1::", "1:", ":1", "1::2::3", "::1:2:3:4:5:6:7",
		"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::",
		"::1:2:3:4:5:6:7:8", "12345::", "ffff::fffff", "FFFF::abcd", "::ffff:1.2.3.4",
		"::1.2.3.4", "1.2.3.4", "::1.2.3.04", "::1.2.3", "::1.2.3.4.5", "::1.2.3.256",
		"::1..2.3", "::1.2.3.4:", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
		"1:2:3:4:5::1.2.3.4", "::a.2.3.4", "::0.0.0.0", "::00.0.0.0", "fd00:201::2", "g::",
		"1:2:3:4:5:6:7:", "::1:", "1::2:", "", "0000:0000:0000:0000:0000:0000:0000:0001",
		"::ffff:255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
	};
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		expect_ip6_like_inet_pton(edge[i]);
	char text[64];
	struct in6_addr a;
	srand(606);
	for (int k = 0; k < 100000; k++) { /* printed addresses, then one byte changed */
		for (int g = 0; g < 16; g++)
			a.s6_addr[g] = rand() & 1 ? 0 : (uint8_t)rand();
		if (k % 5 == 0)
			memcpy(a.s6_addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		inet_ntop(AF_INET6, &a, text, sizeof(text));
		expect_ip6_like_inet_pton(text);
		size_t n = strlen(text);
		text[(size_t)rand() % n] = "0123456789abcdefABCDEF:.:.g"[rand() % 27];
		expect_ip6_like_inet_pton(text);
	}
	for (int k = 0; k < 300000; k++) { /* random text from the bytes an IPv6 host may hold */
		size_t n = (size_t)rand() % 48;
		for (size_t i = 0; i < n; i++)
			text[i] = k & 1 ? "0123456789abcdefABCDEF:.:::..x"[rand() % 30]
					: "0f:.1:2"[rand() % 7];
		text[n] = '\0';
		expect_ip6_like_inet_pton(text);
	}
}
