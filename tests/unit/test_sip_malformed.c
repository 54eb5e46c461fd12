/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scanner tests over malformed input:
 *  - the verdict of every malformed message (tests/corpus/bad/MANIFEST) and the limits;
 *  - injected NUL/control/DEL bytes are refused, high-bit (UTF-8) bytes in values are not;
 *  - control bytes as quoted pairs, From/To that are no name-addr, request URIs in brackets or
 *    with LWS, a Via whose sent-by does not parse.
 * Shared limits and view: tests/support/sip_fixture.h.
 */
#include <criterion/criterion.h>

#include "sip_fixture.h"

/* --- malformed messages: tests/corpus/bad/MANIFEST --- */

Test(scan, every_bad_message_gets_its_manifest_verdict)
{
	FILE *f = manifest_open();
	struct manifest_entry me;
	int checked = 0;
	while (manifest_next(f, &me)) {
		const char *file = me.file, *what = me.what, *reason = me.reason;
		char rel[160];
		struct corpus_msg m;
		snprintf(rel, sizeof(rel), "bad/%s", file);
		enum vd_sip_err e = scan_file(rel, &m);
		cr_expect_neq(e, VD_SIP_OK, "%s must be refused", file);
		if (strcmp(what, "drop") == 0) {
			if (strcmp(reason, "not-sip") == 0)
				cr_expect_eq(e, VD_SIP_E_NOT_SIP, "%s", file);
			else
				cr_expect_not(msg.is_request, "%s is a response", file);
		} else {
			cr_expect_eq(vd_sip_err_code(e), atoi(what), "%s code", file);
			cr_expect_str_eq(vd_sip_err_reason(e), reason, "%s reason", file);
			cr_expect(msg.is_request, "%s can be answered", file);
		}
		corpus_free(&m);
		checked++;
	}
	fclose(f);
	cr_expect_geq(checked, 30, "the manifest lists the malformed corpus");
}

Test(scan, limits_are_verdicts)
{
	struct corpus_msg m = corpus_load("good/29-invite-multivia.sip");
	struct vd_sip_limits tight = { 96, 2 };
	cr_expect_eq(vd_sip_scan(m.buf, m.len, &tight, &msg), VD_SIP_E_TOO_MANY_VIAS);
	tight = (struct vd_sip_limits){ 8, 16 };
	cr_expect_eq(vd_sip_scan(m.buf, m.len, &tight, &msg), VD_SIP_E_TOO_MANY_HEADERS);
	cr_expect_eq(msg.n_hdrs, 8, "never more headers than the limit");
	corpus_free(&m);
}

/* --- injected bytes --- */

Test(scan, control_bytes_anywhere_in_the_headers_are_refused)
{
	static const unsigned char bad[] = { 0x00, 0x01, 0x08, 0x0b, 0x1b, 0x7f };
	struct corpus_msg m = corpus_load("good/19-bye.sip");
	cr_assert_eq(vd_sip_scan(m.buf, m.len, &limits, &msg), VD_SIP_OK);
	uint32_t sl_end = msg.start_line_end, hdr_end = msg.headers_end + 2;
	for (size_t b = 0; b < sizeof(bad); b++) {
		for (uint32_t i = 0; i < hdr_end; i++) {
			char *p = malloc(m.len);
			memcpy(p, m.buf, m.len);
			p[i] = (char)bad[b];
			enum vd_sip_err e = vd_sip_scan(p, m.len, &limits, &msg);
			if (i < sl_end)
				cr_expect_eq(e, VD_SIP_E_NOT_SIP, "0x%02x at %u", bad[b], i);
			else
				cr_expect_eq(e, VD_SIP_E_BAD_CHAR, "0x%02x at %u", bad[b], i);
			free(p);
		}
	}
	corpus_free(&m);
}

/* msg with `to` as the To value (binary-safe: n bytes) */
static enum vd_sip_err scan_with_to(const char *to, size_t n)
{
	static char buf[512];
	static const char head[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx\r\nTo: ";
	static const char tail[] = "\r\nFrom: <sip:a@example.com>;tag=1\r\n"
				   "Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	size_t len = 0;
	memcpy(buf, head, sizeof(head) - 1);
	len += sizeof(head) - 1;
	memcpy(buf + len, to, n);
	len += n;
	memcpy(buf + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	return vd_sip_scan(buf, len, &limits, &msg);
}
#define SCAN_TO(lit) scan_with_to(lit, sizeof(lit) - 1)

/* RFC 3261 25.1 quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): any control byte but LF/CR
 * escaped inside a quoted string is text (RFC 4475 3.1.1.2); anywhere else it is refused. */
Test(scan, control_bytes_as_quoted_pairs_in_a_display_name_are_text)
{
	cr_expect_eq(SCAN_TO("\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:b@example.com>;tag=9"),
		     VD_SIP_OK);
	cr_expect(slice_is(msg.to_tag, "9"));
	cr_expect_eq(SCAN_TO("\"a\\\\\" <sip:b@example.com>\\\x00"), VD_SIP_E_BAD_CHAR);
	cr_expect_eq(SCAN_TO("\"NUL:\x00\" <sip:b@example.com>"), VD_SIP_E_BAD_CHAR);
	cr_expect_eq(SCAN_TO("\\\x00 <sip:b@example.com>"), VD_SIP_E_BAD_CHAR);
	cr_expect_eq(SCAN_TO("\"a\\\\\x00\" <sip:b@example.com>"), VD_SIP_E_BAD_CHAR);
	cr_expect_eq(SCAN_TO("\"a\"\r\n \"\\\x00\" <sip:b@example.com>"), VD_SIP_OK);
	/* a folded line after the escaped byte: the value (and its tag) goes on */
	cr_expect_eq(SCAN_TO("\"\\\x00" "a\"\r\n <sip:b@example.com>;tag=7"), VD_SIP_OK);
	cr_expect(slice_is(msg.to_tag, "7"));
	cr_expect_eq(SCAN_TO("\"\\\x00" "a\"\r\n <sip:b@example.com>\x01"), VD_SIP_E_BAD_CHAR);
}

Test(scan, from_and_to_that_are_no_name_addr_are_malformed)
{
	cr_expect_eq(SCAN_TO("\"Mr. J. User <sip:j.user@example.com>"), VD_SIP_E_BAD_TO);
	cr_expect_eq(SCAN_TO("Watson, Thomas <sip:t.watson@example.org>"), VD_SIP_E_BAD_TO);
	cr_expect_eq(SCAN_TO("<sip:b@example.com"), VD_SIP_E_BAD_TO);
	cr_expect_eq(SCAN_TO("\"Watson, Thomas\" <sip:t.watson@example.org>"), VD_SIP_OK);
	cr_expect_eq(SCAN_TO("sip:b@example.com ; tag = 7"), VD_SIP_OK);
	cr_expect(slice_is(msg.to_tag, "7"));
}

/* msg with `line` as its request line */
static enum vd_sip_err scan_request_line(const char *line)
{
	static char buf[512];
	int n = snprintf(buf, sizeof(buf),
			 "%s\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx\r\n"
			 "To: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n"
			 "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
			 line);
	return vd_sip_scan(buf, (size_t)n, &limits, &msg);
}

Test(scan, request_uri_in_brackets_with_lws_or_headers_is_malformed)
{
	static const struct {
		const char *line;
		enum vd_sip_err e;
	} cases[] = {
		{ "INVITE sip:user@example.com SIP/2.0", VD_SIP_OK },
		{ "INVITE <sip:user@example.com> SIP/2.0", VD_SIP_E_BAD_REQUEST_URI },
		{ "INVITE sip:user@example.com; lr SIP/2.0", VD_SIP_E_BAD_REQUEST_URI },
		{ "INVITE sip:user@exa\tmple.com SIP/2.0", VD_SIP_E_BAD_REQUEST_URI },
		{ "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0",
		  VD_SIP_E_BAD_REQUEST_URI },
		{ "INVITE sips:example.com?subject=x SIP/2.0", VD_SIP_E_BAD_REQUEST_URI },
		/* '?' is legal in a user part (RFC 4475 3.1.1.2), and in other schemes */
		{ "INVITE sip:crazy?,/;;*:&it+has=1@example.com SIP/2.0", VD_SIP_OK },
		{ "INVITE sip:a?b@example.com?h=v SIP/2.0", VD_SIP_E_BAD_REQUEST_URI },
		/* an HT after a '?' of the user part is still LWS */
		{ "INVITE sip:a?b@exa\tmple.com SIP/2.0", VD_SIP_E_BAD_REQUEST_URI },
		{ "INVITE http://example.com/?q=1\tx SIP/2.0", VD_SIP_E_BAD_REQUEST_URI },
		{ "INVITE http://example.com/?q=1 SIP/2.0", VD_SIP_OK },
		/* separators, not the URI, are wrong: a bad request line */
		{ "INVITE  sip:user@example.com  SIP/2.0", VD_SIP_E_BAD_START_LINE },
		{ "INVITE sip:user@example.com SIP/2.0  ", VD_SIP_E_BAD_START_LINE },
		{ "INVITE  SIP/2.0", VD_SIP_E_BAD_START_LINE },
		{ "INVITE sip:user@example.com", VD_SIP_E_BAD_START_LINE },
		{ "INVITE sip:user@example.com SIP/3.0", VD_SIP_E_BAD_VERSION },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(scan_request_line(cases[i].line), cases[i].e, "%s: %s", cases[i].line,
			     vd_sip_err_name(scan_request_line(cases[i].line)));
}

Test(scan, high_bit_bytes_in_values_are_allowed)
{
	static const char utf8[] = "INVITE sip:b@example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx\r\n"
				   "From: \"J\xc3\xbcrgen\" <sip:a@example.com>;tag=1\r\n"
				   "To: <sip:b@example.com>\r\n"
				   "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	cr_expect_eq(vd_sip_scan(utf8, sizeof(utf8) - 1, &limits, &msg), VD_SIP_OK);
	cr_expect(slice_is(msg.from_tag, "1"));
}

Test(scan, a_via_that_fails_to_parse_is_not_reported_as_parsed)
{
	/* "Via: SIP/2.0/UDP ;branch=...": the protocol parses, the sent-by does not. Readers take
	 * via.transport.p != NULL to mean "a parsed top Via", so it must be cleared. */
	struct corpus_msg m;
	cr_assert_eq(scan_file("bad/via-no-sent-by.sip", &m), VD_SIP_E_BAD_VIA);
	cr_expect_null(msg.via.transport.p);
	corpus_free(&m);
}
