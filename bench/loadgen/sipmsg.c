/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Header walking, parameter lookup, response matching data and the responder's 200 OK.
 *
 * A header is a line "name: value" plus any continuation lines (starting with SP or HT, RFC 3261
 * 7.3.1). The walk stops at the blank line, or at the end of the datagram if a sender forgot it:
 * the responder is a benchmark tool and errs on answering. A header line without a colon makes
 * the message bad. All scanning is bounded by the length given; the input is never written.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "sipmsg.h"

#define SIP_VERSION	"SIP/2.0"
#define SIP_VERSION_LEN (sizeof(SIP_VERSION) - 1)
#define TO_TAG_PREFIX	"rs" /* marks a tag the responder made, when reading captures */
#define FNV_OFFSET	0xcbf29ce484222325ull
#define FNV_PRIME	0x100000001b3ull

enum { H_VIA = 1, H_FROM = 2, H_TO = 4, H_CALLID = 8, H_CSEQ = 16, H_REQUIRED = 31 };

struct hdr_iter {
	const char *p;
	const char *end;
};

struct hdr {
	struct lg_slice name;
	struct lg_slice value;
	struct lg_slice line; /* name to end of the last continuation line, no line end */
};

/* Where the line at p ends: *content_end before "\r\n" or "\n"; returns the next line's start. */
static const char *next_line(const char *p, const char *end, const char **content_end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl) {
		*content_end = end;
		return end;
	}
	*content_end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	return nl + 1;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct lg_slice trim(const char *p, const char *e)
{
	while (p < e && is_ws(*p))
		p++;
	while (e > p && is_ws(e[-1]))
		e--;
	return (struct lg_slice){ p, (size_t)(e - p) };
}

/* Next header: 1, 0 at the end of the header section, -1 for a line without a colon. */
static int hdr_next(struct hdr_iter *it, struct hdr *h)
{
	const char *start = it->p;
	const char *ce;

	if (start >= it->end)
		return 0;
	const char *nx = next_line(start, it->end, &ce);
	if (ce == start)
		return 0; /* the blank line */
	while (nx < it->end && (*nx == ' ' || *nx == '\t'))
		nx = next_line(nx, it->end, &ce);
	it->p = nx;
	const char *colon = memchr(start, ':', (size_t)(ce - start));
	if (!colon)
		return -1;
	h->name = trim(start, colon);
	h->value = trim(colon + 1, ce);
	h->line = (struct lg_slice){ start, (size_t)(ce - start) };
	return h->name.len ? 1 : -1;
}

static bool name_is(struct lg_slice n, const char *full, char compact)
{
	size_t fl = strlen(full);
	if (n.len == fl && strncasecmp(n.p, full, fl) == 0)
		return true;
	return compact && n.len == 1 && (n.p[0] | 0x20) == compact;
}

/* The headers start after the start line; NULL when there is no line end at all. */
static const char *headers_start(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	return nl ? nl + 1 : NULL;
}

bool lg_sip_header(const char *buf, size_t len, const char *name, char compact, unsigned nth,
		   struct lg_slice *value, struct lg_slice *line)
{
	const char *hs = headers_start(buf, len);
	struct hdr_iter it = { hs, buf + len };
	struct hdr h;

	if (!hs)
		return false;
	while (hdr_next(&it, &h) == 1) {
		if (!name_is(h.name, name, compact) || nth-- > 0)
			continue;
		if (value)
			*value = h.value;
		if (line)
			*line = h.line;
		return true;
	}
	return false;
}

static bool is_param_end(char c)
{
	return c == ';' || c == ',' || c == '=' || is_ws(c);
}

/* At p (just after a top-level ';'): does the parameter name match? Sets *val if so. */
static bool param_at(const char *p, const char *end, const char *name, struct lg_slice *val)
{
	size_t nl = strlen(name);

	while (p < end && is_ws(*p))
		p++;
	const char *n = p;
	while (p < end && !is_param_end(*p))
		p++;
	if ((size_t)(p - n) != nl || strncasecmp(n, name, nl) != 0)
		return false;
	while (p < end && is_ws(*p))
		p++;
	if (p >= end || *p != '=') {
		*val = (struct lg_slice){ p, 0 };
		return true;
	}
	p++;
	while (p < end && is_ws(*p))
		p++;
	const char *v = p;
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++)
			if (*p == '\\' && p + 1 < end)
				p++;
		p += p < end; /* the closing quote */
	} else {
		while (p < end && !is_param_end(*p))
			p++;
	}
	*val = (struct lg_slice){ v, (size_t)(p - v) };
	return true;
}

bool lg_sip_param(struct lg_slice hvalue, const char *name, struct lg_slice *val)
{
	const char *p = hvalue.p, *end = hvalue.p + hvalue.len;
	bool quoted = false, angle = false;

	for (; p < end; p++) {
		char c = *p;
		if (quoted) {
			if (c == '\\' && p + 1 < end)
				p++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (c == '"')
			quoted = true;
		else if (c == '<')
			angle = true;
		else if (c == '>')
			angle = false;
		else if (!angle && c == ',')
			return false; /* the next value of a list */
		else if (!angle && c == ';' && param_at(p + 1, end, name, val))
			return true;
	}
	return false;
}

int lg_sip_response_branch(const char *buf, size_t len, unsigned *status, struct lg_slice *branch)
{
	struct lg_slice via;
	const char *d = buf + SIP_VERSION_LEN + 1;

	if (len < SIP_VERSION_LEN + 5 || strncasecmp(buf, SIP_VERSION " ", SIP_VERSION_LEN + 1))
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		if (d[i] < '0' || d[i] > '9')
			return -EINVAL;
	if (d[3] != ' ' && d[3] != '\r' && d[3] != '\n')
		return -EINVAL;
	*status =
		(unsigned)(d[0] - '0') * 100 + (unsigned)(d[1] - '0') * 10 + (unsigned)(d[2] - '0');
	if (!lg_sip_header(buf, len, "Via", 'v', 0, &via, NULL))
		return -EINVAL;
	if (!lg_sip_param(via, "branch", branch) || branch->len == 0)
		return -EINVAL;
	return 0;
}

/* "METHOD SP Request-URI SP SIP/2.0": the method, or an empty slice when malformed. */
static struct lg_slice request_method(const char *p, const char *ce)
{
	const struct lg_slice bad = { p, 0 };
	const char *sp = memchr(p, ' ', (size_t)(ce - p));

	if (!sp || sp == p || (size_t)(ce - p) < SIP_VERSION_LEN + 4)
		return bad;
	const char *ver = ce - SIP_VERSION_LEN;
	if (ver[-1] != ' ' || strncasecmp(ver, SIP_VERSION, SIP_VERSION_LEN) || ver - 1 <= sp + 1)
		return bad;
	return (struct lg_slice){ p, (size_t)(sp - p) };
}

struct out {
	char *p;
	size_t cap;
	size_t len;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

#define PUT_LIT(o, s) put((o), (s), sizeof(s) - 1)

/* A To-tag that depends only on the Call-ID: a retransmitted request gets the same reply. */
static void put_to_tag(struct out *o, struct lg_slice callid)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = FNV_OFFSET;
	char tag[16];

	for (size_t i = 0; i < callid.len; i++)
		h = (h ^ (uint8_t)callid.p[i]) * FNV_PRIME;
	for (int i = 15; i >= 0; i--, h >>= 4)
		tag[i] = hex[h & 15];
	PUT_LIT(o, ";tag=" TO_TAG_PREFIX);
	put(o, tag, sizeof(tag));
}

/* Which of the headers a reply copies this is (H_*), or 0. */
static int header_kind(struct lg_slice name)
{
	static const struct {
		const char *full;
		char compact;
		int kind;
	} copied[] = {
		{ "Via", 'v', H_VIA },	      { "From", 'f', H_FROM }, { "To", 't', H_TO },
		{ "Call-ID", 'i', H_CALLID }, { "CSeq", 0, H_CSEQ },
	};

	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
		if (name_is(name, copied[i].full, copied[i].compact))
			return copied[i].kind;
	return 0;
}

/* Copy the headers 8.2.6 wants; returns the mask of the required ones seen (or -1 if bad). */
static int copy_headers(struct out *o, const char *hs, const char *end, struct lg_slice callid)
{
	struct hdr_iter it = { hs, end };
	struct lg_slice tag;
	struct hdr h;
	int seen = 0, r;

	while ((r = hdr_next(&it, &h)) == 1) {
		int kind = header_kind(h.name);
		/* Every Via, in order; one of each of the others (a duplicate From is not ours to
		 * repeat). */
		if (!kind || (kind != H_VIA && (seen & kind)))
			continue;
		seen |= kind;
		if (kind == H_TO && !lg_sip_param(h.value, "tag", &tag)) {
			put(o, h.line.p, (size_t)(h.value.p + h.value.len - h.line.p));
			put_to_tag(o, callid);
		} else {
			put(o, h.line.p, h.line.len);
		}
		PUT_LIT(o, "\r\n");
	}
	return r < 0 ? -1 : seen;
}

enum lg_rx_kind lg_sip_reply(const char *req, size_t len, char *out, size_t cap, size_t *out_len)
{
	const char *end = req + len, *ce;
	struct out o = { out, cap, 0, false };
	struct lg_slice callid;

	if (len == 0 || !headers_start(req, len))
		return LG_RX_BAD;
	if (len > SIP_VERSION_LEN && strncasecmp(req, SIP_VERSION " ", SIP_VERSION_LEN + 1) == 0)
		return LG_RX_RESPONSE;
	const char *hs = next_line(req, end, &ce);
	struct lg_slice method = request_method(req, ce);
	if (method.len == 0)
		return LG_RX_BAD;
	if (method.len == 3 && memcmp(method.p, "ACK", 3) == 0)
		return LG_RX_ACK;
	if (!lg_sip_header(req, len, "Call-ID", 'i', 0, &callid, NULL))
		return LG_RX_BAD;
	PUT_LIT(&o, SIP_VERSION " 200 OK\r\n");
	if (copy_headers(&o, hs, end, callid) != H_REQUIRED)
		return LG_RX_BAD;
	PUT_LIT(&o, "Content-Length: 0\r\n\r\n");
	if (o.full)
		return LG_RX_BAD;
	*out_len = o.len;
	return LG_RX_REQUEST;
}
