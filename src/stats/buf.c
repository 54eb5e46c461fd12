/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The text buffer of the admin API and the two escapers it needs: JSON strings (RFC 8259) and
 * Prometheus HELP text and label values (text exposition format 0.0.4). Control plane only:
 * the buffer grows with realloc, and an allocation failure sets a sticky `oom` flag instead
 * of failing each call, so renderers stay straight-line code and the HTTP layer turns the
 * flag into a 500 rather than serving a truncated document.
 *
 * Both formats must be UTF-8. Names and messages come from config files and errno strings,
 * so the escapers check UTF-8 and write U+FFFD for each byte that does not start a valid
 * sequence: a stray Latin-1 byte in a pool name must not make Prometheus reject the scrape.
 *
 * The Prometheus writers are on the path of every scrape, and a page has thousands of samples
 * (4,096 member series for 64 pools of 32), so they append directly: names and keys copied
 * with memcpy, integers converted by hand, label values copied whole when one scan finds
 * nothing to escape. vsnprintf per piece made a page of 64 x 32 members take 2.3 ms; this
 * takes 0.3 ms (bench/bench_metrics). The text is the same byte for byte
 * (tests/unit/test_metrics.c pins it).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/metrics.h"

#include "buf_internal.h"

#define BUF_MIN_CAP	 512		/* most admin answers fit: one allocation */
#define UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, as written for an invalid byte */

enum esc_mode {
	ESC_JSON,	/* RFC 8259 string contents */
	ESC_PROM_HELP,	/* backslash and newline */
	ESC_PROM_LABEL, /* backslash, newline and double quote */
};

/* Room for `extra` more bytes plus the NUL. False (and oom set) when that cannot be had. */
static bool buf_reserve(struct vd_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return false;
	if (b->p && extra < b->cap - b->len)
		return true;
	if (extra > SIZE_MAX / 2 - b->len)
		goto fail;
	need = b->len + extra + 1;
	cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < need)
		cap *= 2; /* amortised O(1) appends; cannot overflow: need <= SIZE_MAX / 2 */
	p = realloc(b->p, cap);
	if (!p)
		goto fail;
	p[b->len] = '\0'; /* a first allocation (vd_buf_reserve) is a string too */
	b->p = p;
	b->cap = cap;
	return true;
fail:
	b->oom = true;
	return false;
}

/* Room for `extra` more bytes and the NUL: the usual case checked inline, buf_reserve to grow. */
static inline bool buf_room(struct vd_buf *b, size_t extra)
{
	return (b->p && !b->oom && extra < b->cap - b->len) || buf_reserve(b, extra);
}

static void buf_put(struct vd_buf *b, const char *s, size_t n)
{
	if (!buf_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_putc(struct vd_buf *b, char c)
{
	if (!buf_room(b, 1))
		return;
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

void vd_buf_reserve(struct vd_buf *b, size_t extra)
{
	(void)buf_reserve(b, extra);
}

size_t vd_buf_u64_dec(char *out, uint64_t v)
{
	char tmp[VD_U64_DEC_MAX];
	size_t n = 0;

	/* digits backwards into tmp, then forwards into out: no digit count to compute first */
	do {
		tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(out, tmp + sizeof(tmp) - n, n);
	out[n] = '\0';
	return n;
}

void vd_buf_printf(struct vd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	/* Format straight into the free space; only if it does not fit, grow and format again. */
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto fail;
	if (b->p && (size_t)n < b->cap - b->len) {
		b->len += (size_t)n;
		return;
	}
	if (!buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto fail;
	b->len += (size_t)n;
	return;
fail:
	b->oom = true;
}

void vd_buf_free(struct vd_buf *b)
{
	free(b->p);
	*b = (struct vd_buf){0};
}

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 if the byte at s does not start one.
 * Rejects what RFC 3629 forbids: overlong forms, surrogates, code points above U+10FFFF.
 * s is NUL-terminated, and a NUL is never a continuation byte, so reads stop in bounds.
 */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0; /* a continuation byte, an overlong lead (C0, C1) or F5..FF */
	if (c == 0xe0)
		lo = 0xa0; /* overlong below U+0800 */
	else if (c == 0xed)
		hi = 0x9f; /* U+D800..DFFF are surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong below U+10000 */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* The escape for one ASCII byte in `mode`, or NULL when it is written as is. */
static const char *escape_of(unsigned char c, enum esc_mode mode, char tmp[8])
{
	switch (c) {
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '"':
		return mode == ESC_PROM_HELP ? NULL : "\\\"";
	default:
		break;
	}
	if (mode != ESC_JSON || c >= 0x20)
		return NULL; /* Prometheus takes other control bytes literally */
	switch (c) {
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		snprintf(tmp, 8, "\\u%04x", c);
		return tmp;
	}
}

/*
 * Whether c is copied as is in `mode` without a closer look: ASCII other than NUL (the end),
 * the escaped characters of the mode and (JSON) control bytes. Bytes >= 0x80 need
 * utf8_len. Exactly the bytes for which utf8_len is 1 and escape_of NULL, minus NUL.
 */
static inline bool is_plain(unsigned char c, enum esc_mode mode)
{
	if (c >= 0x80 || c == '\\' || c == '\n' || c == '\0')
		return false;
	if (c == '"')
		return mode == ESC_PROM_HELP;
	return mode != ESC_JSON || c >= 0x20;
}

/* Append s escaped for `mode`, copying runs of plain bytes in one go. */
static void put_escaped(struct vd_buf *b, const char *s, enum esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;
	char tmp[8];

	for (;;) {
		const char *esc = NULL;
		size_t n;

		/* most values (names, numbers) are one plain run: one scan, one copy */
		while (is_plain(*p, mode))
			p++;
		if (!*p)
			break;
		n = utf8_len(p);
		if (n == 1)
			esc = escape_of(*p, mode, tmp);
		else if (n == 0)
			esc = mode == ESC_JSON ? "\\ufffd" : UTF8_REPLACEMENT;
		if (!esc) {
			p += n;
			continue;
		}
		buf_put(b, (const char *)run, (size_t)(p - run));
		buf_put(b, esc, strlen(esc));
		p += n ? n : 1;
		run = p;
	}
	buf_put(b, (const char *)run, (size_t)(p - run));
}

void vd_buf_json_str(struct vd_buf *b, const char *s)
{
	if (!s) {
		buf_put(b, "null", 4);
		return;
	}
	buf_put(b, "\"", 1);
	put_escaped(b, s, ESC_JSON);
	buf_put(b, "\"", 1);
}

void vd_prom_family(struct vd_buf *b, const char *name, const char *type, const char *help)
{
	size_t n = strlen(name);

	buf_put(b, "# HELP ", 7);
	buf_put(b, name, n);
	buf_putc(b, ' ');
	put_escaped(b, help ? help : "", ESC_PROM_HELP);
	buf_put(b, "\n# TYPE ", 8);
	buf_put(b, name, n);
	buf_putc(b, ' ');
	buf_put(b, type, strlen(type));
	buf_putc(b, '\n');
}

/* The length of the run of bytes at s that `mode` copies as they are. */
static size_t plain_len(const char *s, enum esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;

	while (is_plain(*p, mode))
		p++;
	return (size_t)(p - (const unsigned char *)s);
}

/*
 * One label, `sep`key="val". A value that needs no escaping (names and numbers nearly
 * always) takes one scan, one reservation and two copies; another goes through put_escaped.
 */
static void put_label(struct vd_buf *b, char sep, const char *key, const char *val)
{
	size_t klen = strlen(key), vlen = plain_len(val, ESC_PROM_LABEL);
	char *o;

	if (val[vlen]) {
		buf_putc(b, sep);
		buf_put(b, key, klen);
		buf_put(b, "=\"", 2);
		put_escaped(b, val, ESC_PROM_LABEL);
		buf_putc(b, '"');
		return;
	}
	if (!buf_room(b, klen + vlen + 4))
		return;
	o = b->p + b->len;
	*o++ = sep;
	memcpy(o, key, klen);
	o += klen;
	*o++ = '=';
	*o++ = '"';
	memcpy(o, val, vlen);
	o += vlen;
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->p);
}

/* The label set of a sample, {k1="v1",k2="v2"}, or nothing without labels (see metrics.h). */
static void put_labels(struct vd_buf *b, va_list ap)
{
	const char *key;
	char sep = '{';

	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);

		put_label(b, sep, key, val ? val : "");
		sep = ',';
	}
	if (sep == ',')
		buf_putc(b, '}');
}

/* " value\n": the end of a sample line. */
static void put_value(struct vd_buf *b, uint64_t value)
{
	char num[VD_U64_DEC_MAX + 3]; /* ' ', the digits, '\n', NUL */
	size_t n = vd_buf_u64_dec(num + 1, value);

	num[0] = ' ';
	num[n + 1] = '\n';
	buf_put(b, num, n + 2);
}

void vd_prom_sample(struct vd_buf *b, const char *name, uint64_t value, ...)
{
	va_list ap;

	buf_put(b, name, strlen(name));
	va_start(ap, value);
	put_labels(b, ap);
	va_end(ap);
	put_value(b, value);
}

void vd_prom_labels(struct vd_buf *b, ...)
{
	va_list ap;

	va_start(ap, b);
	put_labels(b, ap);
	va_end(ap);
}

void vd_prom_sample_labelled(struct vd_buf *b, const char *name, size_t name_len,
			     const char *labels, size_t labels_len, uint64_t value)
{
	char num[VD_U64_DEC_MAX + 1];
	size_t n = vd_buf_u64_dec(num, value);
	char *o;

	if (!buf_room(b, name_len + labels_len + n + 2))
		return;
	o = b->p + b->len;
	memcpy(o, name, name_len);
	o += name_len;
	memcpy(o, labels, labels_len);
	o += labels_len;
	*o++ = ' ';
	memcpy(o, num, n);
	o += n;
	*o++ = '\n';
	*o = '\0';
	b->len = (size_t)(o - b->p);
}
