/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Name tables of the SIP core: methods, header names (full and compact forms, RFC 3261 7.3.3
 * and the IANA registry), token characters, and the reason phrases of scanner verdicts.
 *
 * Header names are recognised by length, then a case-insensitive compare against the few names
 * of that length: cheaper than a hash for the ~25 names we know, and easy to read.
 */
#include <string.h>

#include "sip_internal.h"

/* RFC 3261 25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const uint8_t vd_sip_token_table[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
	['-'] = 1, ['.'] = 1, ['!'] = 1, ['%'] = 1, ['*'] = 1,
	['_'] = 1, ['+'] = 1, ['`'] = 1, ['\''] = 1, ['~'] = 1,
};

bool vd_sip_is_token(struct vd_slice s)
{
	for (uint32_t i = 0; i < s.len; i++)
		if (!is_token_char((unsigned char)s.p[i]))
			return false;
	return s.len > 0;
}

static const char *const method_names[VD_M__COUNT] = {
	[VD_M_UNKNOWN] = "unknown", [VD_M_INVITE] = "INVITE", [VD_M_ACK] = "ACK",
	[VD_M_BYE] = "BYE", [VD_M_CANCEL] = "CANCEL", [VD_M_REGISTER] = "REGISTER",
	[VD_M_OPTIONS] = "OPTIONS", [VD_M_PRACK] = "PRACK", [VD_M_UPDATE] = "UPDATE",
	[VD_M_SUBSCRIBE] = "SUBSCRIBE", [VD_M_NOTIFY] = "NOTIFY", [VD_M_MESSAGE] = "MESSAGE",
	[VD_M_INFO] = "INFO", [VD_M_REFER] = "REFER", [VD_M_PUBLISH] = "PUBLISH",
};

const char *vd_sip_method_name(enum vd_sip_method m)
{
	return (unsigned)m < VD_M__COUNT ? method_names[m] : "unknown";
}

static const uint8_t method_len[VD_M__COUNT] = {
	[VD_M_INVITE] = 6, [VD_M_ACK] = 3, [VD_M_BYE] = 3, [VD_M_CANCEL] = 6,
	[VD_M_REGISTER] = 8, [VD_M_OPTIONS] = 7, [VD_M_PRACK] = 5, [VD_M_UPDATE] = 6,
	[VD_M_SUBSCRIBE] = 9, [VD_M_NOTIFY] = 6, [VD_M_MESSAGE] = 7, [VD_M_INFO] = 4,
	[VD_M_REFER] = 5, [VD_M_PUBLISH] = 7,
};

enum vd_sip_method vd_sip_method_parse(const char *p, size_t len)
{
	/* Methods are case-sensitive (RFC 3261 7.1): compare length and first byte, then all. */
	for (unsigned m = 1; m < VD_M__COUNT; m++)
		if (method_len[m] == len && method_names[m][0] == p[0] &&
		    memcmp(method_names[m], p, len) == 0)
			return (enum vd_sip_method)m;
	return VD_M_UNKNOWN;
}

struct hdr_name {
	const char *name; /* lower case */
	uint8_t len;
	uint8_t kind;
};

#define H(s, k) { s, sizeof(s) - 1, k }
static const struct hdr_name full_names[] = {
	H("via", VD_H_VIA),
	H("route", VD_H_ROUTE),
	H("record-route", VD_H_RECORD_ROUTE),
	H("max-forwards", VD_H_MAX_FORWARDS),
	H("call-id", VD_H_CALL_ID),
	H("cseq", VD_H_CSEQ),
	H("from", VD_H_FROM),
	H("to", VD_H_TO),
	H("content-length", VD_H_CONTENT_LENGTH),
	H("contact", VD_H_CONTACT),
	H("content-type", VD_H_CONTENT_TYPE),
	H("content-encoding", VD_H_CONTENT_ENCODING),
	H("supported", VD_H_SUPPORTED),
	H("subject", VD_H_SUBJECT),
	H("event", VD_H_EVENT),
	H("allow-events", VD_H_ALLOW_EVENTS),
	H("refer-to", VD_H_REFER_TO),
	H("referred-by", VD_H_REFERRED_BY),
	H("session-expires", VD_H_SESSION_EXPIRES),
	H("identity", VD_H_IDENTITY),
	H("accept-contact", VD_H_ACCEPT_CONTACT),
	H("reject-contact", VD_H_REJECT_CONTACT),
	H("request-disposition", VD_H_REQUEST_DISPOSITION),
	H("proxy-require", VD_H_PROXY_REQUIRE),
};
#undef H

/* Compact forms, indexed by lower-case letter. */
static const uint8_t compact_kind[26] = {
	['v' - 'a'] = VD_H_VIA, ['i' - 'a'] = VD_H_CALL_ID, ['f' - 'a'] = VD_H_FROM,
	['t' - 'a'] = VD_H_TO, ['l' - 'a'] = VD_H_CONTENT_LENGTH, ['m' - 'a'] = VD_H_CONTACT,
	['c' - 'a'] = VD_H_CONTENT_TYPE, ['e' - 'a'] = VD_H_CONTENT_ENCODING,
	['k' - 'a'] = VD_H_SUPPORTED, ['s' - 'a'] = VD_H_SUBJECT, ['o' - 'a'] = VD_H_EVENT,
	['u' - 'a'] = VD_H_ALLOW_EVENTS, ['r' - 'a'] = VD_H_REFER_TO,
	['b' - 'a'] = VD_H_REFERRED_BY, ['x' - 'a'] = VD_H_SESSION_EXPIRES,
	['y' - 'a'] = VD_H_IDENTITY, ['a' - 'a'] = VD_H_ACCEPT_CONTACT,
	['j' - 'a'] = VD_H_REJECT_CONTACT, ['d' - 'a'] = VD_H_REQUEST_DISPOSITION,
};


/*
 * Full names by a hash of (first byte, last byte, length) (VD_HDR_HASH, sip_internal.h), built
 * once from full_names[]. The hash is collision-free over the 24 names (the unit test of every
 * name would catch a clash): a lookup is one table read and one compare, and an unknown name
 * usually stops at an empty slot. Compared as whole words: (byte | fold) == lit, where fold is
 * 0x20 exactly at the letters, so the compare is exact for any input bytes (a CR, 0x0d, never
 * passes for '-', 0x2d).
 */
struct vd_hdr_key vd_sip_hdr_keys[VD_HDR_HASH_SIZE]; /* len 0: empty slot */

__attribute__((constructor)) static void hdr_table_init(void)
{
	for (size_t i = 0; i < sizeof(full_names) / sizeof(full_names[0]); i++) {
		const struct hdr_name *h = &full_names[i];
		struct vd_hdr_key *k =
			&vd_sip_hdr_keys[VD_HDR_HASH(h->name[0], h->name[h->len - 1], h->len)];
		char lit[sizeof(k->lit)] = { 0 }, fold[sizeof(k->fold)] = { 0 };
		for (size_t j = 0; j < h->len; j++) {
			lit[j] = h->name[j];
			fold[j] = (h->name[j] >= 'a' && h->name[j] <= 'z') ? 0x20 : 0;
		}
		memcpy(k->lit, lit, sizeof(lit));
		memcpy(k->fold, fold, sizeof(fold));
		k->len = h->len;
		k->kind = h->kind;
	}
}

static inline uint64_t load_word(const char *p, size_t w)
{
	uint64_t x = 0;
	memcpy(&x, p, w);
	return x;
}

/* a[off, off + w) against the key's bytes at the same offset */
static inline bool key_word_eq(const char *a, const struct vd_hdr_key *k, size_t off, size_t w)
{
	uint64_t l, f;
	memcpy(&l, (const char *)k->lit + off, sizeof(l));
	memcpy(&f, (const char *)k->fold + off, sizeof(f));
	uint64_t keep = w == 8 ? ~0ULL : (1ULL << (8 * w)) - 1;
	return ((load_word(a + off, w) | f) & keep) == (l & keep);
}

/* Precondition: 2 <= len <= HDR_NAME_MAX == k->len. Whole words, the last one overlapping. */
static bool key_eq(const char *a, const struct vd_hdr_key *k, size_t len)
{
	if (len >= 8) {
		size_t i = 0;
		for (; i + 8 <= len; i += 8)
			if (!key_word_eq(a, k, i, 8))
				return false;
		return i == len || key_word_eq(a, k, len - 8, 8);
	}
	if (len >= 4)
		return key_word_eq(a, k, 0, 4) && key_word_eq(a, k, len - 4, 4);
	return key_word_eq(a, k, 0, 2) && key_word_eq(a, k, len - 2, 2);
}

enum vd_sip_hdr vd_sip_hdr_kind(const char *p, size_t len)
{
	if (len == 1) {
		char c = lower_ascii(p[0]);
		return (c >= 'a' && c <= 'z') ? (enum vd_sip_hdr)compact_kind[c - 'a'] : VD_H_OTHER;
	}
	if (len < 2 || len > HDR_NAME_MAX)
		return VD_H_OTHER;
	const struct vd_hdr_key *k = &vd_sip_hdr_keys[VD_HDR_HASH(p[0] | 0x20, p[len - 1] | 0x20, len)];
	return k->len == len && key_eq(p, k, len) ? (enum vd_sip_hdr)k->kind : VD_H_OTHER;
}

enum vd_sip_hdr vd_sip_hdr_kind_scalar(const char *p, size_t len)
{
	if (len == 1)
		return vd_sip_hdr_kind(p, len); /* the compact forms: one table read, no trick */
	for (size_t i = 0; i < sizeof(full_names) / sizeof(full_names[0]); i++)
		if (full_names[i].len == len && eq_nocase(p, full_names[i].name, len))
			return (enum vd_sip_hdr)full_names[i].kind;
	return VD_H_OTHER;
}

uint16_t vd_sip_find(const struct vd_sip_msg *msg, const char *name, size_t name_len,
		     uint16_t from)
{
	enum vd_sip_hdr kind = vd_sip_hdr_kind(name, name_len);
	for (uint16_t i = from; i < msg->n_hdrs; i++) {
		const struct vd_sip_header *h = &msg->hdrs[i];
		if (kind != VD_H_OTHER ? h->kind == kind
				       : (h->name.len == name_len && eq_nocase(h->name.p, name, name_len)))
			return i;
	}
	return VD_SIP_NO_HDR;
}

bool vd_slice_eq_nocase(struct vd_slice a, struct vd_slice b)
{
	return a.len == b.len && eq_nocase(a.p, b.p, a.len);
}

/* Indexed by enum vd_sip_err, in its order (a contract with the stats and metrics); the name is
 * the stable counter label, the reason the reply's phrase. */
struct err_info {
	const char *name;   /* stable id for counters and logs */
	const char *reason; /* reply reason phrase */
	int code;
};

static const struct err_info errors[VD_SIP_E__COUNT] = {
	[VD_SIP_OK] = { "ok", "OK", 200 },
	[VD_SIP_E_NOT_SIP] = { "not-sip", "Not SIP", 0 },
	[VD_SIP_E_BAD_START_LINE] = { "bad-start-line", "Bad Request Line", 400 },
	[VD_SIP_E_BAD_VERSION] = { "bad-version", "Version Not Supported", 505 },
	[VD_SIP_E_BAD_STATUS_LINE] = { "bad-response", "Bad Status Line", 0 },
	[VD_SIP_E_NO_HEADER_END] = { "no-header-end", "Missing Empty Line", 400 },
	[VD_SIP_E_BAD_HEADER] = { "bad-header", "Malformed Header Line", 400 },
	[VD_SIP_E_BAD_CHAR] = { "bad-char", "Invalid Character", 400 },
	[VD_SIP_E_TOO_MANY_HEADERS] = { "too-many-headers", "Too Many Headers", 400 },
	[VD_SIP_E_TOO_MANY_VIAS] = { "too-many-vias", "Too Many Via Values", 400 },
	[VD_SIP_E_MISSING_VIA] = { "missing-via", "Missing Via", 400 },
	[VD_SIP_E_MISSING_FROM] = { "missing-from", "Missing From", 400 },
	[VD_SIP_E_MISSING_TO] = { "missing-to", "Missing To", 400 },
	[VD_SIP_E_MISSING_CALL_ID] = { "missing-call-id", "Missing Call-ID", 400 },
	[VD_SIP_E_MISSING_CSEQ] = { "missing-cseq", "Missing CSeq", 400 },
	[VD_SIP_E_BAD_VIA] = { "bad-via", "Malformed Via", 400 },
	[VD_SIP_E_BAD_CSEQ] = { "bad-cseq", "Malformed CSeq", 400 },
	[VD_SIP_E_CSEQ_MISMATCH] = { "cseq-mismatch", "CSeq Method Mismatch", 400 },
	[VD_SIP_E_BAD_CONTENT_LENGTH] = { "bad-content-length", "Bad Content-Length", 400 },
	[VD_SIP_E_BODY_TOO_SHORT] = { "body-too-short", "Body Shorter Than Content-Length", 400 },
	[VD_SIP_E_BAD_MAX_FORWARDS] = { "bad-max-forwards", "Malformed Max-Forwards", 400 },
	[VD_SIP_E_DUP_HEADER] = { "duplicate-header", "Duplicate Header", 400 },
	[VD_SIP_E_BAD_ROUTE] = { "bad-route", "Malformed Route", 400 },
	[VD_SIP_E_TOO_LARGE] = { "too-large", "Message Too Large", 513 },
	[VD_SIP_E_BAD_REQUEST_URI] = { "bad-request-uri", "Malformed Request-URI", 400 },
	[VD_SIP_E_BAD_FROM] = { "bad-from", "Malformed From", 400 },
	[VD_SIP_E_BAD_TO] = { "bad-to", "Malformed To", 400 },
};

const char *vd_sip_err_reason(enum vd_sip_err err)
{
	return (unsigned)err < VD_SIP_E__COUNT ? errors[err].reason : "Bad Request";
}

const char *vd_sip_err_name(enum vd_sip_err err)
{
	return (unsigned)err < VD_SIP_E__COUNT ? errors[err].name : "unknown";
}

int vd_sip_err_code(enum vd_sip_err err)
{
	return (unsigned)err < VD_SIP_E__COUNT ? errors[err].code : 400;
}
