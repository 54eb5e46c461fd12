/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests through the stateless proxy (RFC 3261 16.3-16.6 and 16.11, RFC 3581):
 *
 *   validate (scanner verdict -> 400/505) -> Max-Forwards (0 -> 483) -> route preprocessing
 *   (strict-router fix, pop our own Route values) -> the first matching routing rule (a
 *   reject or a drop ends here; a route picks the pool) -> OPTIONS to us -> next hop
 *   (remaining Route; else the rule's pool, else pools[0], then a member of the pool) ->
 *   edits (our Via on top, received/rport, Max-Forwards, Route) applied in place.
 *
 * An ACK is never answered: whatever would produce a reply to an ACK is a counted drop.
 */
#include <string.h>

#include <xxhash.h>

#include "proxy_internal.h"
#include "viaduct/rules.h"


/* All Route values of a request in order, with what the removal edits need. */
struct route_set {
	unsigned n;
	struct vd_sip_route v[VD_MAX_ROUTES];
	bool first_in_line[VD_MAX_ROUTES];
	bool removed[VD_MAX_ROUTES];
	unsigned last; /* values [0, last) remain candidates after the strict-routing fix */
};

/* Collect Route values; false when one is malformed or there are too many. */
static bool routes_collect(const struct vd_sip_msg *m, struct route_set *rs)
{
	rs->n = 0;
	for (uint16_t h = m->first[VD_H_ROUTE]; h < m->n_hdrs; h++) {
		if (m->hdrs[h].kind != VD_H_ROUTE)
			continue;
		uint32_t off = (uint32_t)(m->hdrs[h].value.p - m->buf);
		bool first = true;
		for (;;) {
			if (rs->n == VD_MAX_ROUTES)
				return false;
			struct vd_sip_route *r = &rs->v[rs->n];
			uint32_t next;
			if (rs->n == 0) { /* the scanner parsed the top value already */
				*r = m->route;
				next = r->value_end;
				while (r->more_in_line && m->buf[next] != ',')
					next++;
			} else if (!(next = vd_sip_route_parse(m, h, off, r))) {
				return false;
			}
			rs->removed[rs->n] = false;
			rs->first_in_line[rs->n++] = first;
			first = false;
			if (!r->more_in_line)
				break;
			off = next + 1; /* past the comma */
		}
	}
	return true;
}

/*
 * Remove the values flagged in rs->removed with non-overlapping edits: a line whose values
 * all go is deleted whole; a run of removed values at the start of a line is deleted up to
 * the next kept value; any other run from the end of the kept value before it.
 */
static int routes_remove(const struct vd_sip_msg *m, const struct route_set *rs,
			 struct vd_edits *ed)
{
	unsigned i = 0;
	while (i < rs->n) {
		unsigned line_end = i + 1; /* values [i, line_end) share one header line */
		while (line_end < rs->n && !rs->first_in_line[line_end])
			line_end++;
		bool all = true;
		for (unsigned j = i; j < line_end; j++)
			all = all && rs->removed[j];
		if (all) {
			const struct vd_sip_header *h = &m->hdrs[rs->v[i].hdr];
			if (vd_edits_add(ed, h->line_off, h->line_end - h->line_off, NULL, 0))
				return -1;
			i = line_end;
			continue;
		}
		for (unsigned j = i; j < line_end; j++) {
			if (!rs->removed[j])
				continue;
			unsigned run = j;
			while (run + 1 < line_end && rs->removed[run + 1])
				run++;
			uint32_t from = j == i ? rs->v[j].value_off : rs->v[j - 1].value_end;
			uint32_t to = j == i ? rs->v[run + 1].value_off : rs->v[run].value_end;
			if (vd_edits_add(ed, from, to - from, NULL, 0))
				return -1;
			j = run;
		}
		i = line_end;
	}
	return 0;
}

/* Our Via line, inserted in front of the top Via header line; its branch carries the
 * transaction hash and the keyed check of where the response will go (branch.c). `oc`: it
 * offers RFC 7339 overload control (to a member whose pool honours it). */
static int add_our_via(const struct vd_proxy *px, const struct vd_sip_msg *m,
		       const union vd_sockaddr *src, uint32_t loop,
		       const struct vd_proxy_listener *out, uint8_t tp, uint64_t conn, bool oc,
		       struct vd_edits *ed)
{
	/* via_prefix ends in ";branch=" + the magic cookie, which the branch value repeats */
	const char *head = oc ? out->via_prefix_oc[tp] : out->via_prefix[tp];
	uint32_t prefix = (oc ? out->via_prefix_oc_len[tp] : out->via_prefix_len[tp]) -
			  VD_MAGIC_COOKIE_LEN;
	uint32_t len = prefix + (conn ? VD_BRANCH_CONN_LEN : VD_BRANCH_LEN) + 2;
	char *t = vd_edits_text(ed, len);
	if (!t)
		return -1;
	union vd_sockaddr reply_to;
	vd_branch_reply_addr(&m->via, src, &reply_to);
	memcpy(t, head, prefix);
	vd_branch_write(px->branch_key, vd_branch_txn_hash(px, m), loop, &reply_to, conn,
			t + prefix);
	memcpy(t + len - 2, "\r\n", 2);
	return vd_edits_add(ed, m->hdrs[m->via.hdr].line_off, 0, t, len);
}

/* Is the Via host the source IP, written as ip_text (IPv6 in brackets in the Via)? A
 * non-canonical spelling compares unequal, which only adds a harmless received=. */
static bool via_host_is(const struct vd_sip_via *v, const char *ip_text, uint32_t n)
{
	if (v->host_type == VD_HOST_IPV6)
		return v->host.len == n + 2 && memcmp(v->host.p + 1, ip_text, n) == 0;
	return v->host_type == VD_HOST_IPV4 && v->host.len == n && memcmp(v->host.p, ip_text, n) == 0;
}

int vd_via_received_edits(const struct vd_sip_msg *m, const union vd_sockaddr *src,
			  struct vd_edits *ed)
{
	const struct vd_sip_via *v = &m->via;
	bool rport = v->rport.p != NULL;
	char ip[46];
	uint32_t ip_len = vd_addr_ip_text(src, ip);

	/* RFC 3581 4: with rport, received is added even when it equals sent-by. A received the
	 * client wrote itself is always replaced: responses follow received, so a stale or forged
	 * value must not aim them at another address. */
	if (rport || v->received.p || !via_host_is(v, ip, ip_len)) {
		uint32_t n = v->received.p ? 0 : 10;
		char *t = vd_edits_text(ed, n + ip_len);
		if (!t)
			return -1;
		memcpy(t, ";received=", n);
		memcpy(t + n, ip, ip_len);
		int rc = v->received.p
				 ? vd_edits_add(ed, (uint32_t)(v->received.p - m->buf),
						v->received.len, t, n + ip_len)
				 : vd_edits_add(ed, v->value_end, 0, t, n + ip_len);
		if (rc)
			return -1;
	}
	if (rport && v->rport.len == 0) {
		/* ";rport" gets "=PORT"; ";rport=" (an empty value, where the slice starts after
		 * the '=' and any LWS) gets the digits alone, not "rport==PORT" */
		const char *q = v->rport.p;
		while (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r' || q[-1] == '\n')
			q--; /* stops at the 't' of "rport" at the latest */
		bool eq = q[-1] == '=';
		char *t = vd_edits_text(ed, 6);
		if (!t)
			return -1;
		t[0] = '=';
		uint32_t n = 1 + vd_put_u32(t + 1, vd_addr_port(src));
		return vd_edits_add_suffix(ed, (uint32_t)(v->rport.p - m->buf), t + eq, n - eq);
	}
	return 0;
}

/* Max-Forwards: decrement, or add 70 when absent (RFC 3261 16.6 step 3). */
static int max_forwards_edit(const struct vd_sip_msg *m, struct vd_edits *ed)
{
	static const char add[] = "Max-Forwards: 70\r\n";
	if (m->max_forwards < 0)
		return vd_edits_add(ed, m->hdrs[m->via.hdr].line_off, 0, add, sizeof(add) - 1);
	const struct vd_sip_header *h = &m->hdrs[m->first[VD_H_MAX_FORWARDS]];
	char *t = vd_edits_text(ed, 10);
	if (!t)
		return -1;
	uint32_t n = vd_put_u32(t, (uint32_t)m->max_forwards - 1);
	return vd_edits_add(ed, (uint32_t)(h->value.p - m->buf), h->value.len, t, n);
}

/* Strict-routing previous hop (RFC 3261 16.4): the Request-URI is ours (a URI we would have
 * record-routed: no user part) and there is a Route. Replace the Request-URI with the last
 * Route value's URI and remove that value. Returns 1 if applied, 0 if not, -1 on error. */
static int strict_route_fix(const struct vd_proxy *px, const struct vd_sip_msg *m,
			    struct route_set *rs, struct vd_edits *ed)
{
	struct vd_slice host, maddr;
	uint8_t type;
	uint16_t port;
	bool user, lr;

	/* a user part rules it out without parsing: our record-routed URIs have none */
	if (!m->has_route || memchr(m->ruri.p, '@', m->ruri.len) ||
	    vd_sip_uri_parse(m->ruri, &host, &type, &port, &user, &lr, &maddr) || user ||
	    !vd_addr_is_ours(px, host, type, port))
		return 0;
	const struct vd_sip_route *last = &rs->v[rs->n - 1];
	char *t = vd_edits_text(ed, last->uri.len);
	if (!t)
		return -1;
	memcpy(t, last->uri.p, last->uri.len); /* the packet moves under apply: copy first */
	if (vd_edits_add(ed, (uint32_t)(m->ruri.p - m->buf), m->ruri.len, t, last->uri.len))
		return -1;
	rs->removed[rs->n - 1] = true;
	rs->last = rs->n - 1;
	return 1;
}

static void refuse(const struct vd_proxy *px, const struct vd_sip_msg *m,
		   const union vd_sockaddr *src, int code, const char *reason,
		   struct vd_proxy_scratch *s, struct vd_result *res)
{
	if (m->method == VD_M_ACK)
		vd_result_drop(res, VD_DROP_BAD_ACK);
	else
		vd_proxy_reply(px, m, src, code, reason, s, res);
}

/* The address a URI sends to: maddr, when present, overrides the host (RFC 3261 16.5); false
 * for a name (the datapath does no DNS) or a bad maddr. *host and *type become the one used. */
static bool uri_address(struct vd_slice *host, uint8_t *type, struct vd_slice maddr,
			uint16_t port, union vd_sockaddr *dst)
{
	if (maddr.p) {
		const char *p = maddr.p;
		uint16_t ignored;
		if (!vd_sip_host_parse(&p, maddr.p + maddr.len, host, type, &ignored))
			return false;
	}
	return vd_addr_from_host(*host, *type, port, dst);
}

static bool route_target(const struct vd_sip_route *r, union vd_sockaddr *dst)
{
	struct vd_slice host = r->host;
	uint8_t type = r->host_type;
	return uri_address(&host, &type, r->maddr, r->port, dst);
}

/* The Request-URI's address; *ours tells whether it names us (what we advertise, or this
 * host at our port). */
static bool ruri_target(const struct vd_proxy *px, const struct vd_sip_msg *m,
			union vd_sockaddr *dst, bool *ours)
{
	struct vd_slice host, maddr;
	uint8_t type;
	uint16_t port;
	bool user, lr;
	*ours = false;
	if (vd_sip_uri_parse(m->ruri, &host, &type, &port, &user, &lr, &maddr))
		return false;
	bool ok = uri_address(&host, &type, maddr, port, dst);
	*ours = vd_addr_is_ours(px, host, type, port);
	return ok;
}

/*
 * Routing rules apply to every request, whatever its Route (a source-CIDR drop or a reject
 * must not be bypassed by naming a next hop). A reject or drop ends here (-1); a route rule
 * sets *pool_idx, used when the request goes to a pool.
 */
static int apply_rules(const struct vd_proxy *px, const struct vd_sip_msg *m,
		       const union vd_sockaddr *src, unsigned listener, unsigned *pool_idx,
		       struct vd_proxy_scratch *s, struct vd_result *res)
{
	*pool_idx = 0;
	if (!px->rules)
		return 0;
	int rule = vd_rules_match(px->rules, px->rules_scratch[s->worker], m, src, listener);
	res->rule = rule;
	if (rule < 0)
		return 0;
	const struct vd_rule_spec *spec = vd_rules_get(px->rules, (unsigned)rule);
	if (spec->action == VD_ACTION_REJECT) {
		refuse(px, m, src, spec->code, spec->reason, s, res);
		return -1;
	}
	if (spec->action == VD_ACTION_DROP) {
		vd_result_drop(res, VD_DROP_RULE);
		return -1;
	}
	*pool_idx = spec->pool;
	return 0;
}

/* A request from a member or a trusted peer travels outward (RFC 3261 16.5/16.6): by its
 * first remaining Route, else by its Request-URI; never back into the pool, never to us. */
static int outbound_hop(const struct vd_proxy *px, const struct vd_sip_msg *m,
			const struct route_set *rs, unsigned popped, const union vd_sockaddr *src,
			struct vd_proxy_scratch *s, struct vd_result *res)
{
	bool ours = false;
	bool ok = popped < rs->last ? route_target(&rs->v[popped], &res->dst)
				    : ruri_target(px, m, &res->dst, &ours);
	if (ours || (ok && (vd_addr_is_local_listener(px, &res->dst) ||
			    vd_addr_is_member(px, &res->dst)))) {
		/* it names us (or a member) with nothing else to follow: it would go round */
		refuse(px, m, src, 482, "Loop Detected", s, res);
		return -1;
	}
	if (!ok) {
		refuse(px, m, src, 503, "Next Hop Unresolvable", s, res);
		return -1;
	}
	res->route = VD_ROUTE_OUTBOUND;
	return 0;
}

/*
 * Pick the next hop. From a member or a trusted peer: outward (outbound_hop). Otherwise the
 * first Route value not ours is followed when it names a trusted hop (a member, or inside
 * trusted_next_hops); one naming anyone else (a name included: no DNS here) sends the request
 * to the pool with its Route set intact, or is refused, as untrusted_route says. Without a
 * Route: a member of the pool the rules chose. 0, or -1 when a reply or drop was decided.
 */
static int next_hop(const struct vd_proxy *px, const struct vd_sip_msg *m,
		    const struct route_set *rs, unsigned popped, const union vd_sockaddr *src,
		    unsigned pool_idx, struct vd_proxy_scratch *s, struct vd_result *res)
{
	res->member = -1;
	if (vd_source_is_inside(px, src))
		return outbound_hop(px, m, rs, popped, src, s, res);
	if (popped < rs->last) {
		union vd_sockaddr dst;
		if (route_target(&rs->v[popped], &dst) && vd_next_hop_trusted(px, &dst)) {
			const struct vd_proxy_member_info *mi = vd_proxy_member_find(px, &dst);
			if (mi) { /* an in-dialog request to a member counts for its health too */
				res->peer = (int16_t)mi->member;
				res->peer_pool = mi->pool;
			}
			res->dst = dst;
			res->route = VD_ROUTE_FOLLOWED;
			return 0;
		}
		if (px->untrusted_route == VD_UNTRUSTED_REJECT) {
			res->route = VD_ROUTE_REFUSED;
			refuse(px, m, src, 403, "Not relaying", s, res);
			return -1;
		}
		res->route = VD_ROUTE_TO_POOL;
	}
	const struct vd_proxy_pool *pool = &px->pools[pool_idx];
	int member = vd_pool_select(pool, m, src);
	if (member < 0) {
		refuse(px, m, src, 503, "Service Unavailable", s, res);
		return -1;
	}
	res->pool = res->peer_pool = (uint16_t)pool_idx;
	res->member = res->peer = (int16_t)member;
	res->dst = pool->members[member];
	res->transport = pool->transports[member];
	/* RFC 3261 18.1.1: a request near the path MTU goes over a congestion-controlled
	 * transport; our Via (about 100 bytes) is counted in */
	if (res->transport == VD_TP_UDP && pool->udp_max_bytes &&
	    m->len + 128 > pool->udp_max_bytes)
		res->transport = VD_TP_TCP;
	return 0;
}

/*
 * Proxy-Require (RFC 3261 16.3 step 5, 20.29): every option tag must be one the config lets
 * through, else 420 Bad Extension listing the others in Unsupported. Not for ACK and CANCEL
 * (8.2.2.3: never answered / must not be refused for extensions). -1 when a reply was built.
 */
static int proxy_require_check(const struct vd_proxy *px, const struct vd_sip_msg *m,
			       const union vd_sockaddr *src, struct vd_proxy_scratch *s,
			       struct vd_result *res)
{
	if (m->first[VD_H_PROXY_REQUIRE] == VD_SIP_NO_HDR || m->method == VD_M_ACK ||
	    m->method == VD_M_CANCEL)
		return 0;
	char extra[512];
	uint32_t n = 0;
	bool refused = false;
	static const char head[] = "Unsupported: ";
	for (uint16_t h = m->first[VD_H_PROXY_REQUIRE]; h < m->n_hdrs; h++) {
		if (m->hdrs[h].kind != VD_H_PROXY_REQUIRE)
			continue;
		const char *p = m->hdrs[h].value.p, *end = p + m->hdrs[h].value.len;
		while (p < end) {
			while (p < end && (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' ||
					   *p == '\n'))
				p++;
			const char *t = p;
			while (p < end && *p != ',' && *p != ' ' && *p != '\t' && *p != '\r')
				p++;
			size_t len = (size_t)(p - t);
			if (!len)
				continue;
			bool known = false;
			for (unsigned i = 0; i < px->n_option_tags && !known; i++)
				known = px->option_tag_len[i] == len &&
					vd_slice_eq_nocase((struct vd_slice){ t, (uint32_t)len },
							   (struct vd_slice){ px->option_tags[i],
									      (uint32_t)len });
			if (known)
				continue;
			refused = true;
			/* only a token is an option tag: anything else (a quoted string with control
			 * bytes in it, say) is refused but not echoed, so the 420 stays well-formed */
			if (!vd_sip_is_token((struct vd_slice){ t, (uint32_t)len }))
				continue;
			/* every tag that fits, the CRLF always: a long list is cut, not overrun */
			const uint32_t cap = sizeof(extra) - 2, sep = n ? 2 : sizeof(head) - 1;
			if (n + sep + len > cap)
				continue;
			memcpy(extra + n, n ? ", " : head, sep);
			memcpy(extra + n + sep, t, len);
			n += sep + (uint32_t)len;
		}
	}
	if (!refused)
		return 0;
	/* nothing listable (every tag too long, or not a token): no Unsupported header rather
	 * than an empty one */
	if (n) {
		memcpy(extra + n, "\r\n", 2);
		n += 2;
	}
	vd_proxy_reply_with(px, m, src, 420, "Bad Extension", extra, n, s, res);
	return -1;
}

static bool options_to_us(const struct vd_proxy *px, const struct vd_sip_msg *m)
{
	struct vd_slice host, maddr;
	uint8_t type;
	uint16_t port;
	bool user, lr;
	return m->method == VD_M_OPTIONS &&
	       vd_sip_uri_parse(m->ruri, &host, &type, &port, &user, &lr, &maddr) == 0 && !user &&
	       vd_addr_is_ours(px, host, type, port);
}

/* Route preprocessing (16.4). Returns how many leading values to pop, or -1 (reply sent). */
static int route_preprocess(const struct vd_proxy *px, const struct vd_sip_msg *m,
			    struct route_set *rs, const union vd_sockaddr *src,
			    struct vd_edits *ed, struct vd_proxy_scratch *s,
			    struct vd_result *res)
{
	rs->n = rs->last = 0;
	if (!m->has_route)
		return 0;
	if (!routes_collect(m, rs)) {
		refuse(px, m, src, 400, "Malformed Route", s, res);
		return -1;
	}
	rs->last = rs->n;
	if (strict_route_fix(px, m, rs, ed) < 0) {
		vd_result_drop(res, VD_DROP_NO_ROOM);
		return -1;
	}
	unsigned k = 0;
	while (k < rs->last &&
	       vd_addr_is_ours(px, rs->v[k].host, rs->v[k].host_type, rs->v[k].port))
		rs->removed[k++] = true;
	return (int)k;
}

void vd_proxy_request(const struct vd_proxy *px, struct vd_pktbuf *pkt,
		      const union vd_sockaddr *src, unsigned listener,
		      struct vd_proxy_scratch *s, struct vd_result *res)
{
	const struct vd_sip_msg *m = &s->msg;
	struct vd_edits ed;
	struct route_set rs;
	unsigned pool_idx;

	if (res->sip_err != VD_SIP_OK) {
		refuse(px, m, src, vd_sip_err_code(res->sip_err),
		       vd_sip_err_reason(res->sip_err), s, res);
		return;
	}
	if (vd_proxy_acks_our_reply(m)) { /* absorbed: the pool never saw the request */
		vd_result_drop(res, VD_DROP_ACK_ABSORBED);
		return;
	}
	if (m->max_forwards == 0) {
		refuse(px, m, src, 483, "Too Many Hops", s, res);
		return;
	}
	uint32_t loop = vd_branch_loop_key(m);
	if (vd_branch_loops(m, loop)) { /* RFC 3261 16.3 step 4 */
		refuse(px, m, src, 482, "Loop Detected", s, res);
		return;
	}
	if (proxy_require_check(px, m, src, s, res))
		return;
	vd_edits_init(&ed);
	int popped = route_preprocess(px, m, &rs, src, &ed, s, res);
	if (popped < 0)
		return;
	/* the rules before our own 200 to OPTIONS: a scanner's ping (OPTIONS sip:us) is dropped
	 * like the rest of what a drop rule matches, not answered */
	if (apply_rules(px, m, src, listener, &pool_idx, s, res))
		return;
	if ((unsigned)popped == rs.last && options_to_us(px, m)) {
		/* RFC 3261 11.2: Allow, Accept, Supported (built once, proxy.c) */
		vd_proxy_reply_with(px, m, src, 200, "OK", px->options_extra,
				    px->options_extra_len, s, res);
		return;
	}
	if (next_hop(px, m, &rs, (unsigned)popped, src, pool_idx, s, res))
		return;
	int egress = vd_proxy_egress_via(px, &res->dst, res->transport);
	if (egress < 0) {
		vd_result_drop(res, VD_DROP_NO_EGRESS);
		return;
	}
	if (routes_remove(m, &rs, &ed) ||
	    add_our_via(px, m, src, loop, &px->listeners[egress], res->transport, s->conn,
			res->peer >= 0 && (px->pools[res->peer_pool].signals & VD_SIGNAL_OC),
			&ed) ||
	    max_forwards_edit(m, &ed) || vd_via_received_edits(m, src, &ed)) {
		vd_result_drop(res, VD_DROP_NO_ROOM);
		return;
	}
	pkt->len = m->len; /* RFC 3261 18.3: bytes past Content-Length are not forwarded */
	if (vd_edits_apply(pkt, m->headers_end, &ed)) {
		vd_result_drop(res, VD_DROP_NO_ROOM);
		return;
	}
	res->verdict = VD_VERDICT_FORWARD;
	res->egress = (uint16_t)egress;
}
