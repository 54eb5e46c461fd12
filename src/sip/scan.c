/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scanner: one pass over a datagram that fills struct vd_sip_msg with slices.
 *
 * Structure: start line, then header lines until the empty line. Line ends come from a cursor
 * that classifies the bytes 64 at a time (SSE2) into a bit mask of line feeds and forbidden
 * control bytes, so the header section is classified exactly once. Headers every decision needs are
 * parsed as they pass; the rest stay slices.
 *
 * Error policy: structural problems (no empty line, a line that is not a header, too many
 * headers) stop the scan; value problems (bad CSeq, bad Content-Length, ...) are recorded and
 * the scan goes on, so the proxy still has Via/From/To/Call-ID/CSeq to build the 400 reply.
 * The first problem in message order is the verdict.
 */
#include "sip_internal.h"

#define MAX_FORWARDS_CEIL 0x7fffffffu
#define CONTENT_LENGTH_CEIL 0x7fffffffu
#define CSEQ_CEIL 0x7fffffffu /* RFC 3261 8.1.1.5: less than 2**31 */

/* Decimal digits [p, end) as a number <= max (the scanner's only user: kept here, inlined). */
static bool parse_u32(const char *p, const char *end, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	if (p >= end)
		return false;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static const char sip_version[] = "SIP/2.0";
#define SIP_VERSION_LEN (sizeof(sip_version) - 1)

static void msg_init(struct vd_sip_msg *m, const char *buf, size_t len)
{
	/* Only the fixed fields: hdrs[] is filled as headers are found (n_hdrs bounds it). One
	 * memset measured as fast as initialising the dozen fields read before written. */
	memset(m, 0, offsetof(struct vd_sip_msg, hdrs));
	m->buf = buf;
	m->len = (uint32_t)len;
	memset(m->first, 0xff, sizeof(m->first));
	m->max_forwards = -1;
	m->content_length = -1;
}

static enum vd_sip_err status_line(struct vd_sip_msg *m, const char *p, const char *end)
{
	uint32_t code;
	if ((size_t)(end - p) < SIP_VERSION_LEN + 4 || memcmp(p, sip_version, SIP_VERSION_LEN) ||
	    p[SIP_VERSION_LEN] != ' ')
		return VD_SIP_E_BAD_STATUS_LINE;
	p += SIP_VERSION_LEN + 1;
	if (!parse_u32(p, p + 3, 999, &code) || code < 100 || code > 699)
		return VD_SIP_E_BAD_STATUS_LINE;
	p += 3;
	if (p < end && *p != ' ')
		return VD_SIP_E_BAD_STATUS_LINE; /* a 4-digit code, or garbage after it */
	m->status = (uint16_t)code;
	if (p < end)
		p++;
	m->reason = (struct vd_slice){ p, (uint32_t)(end - p) };
	return VD_SIP_OK;
}

/*
 * Bytes of the Request-URI [u, e) a decision needs a second look at: HT (LWS, which a
 * Request-URI never holds) and '?' (headers, which a SIP Request-URI must not carry: RFC 3261
 * 19.1.1 table 1; '?' is legal in a user part). Returns the first one or e. Bytes up to rd
 * (>= e, the datagram's end) may be read: 16 a step. The scalar twin is what the tests
 * compare it with.
 */
static inline const char *uri_stop_scalar(const char *u, const char *e)
{
	for (; u < e; u++)
		if (*u == '\t' || *u == '?')
			return u;
	return e;
}

static inline const char *uri_stop(const char *u, const char *e, const char *rd)
{
#if defined(__SSE2__)
	for (; u < e && rd - u >= 16; u += 16) {
		unsigned m = vd_uri_stop_mask16(u);
		if (m) {
			const char *q = u + __builtin_ctz(m);
			return q < e ? q : e;
		}
	}
	if (u >= e)
		return e;
#else
	(void)rd;
#endif
	return uri_stop_scalar(u, e);
}

const char *vd_sip_uri_stop(const char *u, const char *e, const char *rd)
{
	return uri_stop(u, e, rd);
}

const char *vd_sip_uri_stop_scalar(const char *u, const char *e)
{
	return uri_stop_scalar(u, e);
}

/* The Request-URI [u, e) itself (RFC 3261 25.1): not in <>, no LWS, no headers in a SIP URI. */
static enum vd_sip_err request_uri(const char *u, const char *e, const char *rd)
{
	if (*u == '<')
		return VD_SIP_E_BAD_REQUEST_URI;
	const char *q = uri_stop(u, e, rd);
	if (q == e)
		return VD_SIP_OK; /* the usual case: nothing to look at twice */
	/* rare: an HT anywhere is LWS; a '?' is headers unless it is in a SIP URI's user part
	 * (which ends at the first '@'), or the scheme is not SIP at all */
	if (memchr(q, '\t', (size_t)(e - q)))
		return VD_SIP_E_BAD_REQUEST_URI;
	bool sip = (e - u >= 4 && eq_nocase(u, "sip:", 4)) || (e - u >= 5 && eq_nocase(u, "sips:", 5));
	if (!sip)
		return VD_SIP_OK;
	const char *at = memchr(u, '@', (size_t)(e - u));
	if (at && at > q)
		q = memchr(at, '?', (size_t)(e - at));
	return q ? VD_SIP_E_BAD_REQUEST_URI : VD_SIP_OK;
}

/* The request line did not end in " SIP/2.0" after its second SP: name the problem. u is the
 * Request-URI's first byte, sp the SP after it. */
static __attribute__((noinline, cold)) enum vd_sip_err request_line_bad(const char *u, const char *sp,
								       const char *end)
{
	const char *v = sp + 1, *last;
	if (end - v >= 4 && eq_nocase(v, "SIP/", 4) && !memchr(v, ' ', (size_t)(end - v)))
		return VD_SIP_E_BAD_VERSION;
	/* "INVITE sip:a@b; lr SIP/2.0": LWS inside the URI (one SP on both sides of it); several
	 * SP between the elements (RFC 4475 3.1.2.9) stay a bad request line */
	for (last = end - 1; last > sp && *last != ' '; last--)
		;
	if (last > sp && (size_t)(end - last - 1) == SIP_VERSION_LEN &&
	    memcmp(last + 1, sip_version, SIP_VERSION_LEN) == 0 && u < sp && *u != ' ' &&
	    last[-1] != ' ')
		return VD_SIP_E_BAD_REQUEST_URI;
	return VD_SIP_E_BAD_START_LINE;
}

/* Method SP Request-URI SP SIP-Version (RFC 3261 7.1); rd: the datagram's end. */
static enum vd_sip_err request_line(struct vd_sip_msg *m, const char *p, const char *end,
				    const char *rd)
{
	const char *t = p;
	while (p < end && is_token_char((unsigned char)*p))
		p++;
	if (p == t || p >= end || *p != ' ')
		return VD_SIP_E_BAD_START_LINE;
	m->method_name = (struct vd_slice){ t, (uint32_t)(p - t) };
	m->method = (uint8_t)vd_sip_method_parse(t, (size_t)(p - t));
	const char *u = ++p;
	p = memchr(u, ' ', (size_t)(end - u)); /* a Request-URI holds no SP (RFC 3261 25.1) */
	if (!p || p == u)
		return VD_SIP_E_BAD_START_LINE;
	if ((size_t)(end - p - 1) != SIP_VERSION_LEN ||
	    memcmp(p + 1, sip_version, SIP_VERSION_LEN) != 0)
		return request_line_bad(u, p, end);
	m->ruri = (struct vd_slice){ u, (uint32_t)(p - u) };
	return request_uri(u, p, rd);
}

/* Returns the start-line verdict; *fatal when nothing after it can be scanned. */
static enum vd_sip_err start_line(struct vd_sip_msg *m, const char *buf, const char *end,
				  struct vd_eol_cursor *cur, bool *fatal)
{
	const char *eol = vd_eol_next(cur, buf);
	*fatal = true;
	/* No CRLF-terminated first line, binary bytes, or a bare CRLF keepalive: not SIP text. */
	if (eol >= end || *eol != '\n' || eol - buf < 2 || eol[-1] != '\r')
		return VD_SIP_E_NOT_SIP;
	m->start_line_end = (uint32_t)(eol + 1 - buf);
	*fatal = false;
	const char *line_end = eol - 1;
	if (line_end - buf >= 4 && memcmp(buf, "SIP/", 4) == 0) {
		m->is_request = false;
		enum vd_sip_err e = status_line(m, buf, line_end);
		*fatal = e != VD_SIP_OK; /* a broken response is dropped whole */
		return e;
	}
	m->is_request = true;
	return request_line(m, buf, line_end, end);
}

static void set_err(enum vd_sip_err *err, enum vd_sip_err e)
{
	if (*err == VD_SIP_OK)
		*err = e;
}

static void parse_via(struct vd_sip_msg *m, const struct vd_sip_limits *lim, uint16_t idx,
		      enum vd_sip_err *err)
{
	const struct vd_sip_header *h = &m->hdrs[idx];
	const char *v = h->value.p, *end = v + h->value.len;
	bool bad = false;

	/* the common case, one value per line, inline: no comma, nothing to split */
	if (memchr(v, ',', (size_t)(end - v))) {
		m->via_count += vd_sip_via_count(v, end, &bad);
	} else {
		m->via_count++;
		bad = v == end;
	}
	if (bad)
		set_err(err, VD_SIP_E_BAD_VIA);
	if (m->via_count > lim->max_vias)
		set_err(err, VD_SIP_E_TOO_MANY_VIAS);
	if (m->first[VD_H_VIA] != idx)
		return;
	const char *e = vd_sip_via_parse_rd(v, end, m->buf + m->len, &m->via);
	if (!e) {
		m->via.transport.p = NULL; /* half-parsed: readers must not take it for a Via */
		set_err(err, VD_SIP_E_BAD_VIA);
		return;
	}
	m->via.hdr = idx;
	m->via.value_off = (uint32_t)(v - m->buf);
	m->via.value_end = (uint32_t)(e - m->buf);
}

/* CSeq = 1*DIGIT LWS Method */
static bool parse_cseq(struct vd_sip_msg *m, const char *p, const char *end)
{
	const char *d = p;
	while (p < end && is_digit(*p))
		p++;
	if (!parse_u32(d, p, CSEQ_CEIL, &m->cseq))
		return false;
	const char *t = skip_lws(p, end);
	if (t == p)
		return false;
	p = t;
	while (p < end && is_token_char((unsigned char)*p))
		p++;
	if (p == t || p != end)
		return false;
	m->cseq_method_name = (struct vd_slice){ t, (uint32_t)(p - t) };
	m->cseq_method = (uint8_t)vd_sip_method_parse(t, (size_t)(p - t));
	return true;
}

static bool parse_number(const struct vd_sip_header *h, uint32_t ceil, int64_t *out)
{
	uint32_t v;
	if (!parse_u32(h->value.p, h->value.p + h->value.len, ceil, &v))
		return false;
	*out = v;
	return true;
}

/* Parse the headers every decision needs, as they pass. */
static void parse_known(struct vd_sip_msg *m, const struct vd_sip_limits *lim, uint16_t idx,
			enum vd_sip_err *err)
{
	const struct vd_sip_header *h = &m->hdrs[idx];
	const char *v = h->value.p, *end = v + h->value.len;
	bool first = m->first[h->kind] == idx;
	int64_t n;

	switch (h->kind) {
	case VD_H_VIA:
		parse_via(m, lim, idx, err);
		return;
	case VD_H_ROUTE:
		if (first)
			m->route.more_after = false; /* set below when another value follows */
		if (first && !vd_sip_route_parse(m, idx, (uint32_t)(v - m->buf), &m->route))
			set_err(err, VD_SIP_E_BAD_ROUTE);
		m->has_route = true;
		if (!first)
			m->route.more_after = true;
		return;
	default:
		break;
	}
	/* The rest are single-valued: a second occurrence is refused (RFC 3261 7.3.1). */
	if (!first) {
		set_err(err, VD_SIP_E_DUP_HEADER);
		return;
	}
	switch (h->kind) {
	case VD_H_MAX_FORWARDS:
		if (!parse_number(h, MAX_FORWARDS_CEIL, &n))
			set_err(err, VD_SIP_E_BAD_MAX_FORWARDS);
		else
			m->max_forwards = (int32_t)n;
		break;
	case VD_H_CALL_ID:
		m->call_id = h->value;
		break;
	case VD_H_CSEQ:
		if (!parse_cseq(m, v, end))
			set_err(err, VD_SIP_E_BAD_CSEQ);
		break;
	case VD_H_FROM: /* an unbalanced quote or a bare ',' (RFC 4475 3.1.2.6, 3.1.2.15) */
		if (!vd_sip_tag_find(v, end, m->buf + m->len, &m->from_tag))
			set_err(err, VD_SIP_E_BAD_FROM);
		break;
	case VD_H_TO:
		if (!vd_sip_tag_find(v, end, m->buf + m->len, &m->to_tag))
			set_err(err, VD_SIP_E_BAD_TO);
		break;
	case VD_H_CONTENT_LENGTH:
		if (!parse_number(h, CONTENT_LENGTH_CEIL, &m->content_length))
			set_err(err, VD_SIP_E_BAD_CONTENT_LENGTH);
		break;
	}
}

/* The kinds that are parsed as they pass (bit set). */
#define EAGER_KINDS                                                                         \
	((1u << VD_H_VIA) | (1u << VD_H_ROUTE) | (1u << VD_H_MAX_FORWARDS) |                \
	 (1u << VD_H_CALL_ID) | (1u << VD_H_CSEQ) | (1u << VD_H_FROM) | (1u << VD_H_TO) |   \
	 (1u << VD_H_CONTENT_LENGTH))

/*
 * Is the control byte at c the second byte of a quoted-pair inside a quoted string of the
 * value starting at v? quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F) (RFC 3261 25.1), so
 * NUL, BEL or DEL may be escaped in a display name; LF and CR may not (the line finder never
 * stops here for a CR). Only reached at a control byte, so the walk from v costs nothing on
 * clean messages.
 */
static __attribute__((noinline, cold)) bool quoted_pair_at(const char *v, const char *c)
{
	bool quoted = false;
	for (const char *p = v; p < c; p++) {
		if (!quoted) {
			quoted = *p == '"';
		} else if (*p == '\\') {
			if (++p == c)
				return true;
		} else if (*p == '"') {
			quoted = false;
		}
	}
	return false;
}

/* Where header_line() stopped on a control byte, for header_line_escaped(). */
struct line_stop {
	const char *n, *name_end, *v, *at;
	uint8_t kind;
};

/* hdrs[n_hdrs] from the line's name [n, name_end), kind (VD_H__COUNT: not known yet), value
 * start v and the LF that ends it; returns the next line. */
static inline const char *header_fill(struct vd_sip_msg *m, const char *n, const char *name_end,
				      uint8_t kind, const char *v, const char *eol)
{
	const char *vs = skip_lws(v, eol - 1);
	struct vd_sip_header *h = &m->hdrs[m->n_hdrs];
	h->name = (struct vd_slice){ n, (uint32_t)(name_end - n) };
	h->value = (struct vd_slice){ vs, (uint32_t)(trim_lws_end(vs, eol - 1) - vs) };
	h->line_off = (uint32_t)(n - m->buf);
	h->line_end = (uint32_t)(eol + 1 - m->buf);
	h->kind = kind != VD_H__COUNT ? kind : (uint8_t)vd_sip_hdr_kind(n, (size_t)(name_end - n));
	return eol + 1;
}

/*
 * One header line at p (not the empty line). On success fills hdrs[n_hdrs] and returns the
 * start of the next line; on a structural error returns NULL with *err set (and, for a control
 * byte, *stop for header_line_escaped()).
 */
static const char *header_line(struct vd_sip_msg *m, const char *p, const char *end,
			       struct vd_eol_cursor *cur, enum vd_sip_err *err,
			       struct line_stop *stop)
{
	const char *n = p, *name_end;
	uint8_t kind = VD_H__COUNT; /* not known yet */
#if defined(__SSE2__)
	/*
	 * Fast path for the common "Name:" with a known name: the first ':' of the next 16 bytes
	 * ends the candidate, and vd_hdr_kind_v() matches only exact known names (letters in
	 * either case), which are all token characters: the same name, end and kind the token
	 * loop below finds. An unknown candidate is still one compare cheaper there, since the
	 * loop stopping at that colon means VD_H_OTHER without a second lookup.
	 */
	const char *colon = NULL;
	if (end - p >= 16) {
		__m128i v = vd_load16(p);
		unsigned cm = vd_byte_mask_v(v, ':');
		if (cm) {
			unsigned len = (unsigned)__builtin_ctz(cm);
			colon = p + len;
			kind = (uint8_t)(len >= 2 ? vd_hdr_kind_v(p, len, v) : vd_sip_hdr_kind(p, len));
			if (kind != VD_H_OTHER) {
				p = colon;
			} else if ((vd_name_mask_v(v) | ~0u << len) == ~0u) {
				/* an unknown name of letters, digits and '-' (token characters
				 * all) ends at the colon as the token loop would find */
				p = colon;
			}
		} else if (end - p >= 32 && vd_name_mask_v(v) == 0xffff) {
			/* a long name (P-Asserted-Identity): its colon in the next 16 bytes */
			__m128i v2 = vd_load16(p + 16);
			unsigned cm2 = vd_byte_mask_v(v2, ':');
			if (cm2) {
				unsigned len = 16 + (unsigned)__builtin_ctz(cm2);
				colon = p + len;
				if ((vd_name_mask_v(v2) | ~0u << (len - 16)) == ~0u) {
					kind = (uint8_t)vd_sip_hdr_kind(p, len);
					p = colon;
				}
			}
		}
	}
	if (p == n) {
		while (p < end && is_token_char((unsigned char)*p))
			p++;
		if (p != colon)
			kind = VD_H__COUNT;
	}
#else
	while (p < end && is_token_char((unsigned char)*p))
		p++;
#endif
	name_end = p;
	if (p < end && *p != ':') /* usually the colon follows the name at once */
		while (p < end && is_ws(*p))
			p++;
	if (p >= end || *p != ':' || name_end == n) {
		/* a control byte here, or right after a CR, is the problem to report */
		bool ctl = p < end && (is_bad_ctl((unsigned char)*p) ||
				       (*p == '\r' && p + 1 < end && is_bad_ctl((unsigned char)p[1])));
		*err = p >= end ? VD_SIP_E_NO_HEADER_END : ctl ? VD_SIP_E_BAD_CHAR : VD_SIP_E_BAD_HEADER;
		return NULL;
	}
	const char *v = ++p, *eol;
	for (;;) { /* one iteration per physical line: folded lines continue the value */
		eol = vd_eol_next(cur, p);
		if (eol >= end) {
			*err = VD_SIP_E_NO_HEADER_END;
			return NULL;
		}
		if (*eol != '\n' || eol[-1] != '\r') {
			*err = *eol != '\n' ? VD_SIP_E_BAD_CHAR : VD_SIP_E_BAD_HEADER;
			*stop = (struct line_stop){ n, name_end, v, eol, kind };
			return NULL;
		}
		if (eol + 1 < end && is_ws(eol[1]))
			p = eol + 1;
		else
			break;
	}
	return header_fill(m, n, name_end, kind, v, eol);
}

/* The next '\n' or forbidden control byte after p, byte by byte (the cold path's finder). */
static const char *next_stop_scalar(const char *p, const char *end)
{
	while (p < end && *p != '\n' && !is_bad_ctl((unsigned char)*p))
		p++;
	return p;
}

/*
 * header_line() stopped at a control byte: if it is the second byte of a quoted-pair inside a
 * quoted string (RFC 3261 25.1: NUL, BEL, DEL may be escaped in a display name), the value
 * goes on; finish the line here, byte by byte. Kept apart so that the line loop has no call
 * in it: one there, even never taken, cost ~85 instructions per message (callgrind).
 */
static __attribute__((noinline, cold)) const char *
header_line_escaped(struct vd_sip_msg *m, const struct line_stop *st, const char *end,
		    enum vd_sip_err *err)
{
	const char *eol = st->at;
	for (;;) {
		while (*eol != '\n') {
			if (!quoted_pair_at(st->v, eol))
				return NULL; /* *err stays VD_SIP_E_BAD_CHAR */
			eol = next_stop_scalar(eol + 1, end);
			if (eol >= end) {
				*err = VD_SIP_E_NO_HEADER_END;
				return NULL;
			}
		}
		if (eol[-1] != '\r') {
			*err = VD_SIP_E_BAD_HEADER;
			return NULL;
		}
		if (!(eol + 1 < end && is_ws(eol[1])))
			break;
		eol = next_stop_scalar(eol + 1, end); /* a folded continuation line */
		if (eol >= end) {
			*err = VD_SIP_E_NO_HEADER_END;
			return NULL;
		}
	}
	*err = VD_SIP_OK;
	return header_fill(m, st->n, st->name_end, st->kind, st->v, eol);
}

static enum vd_sip_err required_headers(const struct vd_sip_msg *m)
{
	static const struct {
		uint8_t kind;
		uint8_t err;
	} required[] = {
		{ VD_H_VIA, VD_SIP_E_MISSING_VIA },	    { VD_H_FROM, VD_SIP_E_MISSING_FROM },
		{ VD_H_TO, VD_SIP_E_MISSING_TO },	    { VD_H_CALL_ID, VD_SIP_E_MISSING_CALL_ID },
		{ VD_H_CSEQ, VD_SIP_E_MISSING_CSEQ },
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!(m->seen & (1u << required[i].kind)))
			return (enum vd_sip_err)required[i].err;
	if (m->call_id.len == 0)
		return VD_SIP_E_MISSING_CALL_ID;
	if (m->is_request && m->method_name.p &&
	    (m->cseq_method_name.len != m->method_name.len ||
	     memcmp(m->cseq_method_name.p, m->method_name.p, m->method_name.len)))
		return VD_SIP_E_CSEQ_MISMATCH;
	return VD_SIP_OK;
}

/* RFC 3261 18.3: over UDP, extra bytes after Content-Length are cut; too few is an error. */
static enum vd_sip_err body(struct vd_sip_msg *m)
{
	uint32_t avail = m->len - m->body_off;
	if (m->content_length < 0) {
		m->body_len = avail;
		return VD_SIP_OK;
	}
	if ((uint64_t)m->content_length > avail) {
		m->body_len = avail;
		return VD_SIP_E_BODY_TOO_SHORT;
	}
	m->body_len = (uint32_t)m->content_length;
	m->len = m->body_off + m->body_len;
	return VD_SIP_OK;
}

enum vd_sip_err vd_sip_scan(const char *buf, size_t len, const struct vd_sip_limits *lim,
			    struct vd_sip_msg *m)
{
	const char *end = buf + len;
	bool fatal;
	uint32_t max_headers = lim->max_headers < VD_SIP_HDRS_CAP ? lim->max_headers
								   : VD_SIP_HDRS_CAP;

	if (len > UINT32_MAX)
		return VD_SIP_E_TOO_LARGE;
	msg_init(m, buf, len);
	struct vd_eol_cursor cur;
	vd_eol_init(&cur, end);
	enum vd_sip_err err = start_line(m, buf, end, &cur, &fatal);
	if (fatal)
		return err;

	const char *p = buf + m->start_line_end;
	for (;;) {
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			break;
		if (m->n_hdrs >= max_headers) {
			set_err(&err, VD_SIP_E_TOO_MANY_HEADERS);
			return err;
		}
		enum vd_sip_err line_err = VD_SIP_OK;
		struct line_stop stop;
		stop.at = NULL; /* set when the value (not the name) stopped on a control byte */
		const char *next = header_line(m, p, end, &cur, &line_err, &stop);
		if (!next && line_err == VD_SIP_E_BAD_CHAR && stop.at)
			next = header_line_escaped(m, &stop, end, &line_err);
		if (!next) {
			set_err(&err, end - p < 2 ? VD_SIP_E_NO_HEADER_END : line_err);
			return err;
		}
		uint16_t idx = m->n_hdrs++;
		uint8_t kind = m->hdrs[idx].kind;
		if (m->first[kind] == VD_SIP_NO_HDR)
			m->first[kind] = idx;
		m->seen |= 1u << kind;
		if (EAGER_KINDS & (1u << kind))
			parse_known(m, lim, idx, &err);
		p = next;
	}
	m->headers_end = (uint32_t)(p - buf);
	m->body_off = m->headers_end + 2;
	if (m->has_route && m->route.more_in_line)
		m->route.more_after = true;
	if (err == VD_SIP_OK)
		err = required_headers(m);
	enum vd_sip_err body_err = body(m);
	return err != VD_SIP_OK ? err : body_err;
}
