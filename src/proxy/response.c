/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Responses through the stateless proxy (RFC 3261 16.11 and 18.2.2, RFC 3581):
 * the top Via must be ours, with a branch whose keyed check matches the next Via's destination
 * (branch.c: no forged response is relayed to an address of the forger's choosing); remove
 * exactly that value; send to the next Via's received/rport, else its sent-by host and port
 * (5060 by default). Anything else is a counted drop: a
 * stateless proxy has nobody to tell.
 *
 * A response from a pool member also says how the member is doing: its result names the
 * member (its counters feed outlier detection), and, when its pool reads them, a 503 with
 * Retry-After and the RFC 7339 overload control parameters the member put in our Via become
 * res->signal for the control plane. Only an authentic response (its branch checked) counts.
 */
#include <string.h>

#include "proxy_internal.h"

/* Parse the Via value after ours: later on the same line, or the next Via line. */
static bool next_via(const struct vd_sip_msg *m, struct vd_sip_via *next, uint32_t *next_off)
{
	const struct vd_sip_via *top = &m->via;
	const struct vd_sip_header *h = &m->hdrs[top->hdr];
	const char *end = h->value.p + h->value.len, *p;

	if (top->more_in_line) {
		p = memchr(m->buf + top->value_end, ',', (size_t)(end - (m->buf + top->value_end)));
		if (!p)
			return false;
		p++;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
	} else {
		uint16_t i = top->hdr + 1;
		while (i < m->n_hdrs && m->hdrs[i].kind != VD_H_VIA)
			i++;
		if (i == m->n_hdrs)
			return false;
		h = &m->hdrs[i];
		p = h->value.p;
		end = p + h->value.len;
	}
	*next_off = (uint32_t)(p - m->buf);
	return vd_sip_via_parse(p, end, next) != NULL;
}

bool vd_via_destination(const struct vd_sip_via *v, union vd_sockaddr *dst)
{
	uint16_t port = v->port;
	if (v->rport.len && !vd_parse_port(v->rport, &port))
		return false;
	if (v->received.p)
		return vd_addr_from_ip_text(v->received, port, dst);
	return vd_addr_from_host(v->host, v->host_type, port, dst);
}

/* Who among the members sent m, and what it says of itself; read before the edits move the
 * header bytes. A member sends many responses and rarely a signal: two tests when silent. */
static void peer_signals(const struct vd_proxy *px, const struct vd_sip_msg *m,
			 const union vd_sockaddr *src, struct vd_result *res)
{
	const struct vd_proxy_member_info *mi = vd_proxy_member_find(px, src);
	if (!mi)
		return;
	res->peer = (int16_t)mi->member;
	res->peer_pool = mi->pool;
	struct vd_peer_signal *sg = &res->signal;
	if (m->status == 503 && (mi->signals & VD_SIGNAL_RETRY_AFTER)) {
		/* RFC 3261 21.5.4: unavailable for that long; a 503 without it is only a 5xx */
		uint16_t h = vd_sip_find(m, "Retry-After", 11, 0);
		if (h != VD_SIP_NO_HDR && vd_sip_retry_after(m->hdrs[h].value, &sg->retry_after_s))
			sg->bits |= VD_SIGNAL_RETRY_AFTER;
	}
	if (m->via.oc.len && (mi->signals & VD_SIGNAL_OC)) {
		struct vd_sip_oc oc;
		/* another algorithm than loss (RFC 7339 5.1) we cannot apply: ignored */
		if (vd_sip_via_oc(m->buf + m->via.value_off, m->buf + m->via.value_end, &oc) &&
		    oc.loss) {
			sg->bits |= VD_SIGNAL_OC;
			sg->oc = oc.oc;
			sg->oc_has_seq = oc.has_seq;
			sg->oc_validity_ms = oc.validity_ms;
			sg->oc_seq = oc.seq;
		}
	}
}

void vd_proxy_response(const struct vd_proxy *px, struct vd_pktbuf *pkt,
		       const union vd_sockaddr *src, struct vd_proxy_scratch *s,
		       struct vd_result *res)
{
	const struct vd_sip_msg *m = &s->msg;
	struct vd_sip_via next;
	uint32_t next_off;
	struct vd_edits ed;

	if (res->sip_err != VD_SIP_OK) {
		vd_result_drop(res, VD_DROP_BAD_RESPONSE);
		return;
	}
	res->status = m->status;
	if (!vd_addr_is_ours(px, m->via.host, m->via.host_type, m->via.port)) {
		vd_result_drop(res, VD_DROP_VIA_NOT_OURS);
		return;
	}
	if (!next_via(m, &next, &next_off)) {
		vd_result_drop(res, VD_DROP_NO_NEXT_VIA);
		return;
	}
	if (!vd_via_destination(&next, &res->dst)) {
		vd_result_drop(res, VD_DROP_UNRESOLVABLE);
		return;
	}
	/* only a request we forwarded to this very address gets its response relayed there */
	if (!vd_branch_verify(px->branch_key, m->via.branch, &res->dst, &res->conn)) {
		vd_result_drop(res, VD_DROP_FORGED_RESPONSE);
		return;
	}
	peer_signals(px, m, src, res);
	/* its request came over a connection: back over it (RFC 3261 18.2.2), Via for Via */
	int egress = res->conn ? 0 : vd_proxy_egress(px, &res->dst);
	if (egress < 0) {
		vd_result_drop(res, VD_DROP_NO_EGRESS);
		return;
	}
	vd_edits_init(&ed);
	const struct vd_sip_header *h = &m->hdrs[m->via.hdr];
	if (m->via.more_in_line)
		vd_edits_add(&ed, m->via.value_off, next_off - m->via.value_off, NULL, 0);
	else
		vd_edits_add(&ed, h->line_off, h->line_end - h->line_off, NULL, 0);
	pkt->len = m->len;
	if (vd_edits_apply(pkt, m->headers_end, &ed)) {
		vd_result_drop(res, VD_DROP_NO_ROOM); /* cannot happen: the message only shrinks */
		return;
	}
	res->member = -1;
	res->verdict = VD_VERDICT_FORWARD;
	res->egress = (uint16_t)egress;
	res->transport = res->conn ? VD_TP_TCP : VD_TP_UDP;
}
