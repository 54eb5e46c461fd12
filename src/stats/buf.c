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
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/metrics.h"

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
	b->p = p;
	b->cap = cap;
	return true;
fail:
	b->oom = true;
	return false;
}

static void buf_put(struct vd_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
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

/* Append s escaped for `mode`, copying runs of plain bytes in one go. */
static void put_escaped(struct vd_buf *b, const char *s, enum esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;
	char tmp[8];

	while (*p) {
		const char *esc = NULL;
		size_t n = utf8_len(p);

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
	vd_buf_printf(b, "# HELP %s ", name);
	put_escaped(b, help ? help : "", ESC_PROM_HELP);
	vd_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

void vd_prom_sample(struct vd_buf *b, const char *name, uint64_t value, ...)
{
	const char *key;
	char sep = '{';
	va_list ap;

	buf_put(b, name, strlen(name));
	va_start(ap, value);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);

		vd_buf_printf(b, "%c%s=\"", sep, key);
		put_escaped(b, val ? val : "", ESC_PROM_LABEL);
		buf_put(b, "\"", 1);
		sep = ',';
	}
	va_end(ap);
	if (sep == ',')
		buf_put(b, "}", 1);
	vd_buf_printf(b, " %" PRIu64 "\n", value);
}
