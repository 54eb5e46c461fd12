/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The edge's admission, set up (the per-message part is guard.c): struct vd_cfg_guard
 * compiled into the snapshot's struct vd_proxy_guard (two longest-prefix tables: acl and the
 * exempt sources), a worker's state allocated, its hot sources read for /status.
 *
 * Pool members and trusted next hops are added to both tables: the acl always allows them
 * (a member's address cannot be denied: that is refused as a contradiction) and they are
 * never limited, so an acl or a limit can never cut viaduct off from its own pool.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_internal.h"

#define MILLI 1000u

static struct vd_prefix host_prefix(const union vd_sockaddr *a)
{
	struct vd_prefix p = { .family = (uint8_t)a->sa.sa_family };
	p.bits = a->sa.sa_family == AF_INET ? 32 : 128;
	memcpy(p.addr, vd_sockaddr_ip(a), p.bits / 8);
	return p;
}

/* Members and trusted hops, with `value`, after the n entries already in e. */
static unsigned add_own(struct vd_lpm_entry *e, unsigned n, const struct vd_config *cfg,
			uint32_t value)
{
	for (unsigned p = 0; p < cfg->n_pools; p++)
		for (unsigned m = 0; m < cfg->pools[p].n_members; m++)
			e[n++] = (struct vd_lpm_entry){ host_prefix(&cfg->pools[p].members[m].addr),
							value };
	for (unsigned t = 0; t < cfg->policy.n_trusted; t++)
		e[n++] = (struct vd_lpm_entry){ cfg->policy.trusted[t], value };
	return n;
}

static unsigned own_count(const struct vd_config *cfg)
{
	unsigned n = cfg->policy.n_trusted;
	for (unsigned p = 0; p < cfg->n_pools; p++)
		n += cfg->pools[p].n_members;
	return n;
}

static int build_acl(struct vd_proxy_guard *G, const struct vd_cfg_guard *c,
		     const struct vd_config *cfg, char *err, size_t errlen)
{
	if (!c->n_acl && !c->acl_default_deny)
		return 0;
	struct vd_lpm_entry *e = malloc((c->n_acl + own_count(cfg) + 1) * sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "acl: out of memory");
		return -ENOMEM;
	}
	unsigned n = 0;
	for (unsigned i = 0; i < c->n_acl; i++)
		e[n++] = (struct vd_lpm_entry){ c->acl[i].prefix,
						c->acl[i].deny ? VD_GUARD_DENY : VD_GUARD_ALLOW };
	n = add_own(e, n, cfg, VD_GUARD_ALLOW);
	char why[160];
	int rc = vd_lpm_build(e, n, c->acl_default_deny ? VD_GUARD_DENY : VD_GUARD_ALLOW, &G->acl,
			      why, sizeof(why));
	free(e);
	if (rc)
		snprintf(err, errlen, "acl: %s (pool members and trusted_next_hops are always "
				      "allowed)", why);
	return rc;
}

static int build_exempt(struct vd_proxy_guard *G, const struct vd_cfg_guard *c,
			const struct vd_config *cfg, char *err, size_t errlen)
{
	struct vd_lpm_entry *e = malloc((c->n_exempt + own_count(cfg) + 1) * sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "rate_limit: out of memory");
		return -ENOMEM;
	}
	unsigned n = 0;
	for (unsigned i = 0; i < c->n_exempt; i++)
		e[n++] = (struct vd_lpm_entry){ c->exempt[i], 1 };
	n = add_own(e, n, cfg, 1);
	char why[160];
	int rc = vd_lpm_build(e, n, 0, &G->exempt, why, sizeof(why));
	free(e);
	if (rc)
		snprintf(err, errlen, "rate_limit.exempt: %s", why);
	return rc;
}

int vd_guard_compile(struct vd_proxy *px, const struct vd_config *cfg, char *err, size_t errlen)
{
	const struct vd_cfg_guard *c = &cfg->guard;
	struct vd_proxy_guard *G = &px->guard;
	unsigned workers = cfg->workers ? cfg->workers : 1;
	memset(G, 0, sizeof(*G));
	G->rate = c->rate;
	G->burst = (c->burst ? c->burst : c->rate) * MILLI;
	G->reply_rate = c->reply_rate;
	G->reply_burst = (c->reply_burst ? c->reply_burst : c->reply_rate) * MILLI;
	G->ban_after = c->ban_after;
	G->ban_ms = c->ban_seconds * MILLI;
	G->over = (uint8_t)c->over;
	G->overload_ms = c->overload_ms;
	G->shed = (uint8_t)c->shed;
	for (unsigned m = 0; m < VD_M__COUNT && m < VD_CFG_GUARD_METHODS; m++) {
		if (!c->method_rate[m])
			continue;
		/* an instance-wide rate, split over the workers (each limits its own share) */
		G->method_rate[m] = c->method_rate[m] / workers ? c->method_rate[m] / workers : 1;
		uint32_t burst = c->method_burst[m] ? c->method_burst[m] : c->method_rate[m];
		G->method_burst[m] = (burst / workers ? burst / workers : 1) * MILLI;
		G->methods = true;
	}
	int rc = build_acl(G, c, cfg, err, errlen);
	if (!rc)
		rc = build_exempt(G, c, cfg, err, errlen);
	if (rc)
		vd_guard_release(G);
	return rc;
}

void vd_guard_release(struct vd_proxy_guard *G)
{
	vd_lpm_free(G->acl);
	vd_lpm_free(G->exempt);
	G->acl = G->exempt = NULL;
}

static uint32_t sets_for(uint32_t sources)
{
	uint32_t sets = 1;
	while (sets * VD_GUARD_WAYS < sources && sets < (1u << 28))
		sets <<= 1;
	return sets;
}

size_t vd_guard_bytes(uint32_t sources)
{
	return sizeof(struct vd_guard) +
	       (size_t)sets_for(sources) * VD_GUARD_WAYS * sizeof(struct vd_guard_src);
}

struct vd_guard *vd_guard_new(uint32_t sources)
{
	struct vd_guard *g = calloc(1, sizeof(*g));
	uint32_t sets = sets_for(sources);
	if (!g)
		return NULL;
	/* a set is two cache lines: aligned so that it never straddles three */
	g->src = aligned_alloc(128, (size_t)sets * VD_GUARD_WAYS * sizeof(*g->src));
	if (!g->src) {
		free(g);
		return NULL;
	}
	memset(g->src, 0, (size_t)sets * VD_GUARD_WAYS * sizeof(*g->src));
	g->set_mask = sets - 1;
	g->now_ms = 1;
	g->exempt = -1;
	return g;
}

void vd_guard_free(struct vd_guard *g)
{
	if (!g)
		return;
	free(g->src);
	free(g);
}

unsigned vd_guard_hot_read(const struct vd_guard *g, struct vd_guard_hot *out, unsigned n)
{
	unsigned k = 0;
	for (unsigned i = 0; i < VD_GUARD_HOT && k < n; i++) {
		struct vd_guard_hot h = {
			.family = __atomic_load_n(&g->hot[i].family, __ATOMIC_RELAXED),
			.key = __atomic_load_n(&g->hot[i].key, __ATOMIC_RELAXED),
			.strikes = __atomic_load_n(&g->hot[i].strikes, __ATOMIC_RELAXED),
			.ban_until_ms = __atomic_load_n(&g->hot[i].ban_until_ms, __ATOMIC_RELAXED),
		};
		if (h.family)
			out[k++] = h;
	}
	/* banned first, then by strikes: a short insertion sort of at most 16 */
	for (unsigned i = 1; i < k; i++)
		for (unsigned j = i; j > 0; j--) {
			struct vd_guard_hot *a = &out[j - 1], *b = &out[j];
			bool swap = (!a->ban_until_ms && b->ban_until_ms) ||
				    (!a->ban_until_ms == !b->ban_until_ms && a->strikes < b->strikes);
			if (!swap)
				break;
			struct vd_guard_hot t = *a;
			*a = *b;
			*b = t;
		}
	return k;
}

void vd_guard_key_text(const struct vd_guard_hot *h, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	uint8_t b[16] = { 0 };
	if (h->family == AF_INET) {
		memcpy(b, &h->key, 4);
		inet_ntop(AF_INET, b, ip, sizeof(ip));
		snprintf(out, len, "%s", ip);
	} else {
		memcpy(b, &h->key, 8);
		inet_ntop(AF_INET6, b, ip, sizeof(ip));
		snprintf(out, len, "%s/64", ip);
	}
}
