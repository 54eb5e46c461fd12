/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fast paths against their scalar twins (STYLE.md, "SIMD is welcome with a scalar twin"):
 * the SSE2 classifiers and word compares of src/sip/sip_internal.h, the loops the scanner
 * builds on them, the header-name lookups (vector, words, and the byte loop over the name list)
 * and vd_put_hex64 (src/proxy/addr.c).
 *
 *  - Every byte value at every position. A 16-byte classifier decides each byte on its own (bit
 *    i depends on byte i only), so this is exhaustive for them; the word compares and name
 *    lookups get it too, on the strings they look for.
 *  - Every length 0..N of the loops built on them (line cursor, block tails, Request-URI stop),
 *    with the stop byte at every position; their start runs through every alignment.
 *  - Buffers that end where a PROT_NONE page begins: a load past the end crashes the test
 *    instead of reading a neighbour's bytes unseen (not every build has AddressSanitizer).
 *  - Random text, and every corpus message (good/, captured/, rfc4475/, bad/) at every offset,
 *    scanned at the page end whole and cut after every byte.
 *
 * The scalar twins compile in every build. Without SSE2 the SIMD forms do not exist; the loop
 * tests still run there, against the byte loops that take their place.
 */
#include <ctype.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "corpus.h"
#include "proxy_internal.h" /* vd_put_hex64 */
#include "sip_internal.h"

/* cr_assert_* in loops of millions: compare first, build the message only on a mismatch */
#define SAME(a, b, ...)                                                                     \
	do {                                                                                \
		if ((a) != (b))                                                             \
			cr_assert_fail(__VA_ARGS__);                                        \
	} while (0)

/* Two pages, the second PROT_NONE: at_end(src, n) puts n bytes so that the last one is the
 * last readable byte. Set up for every test (criterion runs each in its own process). */
static char *pages;
static size_t page;

static void guard_setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(pages != MAP_FAILED);
	cr_assert_eq(mprotect(pages + page, page, PROT_NONE), 0);
}

static void guard_teardown(void)
{
	munmap(pages, 2 * page);
}

static char *at_end(const void *src, size_t n)
{
	char *p = pages + page - n;
	memcpy(p, src, n);
	return p;
}

TestSuite(twin, .init = guard_setup, .fini = guard_teardown);

static void random_text(char *buf, size_t n, unsigned *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		unsigned r = (*seed >> 16) & 0xff;
		/* mostly printable text, sometimes a stop byte, CR, HT or a high-bit byte */
		buf[i] = (char)(r < 200 ? 'a' + r % 26 : r);
	}
}

/* The guard itself: what the tests below rely on to see an over-read. Under ASan the fault is
 * ASan's report and abort (abort_on_error=1, as scripts/test.sh runs it), not a SIGSEGV. */
#if defined(__SANITIZE_ADDRESS__)
#define GUARD_FAULT SIGABRT
#else
#define GUARD_FAULT SIGSEGV
#endif
Test(twin, a_read_past_the_page_end_faults, .signal = GUARD_FAULT)
{
	volatile const char *end = pages + page;
	(void)*end;
}

#if defined(__SSE2__)
/* Every 16-byte classifier on the 16 bytes at p against its twin; c is one more needle for
 * the byte compare (the byte under test). */
static void expect_classifiers_agree(const char *p, char c, const char *what, size_t at)
{
	static const char needles[] = { ':', '.', '\t', '?', '\n', '\0', '\x7f', '\x80', '\xff' };
	unsigned d1, d2;
	for (size_t i = 0; i < sizeof(needles); i++)
		SAME(vd_byte_mask16(p, needles[i]), vd_byte_mask_scalar(p, needles[i]),
		     "byte mask %d, %s %zu", needles[i], what, at);
	SAME(vd_byte_mask16(p, c), vd_byte_mask_scalar(p, c), "byte mask %d, %s %zu", c, what, at);
	SAME(vd_uri_stop_mask16(p), vd_uri_stop_mask_scalar(p), "uri stop mask, %s %zu", what, at);
	SAME(vd_name_mask16(p), vd_name_mask_scalar(p), "name mask, %s %zu", what, at);
	SAME(vd_host_mask16(p, &d1), vd_host_mask_scalar(p, &d2), "host mask, %s %zu", what, at);
	SAME(d1, d2, "host dotnum mask, %s %zu", what, at);
	SAME(vd_eol_mask16(p), vd_eol_mask_scalar(p, 16), "eol mask, %s %zu", what, at);
}

/* Exhaustive: every byte value in every lane, over backgrounds of the classes the masks tell
 * apart, at every alignment and as the last 16 bytes before the guard page. */
Test(twin, classifiers_every_byte_value_in_every_lane)
{
	static const char *const text[] = { "sip:bob@10.0.0.1", "Content-Length: ",
					    "\r\n\t ?:.-_@;=<>,\"", "Zz09-._AZaz@[`{/" };
	char bg[4 + 4][16];
	memset(bg[0], 'a', 16);
	memset(bg[1], '0', 16);
	memset(bg[2], 0, 16);
	memset(bg[3], 0xff, 16);
	for (size_t k = 0; k < 4; k++)
		memcpy(bg[4 + k], text[k], 16);
	_Alignas(16) char buf[32];
	for (size_t b = 0; b < sizeof(bg) / sizeof(bg[0]); b++)
		for (size_t pos = 0; pos < 16; pos++)
			for (unsigned c = 0; c < 256; c++) {
				char w[16];
				memcpy(w, bg[b], 16);
				w[pos] = (char)c;
				for (size_t a = 0; a < 16; a++) {
					memcpy(buf + a, w, 16);
					expect_classifiers_agree(buf + a, (char)c, "alignment", a);
				}
				expect_classifiers_agree(at_end(w, 16), (char)c, "page end, lane",
							 pos);
			}
}

Test(twin, classifiers_on_random_text)
{
	char buf[16];
	unsigned seed = 99;
	for (int round = 0; round < 50000; round++) {
		random_text(buf, sizeof(buf), &seed);
		if (round & 1) /* hosts are mostly digits, dots, letters and dashes */
			for (size_t i = 0; i < sizeof(buf); i += 3)
				buf[i] = "0.9-_AZaz@[`{/:"[(seed >> (i % 16)) % 15];
		expect_classifiers_agree(buf, buf[round % 16], "round", (size_t)round);
	}
}
#endif

/* The 64-byte block and the tails of every length (their last load overlaps the chunk before
 * and ends at the guard page), with every byte value at every position. */
Test(twin, line_blocks_and_tails_every_length_every_byte_at_the_page_end)
{
	char text[VD_EOL_BLOCK];
	for (size_t n = 0; n <= VD_EOL_BLOCK; n++)
		for (size_t pos = 0; pos < (n ? n : 1); pos++)
			for (unsigned c = 0; c < 256; c++) {
				memset(text, 'a', n);
				if (n)
					text[pos] = (char)c;
				const char *p = at_end(text, n);
				uint64_t got = n == VD_EOL_BLOCK ? vd_eol_mask64(p)
								 : vd_eol_mask_tail(p, n);
				SAME(got, vd_eol_mask_scalar(p, n), "n %zu, byte %u at %zu", n, c,
				     pos);
			}
	char buf[VD_EOL_BLOCK];
	unsigned seed = 12345;
	for (int round = 0; round < 50000; round++) {
		random_text(buf, sizeof(buf), &seed);
		SAME(vd_eol_mask64(buf), vd_eol_mask_scalar(buf, sizeof(buf)), "round %d", round);
		size_t n = (size_t)round % VD_EOL_BLOCK;
		SAME(vd_eol_mask_tail(buf, n), vd_eol_mask_scalar(buf, n), "round %d tail %zu",
		     round, n);
	}
}

/*
 * The cursor over buffers of every length up to 160 that end at the guard page (so their
 * start runs through every alignment), one stop byte at every position (or none; a CR, which
 * is no stop, now and then), asked at every position in turn as the scanner does; then random
 * text with jumps back.
 */
Test(twin, line_cursor_every_length_every_stop_position)
{
	static const char stops[] = { '\n', '\0', '\x7f', '\r', '\x1f' };
	char text[160];
	for (size_t n = 0; n <= sizeof(text); n++)
		for (size_t s = 0; s <= n; s++) {
			memset(text, 'x', n);
			if (s < n)
				text[s] = stops[(n + s) % sizeof(stops)];
			const char *p = at_end(text, n), *end = p + n;
			struct vd_eol_cursor cur;
			vd_eol_init(&cur, end);
			for (size_t q = 0; q <= n; q++)
				SAME(vd_eol_next(&cur, p + q), vd_find_eol_scalar(p + q, end),
				     "n %zu stop %zu, asked at %zu", n, s, q);
		}
	char buf[300];
	unsigned seed = 777;
	for (int round = 0; round < 5000; round++) {
		size_t n = 1 + (size_t)round % sizeof(buf);
		random_text(buf, n, &seed);
		const char *p = at_end(buf, n);
		struct vd_eol_cursor cur;
		vd_eol_init(&cur, p + n);
		for (size_t q = 0; q < n; q += 1 + (seed >> 20) % 23) {
			seed = seed * 1103515245u + 12345u;
			size_t r = (seed & 0xf) == 0 && q > 30 ? q - 30 : q; /* a jump back */
			SAME(vd_eol_next(&cur, p + r), vd_find_eol_scalar(p + r, p + n),
			     "round %d pos %zu", round, r);
		}
	}
}

/*
 * The Request-URI stop: every URI length up to 80, readable bytes past its end (rd) from none
 * to two vectors' worth, and the stop byte at every position, inside the URI or after its end
 * (where it must not count); the readable end is the guard page. Then random text.
 */
Test(twin, uri_stop_every_length_read_limit_and_stop_position)
{
	static const size_t slack[] = { 0, 1, 15, 16, 17, 31, 32 };
	char text[80 + 32];
	for (size_t k = 0; k < sizeof(slack) / sizeof(slack[0]); k++)
		for (size_t n = 0; n <= 80; n++) {
			size_t total = n + slack[k];
			for (size_t s = 0; s <= total; s++)
				for (int which = 0; which < 2; which++) {
					memset(text, 'u', total);
					if (s < total)
						text[s] = which ? '?' : '\t';
					const char *u = at_end(text, total);
					SAME(vd_sip_uri_stop(u, u + n, u + total),
					     vd_sip_uri_stop_scalar(u, u + n),
					     "n %zu, rd +%zu, stop at %zu", n, slack[k], s);
				}
		}
	char buf[96];
	unsigned seed = 777;
	for (int round = 0; round < 20000; round++) {
		random_text(buf, sizeof(buf), &seed);
		for (size_t i = 0; i < sizeof(buf); i += 11) /* the two stop bytes, now and then */
			if ((seed >> (i % 16)) % 13 == 0)
				buf[i] = (seed & 1) ? '?' : '\t';
		size_t n = seed % 64, start = (seed >> 8) % 16;
		for (size_t rd = start + n; rd <= sizeof(buf); rd += 16)
			SAME(vd_sip_uri_stop(buf + start, buf + start + n, buf + rd),
			     vd_sip_uri_stop_scalar(buf + start, buf + start + n), "round %d",
			     round);
	}
}

/*
 * IPv4 from the dot mask against the byte loop: every sequence of 3 to 5 octet texts (empty,
 * 1-4 digits, around 255 and 0) joined by dots, up to 15 bytes, followed by digits and dots
 * that must not count. vd_ipv4_dots on the scalar mask in every build, vd_ipv4_16 with SSE2 on
 * the last 16 bytes before the guard page.
 */
Test(twin, ipv4_every_octet_shape)
{
	static const char *const octet[] = { "",    "0",   "7",   "00",  "25",  "99",	"000",
					     "100", "199", "200", "249", "250", "255", "256",
					     "259", "260", "299", "300", "999", "1000" };
	const size_t n_oct = sizeof(octet) / sizeof(octet[0]);
	size_t checked = 0, valid = 0;
	for (unsigned groups = 3; groups <= 5; groups++) {
		size_t total = 1;
		for (unsigned g = 0; g < groups; g++)
			total *= n_oct;
		for (size_t code = 0; code < total; code++) {
			char w[16 + 8];
			size_t len = 0, c = code;
			for (unsigned g = 0; g < groups && len <= 15; g++, c /= n_oct) {
				size_t l = strlen(octet[c % n_oct]);
				memcpy(w + len, octet[c % n_oct], l);
				len += l;
				if (g + 1 < groups)
					w[len++] = '.';
			}
			if (len > 15)
				continue;
			for (size_t i = len; i < 16; i++)
				w[i] = (i & 1) ? '.' : '9';
			bool want = vd_ipv4_scalar(w, w + len);
			SAME(vd_ipv4_dots(w, (unsigned)len, vd_byte_mask_scalar(w, '.')), want,
			     "%.*s", (int)len, w);
#if defined(__SSE2__)
			if (len > 0)
				SAME(vd_ipv4_16(at_end(w, 16), (unsigned)len), want, "%.*s",
				     (int)len, w);
#endif
			checked++;
			valid += want;
		}
	}
	cr_assert_gt(valid, 1000, "%zu of %zu", valid, checked);
}

/* The host parser (16 bytes a step with SSE2) on hosts that end at the guard page: the same
 * end and type as a byte loop with the scalar IPv4 twin. */
Test(twin, host_parse_at_the_page_end)
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
		const char *h = at_end(buf, n), *p = h;
		struct vd_slice host;
		uint8_t type;
		uint16_t port;
		bool ok = vd_sip_host_parse(&p, h + n, &host, &type, &port);
		if (k == 0) {
			cr_assert(!ok, "round %d", round);
			continue;
		}
		if (k == n || buf[k] != ':')
			cr_assert(ok, "round %d", round);
		if (!ok)
			continue;
		SAME(host.len, k, "round %d: %.*s", round, (int)n, buf);
		SAME(type, dn && vd_ipv4_scalar(h, h + k) ? VD_HOST_IPV4 : VD_HOST_FQDN,
		     "round %d: %.*s", round, (int)n, buf);
	}
}

/* The name lookups on the len bytes at b: the hash and word compares (vd_sip_hdr_kind) with
 * the name at the page end, the vector compare (2..15 bytes, followed by bytes that must not
 * count), against the byte loop over the name list. */
static void expect_kind_agrees(const char *b, size_t len)
{
	enum vd_sip_hdr want = vd_sip_hdr_kind_scalar(b, len);
	SAME(vd_sip_hdr_kind(at_end(b, len), len), want, "%.*s", (int)len, b);
#if defined(__SSE2__)
	if (len >= 2 && len <= 15) {
		char w[16];
		memcpy(w, b, len);
		for (size_t i = len; i < 16; i++)
			w[i] = "-:aZ\0"[i % 5];
		SAME(vd_hdr_kind16(at_end(w, 16), (unsigned)len), want, "%.*s", (int)len, b);
	}
#endif
}

/* Every name the scanner knows (names.c) and near misses, in lower, upper and mixed case,
 * each with every byte value at every position; every one-byte name; random candidates. */
Test(twin, header_names_every_byte_at_every_position)
{
	static const char *const names[] = {
		"via", "route", "record-route", "max-forwards", "call-id", "cseq", "from", "to",
		"content-length", "contact", "content-type", "content-encoding", "supported",
		"subject", "event", "allow-events", "refer-to", "referred-by", "session-expires",
		"identity", "accept-contact", "reject-contact", "request-disposition",
		"proxy-require", "expires", "p-asserted-identity", "vias", "fro", "content_length",
	};
	size_t known = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *nm = names[i];
		size_t len = strlen(nm);
		char b[24];
		known += vd_sip_hdr_kind_scalar(nm, len) != VD_H_OTHER;
		for (size_t casing = 0; casing < 3; casing++) {
			for (size_t j = 0; j < len; j++) {
				bool up = casing == 1 || (casing == 2 && (j & 1));
				b[j] = up && nm[j] >= 'a' && nm[j] <= 'z' ? (char)(nm[j] - 32)
									  : nm[j];
			}
			expect_kind_agrees(b, len);
			for (size_t pos = 0; pos < len; pos++)
				for (unsigned c = 0; c < 256; c++) {
					char keep = b[pos];
					b[pos] = (char)c;
					expect_kind_agrees(b, len);
					b[pos] = keep;
				}
		}
	}
	cr_assert_eq(known, 24, "names the scanner knows");
	for (unsigned c = 0; c < 256; c++) {
		char b = (char)c;
		expect_kind_agrees(&b, 1);
	}
	char buf[24];
	unsigned seed = 4242;
	for (int round = 0; round < 20000; round++) {
		random_text(buf, sizeof(buf), &seed);
		expect_kind_agrees(buf, (size_t)round % 25);
	}
}

/* eq_lower (8 and 4 bytes a step) and the "tag="/"branch=" word compares against their byte
 * loops: every length, every byte value at every position, both cases; at the page end. */
Test(twin, word_compares_every_byte_at_every_position)
{
	static const char lit[] = "record-route;maddr=10.0.0.1"; /* lower case, as callers pass */
	char a[sizeof(lit)];
	for (size_t n = 0; n < sizeof(lit); n++) {
		for (size_t j = 0; j < n; j++)
			a[j] = lit[j] >= 'a' && lit[j] <= 'z' ? (char)(lit[j] - 32) : lit[j];
		const char *p = at_end(a, n);
		SAME(eq_lower(p, lit, n), eq_lower_scalar(p, lit, n), "upper, n %zu", n);
		cr_assert(eq_lower(p, lit, n), "upper, n %zu", n);
		for (size_t pos = 0; pos < n; pos++)
			for (unsigned c = 0; c < 256; c++) {
				memcpy(a, lit, n);
				a[pos] = (char)c;
				p = at_end(a, n);
				SAME(eq_lower(p, lit, n), eq_lower_scalar(p, lit, n),
				     "n %zu, byte %u at %zu", n, c, pos);
			}
	}
	static const char *const text[] = { "tag=1234", "branch=z", "TaG=\r\n\r\n", "BRANCH=\0" };
	for (size_t t = 0; t < sizeof(text) / sizeof(text[0]); t++)
		for (size_t pos = 0; pos < 8; pos++)
			for (unsigned c = 0; c < 256; c++) {
				char w[8];
				memcpy(w, text[t], 8);
				w[pos] = (char)c;
				const char *p = at_end(w, 8);
				SAME(vd_param_is_tag(p), vd_param_name_eq_scalar(p, "tag", 3),
				     "%s, byte %u at %zu", text[t], c, pos);
				SAME(vd_param_is_branch(p), vd_param_name_eq_scalar(p, "branch", 6),
				     "%s, byte %u at %zu", text[t], c, pos);
			}
	cr_assert(vd_param_is_tag(at_end("TaG=\r\n\r\n", 8)));
	cr_assert(vd_param_is_branch(at_end("BRANCH=\0", 8)));
}

/* vd_put_hex64 (SSE2) against its byte-loop twin and printf; its 16-byte store ends at the
 * guard page. */
static void expect_hex64(uint64_t v)
{
	char *out = pages + page - 16, twin[17] = { 0 }, want[17];
	vd_put_hex64(out, v);
	vd_put_hex64_scalar(twin, v);
	snprintf(want, sizeof(want), "%016llx", (unsigned long long)v);
	if (memcmp(out, want, 16) != 0 || strcmp(twin, want) != 0)
		cr_assert_fail("%s: got %.16s, twin %s", want, out, twin);
}

/* Every nibble at every position, every byte at every position, edges, random values. */
Test(twin, hex64_every_nibble_and_byte_at_every_position)
{
	static const uint64_t bg[] = { 0, ~0ULL, 0x0123456789abcdefULL, 0x9a9a9a9a9a9a9a9aULL };
	for (size_t b = 0; b < sizeof(bg) / sizeof(bg[0]); b++) {
		for (unsigned pos = 0; pos < 16; pos++)
			for (uint64_t nib = 0; nib < 16; nib++)
				expect_hex64((bg[b] & ~(0xfULL << 4 * pos)) | nib << 4 * pos);
		for (unsigned pos = 0; pos < 8; pos++)
			for (uint64_t c = 0; c < 256; c++)
				expect_hex64((bg[b] & ~(0xffULL << 8 * pos)) | c << 8 * pos);
	}
	static const uint64_t edge[] = { 1, 9, 10, 15, 16, 0x8000000000000000ULL,
					 0xfedcba9876543210ULL };
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		expect_hex64(edge[i]);
	srand(77);
	for (int k = 0; k < 100000; k++)
		expect_hex64((uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand());
}

/*
 * Every corpus message at the page end. At every offset: the 16-byte classifiers, the name
 * lookups on the candidate ending at the next ':', an IPv4 candidate's dot test, the parameter
 * word compares and the Request-URI stop against their twins; the line cursor at every
 * position. Then the scan, of the whole message and of every prefix: any read past the end
 * of what it was given faults.
 */
static void expect_corpus_offsets_agree(const char *m, size_t n, const char *name)
{
	const char *end = m + n;
	struct vd_eol_cursor cur;
	vd_eol_init(&cur, end);
	for (size_t i = 0; i <= n; i++) {
		const char *p = m + i;
		SAME(vd_eol_next(&cur, p), vd_find_eol_scalar(p, end), "%s: eol at %zu", name, i);
		for (size_t k = 0; k <= 40 && i + k <= n; k++)
			SAME(vd_sip_uri_stop(p, p + k, end), vd_sip_uri_stop_scalar(p, p + k),
			     "%s: uri stop at %zu + %zu", name, i, k);
		if (n - i >= 8) {
			SAME(vd_param_is_tag(p), vd_param_name_eq_scalar(p, "tag", 3), "%s: %zu",
			     name, i);
			SAME(vd_param_is_branch(p), vd_param_name_eq_scalar(p, "branch", 6),
			     "%s: %zu", name, i);
		}
		if (n - i < 16)
			continue;
		unsigned dn, colon = vd_byte_mask_scalar(p, ':');
		vd_host_mask_scalar(p, &dn);
		unsigned run = (unsigned)__builtin_ctz(~dn); /* leading digits and dots */
		if (run < 16)
			SAME(vd_ipv4_dots(p, run, vd_byte_mask_scalar(p, '.')),
			     vd_ipv4_scalar(p, p + run), "%s: ipv4 at %zu", name, i);
		unsigned len = colon ? (unsigned)__builtin_ctz(colon) : 0;
		if (colon)
			SAME(vd_sip_hdr_kind(p, len), vd_sip_hdr_kind_scalar(p, len),
			     "%s: name at %zu", name, i);
#if defined(__SSE2__)
		expect_classifiers_agree(p, *p, name, i);
		if (run >= 1 && run < 16)
			SAME(vd_ipv4_16(p, run), vd_ipv4_scalar(p, p + run), "%s: ipv4 at %zu",
			     name, i);
		if (len >= 2)
			SAME(vd_hdr_kind16(p, len), vd_sip_hdr_kind_scalar(p, len),
			     "%s: name at %zu", name, i);
#endif
	}
}

Test(twin, corpus_every_offset_and_every_prefix_at_the_page_end)
{
	static const char *const dirs[] = { "good", "captured", "rfc4475", "bad" };
	static const struct vd_sip_limits limits = { 96, 16 };
	static struct vd_sip_msg msg; /* large: off the stack */
	char path[512];
	size_t files = 0, bytes = 0;
	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		int root = snprintf(path, sizeof(path), "%s/tests/corpus/", VD_SOURCE_ROOT);
		snprintf(path + root, sizeof(path) - (size_t)root, "%s/*.sip", dirs[d]);
		glob_t g;
		cr_assert_eq(glob(path, 0, NULL, &g), 0, "no %s", path);
		for (size_t f = 0; f < g.gl_pathc; f++) {
			const char *rel = g.gl_pathv[f] + root;
			struct corpus_msg c = corpus_load(rel);
			cr_assert_leq(c.len, page, "%s", rel);
			const char *m = at_end(c.buf, c.len);
			expect_corpus_offsets_agree(m, c.len, rel);
			enum vd_sip_err whole = vd_sip_scan(c.buf, c.len, &limits, &msg);
			SAME(vd_sip_scan(m, c.len, &limits, &msg), whole, "%s", rel);
			for (size_t k = 0; k < c.len; k++)
				(void)vd_sip_scan(at_end(c.buf, k), k, &limits, &msg);
			files++;
			bytes += c.len;
			corpus_free(&c);
		}
		globfree(&g);
	}
	cr_assert_gt(files, 100, "%zu files, %zu bytes", files, bytes);
}
