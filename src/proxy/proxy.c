/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The proxy's entry points: compile a config into the read-only struct vd_proxy (control
 * plane), and vd_proxy_process(), which scans one datagram and hands it to the request or
 * response logic (hot path).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_internal.h"
#include "viaduct/rules.h"

/* Seed of the branch hash. A named constant, not random: every instance and every restart
 * computes the same branch for the same request, which RFC 3261 16.11 needs for CANCEL/ACK
 * matching across a restart or across instances behind ECMP. */
#define BRANCH_SEED 0x7669616475637431ULL /* "viaduct1" */

static const char *const drop_names[VD_DROP__COUNT] = {
	[VD_DROP_NONE] = "none",
	[VD_DROP_NOT_SIP] = "not-sip",
	[VD_DROP_BAD_RESPONSE] = "bad-response",
	[VD_DROP_BAD_ACK] = "bad-ack",
	[VD_DROP_VIA_NOT_OURS] = "via-not-ours",
	[VD_DROP_NO_NEXT_VIA] = "no-next-via",
	[VD_DROP_UNRESOLVABLE] = "unresolvable",
	[VD_DROP_NO_EGRESS] = "no-egress",
	[VD_DROP_NO_ROOM] = "no-room",
	[VD_DROP_TOO_LARGE] = "too-large",
	[VD_DROP_REPLY_TOO_LARGE] = "reply-too-large",
	[VD_DROP_SEND_FAILED] = "send-failed",
	[VD_DROP_RULE] = "rule",
	[VD_DROP_ACK_ABSORBED] = "ack-absorbed",
	[VD_DROP_FORGED_RESPONSE] = "forged-response",
	[VD_DROP_UNFRAMED] = "unframed",
	[VD_DROP_CONN_CLOSED] = "connection-closed",
	[VD_DROP_HANDOFF_FULL] = "handoff-full",
	[VD_DROP_ACL] = "acl-denied",
	[VD_DROP_BANNED] = "banned",
	[VD_DROP_RATE_LIMITED] = "rate-limited",
	[VD_DROP_SHED] = "shed",
	[VD_DROP_REPLY_LIMITED] = "reply-limited",
	[VD_DROP_REPLY_AMPLIFIES] = "reply-larger-than-request",
};

const char *vd_drop_name(enum vd_drop d)
{
	return (unsigned)d < VD_DROP__COUNT ? drop_names[d] : "unknown";
}

static const char *const route_names[VD_ROUTE__COUNT] = {
	[VD_ROUTE_NONE] = "none",	    [VD_ROUTE_FOLLOWED] = "followed",
	[VD_ROUTE_TO_POOL] = "to-pool",	    [VD_ROUTE_REFUSED] = "refused",
	[VD_ROUTE_OUTBOUND] = "outbound",
};

const char *vd_eject_name(enum vd_eject e)
{
	static const char *const names[VD_EJECT__COUNT] = {
		[VD_EJECT_NONE] = "none",
		[VD_EJECT_RETRY_AFTER] = "retry-after",
		[VD_EJECT_OUTLIER] = "outlier",
	};
	return (unsigned)e < VD_EJECT__COUNT ? names[e] : "unknown";
}

const char *vd_route_outcome_name(enum vd_route_outcome o)
{
	return (unsigned)o < VD_ROUTE__COUNT ? route_names[o] : "unknown";
}

static int listener_init(struct vd_proxy_listener *l, const struct vd_cfg_listener *c,
			 char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	memcpy(&l->bind, &c->addr, c->addrlen);
	size_t len = strlen(c->advertise);
	memcpy(l->host, c->advertise, len);
	l->host_len = (uint16_t)len;
	l->port = c->advertise_port;

	const char *p = l->host;
	struct vd_slice host;
	uint16_t port;
	if (!vd_sip_host_parse(&p, l->host + len, &host, &l->host_type, &port) ||
	    p != l->host + len) {
		snprintf(err, errlen, "listener advertise \"%s\" is not a host", c->advertise);
		return -EINVAL;
	}
	union vd_sockaddr a;
	if (l->host_type != VD_HOST_FQDN && vd_addr_from_host(host, l->host_type, 0, &a))
		memcpy(l->ip, a.sa.sa_family == AF_INET ? (void *)&a.in.sin_addr
							 : (void *)&a.in6.sin6_addr,
		       a.sa.sa_family == AF_INET ? 4 : 16);
	static const char *const names[VD_TP__COUNT] = { "UDP", "TCP", "TLS" };
	for (unsigned t = 0; t < VD_TP__COUNT; t++) {
		int n = snprintf(l->via_prefix[t], sizeof(l->via_prefix[t]),
				 "Via: SIP/2.0/%s %s:%u;branch=" VD_MAGIC_COOKIE, names[t],
				 c->advertise, l->port);
		l->via_prefix_len[t] = (uint16_t)n;
		n = snprintf(l->via_prefix_oc[t], sizeof(l->via_prefix_oc[t]),
			     "Via: SIP/2.0/%s %s:%u;oc;oc-algo=\"loss\";branch=" VD_MAGIC_COOKIE,
			     names[t], c->advertise, l->port);
		l->via_prefix_oc_len[t] = (uint16_t)n;
	}
	l->transport = (uint8_t)c->transport;
	return 0;
}

/* One hyperscan database for the snapshot, and a scratch per worker made for it: a worker's
 * scratch always matches the database of the snapshot it reads. */
static int rules_init(struct vd_proxy *px, const struct vd_config *cfg, char *err, size_t errlen)
{
	if (cfg->n_rules == 0)
		return 0;
	int rc = vd_rules_compile(cfg->rules, cfg->n_rules, &px->rules, err, errlen);
	if (rc)
		return rc;
	/* one per worker, and one for the kernel datapath that serves TCP/TLS beside DPDK's */
	unsigned n = (cfg->workers ? cfg->workers : 1) + 1;
	px->rules_scratch = calloc(n, sizeof(*px->rules_scratch));
	if (!px->rules_scratch)
		goto oom;
	for (unsigned i = 0; i < n; i++) {
		if (vd_rules_scratch_alloc(px->rules, &px->rules_scratch[i]))
			goto oom;
		px->n_rules_scratch = i + 1;
	}
	return 0;
oom:
	snprintf(err, errlen, "rules: out of memory for the matching scratch");
	return -ENOMEM;
}

static void add_local(struct vd_proxy *px, int family, const void *addr, uint8_t bits)
{
	if (px->n_local == VD_PROXY_MAX_LOCAL)
		return;
	struct vd_prefix *l = &px->local[px->n_local++];
	*l = (struct vd_prefix){ .family = (uint8_t)family, .bits = bits };
	memcpy(l->addr, addr, family == AF_INET ? 4 : 16);
}

/* This host's addresses: what a Route or Request-URI may name to reach us without naming
 * what we advertise (the kernel delivers 0.0.0.0, 127/8 and every local address locally). */
static void local_addresses_init(struct vd_proxy *px)
{
	static const uint8_t any[16], loop4[4] = { 127 }, loop6[16] = { [15] = 1 };
	add_local(px, AF_INET, any, 32);
	add_local(px, AF_INET, loop4, 8);
	add_local(px, AF_INET6, any, 128);
	add_local(px, AF_INET6, loop6, 128);
	for (unsigned i = 0; i < px->n_listeners; i++) { /* even when getifaddrs fails */
		const union vd_sockaddr *b = &px->listeners[i].bind;
		if (b->sa.sa_family == AF_INET)
			add_local(px, AF_INET, &b->in.sin_addr, 32);
		else
			add_local(px, AF_INET6, &b->in6.sin6_addr, 128);
	}
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs))
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			add_local(px, AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 32);
		else if (i->ifa_addr->sa_family == AF_INET6)
			add_local(px, AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 128);
	}
	freeifaddrs(ifs);
}

/* What an OPTIONS to the proxy itself learns (RFC 3261 11.2): every method passes through;
 * Supported lists the option tags that pass Proxy-Require. Fits VD_PROXY_OPTIONS_EXTRA_MAX by
 * the config's ceilings. */
static void options_extra_init(struct vd_proxy *px, const struct vd_cfg_policy *p)
{
	static const char fixed[] = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, "
				    "UPDATE, SUBSCRIBE, NOTIFY, MESSAGE, INFO, REFER, PUBLISH\r\n"
				    "Accept: application/sdp\r\n"
				    "Accept-Encoding: identity\r\n"
				    "Accept-Language: en\r\n"
				    "Supported:";
	_Static_assert(sizeof(fixed) + 2 < 256, "room for the fixed lines");
	char *w = px->options_extra;
	memcpy(w, fixed, sizeof(fixed) - 1);
	w += sizeof(fixed) - 1;
	for (unsigned i = 0; i < p->n_proxy_require; i++)
		w += sprintf(w, "%s%s", i ? ", " : " ", p->proxy_require[i]);
	memcpy(w, "\r\n", 2);
	px->options_extra_len = (uint16_t)(w + 2 - px->options_extra);
}

static void policy_init(struct vd_proxy *px, const struct vd_cfg_policy *p)
{
	options_extra_init(px, p);
	if (p->server_header[0])
		px->server_line_len = (uint16_t)snprintf(px->server_line, sizeof(px->server_line),
							 "Server: %s\r\n", p->server_header);
	px->n_option_tags = p->n_proxy_require;
	for (unsigned i = 0; i < p->n_proxy_require; i++) {
		memcpy(px->option_tags[i], p->proxy_require[i], VD_CFG_OPTION_TAG_MAX);
		px->option_tag_len[i] = (uint8_t)strlen(p->proxy_require[i]);
	}
	px->n_trusted = p->n_trusted;
	memcpy(px->trusted, p->trusted, sizeof(px->trusted));
	px->untrusted_route = (uint8_t)p->untrusted_route;
	local_addresses_init(px);
}

/* A member that is one of our own listeners would send every request round in a loop. */
static int members_not_ours(const struct vd_proxy *px, const struct vd_config *cfg, char *err,
			    size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_pools; i++)
		for (unsigned j = 0; j < cfg->pools[i].n_members; j++) {
			union vd_sockaddr a;
			memcpy(&a, &cfg->pools[i].members[j].addr, sizeof(a));
			if (vd_addr_is_local_listener(px, &a)) {
				snprintf(err, errlen, "pools[%u].members[%u]: %s is one of viaduct's "
						      "own listeners (a request would loop)",
					 i, j, cfg->pools[i].members[j].host);
				return -EINVAL;
			}
		}
	return 0;
}

int vd_proxy_init(struct vd_proxy *px, const struct vd_config *cfg, char *err, size_t errlen)
{
	memset(px, 0, sizeof(*px));
	px->egress_v4 = px->egress_v6 = -1;
	px->egress_stream_v4 = px->egress_stream_v6 = -1;
	px->n_listeners = cfg->n_listeners;
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		int rc = listener_init(&px->listeners[i], &cfg->listeners[i], err, errlen);
		if (rc)
			return rc;
		bool v6 = px->listeners[i].bind.sa.sa_family == AF_INET6;
		/* the first UDP listener of a family sends datagrams to that family; the first
		 * TCP one is named in the Via of requests that leave over TCP */
		int *egress = cfg->listeners[i].transport == VD_TP_UDP
				      ? (v6 ? &px->egress_v6 : &px->egress_v4)
				      : (v6 ? &px->egress_stream_v6 : &px->egress_stream_v4);
		if (*egress < 0)
			*egress = (int)i;
	}
	if (px->egress_stream_v4 < 0)
		px->egress_stream_v4 = px->egress_v4;
	if (px->egress_stream_v6 < 0)
		px->egress_stream_v6 = px->egress_v6;
	px->limits.max_headers = cfg->limits.max_headers;
	px->limits.max_vias = cfg->limits.max_vias;
	px->max_message_size = cfg->limits.max_message_size;
	px->retry_after = cfg->retry_after;
	px->branch_seed = BRANCH_SEED;
	memcpy(px->branch_key, cfg->policy.branch_key, VD_BRANCH_KEY_LEN);
	policy_init(px, &cfg->policy);
	int prc = members_not_ours(px, cfg, err, errlen);
	if (prc)
		return prc;
	prc = vd_guard_compile(px, cfg, err, errlen);
	if (prc)
		return prc;
	px->shared_refs = calloc(1, sizeof(*px->shared_refs));
	px->pools = calloc(cfg->n_pools, sizeof(*px->pools));
	if (px->shared_refs)
		*px->shared_refs = 1;
	if (!px->pools || !px->shared_refs) {
		free(px->shared_refs);
		free(px->pools);
		px->pools = NULL;
		px->shared_refs = NULL;
		vd_guard_release(&px->guard);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < cfg->n_pools; i++) {
		int rc = vd_pool_init(&px->pools[i], &cfg->pools[i], err, errlen);
		if (rc) {
			vd_proxy_fini(px);
			return rc;
		}
		px->n_pools = i + 1;
	}
	int rc = rules_init(px, cfg, err, errlen);
	if (!rc && vd_member_set_build(px)) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	if (rc)
		vd_proxy_fini(px);
	return rc;
}

void vd_proxy_fini(struct vd_proxy *px)
{
	/* the compiled parts go with the last snapshot that shares them */
	if (!px->shared_refs || --*px->shared_refs == 0) {
		vd_member_set_free(px);
		for (unsigned i = 0; px->rules_scratch && i < px->n_rules_scratch; i++)
			vd_rules_scratch_free(px->rules_scratch[i]);
		free(px->rules_scratch);
		vd_rules_free(px->rules);
		vd_guard_release(&px->guard);
		free(px->shared_refs);
	}
	px->shared_refs = NULL;
	px->member_set = NULL;
	px->member_info = NULL;
	px->rules_scratch = NULL;
	px->n_rules_scratch = 0;
	px->rules = NULL;
	for (unsigned i = 0; px->pools && i < px->n_pools; i++)
		vd_pool_release(&px->pools[i]);
	free(px->pools);
	px->pools = NULL;
	px->n_pools = 0;
}

int vd_proxy_clone(struct vd_proxy *dst, const struct vd_proxy *src)
{
	*dst = *src; /* listeners, policy, limits: plain values */
	dst->pools = malloc(sizeof(*dst->pools) * (src->n_pools ? src->n_pools : 1));
	if (!dst->pools) {
		memset(dst, 0, sizeof(*dst));
		return -ENOMEM;
	}
	memcpy(dst->pools, src->pools, sizeof(*dst->pools) * src->n_pools);
	for (unsigned i = 0; i < src->n_pools; i++)
		++*dst->pools[i].refs;
	++*dst->shared_refs;
	return 0;
}

int vd_proxy_member_set(struct vd_proxy *px, unsigned pool, unsigned member, bool up,
			bool drained)
{
	if (pool >= px->n_pools || member >= px->pools[pool].n_members)
		return -EINVAL;
	struct vd_proxy_pool *p = &px->pools[pool];
	if (p->up[member] == up && p->drained[member] == drained)
		return 0;
	if (vd_pool_unshare(p))
		return -ENOMEM;
	p->up[member] = up;
	p->drained[member] = drained;
	p->dirty = true;
	return 0;
}

static bool passive_equal(const struct vd_member_passive *a, const struct vd_member_passive *b)
{
	return a->ejected == b->ejected && a->oc == b->oc && a->slow == b->slow &&
	       a->share == b->share && a->until_ms == b->until_ms &&
	       memcmp(a->ejections, b->ejections, sizeof(a->ejections)) == 0;
}

int vd_proxy_member_passive(struct vd_proxy *px, unsigned pool, unsigned member,
			    const struct vd_member_passive *st)
{
	if (pool >= px->n_pools || member >= px->pools[pool].n_members ||
	    st->share > VD_SHARE_MAX)
		return -EINVAL;
	struct vd_proxy_pool *p = &px->pools[pool];
	if (passive_equal(&p->passive[member], st))
		return 0;
	if (vd_pool_unshare(p))
		return -ENOMEM;
	p->passive[member] = *st;
	p->dirty = true;
	return 0;
}

int vd_proxy_pools_rebuild(struct vd_proxy *px)
{
	for (unsigned i = 0; i < px->n_pools; i++) {
		struct vd_proxy_pool *p = &px->pools[i];
		if (!p->dirty)
			continue;
		int rc = vd_pool_tables_build(p);
		if (rc)
			return rc;
		p->dirty = false;
	}
	return 0;
}

int vd_proxy_member_state(struct vd_proxy *px, unsigned pool, unsigned member, bool up,
			  bool drained)
{
	int rc = vd_proxy_member_set(px, pool, member, up, drained);
	return rc ? rc : vd_proxy_pools_rebuild(px);
}

void vd_proxy_too_large(const struct vd_proxy *px, const struct vd_pktbuf *pkt,
			const union vd_sockaddr *src, struct vd_proxy_scratch *s,
			struct vd_result *res)
{
	*res = (struct vd_result){ .verdict = VD_VERDICT_DROP, .drop = VD_DROP_TOO_LARGE,
				   .sip_err = VD_SIP_E_TOO_LARGE, .member = -1, .rule = -1,
				   .peer = -1 };
	/* Scan what fits: the headers usually do, and the scan stops at the first problem with
	 * everything before it valid. A request whose top Via was read can be told why. */
	uint32_t len = pkt->len < px->max_message_size ? pkt->len : px->max_message_size;
	vd_sip_scan(pkt->base + pkt->off, len, &px->limits, &s->msg);
	const struct vd_sip_msg *m = &s->msg;
	if (!m->is_request || !m->via.transport.p || m->method == VD_M_ACK)
		return;
	res->is_request = true;
	res->method = m->method;
	vd_proxy_reply(px, m, src, 513, "Message Too Large", s, res);
}

void vd_proxy_unframed(const struct vd_proxy *px, const struct vd_pktbuf *pkt,
		       const union vd_sockaddr *src, bool missing, struct vd_proxy_scratch *s,
		       struct vd_result *res)
{
	*res = (struct vd_result){ .verdict = VD_VERDICT_DROP, .drop = VD_DROP_UNFRAMED,
				   .sip_err = VD_SIP_E_BAD_CONTENT_LENGTH, .member = -1,
				   .rule = -1, .peer = -1 };
	vd_sip_scan(pkt->base + pkt->off, pkt->len, &px->limits, &s->msg);
	const struct vd_sip_msg *m = &s->msg;
	if (!m->is_request || !m->via.transport.p || m->method == VD_M_ACK)
		return;
	res->is_request = true;
	res->method = m->method;
	/* RFC 3261 18.3: over a stream Content-Length is mandatory */
	vd_proxy_reply(px, m, src, 400, missing ? "Missing Content-Length" : "Bad Content-Length",
		       s, res);
}

void vd_proxy_process(const struct vd_proxy *px, struct vd_pktbuf *pkt,
		      const union vd_sockaddr *src, unsigned listener,
		      struct vd_proxy_scratch *s, struct vd_result *res)
{
	res->verdict = VD_VERDICT_DROP;
	res->drop = VD_DROP_NONE;
	res->member = -1;
	res->peer = -1;
	res->signal.bits = 0;
	res->status = 0;
	res->rule = -1;
	res->route = VD_ROUTE_NONE;
	res->method = VD_M_UNKNOWN;
	res->transport = VD_TP_UDP;
	res->conn = 0;
	res->guard = 0;
	res->sip_err = VD_SIP_OK;
	/* the admission's common case (no acl, no per-source rate, not behind) costs a few
	 * tests here; guard.c runs only when it has something to do */
	struct vd_guard *g = s->guard;
	if (g) {
		g->cur = NULL;
		g->limited = false;
		g->exempt = -1;
		g->round_seen++;
		if ((px->guard.acl || px->guard.rate) && !vd_guard_admit(px, g, src, res))
			return;
		g->round_admitted++;
	}
	uint32_t in_len = pkt->len;
	if (pkt->len > px->max_message_size) {
		vd_proxy_too_large(px, pkt, src, s, res);
		goto replied;
	}
	enum vd_sip_err e = vd_sip_scan(pkt->base + pkt->off, pkt->len, &px->limits, &s->msg);
	res->sip_err = (uint8_t)e;
	res->is_request = s->msg.is_request;
	res->method = s->msg.method;
	if (g && (g->limited || g->behind_ms || px->guard.methods) &&
	    vd_guard_scanned(px, g, e, src, s, res))
		goto replied;
	if (e == VD_SIP_E_NOT_SIP) {
		res->drop = VD_DROP_NOT_SIP;
		return;
	}
	if (s->msg.is_request)
		vd_proxy_request(px, pkt, src, listener, s, res);
	else
		vd_proxy_response(px, pkt, src, s, res);
replied:
	if (g && res->verdict == VD_VERDICT_REPLY)
		vd_guard_replied(px, g, src, in_len, res);
}
