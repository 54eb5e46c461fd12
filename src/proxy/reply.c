/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Locally generated replies (RFC 3261 8.2.6): status line; the request's Via lines (the top
 * one with received/rport as the server transport would add them, 18.2.1); From; To with a
 * To-tag when it had none; Call-ID; CSeq; Retry-After on 503; Content-Length: 0.
 *
 * The To-tag is a hash of the request's identity, so a retransmitted request gets the very
 * same reply: the proxy stays stateless. Replies go where RFC 3261 18.2.2 / RFC 3581 say:
 * the source IP, and the source port when rport was asked for, else the sent-by port.
 */
#include <string.h>

#include <xxhash.h>

#include "proxy_internal.h"

#define TO_TAG_SEED 0x76645f746f746167ULL /* "vd_totag": To-tags must not change across versions */

struct writer {
	char *p, *end;
	bool overflow;
};

static void put(struct writer *w, const void *src, size_t n)
{
	if (w->overflow || n > (size_t)(w->end - w->p)) {
		w->overflow = true;
		return;
	}
	memcpy(w->p, src, n);
	w->p += n;
}

static void put_str(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u32(struct writer *w, uint32_t v)
{
	char t[10];
	put(w, t, vd_put_u32(t, v));
}

static void put_header(struct writer *w, const struct vd_sip_msg *m, uint16_t i)
{
	if (i != VD_SIP_NO_HDR)
		put(w, m->buf + m->hdrs[i].line_off, m->hdrs[i].line_end - m->hdrs[i].line_off);
}

/* Top Via with received/rport added; the others as they came. */
static void put_vias(struct writer *w, const struct vd_sip_msg *m, const union vd_sockaddr *src)
{
	bool top_parsed = m->via.transport.p != NULL;
	for (uint16_t i = 0; i < m->n_hdrs; i++) {
		if (m->hdrs[i].kind != VD_H_VIA)
			continue;
		struct vd_edits ed;
		vd_edits_init(&ed);
		if (!top_parsed || i != m->via.hdr || vd_via_received_edits(m, src, &ed)) {
			put_header(w, m, i);
			continue;
		}
		int n = vd_edits_copy(w->p, (uint32_t)(w->end - w->p), m->buf, m->hdrs[i].line_off,
				      m->hdrs[i].line_end, &ed);
		if (n < 0)
			w->overflow = true;
		else
			w->p += n;
	}
}

/* The To-tag of our replies (after "vd"): the request's Call-ID, From-tag and top Via branch,
 * which the ACK of a non-2xx final response repeats (RFC 3261 17.1.1.3). */
static uint64_t to_tag_hash(const struct vd_sip_msg *m)
{
	uint64_t tag = XXH3_64bits_withSeed(m->call_id.p, m->call_id.len, TO_TAG_SEED);
	tag = XXH3_64bits_withSeed(m->from_tag.p, m->from_tag.len, tag);
	return XXH3_64bits_withSeed(m->via.branch.p, m->via.branch.len, tag);
}

bool vd_proxy_acks_our_reply(const struct vd_sip_msg *m)
{
	char hex[16];
	if (m->method != VD_M_ACK || m->to_tag.len != 2 + sizeof(hex) ||
	    memcmp(m->to_tag.p, "vd", 2) != 0)
		return false;
	vd_put_hex64(hex, to_tag_hash(m));
	return memcmp(m->to_tag.p + 2, hex, sizeof(hex)) == 0;
}

static void put_to(struct writer *w, const struct vd_sip_msg *m, int code)
{
	uint16_t i = m->first[VD_H_TO];
	if (i == VD_SIP_NO_HDR)
		return;
	const struct vd_sip_header *h = &m->hdrs[i];
	if (m->to_tag.p || code == 100) {
		put_header(w, m, i);
		return;
	}
	char hex[16];
	vd_put_hex64(hex, to_tag_hash(m));
	uint32_t value_end = (uint32_t)(h->value.p + h->value.len - m->buf);
	put(w, m->buf + h->line_off, value_end - h->line_off);
	put_str(w, ";tag=vd");
	put(w, hex, sizeof(hex));
	put(w, m->buf + value_end, h->line_end - value_end);
}

static void reply_destination(const struct vd_sip_msg *m, const union vd_sockaddr *src,
			      union vd_sockaddr *dst)
{
	*dst = *src;
	bool via_ok = m->via.transport.p != NULL;
	if (via_ok && !m->via.rport.p) {
		uint16_t port = htons(m->via.port ? m->via.port : VD_SIP_DEFAULT_PORT);
		if (dst->sa.sa_family == AF_INET6)
			dst->in6.sin6_port = port;
		else
			dst->in.sin_port = port;
	}
}

void vd_proxy_reply(const struct vd_proxy *px, const struct vd_sip_msg *m,
		    const union vd_sockaddr *src, int code, const char *reason,
		    struct vd_proxy_scratch *s, struct vd_result *res)
{
	vd_proxy_reply_with(px, m, src, code, reason, NULL, 0, s, res);
}

void vd_proxy_reply_with(const struct vd_proxy *px, const struct vd_sip_msg *m,
			 const union vd_sockaddr *src, int code, const char *reason,
			 const char *extra, size_t extra_len, struct vd_proxy_scratch *s,
			 struct vd_result *res)
{
	struct writer w = { s->reply, s->reply + s->reply_cap, false };

	put_str(&w, "SIP/2.0 ");
	put_u32(&w, (uint32_t)code);
	put(&w, " ", 1);
	put_str(&w, reason);
	put(&w, "\r\n", 2);
	put_vias(&w, m, src);
	put_header(&w, m, m->first[VD_H_FROM]);
	put_to(&w, m, code);
	put_header(&w, m, m->first[VD_H_CALL_ID]);
	put_header(&w, m, m->first[VD_H_CSEQ]);
	if (code == 503 && px->retry_after) {
		put_str(&w, "Retry-After: ");
		put_u32(&w, px->retry_after);
		put(&w, "\r\n", 2);
	}
	if (extra_len)
		put(&w, extra, extra_len);
	put(&w, px->server_line, px->server_line_len);
	put_str(&w, "Content-Length: 0\r\n\r\n");
	if (w.overflow) {
		vd_result_drop(res, VD_DROP_REPLY_TOO_LARGE);
		return;
	}
	res->verdict = VD_VERDICT_REPLY;
	res->status = (uint16_t)code;
	res->reply_len = (uint32_t)(w.p - s->reply);
	reply_destination(m, src, &res->dst);
}
