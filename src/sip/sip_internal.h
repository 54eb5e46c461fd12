/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal helpers shared by the scanner's files: character classes, whitespace skipping over
 * folded lines, the 16-byte classifiers of the fast paths and the end-of-line finder (SSE2,
 * each with an always-compiled scalar twin that tests/unit/test_simd.c compares it with).
 * Not a public header: nothing outside src/sip includes it.
 */
#ifndef VD_SIP_INTERNAL_H
#define VD_SIP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "viaduct/sip.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Branch-free: adds 0x20 exactly when c is 'A'..'Z'. */
static inline char lower_ascii(char c)
{
	return (char)(c + ((unsigned)((unsigned char)c - 'A') < 26u ? 0x20 : 0));
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 3261 25.1 token characters. */
static inline bool is_token_char(unsigned char c)
{
	extern const uint8_t vd_sip_token_table[256];
	return vd_sip_token_table[c];
}

/* Skip SP/HT and folding (CRLF followed by SP/HT) from p up to end. */
static inline const char *skip_lws(const char *p, const char *end)
{
	if (p < end && !is_ws(*p) && *p != '\r')
		return p; /* the usual case: nothing to skip */
	if (end - p >= 2 && *p == ' ' && (unsigned char)p[1] > ' ')
		return p + 1; /* the next usual case, "Name: value": one SP, then no SP/HT/CR */
	for (;;) {
		while (p < end && is_ws(*p))
			p++;
		if (end - p >= 3 && p[0] == '\r' && p[1] == '\n' && is_ws(p[2]))
			p += 3;
		else
			return p;
	}
}

/* Last non-LWS byte + 1 in [p, end). */
static inline const char *trim_lws_end(const char *p, const char *end)
{
	while (end > p && (is_ws(end[-1]) || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	return end;
}

static inline bool eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower_ascii(a[i]) != lower_ascii(b[i]))
			return false;
	return true;
}

/*
 * Compare token bytes a[0..n) case-insensitively with a LOWER-CASE literal. Setting bit 0x20
 * folds 'A'-'Z' onto 'a'-'z'; the only other bytes it maps onto a letter, '-', '.' or a digit
 * are control bytes and CR, which a token never holds. So for token input this is exact, and
 * eight bytes are compared per step.
 */
static inline bool eq_lower_word(const char *a, const char *lit, size_t w)
{
	uint64_t x = 0, y = 0;
	memcpy(&x, a, w);
	memcpy(&y, lit, w);
	return (x | (0x2020202020202020ULL >> (64 - 8 * w))) == y;
}

/* eq_lower byte by byte: its twin (the tests compare them), and its path below 4 bytes. */
static inline bool eq_lower_scalar(const char *a, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((a[i] | 0x20) != lit[i])
			return false;
	return true;
}

static inline bool eq_lower(const char *a, const char *lit, size_t n)
{
	/* whole words, then one last word overlapping the previous one: no byte loop */
	if (n >= 8) {
		size_t i = 0;
		for (; i + 8 <= n; i += 8)
			if (!eq_lower_word(a + i, lit + i, 8))
				return false;
		return i == n || eq_lower_word(a + n - 8, lit + n - 8, 8);
	}
	if (n >= 4)
		return eq_lower_word(a, lit, 4) && eq_lower_word(a + n - 4, lit + n - 4, 4);
	return eq_lower_scalar(a, lit, n);
}

/*
 * The two parameter names every message carries, "tag=" and "branch=" (letters in either case,
 * '=' exact: the name and '=' the token loop and skip_lws find), in one 8-byte word compare
 * each. Precondition: 8 bytes readable at p. vd_param_name_eq_scalar() is their twin.
 */
static inline bool vd_param_is_tag(const char *p)
{
	uint64_t w, tag, fold, mask;
	memcpy(&w, p, 8);
	memcpy(&tag, "tag=\0\0\0\0", 8);
	memcpy(&fold, "\x20\x20\x20\0\0\0\0\0", 8);
	memcpy(&mask, "\xff\xff\xff\xff\0\0\0\0", 8);
	return ((w | fold) & mask) == tag;
}

static inline bool vd_param_is_branch(const char *p)
{
	uint64_t w, br, fold, mask;
	memcpy(&w, p, 8);
	memcpy(&br, "branch=\0", 8);
	memcpy(&fold, "\x20\x20\x20\x20\x20\x20\0\0", 8);
	memcpy(&mask, "\xff\xff\xff\xff\xff\xff\xff\0", 8);
	return ((w | fold) & mask) == br;
}

/* The lower-case name lit of n bytes (letters in either case), then '=' */
static inline bool vd_param_name_eq_scalar(const char *p, const char *lit, size_t n)
{
	return eq_lower_scalar(p, lit, n) && p[n] == '=';
}

/* A byte forbidden in the header section: C0 controls other than HT/CR/LF, and DEL.
 * UTF-8 (>= 0x80) is allowed: display names and reason phrases may carry it. */
static inline bool is_bad_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

/* First '\n' or forbidden control byte in [p, end), or end. Scalar twin of the SSE2 version;
 * always compiled, and tested against it. */
static inline const char *vd_find_eol_scalar(const char *p, const char *end)
{
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n' || is_bad_ctl(c))
			return p;
	}
	return end;
}

/*
 * 16-byte classifiers: each answers for the 16 bytes at p (all readable) with a bit mask, bit i
 * for byte i. The SSE2 form (the x86-64 baseline) is what the scanner's fast paths call; other
 * targets take the byte loops around those paths. The scalar twin beside each one is compiled
 * in every build and is what tests/unit/test_simd.c compares the SSE2 form with: every byte
 * value at every position, every alignment, loads that end at a page boundary, the corpus.
 */

/* Bytes equal to c (a header name's ':', an IPv4 candidate's dots). */
static inline unsigned vd_byte_mask_scalar(const char *p, char c)
{
	unsigned m = 0;
	for (unsigned i = 0; i < 16; i++)
		m |= (unsigned)(p[i] == c) << i;
	return m;
}

/* HT and '?': the Request-URI bytes a decision needs a second look at (scan.c, uri_stop). */
static inline unsigned vd_uri_stop_mask_scalar(const char *p)
{
	unsigned m = 0;
	for (unsigned i = 0; i < 16; i++)
		m |= (unsigned)(p[i] == '\t' || p[i] == '?') << i;
	return m;
}

/* Letters, digits and '-': token characters all, and every byte of the header names we know. */
static inline unsigned vd_name_mask_scalar(const char *p)
{
	unsigned m = 0;
	for (unsigned i = 0; i < 16; i++) {
		char c = p[i];
		bool in =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-';
		m |= (unsigned)in << i;
	}
	return m;
}

/*
 * Host characters (RFC 3261 25.1 hostname / IPv4address: alphanumerics, '-', '.', and '_'
 * which real hosts carry), and in *dotnum the digits and dots among them (an IPv4 candidate).
 * The host parser takes 16 bytes a step with it.
 */
static inline unsigned vd_host_mask_scalar(const char *p, unsigned *dotnum)
{
	unsigned m = 0, d = 0;
	for (unsigned i = 0; i < 16; i++) {
		char c = p[i];
		bool dn = (c >= '0' && c <= '9') || c == '.';
		if (dn || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_')
			m |= 1u << i;
		if (dn)
			d |= 1u << i;
	}
	*dotnum = d;
	return m;
}

#if defined(__SSE2__)
static inline __m128i vd_load16(const char *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* Bytes of v in [lo, hi]: shift lo to -128, then one signed compare. */
static inline __m128i vd_in_range(__m128i v, char lo, char hi)
{
	return _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - lo))),
			      _mm_set1_epi8((char)(-128 + (hi - lo) + 1)));
}

/* The vector forms (suffix v) take the 16 bytes already loaded, for a caller that asks several
 * questions of them; the pointer forms load them. */
static inline unsigned vd_byte_mask_v(__m128i v, char c)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

static inline unsigned vd_byte_mask16(const char *p, char c)
{
	return vd_byte_mask_v(vd_load16(p), c);
}

static inline unsigned vd_uri_stop_mask16(const char *p)
{
	__m128i v = vd_load16(p);
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\t')),
							_mm_cmpeq_epi8(v, _mm_set1_epi8('?'))));
}

/* | 0x20 folds A-Z onto a-z and maps no other byte into a-z */
static inline unsigned vd_name_mask_v(__m128i v)
{
	__m128i a = vd_in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
	__m128i d = _mm_or_si128(vd_in_range(v, '0', '9'), _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(a, d));
}

static inline unsigned vd_name_mask16(const char *p)
{
	return vd_name_mask_v(vd_load16(p));
}

static inline unsigned vd_host_mask16(const char *p, unsigned *dotnum)
{
	__m128i v = vd_load16(p);
	/* | 0x20 folds A-Z onto a-z and maps no other byte into a-z */
	__m128i alpha = vd_in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
	__m128i dn = _mm_or_si128(vd_in_range(v, '0', '9'), _mm_cmpeq_epi8(v, _mm_set1_epi8('.')));
	__m128i other = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')),
				     _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
	*dotnum = (unsigned)_mm_movemask_epi8(dn);
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, dn), other));
}
#endif

/* Digits and dots only in [p, end) (checked by the caller): four octets of 0..255? The byte
 * loop, and the twin of vd_ipv4_dots(). */
static inline bool vd_ipv4_scalar(const char *p, const char *end)
{
	unsigned dots = 0, digits = 0, octet = 0;
	for (; p < end; p++) {
		if (*p == '.') {
			if (digits == 0)
				return false;
			dots++;
			digits = octet = 0;
		} else {
			octet = octet * 10 + (unsigned)(*p - '0');
			if (++digits > 3 || octet > 255)
				return false;
		}
	}
	return dots == 3 && digits > 0;
}

/*
 * vd_ipv4_scalar(p, p + len) for len < 16 digits and dots, from dot, the mask of the dots in
 * p[0..16) (a vd_byte_mask16(p, '.')): no byte loop. Three dots, none first, last or next to
 * another, no run of four digits; a three-digit octet compares as text against "255". Reads
 * only p[0..len). Portable: the tests run it on vd_byte_mask_scalar() in every build.
 */
static inline bool vd_ipv4_dots(const char *p, unsigned len, unsigned dot)
{
	unsigned in = (1u << len) - 1;
	dot &= in;
	unsigned dig = ~dot & in, ends = dot | (1u << len); /* a virtual dot after the last byte */
	/* exactly three dots: two lowest bits cleared, one is left (no popcount: without -mpopcnt
	 * it is a libgcc call) */
	unsigned one = dot & (dot - 1), last = one & (one - 1);
	if (!last || (last & (last - 1)) || (dot & 1) || (ends & (ends >> 1)) ||
	    (dig & (dig >> 1) & (dig >> 2) & (dig >> 3)))
		return false;
	for (unsigned three = dig & (dig >> 1) & (dig >> 2); three; three &= three - 1) {
		const unsigned char *o = (const unsigned char *)p + __builtin_ctz(three);
		if (((unsigned)o[0] << 16 | (unsigned)o[1] << 8 | o[2]) >
		    ('2' << 16 | '5' << 8 | '5'))
			return false;
	}
	return true;
}

#if defined(__SSE2__)
/* vd_ipv4_scalar(p, p + len) for 1 <= len < 16 digits and dots, 16 bytes readable at p. Out of
 * line as it always was (inlined into both host parsers: another change, to be measured). */
static __attribute__((noinline, unused)) bool vd_ipv4_16(const char *p, unsigned len)
{
	return vd_ipv4_dots(p, len, vd_byte_mask16(p, '.'));
}
#endif

/*
 * The line finder the scanner uses: a cursor over the buffer that classifies bytes 64 at a
 * time into a bit mask (bit i set = byte i of the block is '\n' or a forbidden control
 * byte), then answers "next stop at or after p" with a count-trailing-zeros. Every byte is
 * classified once, however many lines it is split into. SSE2 is the x86-64 baseline; other
 * targets and the block past the last 64 bytes use the scalar classification, which is also
 * what the tests compare the SIMD blocks against.
 */
#define VD_EOL_BLOCK 64

struct vd_eol_cursor {
	const char *end;
	const char *blk; /* start of the classified block; end (with mask 0) before the first */
	uint64_t mask;   /* stop bytes of [blk, blk + 64), only bits below end - blk */
};

/* The twin of vd_eol_mask16 (n = 16), vd_eol_mask64 (n = 64) and vd_eol_mask_tail. */
static inline uint64_t vd_eol_mask_scalar(const char *p, size_t n)
{
	uint64_t m = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\n' || is_bad_ctl(c))
			m |= 1ULL << i;
	}
	return m;
}

#if defined(__SSE2__)
/* Stop bytes of 16 bytes: 0x00-0x1f except HT and CR (LF is among them), and 0x7f. */
static inline unsigned vd_eol_mask16(const char *p)
{
	const __m128i lim = _mm_set1_epi8(0x1f), ht = _mm_set1_epi8('\t');
	const __m128i cr = _mm_set1_epi8('\r'), del = _mm_set1_epi8(0x7f);
	__m128i v = vd_load16(p);
	/* unsigned v <= 0x1f: min(v, 0x1f) == v */
	__m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, lim), v);
	__m128i ok = _mm_or_si128(_mm_cmpeq_epi8(v, ht), _mm_cmpeq_epi8(v, cr));
	__m128i stop = _mm_or_si128(_mm_andnot_si128(ok, ctl), _mm_cmpeq_epi8(v, del));
	return (unsigned)_mm_movemask_epi8(stop);
}

static inline uint64_t vd_eol_mask64(const char *p)
{
	return (uint64_t)vd_eol_mask16(p) | (uint64_t)vd_eol_mask16(p + 16) << 16 |
	       (uint64_t)vd_eol_mask16(p + 32) << 32 | (uint64_t)vd_eol_mask16(p + 48) << 48;
}

/* The last n < 64 bytes: whole 16-byte chunks in SIMD; the rest (< 16) as the top of one
 * more 16-byte load that ends at p + n when n >= 16 (it overlaps the chunk before), else byte
 * by byte. Once a message: kept out of line so the scan loop around it stays small. */
static __attribute__((noinline, unused)) uint64_t vd_eol_mask_tail(const char *p, size_t n)
{
	uint64_t m = 0;
	size_t i = 0;
	for (; i + 16 <= n; i += 16)
		m |= (uint64_t)vd_eol_mask16(p + i) << i;
	if (i == n)
		return m;
	if (n >= 16)
		return m | (uint64_t)(vd_eol_mask16(p + n - 16) >> (16 - (n - i))) << i;
	return m | vd_eol_mask_scalar(p + i, n - i) << i;
}
#else
static inline uint64_t vd_eol_mask_tail(const char *p, size_t n)
{
	return vd_eol_mask_scalar(p, n);
}

static inline uint64_t vd_eol_mask64(const char *p)
{
	return vd_eol_mask_scalar(p, VD_EOL_BLOCK);
}
#endif

static inline void vd_eol_init(struct vd_eol_cursor *c, const char *end)
{
	c->end = end;
	c->blk = end; /* an empty block at end: any p < end is outside it, p == end finds end */
	c->mask = 0;
}

/* First '\n' or forbidden control byte at or after p, or end. */
static inline const char *vd_eol_next(struct vd_eol_cursor *c, const char *p)
{
	for (;;) {
		/* one unsigned compare: p before blk wraps to a huge offset */
		if ((size_t)(p - c->blk) < VD_EOL_BLOCK) {
			uint64_t m = c->mask & (~0ULL << (p - c->blk));
			if (m)
				return c->blk + __builtin_ctzll(m);
			p = c->blk + VD_EOL_BLOCK;
		}
		if (p >= c->end)
			return c->end;
		size_t left = (size_t)(c->end - p);
		c->blk = p;
		c->mask = left >= VD_EOL_BLOCK ? vd_eol_mask64(p) : vd_eol_mask_tail(p, left);
	}
}

/*
 * Known full header names (names.c) in a table indexed by a hash of the lower-cased first and
 * last bytes and the length, collision-free over the names we know. lit is the lower-case name,
 * fold has 0x20 exactly at its letters: (byte | fold) == lit holds for the name in any case and
 * for nothing else. Both are zero padded to 24 bytes so they can be read as words or vectors.
 */
#define HDR_NAME_MAX 19 /* "Request-Disposition" */
#define VD_HDR_HASH_SIZE 64
#define VD_HDR_HASH(c0, cl, len)                                                            \
	(((unsigned)(c0) + 10u * (unsigned)(cl) + 29u * (unsigned)(len)) & (VD_HDR_HASH_SIZE - 1))

struct vd_hdr_key {
	uint64_t lit[3];
	uint64_t fold[3];
	uint8_t len; /* 0: empty slot */
	uint8_t kind;
};
extern struct vd_hdr_key vd_sip_hdr_keys[VD_HDR_HASH_SIZE];

/* vd_sip_hdr_kind() (hash, then word compares) byte by byte over the name list, without the
 * hash: the twin vd_sip_hdr_kind() and vd_hdr_kind16() are tested against (names.c). */
enum vd_sip_hdr vd_sip_hdr_kind_scalar(const char *p, size_t len);

#if defined(__SSE2__)
/*
 * vd_sip_hdr_kind() for a full name of 2..15 bytes at p, 16 bytes readable there: one vector
 * compare instead of word compares. v holds those 16 bytes (the scanner has them loaded
 * already); vd_hdr_kind16() loads them.
 */
static inline enum vd_sip_hdr vd_hdr_kind_v(const char *p, unsigned len, __m128i v)
{
	const struct vd_hdr_key *k =
		&vd_sip_hdr_keys[VD_HDR_HASH(p[0] | 0x20, p[len - 1] | 0x20, len)];
	if (k->len != len)
		return VD_H_OTHER;
	__m128i fold = _mm_loadu_si128((const __m128i *)(const void *)k->fold);
	__m128i lit = _mm_loadu_si128((const __m128i *)(const void *)k->lit);
	unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(v, fold), lit));
	unsigned want = (1u << len) - 1;
	return (eq & want) == want ? (enum vd_sip_hdr)k->kind : VD_H_OTHER;
}

static inline enum vd_sip_hdr vd_hdr_kind16(const char *p, unsigned len)
{
	return vd_hdr_kind_v(p, len, vd_load16(p));
}
#endif

/* First HT or '?' of a Request-URI [u, e), or e; bytes up to rd (>= e) may be read (scan.c),
 * and its scalar twin, exported for the tests. */
const char *vd_sip_uri_stop(const char *u, const char *e, const char *rd);
const char *vd_sip_uri_stop_scalar(const char *u, const char *e);

/* Parsers of header values, in params.c. All return false on a malformed value. */
uint32_t vd_sip_via_count(const char *p, const char *end, bool *bad);
/* rd (>= end): bytes up to rd may be read (the scanner passes the datagram's end) */
bool vd_sip_tag_find(const char *p, const char *end, const char *rd, struct vd_slice *tag);
const char *vd_sip_via_parse_rd(const char *p, const char *end, const char *rd,
				struct vd_sip_via *via);

#endif
