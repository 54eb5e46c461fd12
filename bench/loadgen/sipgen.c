/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request templates and their expansion (see sipgen.h for the identifiers).
 *
 * The messages follow the IMS call flows viaduct is built for (3GPP TS 24.229 style headers,
 * an AMR-WB SDP offer with preconditions, a REGISTER answering a Digest challenge), so the
 * proxy under test scans the header mix and sizes it meets in production. Placeholders in the
 * templates, replaced once at expansion:
 *
 *   $W  the Via line of the template's form (itself made of the placeholders below)
 *   $V  the socket's sent-by (host:port)   $N  the run nonce, 8 hex digits
 *   $R  a received= address of the sent-by's family (documentation ranges)
 *   $K  Content-Length, the body's length  $B $C $F  16 zeroes, filled per message
 *                                                      (branch, Call-ID, From-tag)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipgen.h"

#define CRLF	    "\r\n"
#define HEX_DIGITS  16 /* a 64-bit value */
#define NONCE_HEX   8
#define FTAG_MIX    0x9e3779b97f4a7c15ull /* golden ratio: spreads consecutive seqs apart */
#define BRANCH	    "branch=" LG_BRANCH_PREFIX "$N$B"
#define VIA_LINE    "$W" /* the form's line from vias[], expanded per template */
#define CALLID_LINE "Call-ID: $C-$N@loadgen" CRLF

/* The Via forms of enum lg_via; the --via-mix names first. */
/* clang-format off */
static const struct via_def {
	const char *name;
	const char *line;
} vias[LG_VIA_COUNT] = {
	[LG_VIA_RPORT_LAST] = { "rport-last", "Via: SIP/2.0/UDP $V;" BRANCH ";rport" CRLF },
	[LG_VIA_RPORT_MIDDLE] = { "rport-middle", "Via: SIP/2.0/UDP $V;" BRANCH ";rport;alias" CRLF },
	[LG_VIA_RPORT_FIRST] = { "rport-first", "Via: SIP/2.0/UDP $V;rport;" BRANCH CRLF },
	[LG_VIA_RECEIVED] = { "received", "Via: SIP/2.0/UDP $V;" BRANCH ";received=$R;rport" CRLF },
	[LG_VIA_COMPACT] = { "compact", "v: SIP/2.0/UDP $V;" BRANCH ";rport" CRLF },
	[LG_VIA_PLAIN] = { "plain", "Via: SIP/2.0/UDP $V;" BRANCH CRLF },
};
/* clang-format on */

struct req_def {
	const char *name;
	const char *head; /* start line and headers, each ending in CRLF; the blank line is added */
	const char *body;
};

/* The templates keep one source line per SIP line, so they read like the messages they make. */
/* clang-format off */
static const char sdp_offer[] = "v=0" CRLF
				"o=- 3724394400 3724394400 IN IP4 192.0.2.10" CRLF
				"s=-" CRLF
				"c=IN IP4 192.0.2.10" CRLF
				"b=AS:41" CRLF
				"t=0 0" CRLF
				"m=audio 49170 RTP/AVP 116 97 101" CRLF
				"a=rtpmap:116 AMR-WB/16000/1" CRLF
				"a=fmtp:116 mode-change-capability=2;max-red=0" CRLF
				"a=rtpmap:97 AMR/8000/1" CRLF
				"a=rtpmap:101 telephone-event/16000" CRLF
				"a=fmtp:101 0-15" CRLF
				"a=ptime:20" CRLF
				"a=curr:qos local none" CRLF
				"a=des:qos mandatory local sendrecv" CRLF
				"a=sendrecv" CRLF;

static const struct req_def defs[LG_METHOD_COUNT] = {
	[LG_INVITE] = {
		"invite",
		"INVITE sip:+15550001111@ims.example.net;user=phone SIP/2.0" CRLF VIA_LINE
		"Max-Forwards: 70" CRLF
		"From: <sip:+15550002222@ims.example.net>;tag=$F" CRLF
		"To: <tel:+15550001111>" CRLF CALLID_LINE
		"CSeq: 1 INVITE" CRLF
		"Contact: <sip:+15550002222@$V>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims."
		"icsi.mmtel\"" CRLF
		"Allow: INVITE, ACK, CANCEL, BYE, UPDATE, PRACK, MESSAGE, OPTIONS, REFER" CRLF
		"Supported: 100rel, timer, precondition" CRLF
		"Content-Type: application/sdp" CRLF
		"Content-Length: $K" CRLF,
		sdp_offer,
	},
	[LG_REGISTER] = {
		"register",
		"REGISTER sip:ims.example.net SIP/2.0" CRLF VIA_LINE
		"Max-Forwards: 70" CRLF
		"From: <sip:001010000012345@ims.example.net>;tag=$F" CRLF
		"To: <sip:001010000012345@ims.example.net>" CRLF CALLID_LINE
		"CSeq: 2 REGISTER" CRLF
		"Contact: <sip:001010000012345@$V>;expires=600000" CRLF
		"Authorization: Digest username=\"001010000012345@ims.example.net\","
		"realm=\"ims.example.net\",nonce=\"c2lwOmltcy5leGFtcGxlLm5ldDE3MDAwMDAwMDA=\","
		"uri=\"sip:ims.example.net\",response=\"6629fae49393a05397450978507c4ef1\","
		"algorithm=MD5,cnonce=\"0a4f113b\",qop=auth,nc=00000001" CRLF
		"Content-Length: $K" CRLF,
		"",
	},
	[LG_BYE] = {
		"bye",
		"BYE sip:+15550001111@ims.example.net SIP/2.0" CRLF VIA_LINE
		"Max-Forwards: 70" CRLF
		"From: <sip:+15550002222@ims.example.net>;tag=$F" CRLF
		"To: <tel:+15550001111>;tag=8321234356" CRLF CALLID_LINE
		"CSeq: 2 BYE" CRLF
		"Content-Length: $K" CRLF,
		"",
	},
	[LG_OPTIONS] = {
		"options",
		"OPTIONS sip:pcscf@ims.example.net SIP/2.0" CRLF VIA_LINE
		"Max-Forwards: 70" CRLF
		"From: <sip:monitor@ims.example.net>;tag=$F" CRLF
		"To: <sip:pcscf@ims.example.net>" CRLF CALLID_LINE
		"CSeq: 1 OPTIONS" CRLF
		"Accept: application/sdp" CRLF
		"Content-Length: $K" CRLF,
		"",
	},
	[LG_MESSAGE] = {
		"message",
		"MESSAGE sip:+15550001111@ims.example.net SIP/2.0" CRLF VIA_LINE
		"Max-Forwards: 70" CRLF
		"From: <sip:+15550002222@ims.example.net>;tag=$F" CRLF
		"To: <sip:+15550001111@ims.example.net>" CRLF CALLID_LINE
		"CSeq: 1 MESSAGE" CRLF
		"Content-Type: text/plain" CRLF
		"Content-Length: $K" CRLF,
		"Running late, call you in 10 minutes.",
	},
};
/* clang-format on */

const char *lg_method_name(enum lg_method m)
{
	return (unsigned)m < LG_METHOD_COUNT ? defs[m].name : "?";
}

static void hex_write(char *dst, uint64_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		dst[i] = hex[v & 15];
}

const char *lg_via_name(enum lg_via v)
{
	return (unsigned)v < LG_VIA_COUNT ? vias[v].name : "?";
}

typedef const char *(*name_fn)(unsigned i);

static const char *method_name_at(unsigned i)
{
	return defs[i].name;
}

static const char *via_name_at(unsigned i)
{
	return vias[i].name;
}

static int set_weight(unsigned *weight, name_fn name_at, unsigned n, const char *name,
		      size_t nlen, const char *val)
{
	char *end;

	for (unsigned m = 0; m < n; m++) {
		const char *nm = name_at(m);
		if (strlen(nm) != nlen || strncmp(nm, name, nlen) != 0)
			continue;
		if (*val < '0' || *val > '9')
			return -EINVAL;
		unsigned long w = strtoul(val, &end, 10);
		if ((*end && *end != ',') || w > LG_MIX_WEIGHT_MAX)
			return -EINVAL;
		weight[m] = (unsigned)w;
		return 0;
	}
	return -EINVAL;
}

/* "name=weight,..." into weight[0..n), names absent 0; not all zero. */
static int parse_weights(const char *s, unsigned *weight, name_fn name_at, unsigned n)
{
	unsigned total = 0;

	memset(weight, 0, n * sizeof(*weight));
	while (*s) {
		const char *eq = strchr(s, '=');
		if (!eq || set_weight(weight, name_at, n, s, (size_t)(eq - s), eq + 1))
			return -EINVAL;
		const char *comma = strchr(eq, ',');
		s = comma ? comma + 1 : eq + strlen(eq);
	}
	for (unsigned m = 0; m < n; m++)
		total += weight[m];
	return total ? 0 : -EINVAL;
}

int lg_mix_parse(const char *s, struct lg_mix *mix)
{
	return parse_weights(s, mix->weight, method_name_at, LG_METHOD_COUNT);
}

int lg_via_mix_parse(const char *s, struct lg_via_mix *mix)
{
	return parse_weights(s, mix->weight, via_name_at, LG_VIA_COUNT);
}

/*
 * Smooth weighted round robin (as nginx balances upstreams): over one turn of the wheel every
 * type appears exactly weight times, spread out, so a short run still has the right mix.
 */
static unsigned build_wheel(uint8_t *wheel, const unsigned *weight, unsigned n)
{
	int cur[(int)LG_VIA_COUNT + (int)LG_METHOD_COUNT] = { 0 }; /* n is either */
	int total = 0;

	for (unsigned m = 0; m < n; m++)
		total += (int)weight[m];
	for (int k = 0; k < total; k++) {
		unsigned best = 0;
		for (unsigned m = 0; m < n; m++) {
			cur[m] += (int)weight[m];
			if (cur[m] > cur[best])
				best = m;
		}
		cur[best] -= total;
		wheel[k] = (uint8_t)best;
	}
	return (unsigned)total;
}

struct expander {
	struct lg_tmpl *t;
	bool overflow;
	const char *via;    /* the form's Via line */
	const char *sentby; /* host:port */
	const char *received;
	const char *nonce; /* NONCE_HEX digits */
	const char *clen;
};

static void emit(struct expander *x, const char *s, size_t n)
{
	if (n > (size_t)LG_MSG_MAX - x->t->len) {
		x->overflow = true;
		return;
	}
	memcpy(x->t->text + x->t->len, s, n);
	x->t->len = (uint16_t)(x->t->len + n);
}

/* A per-message field: 16 zeroes now, its offset remembered for lg_gen_build. */
static void emit_slot(struct expander *x, uint16_t *off)
{
	*off = x->t->len;
	emit(x, "0000000000000000", HEX_DIGITS);
}

static void expand_str(struct expander *x, const char *s, bool top);

static void expand_one(struct expander *x, char code, bool top)
{
	switch (code) {
	case 'W':
		if (!top)
			goto literal; /* no $W inside the Via line */
		expand_str(x, x->via, false);
		break;
	case 'V':
		emit(x, x->sentby, strlen(x->sentby));
		break;
	case 'R':
		emit(x, x->received, strlen(x->received));
		break;
	case 'N':
		emit(x, x->nonce, NONCE_HEX);
		break;
	case 'K':
		emit(x, x->clen, strlen(x->clen));
		break;
	case 'B':
		emit_slot(x, &x->t->off_branch);
		break;
	case 'C':
		emit_slot(x, &x->t->off_callid);
		break;
	case 'F':
		emit_slot(x, &x->t->off_ftag);
		break;
	default:
	literal:
		emit(x, "$", 1);
		emit(x, &code, 1);
		break;
	}
}

static void expand_str(struct expander *x, const char *s, bool top)
{
	for (const char *p = s; *p; p++) {
		if (*p == '$' && p[1])
			expand_one(x, *++p, top);
		else
			emit(x, p, 1);
	}
}

static int expand(struct lg_tmpl *t, const struct req_def *d, enum lg_via via,
		  const char *sentby, uint32_t nonce)
{
	char nonce_hex[NONCE_HEX], clen[24]; /* any size_t */
	struct expander x = {
		.t = t,
		.via = vias[via].line,
		.sentby = sentby,
		/* RFC 3261 received: a bare IPv6 address, no brackets */
		.received = sentby[0] == '[' ? "2001:db8::1" : "192.0.2.1",
		.nonce = nonce_hex,
		.clen = clen,
	};

	hex_write(nonce_hex, nonce, NONCE_HEX);
	snprintf(clen, sizeof(clen), "%zu", strlen(d->body));
	memset(t, 0, sizeof(*t));
	expand_str(&x, d->head, true);
	emit(&x, CRLF, 2);
	emit(&x, d->body, strlen(d->body));
	return x.overflow ? -EINVAL : 0;
}

/* rank[i]: how many earlier slots of the wheel hold wheel[i]'s type. */
static void build_rank(struct lg_gen *g)
{
	unsigned seen[LG_METHOD_COUNT] = { 0 };

	for (unsigned i = 0; i < g->wheel_len; i++)
		g->rank[i] = (uint16_t)seen[g->wheel[i]]++;
}

int lg_gen_init(struct lg_gen *g, const struct lg_mix *mix, const struct lg_via_mix *via,
		const char *const *sentby, unsigned nsock, uint32_t nonce)
{
	if (nsock < 1 || nsock > LG_MAX_SOCKETS)
		return -EINVAL;
	for (unsigned m = 0; m < LG_METHOD_COUNT; m++)
		if (mix->weight[m] > LG_MIX_WEIGHT_MAX)
			return -EINVAL;
	for (unsigned v = 0; v < LG_VIA_COUNT; v++)
		if (via->weight[v] > LG_MIX_WEIGHT_MAX)
			return -EINVAL;
	g->nonce = nonce;
	g->nsock = nsock;
	g->wheel_len = build_wheel(g->wheel, mix->weight, LG_METHOD_COUNT);
	g->via_len = build_wheel(g->via_wheel, via->weight, LG_VIA_COUNT);
	if (g->wheel_len == 0 || g->via_len == 0)
		return -EINVAL;
	build_rank(g);
	memcpy(g->type_weight, mix->weight, sizeof(g->type_weight));
	for (unsigned s = 0; s < nsock; s++)
		for (unsigned m = 0; m < LG_METHOD_COUNT; m++)
			for (unsigned v = 0; v < LG_VIA_COUNT; v++)
				if (mix->weight[m] && via->weight[v] &&
				    expand(&g->tmpl[s][m][v], &defs[m], (enum lg_via)v, sentby[s],
					   nonce))
					return -EINVAL;
	return 0;
}

enum lg_method lg_gen_method(const struct lg_gen *g, uint64_t seq)
{
	return (enum lg_method)g->wheel[seq % g->wheel_len];
}

/* The template indices of message seq: its type and Via form. */
static inline void pick(const struct lg_gen *g, uint64_t seq, unsigned *m, unsigned *v)
{
	uint64_t turn = seq / g->wheel_len;
	unsigned pos = (unsigned)(seq - turn * g->wheel_len);
	/* the type's own message number: whole turns of it, then its rank in this one */
	uint64_t n = turn * g->type_weight[g->wheel[pos]] + g->rank[pos];

	*m = g->wheel[pos];
	*v = g->via_wheel[n % g->via_len];
}

enum lg_via lg_gen_via(const struct lg_gen *g, uint64_t seq)
{
	unsigned m, v;

	pick(g, seq, &m, &v);
	return (enum lg_via)v;
}

size_t lg_gen_build(const struct lg_gen *g, unsigned sock, uint64_t seq, char *out)
{
	unsigned m, v;

	pick(g, seq, &m, &v);
	const struct lg_tmpl *t = &g->tmpl[sock][m][v];

	memcpy(out, t->text, t->len);
	hex_write(out + t->off_branch, seq, HEX_DIGITS);
	hex_write(out + t->off_callid, seq, HEX_DIGITS);
	hex_write(out + t->off_ftag, (seq ^ g->nonce) * FTAG_MIX, HEX_DIGITS);
	return t->len;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int lg_gen_branch_seq(const struct lg_gen *g, struct lg_slice branch, uint64_t *seq)
{
	const size_t pre = sizeof(LG_BRANCH_PREFIX) - 1;
	char nonce_hex[NONCE_HEX];
	uint64_t v = 0;

	if (branch.len != pre + NONCE_HEX + HEX_DIGITS ||
	    memcmp(branch.p, LG_BRANCH_PREFIX, pre) != 0)
		return -EINVAL;
	hex_write(nonce_hex, g->nonce, NONCE_HEX);
	if (memcmp(branch.p + pre, nonce_hex, NONCE_HEX) != 0)
		return -EINVAL; /* another run's, or another generator's */
	for (size_t i = pre + NONCE_HEX; i < branch.len; i++) {
		int d = hex_value(branch.p[i]);
		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*seq = v;
	return 0;
}
