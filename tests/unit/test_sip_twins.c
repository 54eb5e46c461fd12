/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scanner's vector code against its scalar twins, on random and edge-case text: the SSE2
 * line classifier and cursor, the URI stop finder, the host classifier and header name matcher;
 * the host parser against a byte loop (near-IPv4 shapes at every length); URI and host parsing.
 */
#include <ctype.h>

#include <criterion/criterion.h>

#include "corpus.h"
#include "sip_internal.h"
#include "viaduct/sip.h"

static void random_text(char *buf, size_t n, unsigned *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		unsigned r = (*seed >> 16) & 0xff;
		/* mostly printable text, sometimes a stop byte, CR, HT or a high-bit byte */
		buf[i] = (char)(r < 200 ? 'a' + r % 26 : r);
	}
}

Test(scan, vector_uri_stop_agrees_with_its_scalar_twin)
{
	char buf[96];
	unsigned seed = 777;
	for (int round = 0; round < 20000; round++) {
		random_text(buf, sizeof(buf), &seed);
		for (size_t i = 0; i < sizeof(buf); i += 11) /* the two stop bytes, now and then */
			if ((seed >> (i % 16)) % 13 == 0)
				buf[i] = (seed & 1) ? '?' : '\t';
		size_t n = seed % 64, start = (seed >> 8) % 16;
		for (size_t rd = start + n; rd <= sizeof(buf); rd += 16)
			cr_assert_eq(vd_sip_uri_stop(buf + start, buf + start + n, buf + rd),
				     vd_sip_uri_stop_scalar(buf + start, buf + start + n),
				     "round %d", round);
	}
}

Test(scan, simd_block_classifier_agrees_with_its_scalar_twin)
{
	char buf[VD_EOL_BLOCK];
	unsigned seed = 12345;
	for (int round = 0; round < 50000; round++) {
		random_text(buf, sizeof(buf), &seed);
		cr_assert_eq(vd_eol_mask64(buf), vd_eol_mask_scalar(buf, sizeof(buf)), "round %d",
			     round);
	}
	for (size_t n = 0; n < VD_EOL_BLOCK; n++) { /* tails of every length */
		random_text(buf, sizeof(buf), &seed);
		cr_assert_eq(vd_eol_mask_tail(buf, n), vd_eol_mask_scalar(buf, n), "tail %zu", n);
	}
	for (unsigned c = 0; c < 256; c++) { /* every byte value in every lane */
		memset(buf, 'a', sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i += 7)
			buf[i] = (char)c;
		cr_assert_eq(vd_eol_mask64(buf), vd_eol_mask_scalar(buf, sizeof(buf)), "byte %u", c);
	}
}

Test(scan, line_cursor_agrees_with_the_scalar_finder)
{
	char buf[300];
	unsigned seed = 777;
	for (int round = 0; round < 5000; round++) {
		size_t n = 1 + (size_t)round % sizeof(buf);
		random_text(buf, n, &seed);
		struct vd_eol_cursor cur;
		vd_eol_init(&cur, buf + n);
		/* the scanner asks with increasing positions; sometimes it jumps back */
		for (size_t p = 0; p < n; p += 1 + (seed >> 20) % 23) {
			seed = seed * 1103515245u + 12345u;
			size_t q = (seed & 0xf) == 0 && p > 30 ? p - 30 : p;
			cr_assert_eq(vd_eol_next(&cur, buf + q), vd_find_eol_scalar(buf + q, buf + n),
				     "round %d pos %zu", round, q);
		}
	}
}

#if defined(__SSE2__)
/* The scanner's vector name matcher against vd_sip_hdr_kind(): every known name in random
 * case, each with one byte replaced by every byte value, and random candidates. */
static void expect_kind16_agrees(const char *p, unsigned len)
{
	char buf[16] = { 0 };
	memcpy(buf, p, len);
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)buf);
	cr_assert_eq(vd_hdr_kind16(buf, len, v), vd_sip_hdr_kind(buf, len), "%.*s", (int)len, buf);
}

Test(scan, vector_host_classifier_agrees_with_its_scalar_twin)
{
	char buf[16];
	unsigned seed = 99;
	for (int round = 0; round < 50000; round++) {
		random_text(buf, sizeof(buf), &seed);
		if (round & 1) /* hosts are mostly digits, dots, letters and dashes */
			for (size_t i = 0; i < sizeof(buf); i += 3)
				buf[i] = "0.9-_AZaz@[`{/:"[(seed >> (i % 16)) % 15];
		unsigned d1, d2;
		cr_assert_eq(vd_host_mask16(buf, &d1), vd_host_mask_scalar(buf, &d2), "round %d",
			     round);
		cr_assert_eq(d1, d2, "round %d", round);
	}
	for (unsigned c = 0; c < 256; c++) { /* every byte value in every lane */
		unsigned d1, d2;
		memset(buf, (int)c, sizeof(buf));
		cr_assert_eq(vd_host_mask16(buf, &d1), vd_host_mask_scalar(buf, &d2), "byte %u", c);
		cr_assert_eq(d1, d2, "byte %u", c);
	}
}

Test(scan, vector_name_matcher_agrees_with_vd_sip_hdr_kind)
{
	static const char *const names[] = { "via", "route", "record-route", "max-forwards",
		"call-id", "cseq", "from", "to", "content-length", "contact", "content-type",
		"supported", "subject", "event", "allow-events", "refer-to", "referred-by",
		"session-expires", "identity", "accept-contact", "reject-contact", "expires" };
	unsigned seed = 4242;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char buf[16];
		unsigned len = (unsigned)strlen(names[i]);
		cr_assert(len >= 2 && len < 16);
		for (unsigned c = 0; c < 256; c++) {
			for (unsigned j = 0; j < len; j++) {
				seed = seed * 1103515245u + 12345u;
				char b = names[i][j];
				buf[j] = (seed >> 16) & 1 && b >= 'a' && b <= 'z' ? (char)(b - 32) : b;
			}
			expect_kind16_agrees(buf, len);
			buf[c % len] = (char)c; /* every byte value at some position */
			expect_kind16_agrees(buf, len);
		}
	}
	for (int round = 0; round < 20000; round++) {
		char buf[16];
		random_text(buf, sizeof(buf), &seed);
		expect_kind16_agrees(buf, 2 + (unsigned)round % 14);
	}
}
#endif

/* Reference for the host parser's IPv4 test: four dot-separated octets, 1-3 digits, <= 255. */
static bool ref_ipv4(const char *p, size_t n)
{
	unsigned octets = 0, digits = 0, v = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (digits == 0 || digits > 3 || v > 255)
				return false;
			octets++;
			digits = v = 0;
		} else {
			v = v * 10 + (unsigned)(p[i] - '0');
			digits++;
		}
	}
	return octets == 4;
}

/* The host parser classifies 16 bytes a step (SSE2): same end and type as a byte loop. */
Test(scan, host_parse_agrees_with_a_byte_loop)
{
	static const char dotnum[] = "0123456789.", mixed[] = "0123456789.azAZ-_:;>@ ,/`{";
	char buf[80];
	unsigned seed = 5;
	for (int round = 0; round < 200000; round++) {
		size_t n = 1 + (size_t)round % 70;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			unsigned r = seed >> 16;
			buf[i] = (round & 1) && (r & 0x30) ? dotnum[r % 11] : mixed[r % 26];
		}
		size_t k = 0;
		bool dn = true;
		for (; k < n && (isalnum((unsigned char)buf[k]) || strchr("-._", buf[k])); k++)
			dn = dn && (isdigit((unsigned char)buf[k]) || buf[k] == '.');
		const char *p = buf;
		struct vd_slice host;
		uint8_t type;
		uint16_t port;
		bool ok = vd_sip_host_parse(&p, buf + n, &host, &type, &port);
		if (k == 0) {
			cr_assert(!ok, "round %d", round);
			continue;
		}
		if (k == n || buf[k] != ':')
			cr_assert(ok, "round %d", round);
		if (!ok)
			continue;
		cr_assert_eq(host.p, buf, "round %d", round);
		cr_assert_eq(host.len, k, "round %d: %.*s", round, (int)n, buf);
		cr_assert_eq(type, dn && ref_ipv4(buf, k) ? VD_HOST_IPV4 : VD_HOST_FQDN,
			     "round %d: %.*s", round, (int)k, buf);
	}
}

/* Near-IPv4 hosts (the dot-mask test of the first 16 bytes): 3-5 groups of 0-4 digits around
 * 200..299, one or two dots between them, then a port or a parameter, at every length. */
Test(scan, host_parse_ipv4_shapes_agree_with_a_byte_loop)
{
	char buf[48];
	unsigned seed = 17;
	for (int round = 0; round < 300000; round++) {
		size_t n = 0;
		seed = seed * 1103515245u + 12345u;
		unsigned groups = 3 + (seed >> 16) % 3 / 2 + ((seed >> 20) % 8 == 0);
		for (unsigned g = 0; g < groups && n < 20; g++) {
			seed = seed * 1103515245u + 12345u;
			unsigned r = seed >> 8, digits = (r % 16 == 0) ? 0 : (r % 16 == 1) ? 4 : 1 + r % 3;
			for (unsigned d = 0; d < digits; d++, r /= 7)
				buf[n++] = d == 0 && digits == 3 ? "12222229"[r % 8] : (char)('0' + r % 10);
			if (g + 1 < groups)
				for (unsigned dots = (r % 32 == 0) ? 2 : 1; dots; dots--)
					buf[n++] = '.';
		}
		size_t k = n;
		const char *tail = (round & 1) ? ":5060;branch=z9hG4bK" : ";lr>";
		memcpy(buf + n, tail, strlen(tail));
		n += strlen(tail);
		if (round & 2) /* also with fewer than 16 bytes readable: the byte loop */
			n = k + (size_t)(round >> 2) % 4;
		const char *p = buf;
		struct vd_slice host;
		uint8_t type;
		uint16_t port;
		bool ok = vd_sip_host_parse(&p, buf + n, &host, &type, &port);
		if (k == 0) {
			cr_assert(!ok, "round %d", round);
			continue;
		}
		if (n == k + 1 && buf[k] == ':') /* a port cut short to its colon */
			continue;
		cr_assert(ok, "round %d: %.*s", round, (int)n, buf);
		cr_assert_eq(host.len, k, "round %d: %.*s", round, (int)n, buf);
		cr_assert_eq(type, ref_ipv4(buf, k) ? VD_HOST_IPV4 : VD_HOST_FQDN, "round %d: %.*s",
			     round, (int)k, buf);
	}
}

Test(scan, uri_and_host_parsing)
{
	struct vd_slice host, maddr;
	uint8_t type;
	uint16_t port;
	bool user, lr;
	struct vd_slice uri = { "sip:+1234;npdi@[2001:db8::1]:5070;lr;maddr=10.0.0.9", 51 };
	cr_assert_eq(vd_sip_uri_parse(uri, &host, &type, &port, &user, &lr, &maddr), 0);
	cr_expect(slice_is(host, "[2001:db8::1]"));
	cr_expect_eq(type, VD_HOST_IPV6);
	cr_expect_eq(port, 5070);
	cr_expect(user);
	cr_expect(lr);
	cr_expect(slice_is(maddr, "10.0.0.9"));
	struct vd_slice tel = { "tel:+1234", 9 };
	cr_expect_eq(vd_sip_uri_parse(tel, &host, &type, &port, &user, &lr, &maddr), -1);
	struct vd_slice badport = { "sip:10.0.0.1:99999", 18 };
	cr_expect_eq(vd_sip_uri_parse(badport, &host, &type, &port, &user, &lr, &maddr), -1);
	struct vd_slice v4 = { "sip:10.0.0.1", 12 };
	cr_assert_eq(vd_sip_uri_parse(v4, &host, &type, &port, &user, &lr, &maddr), 0);
	cr_expect_eq(type, VD_HOST_IPV4);
	cr_expect_not(user);
	struct vd_slice notv4 = { "sip:10.0.0.256", 14 };
	cr_assert_eq(vd_sip_uri_parse(notv4, &host, &type, &port, &user, &lr, &maddr), 0);
	cr_expect_eq(type, VD_HOST_FQDN, "256 is no octet");
}
