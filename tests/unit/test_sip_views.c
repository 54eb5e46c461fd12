/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scanner tests over the good messages of the corpus (tests/corpus/good):
 *  - the exact view of every good message (golden table, checked by hand against the files);
 *  - every prefix of every message (truncated datagrams) never reads past the end and never
 *    passes as complete; bytes fed one at a time give the same view as the whole message;
 *  - header names: full and compact forms, case, folding, multi-value Via/Route, long and odd
 *    names, tag and branch parameters in any case.
 * Shared limits and view: tests/support/sip_fixture.h.
 */
#include <criterion/criterion.h>

#include "sip_fixture.h"

struct view {
	const char *file;
	int is_request;
	const char *method;
	int status;
	const char *via_host;
	int via_port;
	const char *branch;
	unsigned via_count;
	const char *call_id;
	unsigned cseq;
	const char *from_tag;
	const char *to_tag;
	long content_length;
	int max_forwards;
	unsigned n_hdrs;
};

/* One row per good message: what a reader of the file sees. */
static const struct view views[] = {
	{ "01-register-compact-ipv6.sip", 1, "REGISTER", 0, "[2001::21f:29ff:fe7c:8f51]", 5060, "z9hG4bK656994275", 1, "2722997021_2363003016@2001::21f:29ff:fe7c:8f51", 575513373, "2722997041", NULL, 0, 70, 11 },
	{ "02-401-unauthorized.sip", 0, NULL, 401, "[2001::21f:29ff:fe7c:8f51]", 5060, "z9hG4bK656994275", 1, "2722997021_2363003016@2001::21f:29ff:fe7c:8f51", 575513373, "2722997041", "T3E04A4B5", 0, -1, 9 },
	{ "03-register-auth.sip", 1, "REGISTER", 0, "[2001::21f:29ff:fe7c:8f51]", 5060, "z9hG4bK843051065", 1, "2722997021_2363003016@2001::21f:29ff:fe7c:8f51", 575513374, "2722997284", NULL, 0, 70, 11 },
	{ "04-200-ok-register.sip", 0, NULL, 200, "[2001::21f:29ff:fe7c:8f51]", 5060, "z9hG4bK843051065", 1, "2722997021_2363003016@2001::21f:29ff:fe7c:8f51", 575513374, "2722997284", "T44F6AE74", 0, -1, 13 },
	{ "05-subscribe-reg.sip", 1, "SUBSCRIBE", 0, "10.133.202.46", 50997, "z9hG4bK2968d27245f17c7bcae38c31991bfdaa", 1, "d57a0b04-785ba328-13a4d876@10.133.202.46", 14534, "210a54", NULL, 0, 70, 14 },
	{ "06-200-subscribe.sip", 0, NULL, 200, "10.133.202.46", 50997, "z9hG4bK2968d27245f17c7bcae38c31991bfdaa", 1, "d57a0b04-785ba328-13a4d876@10.133.202.46", 14534, "210a54", "987654321", 0, -1, 9 },
	{ "07-notify-reginfo.sip", 1, "NOTIFY", 0, "10.133.202.47", 5060, "z9hG4bK-d1e4c4961ca9d523ae76b67e088589cd", 1, "d57a0b04-785ba328-13a4d876@10.133.202.46", 14534, "987654321", "210a54", 355, 70, 11 },
	{ "08-200-notify.sip", 0, NULL, 200, "10.133.202.47", 5060, "z9hG4bK-d1e4c4961ca9d523ae76b67e088589cd", 1, "d57a0b04-785ba328-13a4d876@10.133.202.46", 14534, "987654321", "210a54", 0, 70, 9 },
	{ "09-deregister.sip", 1, "REGISTER", 0, "10.133.202.46", 5060, "z9hG4bK428556305", 1, "589636508_2363003488@10.133.202.46", 589636509, "589636628", NULL, 0, 70, 11 },
	{ "10-register-sharetechnote.sip", 1, "REGISTER", 0, "192.168.1.15", 5060, "z9hG4bK3933794001smg", 1, "500949143@192.168.1.15", 1, "2504745718", NULL, 0, 70, 12 },
	{ "11-200-register.sip", 0, NULL, 200, "192.168.1.15", 5060, "z9hG4bK3933794001smg", 1, "500949143@192.168.1.15", 1, "2504745718", "987654321", 0, -1, 9 },
	{ "12-subscribe.sip", 1, "SUBSCRIBE", 0, "10.133.202.46", 50997, "z9hG4bK2968d27245f17c7bcae38c31991bfdaa", 1, "d57a0b04-785ba328-13a4d876@10.133.202.46", 14534, "210a54", NULL, 0, 70, 10 },
	{ "13-notify.sip", 1, "NOTIFY", 0, "192.168.1.2", 5060, "z9hG4bK-fa1fec3c8c092d3c03c8555617fa1730", 1, "2489100824@192.168.1.15", 1, "987654321", "3855569531", 315, 70, 9 },
	{ "14-invite-sdp.sip", 1, "INVITE", 0, "192.168.1.15", 5060, "z9hG4bK3298736468smg", 1, "131949458@192.168.1.15", 1, "659747293", NULL, 285, 70, 15 },
	{ "15-100-trying.sip", 0, NULL, 100, "192.168.1.15", 5060, "z9hG4bK3298736468smg", 1, "131949458@192.168.1.15", 1, "659747293", NULL, 0, -1, 6 },
	{ "16-180-ringing.sip", 0, NULL, 180, "192.168.1.15", 5060, "z9hG4bK3298736468smg", 1, "131949458@192.168.1.15", 1, "659747293", "123456789", 0, 70, 8 },
	{ "17-200-ok-sdp.sip", 0, NULL, 200, "192.168.1.15", 5060, "z9hG4bK3298736468smg", 1, "131949458@192.168.1.15", 1, "659747293", "123456789", 135, 70, 11 },
	{ "18-ack.sip", 1, "ACK", 0, "192.168.1.15", 5060, "z9hG4bK3608780455smg", 1, "131949458@192.168.1.15", 1, "659747293", "123456789", 0, 70, 9 },
	{ "19-bye.sip", 1, "BYE", 0, "192.168.1.15", 5060, "z9hG4bK864033094smg", 1, "131949458@192.168.1.15", 2, "659747293", "123456789", 0, 70, 9 },
	{ "20-cancel.sip", 1, "CANCEL", 0, "192.168.1.15", 5060, "z9hG4bK3298736468smg", 1, "131949458@192.168.1.15", 1, "659747293", NULL, 0, 70, 8 },
	{ "21-487-request-terminated.sip", 0, NULL, 487, "192.168.1.15", 5060, "z9hG4bK3298736468smg", 1, "131949458@192.168.1.15", 1, "659747293", "123456789", 0, -1, 6 },
	{ "22-ack-non2xx.sip", 1, "ACK", 0, "192.168.1.15", 5060, "z9hG4bK3298736468smg", 1, "131949458@192.168.1.15", 1, "659747293", "123456789", 0, 70, 8 },
	{ "23-183-session-progress.sip", 0, NULL, 183, "192.168.1.15", 5060, "z9hG4bK3298736470smg", 1, "131949470@192.168.1.15", 1, "659747301", "987654321", 325, -1, 14 },
	{ "24-prack.sip", 1, "PRACK", 0, "192.168.1.15", 5060, "z9hG4bK3298736471smg", 1, "131949470@192.168.1.15", 2, "659747301", "987654321", 0, 70, 10 },
	{ "25-update.sip", 1, "UPDATE", 0, "192.168.1.15", 5060, "z9hG4bK3298736472smg", 1, "131949470@192.168.1.15", 3, "659747301", "987654321", 333, 70, 11 },
	{ "26-message.sip", 1, "MESSAGE", 0, "192.168.1.15", 5060, "z9hG4bK1180322745smg", 1, "131950012@192.168.1.15", 1, "659748120", NULL, 39, 70, 10 },
	{ "27-options-keepalive.sip", 1, "OPTIONS", 0, "127.0.0.1", 5070, "z9hG4bK-ka-6e21f0c3", 1, "ka-0c9d2e41@127.0.0.1", 1, "ka7731", NULL, 0, 70, 9 },
	{ "28-options-user.sip", 1, "OPTIONS", 0, "192.168.1.15", 5060, "z9hG4bK2210458831smg", 1, "2210458830@192.168.1.15", 1, "885301447", NULL, 0, 70, 9 },
	{ "29-invite-multivia.sip", 1, "INVITE", 0, "scscf.ims.example.com", 6060, "z9hG4bKs7f3a90c12e4", 3, "131949480@192.168.1.15", 1, "659747320", NULL, 333, 68, 15 },
	{ "30-register-rport.sip", 1, "REGISTER", 0, "ue.example.com", 5062, "z9hG4bK5f1c39d2a7", 1, "8d2f07c1e6b54a93@ue.example.com", 1, "4fa3b21c", NULL, 0, 70, 12 },
	{ "31-info.sip", 1, "INFO", 0, "192.168.1.15", 5060, "z9hG4bK3298736474smg", 1, "131949470@192.168.1.15", 4, "659747301", "987654321", 24, 70, 11 },
	{ "32-refer.sip", 1, "REFER", 0, "192.168.1.15", 5060, "z9hG4bK3298736475smg", 1, "131949470@192.168.1.15", 5, "659747301", "987654321", 0, 70, 12 },
	{ "33-publish.sip", 1, "PUBLISH", 0, "192.168.1.15", 5060, "z9hG4bK4402917753smg", 1, "4402917750@192.168.1.15", 1, "773920115", NULL, 278, 70, 10 },
	{ "34-extension-method.sip", 1, "FOOBAR", 0, "192.168.1.15", 5060, "z9hG4bK5503028864smg", 1, "5503028860@192.168.1.15", 1, "381022907", NULL, 0, 70, 7 },
	{ "35-options-max-forwards-0.sip", 1, "OPTIONS", 0, "192.168.1.15", 5060, "z9hG4bK2210458835smg", 1, "2210458834@192.168.1.15", 1, "885301451", NULL, 0, 0, 8 },
	{ "36-invite-no-max-forwards.sip", 1, "INVITE", 0, "192.168.1.15", 5060, "z9hG4bK3298736490smg", 1, "131949490@192.168.1.15", 1, "659747330", NULL, 333, -1, 11 },
	{ "37-response-multivia.sip", 0, NULL, 200, "127.0.0.1", 5060, "z9hG4bK-vd-test", 3, "131949495@192.168.1.15", 1, "659747340", "5521907", 325, -1, 13 },
	{ "38-body-longer.sip", 1, "MESSAGE", 0, "192.168.1.15", 5060, "z9hG4bK1180322750smg", 1, "131950020@192.168.1.15", 1, "659748125", NULL, 13, 70, 9 },
	{ "39-compact-all.sip", 1, "REFER", 0, "192.168.1.15", 5060, "z9hG4bK6604139975smg", 1, "6604139970@192.168.1.15", 1, "992014375", NULL, 40, 70, 21 },
	{ "40-mixed-case.sip", 1, "MESSAGE", 0, "192.168.1.15", 5060, "z9hG4bK1180322760smg", 1, "131950040@192.168.1.15", 1, "659748140", NULL, 13, 70, 8 },
	{ "41-ipv6-request.sip", 1, "INVITE", 0, "[2001:db8:10::2]", 5060, "z9hG4bK2f8a1c0e5d", 2, "2722997330_2363003016@2001::21f:29ff:fe7c:8f51", 1, "2722997301", NULL, 357, 69, 12 },
};

#define N_VIEWS (sizeof(views) / sizeof(views[0]))

Test(scan, every_good_message_gives_its_exact_view)
{
	char rel[256];
	cr_assert_eq(N_VIEWS, 41, "the corpus has 41 good messages");
	for (size_t i = 0; i < N_VIEWS; i++) {
		const struct view *v = &views[i];
		struct corpus_msg m;
		snprintf(rel, sizeof(rel), "good/%s", v->file);
		cr_assert_eq(scan_file(rel, &m), VD_SIP_OK, "%s", v->file);
		cr_expect_eq(msg.is_request, v->is_request, "%s", v->file);
		if (v->is_request)
			cr_expect(slice_is(msg.method_name, v->method), "%s method", v->file);
		cr_expect_eq(msg.status, v->status, "%s status", v->file);
		cr_expect(slice_is(msg.via.host, v->via_host), "%s via host", v->file);
		cr_expect_eq(msg.via.port, v->via_port, "%s via port", v->file);
		cr_expect(slice_is(msg.via.branch, v->branch), "%s branch", v->file);
		cr_expect(slice_is(msg.via.transport, "UDP"), "%s transport", v->file);
		cr_expect_eq(msg.via_count, v->via_count, "%s via count", v->file);
		cr_expect(slice_is(msg.call_id, v->call_id), "%s call-id", v->file);
		cr_expect_eq(msg.cseq, v->cseq, "%s cseq", v->file);
		cr_expect(slice_is(msg.from_tag, v->from_tag), "%s from tag", v->file);
		cr_expect(slice_is(msg.to_tag, v->to_tag), "%s to tag", v->file);
		cr_expect_eq(msg.content_length, v->content_length, "%s content-length", v->file);
		cr_expect_eq(msg.max_forwards, v->max_forwards, "%s max-forwards", v->file);
		cr_expect_eq(msg.n_hdrs, v->n_hdrs, "%s header count", v->file);
		/* the body is exactly Content-Length bytes right after the empty line */
		cr_expect_eq(msg.body_len, (uint32_t)v->content_length, "%s body", v->file);
		cr_expect_eq(msg.body_off + msg.body_len, msg.len, "%s length", v->file);
		cr_expect(memcmp(m.buf + msg.headers_end, "\r\n", 2) == 0, "%s blank line", v->file);
		corpus_free(&m);
	}
}

Test(scan, request_line_and_status_line)
{
	struct corpus_msg m;
	cr_assert_eq(scan_file("good/14-invite-sdp.sip", &m), VD_SIP_OK);
	cr_expect_eq(msg.method, VD_M_INVITE);
	cr_expect(slice_is(msg.ruri, "sip:+10123456789@ims.sharetechnote.com"));
	cr_expect_eq(msg.cseq_method, VD_M_INVITE);
	corpus_free(&m);

	cr_assert_eq(scan_file("good/16-180-ringing.sip", &m), VD_SIP_OK);
	cr_expect_not(msg.is_request);
	cr_expect_eq(msg.status, 180);
	cr_expect(slice_is(msg.reason, "Ringing"));
	corpus_free(&m);

	cr_assert_eq(scan_file("good/34-extension-method.sip", &m), VD_SIP_OK);
	cr_expect_eq(msg.method, VD_M_UNKNOWN, "extension methods scan as unknown");
	cr_expect(slice_is(msg.method_name, "FOOBAR"));
	cr_expect(slice_is(msg.cseq_method_name, "FOOBAR"));
	corpus_free(&m);
}

Test(scan, compact_forms_and_full_forms_map_to_the_same_kind)
{
	static const struct {
		const char *compact, *full;
		enum vd_sip_hdr kind;
	} forms[] = {
		{ "v", "Via", VD_H_VIA },
		{ "f", "From", VD_H_FROM },
		{ "t", "To", VD_H_TO },
		{ "i", "Call-ID", VD_H_CALL_ID },
		{ "m", "Contact", VD_H_CONTACT },
		{ "l", "Content-Length", VD_H_CONTENT_LENGTH },
		{ "c", "Content-Type", VD_H_CONTENT_TYPE },
		{ "e", "Content-Encoding", VD_H_CONTENT_ENCODING },
		{ "k", "Supported", VD_H_SUPPORTED },
		{ "s", "Subject", VD_H_SUBJECT },
		{ "o", "Event", VD_H_EVENT },
		{ "u", "Allow-Events", VD_H_ALLOW_EVENTS },
		{ "r", "Refer-To", VD_H_REFER_TO },
		{ "b", "Referred-By", VD_H_REFERRED_BY },
		{ "x", "Session-Expires", VD_H_SESSION_EXPIRES },
		{ "y", "Identity", VD_H_IDENTITY },
		{ "a", "Accept-Contact", VD_H_ACCEPT_CONTACT },
		{ "j", "Reject-Contact", VD_H_REJECT_CONTACT },
		{ "d", "Request-Disposition", VD_H_REQUEST_DISPOSITION },
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		cr_expect_eq(vd_sip_hdr_kind(forms[i].compact, 1), forms[i].kind, "%s",
			     forms[i].compact);
		char upper = (char)(forms[i].compact[0] - 32);
		cr_expect_eq(vd_sip_hdr_kind(&upper, 1), forms[i].kind, "%c", upper);
		cr_expect_eq(vd_sip_hdr_kind(forms[i].full, strlen(forms[i].full)), forms[i].kind,
			     "%s", forms[i].full);
	}
	cr_expect_eq(vd_sip_hdr_kind("cAlL-iD", 7), VD_H_CALL_ID);
	cr_expect_eq(vd_sip_hdr_kind("g", 1), VD_H_OTHER);
	cr_expect_eq(vd_sip_hdr_kind("P-Access-Network-Info", 21), VD_H_OTHER);
}

Test(scan, every_compact_form_in_one_message)
{
	struct corpus_msg m;
	cr_assert_eq(scan_file("good/39-compact-all.sip", &m), VD_SIP_OK);
	for (int k = VD_H_VIA; k < VD_H__COUNT; k++) {
		if (k == VD_H_ROUTE || k == VD_H_RECORD_ROUTE || k == VD_H_MAX_FORWARDS ||
		    k == VD_H_CSEQ || k == VD_H_PROXY_REQUIRE)
			continue; /* no compact form */
		cr_expect(msg.seen & (1u << k), "kind %d present through its compact form", k);
		cr_expect_eq(msg.hdrs[msg.first[k]].name.len, 1, "kind %d is compact", k);
	}
	/* lookup by full name finds the compact line */
	uint16_t i = vd_sip_find(&msg, "Content-Length", 14, 0);
	cr_assert_neq(i, VD_SIP_NO_HDR);
	cr_expect(slice_is(msg.hdrs[i].name, "l"));
	corpus_free(&m);
}

Test(scan, folded_header_value_spans_its_continuation_lines)
{
	struct corpus_msg m;
	cr_assert_eq(scan_file("good/01-register-compact-ipv6.sip", &m), VD_SIP_OK);
	uint16_t i = vd_sip_find(&msg, "authorization", 13, 0);
	cr_assert_neq(i, VD_SIP_NO_HDR);
	struct vd_slice v = msg.hdrs[i].value;
	cr_expect(v.len > 40 && memcmp(v.p, "Digest uri=\"sip:test.3gpp.com\",", 31) == 0);
	cr_expect(memcmp(v.p + v.len - 8, "nonce=\"\"", 8) == 0, "value ends at the last line");
	cr_expect(memchr(v.p, '\n', v.len) != NULL, "value keeps its folding");
	/* the next header starts after the last continuation line */
	cr_expect(slice_is(msg.hdrs[i + 1].name, "Expires"));
	corpus_free(&m);
}

Test(scan, odd_case_whitespace_around_colon_and_tab_folding)
{
	struct corpus_msg m;
	cr_assert_eq(scan_file("good/40-mixed-case.sip", &m), VD_SIP_OK);
	cr_expect(slice_is(msg.hdrs[msg.first[VD_H_VIA]].name, "vIa"));
	cr_expect(slice_is(msg.via.host, "192.168.1.15"));
	cr_expect(slice_is(msg.from_tag, "659748140"), "tag found after two folded lines");
	cr_expect(slice_is(msg.call_id, "131950040@192.168.1.15"));
	cr_expect_eq(msg.content_length, 13);
	corpus_free(&m);
}

Test(scan, multi_value_via_and_route)
{
	struct corpus_msg m;
	cr_assert_eq(scan_file("good/29-invite-multivia.sip", &m), VD_SIP_OK);
	cr_expect_eq(msg.via_count, 3);
	cr_expect(msg.via.more_in_line);
	cr_expect(slice_is(msg.via.host, "scscf.ims.example.com"));
	cr_expect_eq(msg.via.host_type, VD_HOST_FQDN);
	cr_expect(memcmp(m.buf + msg.via.value_end, ", SIP/2.0/UDP pcscf", 19) == 0,
		  "top value ends before the comma");
	cr_expect(msg.has_route);
	cr_expect(slice_is(msg.route.uri, "sip:as.ims.example.com;lr"));
	cr_expect(slice_is(msg.route.host, "as.ims.example.com"));
	cr_expect(msg.route.lr);
	cr_expect_eq(msg.route.port, 0);
	cr_expect(msg.route.more_in_line);
	cr_expect(msg.route.more_after);
	corpus_free(&m);
}

Test(scan, via_parameters_ipv6_received_rport_maddr)
{
	struct corpus_msg m;
	cr_assert_eq(scan_file("good/41-ipv6-request.sip", &m), VD_SIP_OK);
	cr_expect_eq(msg.via.host_type, VD_HOST_IPV6);
	cr_expect(slice_is(msg.via.host, "[2001:db8:10::2]"));
	cr_expect(slice_is(msg.via.received, "2001:db8:10::99"));
	cr_expect(slice_is(msg.via.rport, "1234"));
	corpus_free(&m);

	cr_assert_eq(scan_file("good/30-register-rport.sip", &m), VD_SIP_OK);
	cr_expect(msg.via.rport.p != NULL && msg.via.rport.len == 0, "rport without a value");
	cr_expect_eq(msg.via.port, 5062);
	cr_expect_eq(msg.via.host_type, VD_HOST_FQDN);
	corpus_free(&m);
}

Test(scan, udp_body_longer_than_content_length_is_cut)
{
	struct corpus_msg m;
	cr_assert_eq(scan_file("good/38-body-longer.sip", &m), VD_SIP_OK);
	cr_expect_eq(msg.body_len, 13);
	cr_expect_lt(msg.len, m.len, "bytes past Content-Length are not part of the message");
	cr_expect_eq(msg.len, msg.body_off + 13);
	corpus_free(&m);
}

/* --- truncation, byte-at-a-time --- */

static void scan_every_prefix(const char *rel)
{
	struct corpus_msg m = corpus_load(rel);
	cr_assert_eq(vd_sip_scan(m.buf, m.len, &limits, &msg), VD_SIP_OK);
	uint32_t full_body = msg.body_off;
	long cl = msg.content_length;
	for (size_t n = 0; n < m.len; n++) {
		char *p = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
		memcpy(p, m.buf, n);
		enum vd_sip_err e = vd_sip_scan(p, n, &limits, &msg);
		if (n < full_body)
			cr_expect_neq(e, VD_SIP_OK, "%s: prefix %zu passed as complete", rel, n);
		else if (n < full_body + (size_t)cl)
			cr_expect_eq(e, VD_SIP_E_BODY_TOO_SHORT, "%s: prefix %zu", rel, n);
		else /* only 38-body-longer has bytes past Content-Length: they are cut */
			cr_expect_eq(e, VD_SIP_OK, "%s: prefix %zu", rel, n);
		free(p);
	}
	corpus_free(&m);
}

Test(scan, every_prefix_of_every_good_message_is_incomplete)
{
	char rel[256];
	for (size_t i = 0; i < N_VIEWS; i++) {
		snprintf(rel, sizeof(rel), "good/%s", views[i].file);
		scan_every_prefix(rel);
	}
}

Test(scan, byte_at_a_time_reaches_the_same_view)
{
	/* Feed a growing buffer one byte at a time, as a stream reader would: the first length
	 * at which the scan succeeds is the full message, with the same view. */
	struct corpus_msg m = corpus_load("good/14-invite-sdp.sip");
	char *grow = malloc(m.len);
	size_t first_ok = 0;
	for (size_t n = 1; n <= m.len && !first_ok; n++) {
		grow[n - 1] = m.buf[n - 1];
		if (vd_sip_scan(grow, n, &limits, &msg) == VD_SIP_OK)
			first_ok = n;
	}
	cr_expect_eq(first_ok, m.len);
	cr_expect(slice_is(msg.call_id, "131949458@192.168.1.15"));
	cr_expect_eq(msg.body_len, 285);
	free(grow);
	corpus_free(&m);
}

/* --- header names and parameters the vector paths leave to the token loop --- */

Test(scan, long_and_odd_header_names_take_the_token_loop_s_view)
{
	/* names of 16..31 bytes are matched from a second vector; '_' and '.' are token bytes the
	 * vector name class leaves to the token loop; LWS before the colon too */
	static const char text[] = "OPTIONS sip:a@example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
				   "REQUEST-disposition: proxy\r\n"
				   "P-Asserted-Identity: <sip:a@example.com>\r\n"
				   "X-A-Very-Long-Header-Name-31ch: 1\r\n"
				   "X-Long_Name.With-Odd-Bytes: 2\r\n"
				   "X-Long-Name-Before-A-Space : 3\r\n"
				   "From: <sip:a@example.com>;tag=f\r\nTo: <sip:b@example.com>\r\n"
				   "Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	static const struct {
		const char *name;
		uint8_t kind;
	} want[] = {
		{ "Via", VD_H_VIA },
		{ "REQUEST-disposition", VD_H_REQUEST_DISPOSITION },
		{ "P-Asserted-Identity", VD_H_OTHER },
		{ "X-A-Very-Long-Header-Name-31ch", VD_H_OTHER },
		{ "X-Long_Name.With-Odd-Bytes", VD_H_OTHER },
		{ "X-Long-Name-Before-A-Space", VD_H_OTHER },
	};
	cr_assert_eq(vd_sip_scan(text, sizeof(text) - 1, &limits, &msg), VD_SIP_OK);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cr_expect(slice_is(msg.hdrs[i].name, want[i].name), "name %zu", i);
		cr_expect_eq(msg.hdrs[i].kind, want[i].kind, "kind %zu", i);
		cr_expect_eq(msg.hdrs[i].kind, vd_sip_hdr_kind(want[i].name, strlen(want[i].name)));
	}
	cr_expect(slice_is(msg.hdrs[4].value, "2"));
	cr_expect(slice_is(msg.hdrs[5].value, "3"));
}

Test(scan, tag_and_branch_names_in_any_case_and_near_misses)
{
	/* param_next matches "tag=" and "branch=" with one word compare: other cases, an LWS
	 * before '=' and longer names must still go the token loop's way */
	static const char text[] = "OPTIONS sip:a@example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP 192.0.2.1:5060;BRANCH=z9hG4bK-up;branchx=no\r\n"
				   "From: <sip:a@example.com>;tags=no;TaG=from-1\r\n"
				   "To: <sip:b@example.com>;tag =to-1\r\n"
				   "Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	cr_assert_eq(vd_sip_scan(text, sizeof(text) - 1, &limits, &msg), VD_SIP_OK);
	cr_expect(slice_is(msg.via.branch, "z9hG4bK-up"));
	cr_expect(slice_is(msg.from_tag, "from-1"));
	cr_expect(slice_is(msg.to_tag, "to-1"));
}
