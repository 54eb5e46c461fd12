/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message framing over a stream (TCP, TLS): RFC 3261 18.3. A message ends at the empty line
 * after its headers plus Content-Length bytes of body; over a stream Content-Length is
 * mandatory. Between messages a stream may carry CRLFs: a "CRLFCRLF" is an RFC 5626 3.5.1
 * keepalive ping (answered with one CRLF, the pong), a lone CRLF is skipped (RFC 3261 7.5).
 *
 * Only the header block is read, once it is complete: Content-Length (or its compact form
 * "l") at the start of a line, the rest of the scan happens later on the framed message.
 * A caller that frames again after every read keeps a struct vd_frame_progress per stream:
 * the search for the empty line resumes where the last one stopped, and a message whose
 * header block was read waits for its length without being read again.
 */
#include <string.h>

#include "viaduct/sip.h"

static inline char lower(char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* Is the header line at p named Content-Length or l (any case, optional blanks before the
 * colon)? Returns the value's start or NULL. */
static const char *content_length_value(const char *p, const char *end)
{
	static const char name[] = "content-length";
	const char *q = p;
	size_t i = 0;
	while (q < end && i < sizeof(name) - 1 && lower(*q) == name[i]) {
		q++;
		i++;
	}
	if (i != sizeof(name) - 1) {
		if (!(p < end && lower(*p) == 'l'))
			return NULL;
		q = p + 1; /* the compact form */
	}
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	return q < end && *q == ':' ? q + 1 : NULL;
}

/* The decimal value after the colon, to the end of its line (LWS around it allowed, folded
 * lines are not: no UA folds a number). -1 when it is not one number. */
static int64_t parse_length(const char *p, const char *eol)
{
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	int64_t v = 0;
	const char *d = p;
	while (p < eol && *p >= '0' && *p <= '9' && v < (int64_t)1 << 40)
		v = v * 10 + (*p++ - '0');
	if (p == d)
		return -1;
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	return p == eol ? v : -1;
}

/* The framing of one message; on MORE, *pr says how far it got (see vd_sip_frame_resume). */
static enum vd_frame frame(const char *buf, uint32_t len, uint32_t max,
			   struct vd_frame_progress *pr, uint32_t *out)
{
	*out = 0;
	if (len == 0)
		return VD_FRAME_MORE;
	if (pr->need && len < pr->need)
		return VD_FRAME_MORE; /* the header block was read: only the body is missing */
	if (buf[0] == '\r' || buf[0] == '\n') {
		if (len >= 4 && memcmp(buf, "\r\n\r\n", 4) == 0) {
			*out = 4;
			return VD_FRAME_PING;
		}
		if (len >= 2 && buf[0] == '\r' && buf[1] == '\n') {
			/* "\r\n" and "\r\n\r" may still become a ping: wait for more */
			if (len == 2 || (len == 3 && buf[2] == '\r'))
				return VD_FRAME_MORE;
			*out = 2;
			return VD_FRAME_SKIP;
		}
		if (buf[0] == '\n') {
			*out = 1;
			return VD_FRAME_SKIP;
		}
		if (len == 1)
			return VD_FRAME_MORE; /* a lone "\r" so far */
		/* a CR without LF is no CRLF: frame it as a message (bounded by max, then 400) */
	}
	/* the header block ends at the first empty line */
	const char *end = NULL;
	const char *from = buf + (pr->searched < len ? pr->searched : 0);
	for (const char *p = from; (p = memchr(p, '\n', (size_t)(buf + len - p))); p++) {
		if (p + 1 < buf + len && p[1] == '\n') {
			end = p + 2;
			break;
		}
		if (p + 2 < buf + len && p[1] == '\r' && p[2] == '\n') {
			end = p + 3;
			break;
		}
		if (p + 2 >= buf + len)
			break;
	}
	if (!end) {
		/* an LF in the last two bytes may still start "\n\n" or "\n\r\n" */
		pr->searched = len > 2 ? len - 2 : 0;
		return len >= max ? VD_FRAME_TOO_LARGE : VD_FRAME_MORE;
	}
	uint32_t head = (uint32_t)(end - buf);
	int64_t clen = -1;
	/* header lines start after each LF but the start line's */
	const char *line = memchr(buf, '\n', head);
	while (line && line + 1 < end) {
		line++;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		const char *v = content_length_value(line, eol);
		if (v) {
			const char *stop = eol > v && eol[-1] == '\r' ? eol - 1 : eol;
			int64_t n = parse_length(v, stop);
			if (n < 0 || (clen >= 0 && n != clen)) {
				*out = head;
				return VD_FRAME_BAD_LENGTH;
			}
			clen = n;
		}
		line = eol;
	}
	*out = head;
	if (clen < 0)
		return VD_FRAME_NO_LENGTH;
	if ((uint64_t)head + (uint64_t)clen > max)
		return VD_FRAME_TOO_LARGE;
	if (head + (uint32_t)clen > len) {
		*out = 0;
		pr->need = head + (uint32_t)clen;
		return VD_FRAME_MORE;
	}
	*out = head + (uint32_t)clen;
	return VD_FRAME_MESSAGE;
}

enum vd_frame vd_sip_frame_resume(const char *buf, uint32_t len, uint32_t max,
				  struct vd_frame_progress *pr, uint32_t *out)
{
	enum vd_frame f = frame(buf, len, max, pr, out);
	if (f != VD_FRAME_MORE)
		*pr = (struct vd_frame_progress){ 0, 0 };
	return f;
}

enum vd_frame vd_sip_frame(const char *buf, uint32_t len, uint32_t max, uint32_t *out)
{
	struct vd_frame_progress pr = { 0, 0 };
	return frame(buf, len, max, &pr, out);
}
