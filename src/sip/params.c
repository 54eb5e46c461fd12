/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Parsers for the few header values a stateless proxy must understand: the top Via (sent-by
 * and the branch/received/rport/maddr parameters), host[:port], SIP URIs (host, port, lr,
 * maddr), Route values, and the tag parameter of From/To.
 *
 * They work on [p, end) slices of the packet, tolerate LWS and folding wherever RFC 3261
 * allows SWS/LWS, and report a malformed value instead of guessing.
 */
#include "sip_internal.h"

/* Character classes of hosts, one bit each, so a loop tests one table byte per character. */
enum {
	HC_HOST = 1,   /* hostname or IPv4: alphanumerics, '.', '-', '_' */
	HC_DOTNUM = 2, /* digits and '.': an IPv4 candidate */
	HC_V6 = 4,     /* inside brackets: hex digits, ':', '.' */
};
static const uint8_t host_class[256] = {
	['0' ... '9'] = HC_HOST | HC_DOTNUM | HC_V6,
	['a' ... 'f'] = HC_HOST | HC_V6, ['A' ... 'F'] = HC_HOST | HC_V6,
	['g' ... 'z'] = HC_HOST, ['G' ... 'Z'] = HC_HOST,
	['.'] = HC_HOST | HC_DOTNUM | HC_V6, ['-'] = HC_HOST, ['_'] = HC_HOST, [':'] = HC_V6,
};

/* vd_sip_host_parse, reading at most up to rd (>= end) */
static inline bool host_parse_rd(const char **pp, const char *end, const char *rd,
				 struct vd_slice *host, uint8_t *type, uint16_t *port)
{
	const char *p = *pp, *h = p;

	if (p < end && *p == '[') {
		for (p++; p < end && (host_class[(unsigned char)*p] & HC_V6); p++)
			;
		if (p >= end || *p != ']' || p - h < 3)
			return false;
		p++;
		*type = VD_HOST_IPV6;
	} else {
		unsigned all = HC_HOST | HC_DOTNUM, c;
#if defined(__SSE2__)
		/* 16 bytes a step while they are all host bytes; the byte loop does the rest */
		while (p < end && rd - p >= 16) {
			unsigned dn, hm = vd_host_mask16(p, &dn);
			if (end - p < 16) /* bytes past end are no host bytes */
				hm &= (1u << (end - p)) - 1;
			if (hm != 0xffff) {
				unsigned k = (unsigned)__builtin_ctz(~hm);
				if ((dn | (~0u << k)) != ~0u) /* a host byte before k that is no digit or dot */
					all &= ~(unsigned)HC_DOTNUM;
				p += k;
				if (p - h == k && (all & HC_DOTNUM)) { /* in the first 16 bytes */
					if (k == 0)
						return false;
					*type = vd_ipv4_16(h, k) ? VD_HOST_IPV4 : VD_HOST_FQDN;
					goto port;
				}
				break;
			}
			if (dn != 0xffff)
				all &= ~(unsigned)HC_DOTNUM;
			p += 16;
		}
#else
		(void)rd;
#endif
		for (; p < end && ((c = host_class[(unsigned char)*p]) & HC_HOST); p++)
			all &= c;
		if (p == h)
			return false;
		*type = (all & HC_DOTNUM) && vd_ipv4_scalar(h, p) ? VD_HOST_IPV4 : VD_HOST_FQDN;
	}
#if defined(__SSE2__)
port:
#endif
	host->p = h;
	host->len = (uint32_t)(p - h);
	*port = 0;
	if (p < end && *p == ':') {
		uint32_t v = 0;
		const char *d = ++p, *lim = end - p > 5 ? p + 5 : end; /* at most 5 digits */
		for (uint32_t dig; p < lim && (dig = (uint32_t)(unsigned char)*p - '0') < 10; p++)
			v = v * 10 + dig;
		if (p == d || v == 0 || v > 65535 || (p < end && is_digit(*p)))
			return false;
		*port = (uint16_t)v;
	}
	*pp = p;
	return true;
}

bool vd_sip_host_parse(const char **pp, const char *end, struct vd_slice *host, uint8_t *type,
		       uint16_t *port)
{
	return host_parse_rd(pp, end, end, host, type, port);
}

/* Skip a quoted-string starting at '"'; returns one past the closing quote or NULL. */
static const char *skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Unquoted parameter values: tokens, and hosts with IPv6 brackets and colons. */
static const uint8_t param_value_table[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
	['-'] = 1, ['.'] = 1, ['!'] = 1, ['%'] = 1, ['*'] = 1, ['_'] = 1, ['+'] = 1,
	['`'] = 1, ['\''] = 1, ['~'] = 1, [':'] = 1, ['['] = 1, [']'] = 1,
};

/*
 * The first byte at or after p that is no host byte (letters, digits, '-', '.', '_': token and
 * parameter-value bytes alike), or end; 16 bytes a step while 16 are readable before rd (>= end:
 * the scanner passes the datagram's end, so a value at the end of its header still gets a
 * vector step). Callers go on byte by byte from the result with their own, wider class.
 */
static inline const char *skip_host_bytes(const char *p, const char *end, const char *rd)
{
#if defined(__SSE2__)
	while (p < end && rd - p >= 16) {
		unsigned dn, hm = vd_host_mask16(p, &dn);
		if (hm != 0xffff) {
			p += __builtin_ctz(~hm);
			break;
		}
		p += 16;
	}
	return p < end ? p : end;
#else
	(void)rd;
	(void)end;
	return p;
#endif
}

/*
 * Parse one generic parameter ";name[=value]" at p (which points at ';'). Returns the
 * position after it, or NULL if malformed. Values are tokens, hosts (IPv6 in brackets) or
 * quoted strings; the quotes are kept in the slice. Bytes up to rd (>= end) may be read.
 */
static const char *param_next(const char *p, const char *end, const char *rd,
			      struct vd_slice *name, struct vd_slice *val)
{
	p = skip_lws(p + 1, end);
	const char *n = p, *q;
	if (end - p >= 8) {
		/* "tag=" and "branch=": the same name and '=' the token loop and skip_lws below
		 * find, in one word compare each */
		if (vd_param_is_tag(p)) {
			*name = (struct vd_slice){ n, 3 };
			q = p + 3;
			goto value;
		}
		if (vd_param_is_branch(p)) {
			*name = (struct vd_slice){ n, 6 };
			q = p + 6;
			goto value;
		}
	}
	while (p < end && is_token_char((unsigned char)*p))
		p++;
	if (p == n)
		return NULL;
	*name = (struct vd_slice){ n, (uint32_t)(p - n) };
	*val = (struct vd_slice){ NULL, 0 };
	q = skip_lws(p, end);
	if (q >= end || *q != '=')
		return p;
value:
	p = skip_lws(q + 1, end);
	const char *v = p;
	if (p < end && *p == '"') {
		p = skip_quoted(p, end);
		if (!p)
			return NULL;
	} else {
		p = skip_host_bytes(p, end, rd);
		while (p < end && param_value_table[(unsigned char)*p])
			p++;
	}
	*val = (struct vd_slice){ v, (uint32_t)(p - v) };
	return p;
}

/* Parameter name n equals the lower-case literal (names are tokens: eq_lower is exact). */
static bool name_is(struct vd_slice n, const char *lit, size_t len)
{
	return n.len == len && eq_lower(n.p, lit, len);
}
#define NAME_IS(n, lit) name_is(n, lit, sizeof(lit) - 1)

/* "SIP" SWS "/" SWS "2.0" SWS "/" SWS transport */
static const char *via_protocol(const char *p, const char *end, struct vd_slice *transport)
{
	/* fast path: the spelling nearly everyone sends, "SIP/2.0/UDP " and friends */
	if (end - p >= 12 && memcmp(p, "SIP/2.0/", 8) == 0 && p[11] == ' ' &&
	    is_token_char((unsigned char)p[8]) && is_token_char((unsigned char)p[9]) &&
	    is_token_char((unsigned char)p[10])) {
		*transport = (struct vd_slice){ p + 8, 3 };
		return p + 11;
	}
	static const char *const parts[2] = { "sip", "2.0" };
	for (int i = 0; i < 2; i++) {
		if (end - p < 3 || !eq_lower(p, parts[i], 3))
			return NULL;
		p = skip_lws(p + 3, end);
		if (p >= end || *p != '/')
			return NULL;
		p = skip_lws(p + 1, end);
	}
	const char *t = p;
	while (p < end && is_token_char((unsigned char)*p))
		p++;
	if (p == t)
		return NULL;
	*transport = (struct vd_slice){ t, (uint32_t)(p - t) };
	return p;
}

const char *vd_sip_via_parse_rd(const char *p, const char *end, const char *rd,
				struct vd_sip_via *via)
{
	p = via_protocol(p, end, &via->transport);
	if (!p)
		return NULL;
	p = skip_lws(p, end);
	if (!host_parse_rd(&p, end, rd, &via->host, &via->host_type, &via->port))
		return NULL;
	via->branch = via->received = via->rport = via->maddr = via->oc =
		(struct vd_slice){ NULL, 0 };
	for (;;) {
		const char *q = skip_lws(p, end);
		if (q >= end || *q == ',') {
			via->more_in_line = q < end;
			break;
		}
		if (*q != ';')
			return NULL;
		struct vd_slice n, v;
		p = param_next(q, end, rd, &n, &v);
		if (!p)
			return NULL;
		if (NAME_IS(n, "branch"))
			via->branch = v;
		else if (NAME_IS(n, "received"))
			via->received = v;
		else if (NAME_IS(n, "rport"))
			via->rport = v.p ? v : (struct vd_slice){ n.p + n.len, 0 };
		else if (NAME_IS(n, "maddr"))
			via->maddr = v;
		else if (NAME_IS(n, "oc")) /* RFC 7339; its companions are read on demand */
			via->oc = v.p ? v : (struct vd_slice){ n.p + n.len, 0 };
	}
	return p; /* one past the last byte of this via-parm */
}

const char *vd_sip_via_parse(const char *p, const char *end, struct vd_sip_via *via)
{
	return vd_sip_via_parse_rd(p, end, end, via);
}

/* Decimal digits of s (at most max_digits of them, all of s) into *v. */
static bool decimal(struct vd_slice s, unsigned max_digits, uint64_t *v)
{
	*v = 0;
	if (s.len == 0 || s.len > max_digits)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		if (!is_digit(s.p[i]))
			return false;
		*v = *v * 10 + (uint64_t)(s.p[i] - '0');
	}
	return true;
}

/* RFC 7339 oc-seq = 1*12DIGIT "." 1*5DIGIT, as seconds * 10^5 + the fraction in 10^-5 s. */
static bool oc_seq(struct vd_slice s, uint64_t *seq)
{
	const char *dot = memchr(s.p, '.', s.len);
	uint64_t sec, frac = 0;
	if (!dot) { /* seconds alone: lenient, the grammar wants the fraction too */
		if (!decimal(s, 12, &sec))
			return false;
		*seq = sec * 100000u;
		return true;
	}
	struct vd_slice a = { s.p, (uint32_t)(dot - s.p) };
	struct vd_slice b = { dot + 1, (uint32_t)(s.p + s.len - dot - 1) };
	if (!decimal(a, 12, &sec) || !decimal(b, 5, &frac))
		return false;
	for (uint32_t i = b.len; i < 5; i++) /* ".5" is 50000 of 10^-5 */
		frac *= 10;
	*seq = sec * 100000u + frac;
	return true;
}

/* "loss", bare or quoted, alone or first of a list (a server names the one it applies). */
static bool oc_algo_loss(struct vd_slice v)
{
	const char *p = v.p, *end = v.p + v.len;
	if (p < end && *p == '"')
		p++;
	return end - p >= 4 && eq_lower(p, "loss", 4) &&
	       (end - p == 4 || p[4] == '"' || p[4] == ',' || p[4] == ' ');
}

bool vd_sip_via_oc(const char *p, const char *end, struct vd_sip_oc *oc)
{
	struct vd_slice n, v;
	bool have_oc = false;
	uint64_t x;

	*oc = (struct vd_sip_oc){ .loss = true, .validity_ms = VD_SIP_OC_VALIDITY_DEFAULT };
	p = memchr(p, ';', (size_t)(end - p)); /* the parameters: after sent-by */
	while (p && p < end && *p == ';') {
		p = param_next(p, end, end, &n, &v);
		if (!p)
			return false;
		if (NAME_IS(n, "oc")) {
			if (!v.p) /* the flag (ours, echoed): a member's value may follow */
				goto next;
			if (!decimal(v, 3, &x) || x > 100)
				return false;
			oc->oc = (uint8_t)x;
			have_oc = true;
		} else if (NAME_IS(n, "oc-validity")) {
			if (!v.p || !decimal(v, 18, &x)) /* 18 digits fit: then capped */
				return false;
			oc->validity_ms = x > VD_SIP_OC_VALIDITY_MAX ? VD_SIP_OC_VALIDITY_MAX
								     : (uint32_t)x;
		} else if (NAME_IS(n, "oc-seq")) {
			if (!v.p || !oc_seq(v, &oc->seq))
				return false;
			oc->has_seq = true;
		} else if (NAME_IS(n, "oc-algo")) {
			oc->loss = v.p && oc_algo_loss(v);
		}
next:
		p = skip_lws(p, end);
	}
	return have_oc;
}

bool vd_sip_retry_after(struct vd_slice value, uint32_t *seconds)
{
	uint64_t v = 0;
	uint32_t i = 0;
	for (; i < value.len && is_digit(value.p[i]); i++)
		if ((v = v * 10 + (uint64_t)(value.p[i] - '0')) > VD_SIP_RETRY_AFTER_MAX)
			v = VD_SIP_RETRY_AFTER_MAX + 1; /* saturate: no overflow however long */
	if (i == 0)
		return false;
	*seconds = v > VD_SIP_RETRY_AFTER_MAX ? VD_SIP_RETRY_AFTER_MAX : (uint32_t)v;
	return true;
}

uint32_t vd_sip_via_count(const char *p, const char *end, bool *bad)
{
	/* The common case, one value per line, is one memchr: no comma, nothing to split. */
	if (!memchr(p, ',', (size_t)(end - p))) {
		if (p == end)
			*bad = true;
		return 1;
	}
	uint32_t n = 1;
	bool empty = true;
	for (; p < end; p++) {
		if (*p == '"') {
			p = skip_quoted(p, end);
			if (!p) {
				*bad = true;
				return n;
			}
			p--;
		} else if (*p == ',') {
			if (empty)
				*bad = true;
			n++;
			empty = true;
		} else if (!is_ws(*p) && *p != '\r' && *p != '\n') {
			empty = false;
		}
	}
	if (empty)
		*bad = true;
	return n;
}

/* Skip a name-addr's display name and <uri>, or an addr-spec up to its first ';'. Returns the
 * position of the header parameters, and the URI slice, or NULL. */
static const char *skip_name_addr(const char *p, const char *end, struct vd_slice *uri)
{
	const char *q = p;
	while (q < end && *q != '<' && *q != ';' && *q != ',') {
		if (*q == '"') {
			q = skip_quoted(q, end);
			if (!q)
				return NULL;
		} else {
			q++;
		}
	}
	if (q < end && *q == '<') {
		const char *u = q + 1, *gt = memchr(u, '>', (size_t)(end - u));
		if (!gt)
			return NULL;
		*uri = (struct vd_slice){ u, (uint32_t)(gt - u) };
		return gt + 1;
	}
	/* addr-spec: parameters after the URI belong to the header (RFC 3261 20.10) */
	const char *u = skip_lws(p, end);
	*uri = (struct vd_slice){ u, (uint32_t)(trim_lws_end(u, q) - u) };
	return q;
}

bool vd_sip_tag_find(const char *p, const char *end, const char *rd, struct vd_slice *tag)
{
	struct vd_slice uri;
	*tag = (struct vd_slice){ NULL, 0 };
	p = skip_name_addr(p, end, &uri);
	if (!p)
		return false;
	for (;;) {
		const char *q = skip_lws(p, end);
		if (q >= end)
			return true;
		if (*q != ';')
			return false;
		struct vd_slice n, v;
		p = param_next(q, end, rd, &n, &v);
		if (!p)
			return false;
		if (NAME_IS(n, "tag") && v.p)
			*tag = v;
	}
}

/* vd_sip_uri_parse, reading at most up to rd (>= the URI's end) */
static int uri_parse_rd(struct vd_slice uri, const char *rd, struct vd_slice *host,
			uint8_t *host_type, uint16_t *port, bool *user_present, bool *lr,
			struct vd_slice *maddr)
{
	const char *p = uri.p, *end = uri.p + uri.len;

	/* header bytes hold no control bytes, so eq_lower is exact here too */
	if (end - p >= 4 && eq_lower(p, "sip:", 4))
		p += 4;
	else if (end - p >= 5 && eq_lower(p, "sips:", 5))
		p += 5;
	else
		return -1; /* tel: and others have no host to route to */
	const char *at = memchr(p, '@', (size_t)(end - p));
	*user_present = at != NULL;
	if (at)
		p = at + 1;
	if (!host_parse_rd(&p, end, rd, host, host_type, port))
		return -1;
	*lr = false;
	*maddr = (struct vd_slice){ NULL, 0 };
	while (p < end && *p == ';') {
		struct vd_slice n, v;
		p = param_next(p, end, rd, &n, &v);
		if (!p)
			return -1;
		if (NAME_IS(n, "lr"))
			*lr = true;
		else if (NAME_IS(n, "maddr"))
			*maddr = v;
	}
	/* anything else ('?' headers) does not affect routing */
	return 0;
}

int vd_sip_uri_parse(struct vd_slice uri, struct vd_slice *host, uint8_t *host_type,
		     uint16_t *port, bool *user_present, bool *lr, struct vd_slice *maddr)
{
	return uri_parse_rd(uri, uri.p + uri.len, host, host_type, port, user_present, lr, maddr);
}

uint32_t vd_sip_route_parse(const struct vd_sip_msg *msg, uint16_t hdr, uint32_t off,
			    struct vd_sip_route *r)
{
	const struct vd_sip_header *h = &msg->hdrs[hdr];
	const char *end = h->value.p + h->value.len;
	const char *p = skip_lws(msg->buf + off, end);
	const char *start = p;
	bool user;

	if (p >= end)
		return 0;
	p = skip_name_addr(p, end, &r->uri);
	if (!p || r->uri.len == 0)
		return 0;
	if (uri_parse_rd(r->uri, msg->buf + msg->len, &r->host, &r->host_type, &r->port, &user,
			 &r->lr, &r->maddr) < 0)
		return 0;
	/* rr-params after '>' (none matter to routing) up to the next value */
	while (p < end && *p != ',') {
		if (*p == '"') {
			p = skip_quoted(p, end);
			if (!p)
				return 0;
		} else {
			p++;
		}
	}
	r->hdr = hdr;
	r->value_off = (uint32_t)(start - msg->buf);
	r->value_end = (uint32_t)(trim_lws_end(start, p) - msg->buf);
	r->more_in_line = p < end;
	return (uint32_t)(p - msg->buf);
}
