/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pools of the routing snapshot: members, priority groups, their Maglev tables, and the
 * choice of a member for a request.
 *
 * Tables are built on the control plane whenever a snapshot is made (config load, reload,
 * a member going up or down, a drain). Each group has two tables over the pool's members:
 * members outside the group, down, or (for `fresh`) drained get weight 0 and so no entries;
 * the entries are pool member indexes. Maglev keeps the member identities (their address
 * text), so a member going down moves only the keys that were on it.
 *
 * Selection (hot path): hash the pool's key, then walk the groups from the lowest priority
 * and take the first table that has an entry for it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "proxy_internal.h"

static void groups_free(struct vd_proxy_pool *p)
{
	for (unsigned g = 0; p->groups && g < p->n_groups; g++) {
		if (p->groups[g].dialog.entries != p->groups[g].fresh.entries)
			vd_maglev_free(&p->groups[g].dialog);
		vd_maglev_free(&p->groups[g].fresh);
	}
	free(p->groups);
	p->groups = NULL;
	p->n_groups = 0;
}

void vd_pool_release(struct vd_proxy_pool *p)
{
	if (!p->refs || --*p->refs == 0)
		vd_pool_fini(p);
	memset(p, 0, sizeof(*p));
}

/* A copy of n elements of size sz, or NULL. */
static void *dup_array(const void *src, size_t n, size_t sz)
{
	size_t bytes = n * sz;
	void *d = malloc(bytes ? bytes : 1);
	if (d && n)
		memcpy(d, src, n * sz);
	return d;
}

int vd_pool_unshare(struct vd_proxy_pool *p)
{
	if (*p->refs == 1)
		return 0;
	struct vd_proxy_pool c = *p;
	size_t n = p->n_members;
	c.refs = malloc(sizeof(*c.refs));
	c.members = dup_array(p->members, n, sizeof(*p->members));
	c.member_names = dup_array(p->member_names, n, sizeof(*p->member_names));
	c.hosts = dup_array(p->hosts, n, sizeof(*p->hosts));
	c.weights = dup_array(p->weights, n, sizeof(*p->weights));
	c.priorities = dup_array(p->priorities, n, sizeof(*p->priorities));
	c.transports = dup_array(p->transports, n, sizeof(*p->transports));
	c.up = dup_array(p->up, n, sizeof(*p->up));
	c.drained = dup_array(p->drained, n, sizeof(*p->drained));
	c.passive = dup_array(p->passive, n, sizeof(*p->passive));
	c.groups = NULL; /* rebuilt for the new state; the shared ones stay with the others */
	c.n_groups = 0;
	if (!c.refs || !c.members || !c.member_names || !c.hosts || !c.weights ||
	    !c.priorities || !c.transports || !c.up || !c.drained || !c.passive) {
		vd_pool_fini(&c);
		return -ENOMEM;
	}
	*c.refs = 1;
	--*p->refs;
	*p = c;
	return 0;
}

void vd_pool_fini(struct vd_proxy_pool *p)
{
	free(p->refs);
	groups_free(p);
	free(p->members);
	free(p->member_names);
	free(p->hosts);
	free(p->weights);
	free(p->priorities);
	free(p->transports);
	free(p->up);
	free(p->drained);
	free(p->passive);
	memset(p, 0, sizeof(*p));
}

/*
 * One table of group g over the members of the group that are up and not ejected. `fresh`
 * (new dialogs) also leaves out drained members and weighs each by its passive share (slow
 * start, RFC 7339 oc: 0 leaves it out); the dialog table weighs by slow start alone: a member
 * coming back takes in-dialog requests as it takes their dialogs, while one that asks for less
 * (oc) or is drained keeps its running calls. Every weight is scaled by VD_SHARE_WHOLE so
 * that shares are whole numbers; scaling all weights alike gives the same table, byte for
 * byte (Maglev's turns depend on weight / max weight).
 */
static uint32_t dialog_share(const struct vd_member_passive *ps)
{
	return VD_SHARE_WHOLE / 100 * ps->slow;
}

static int group_table(const struct vd_proxy_pool *p, uint32_t priority, bool fresh,
		       struct vd_maglev *t, bool *any)
{
	struct vd_maglev_member mm[VD_CFG_MAX_MEMBERS];
	*any = false;
	for (unsigned i = 0; i < p->n_members; i++) {
		const struct vd_member_passive *ps = &p->passive[i];
		uint32_t share = fresh ? ps->share : dialog_share(ps);
		bool in = p->priorities[i] == priority && p->up[i] && !ps->ejected &&
			  !(fresh && p->drained[i]) && share > 0;
		mm[i] = (struct vd_maglev_member){ p->member_names[i], strlen(p->member_names[i]),
						   in ? p->weights[i] * share : 0 };
		*any = *any || in;
	}
	return vd_maglev_build(t, p->table_size, mm, p->n_members);
}

/* Does the group's dialog table differ from its fresh one (a member drained, or with
 * another share of new dialogs than of running ones)? */
static bool dialog_differs(const struct vd_proxy_pool *p, uint32_t priority)
{
	for (unsigned i = 0; i < p->n_members; i++)
		if (p->priorities[i] == priority && !p->passive[i].ejected &&
		    (p->drained[i] || p->passive[i].share != dialog_share(&p->passive[i])))
			return true;
	return false;
}

/* The distinct priorities of the members, ascending. */
static unsigned priorities_sorted(const struct vd_proxy_pool *p, uint32_t *out)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->n_members; i++) {
		unsigned j = 0;
		while (j < n && out[j] < p->priorities[i])
			j++;
		if (j < n && out[j] == p->priorities[i])
			continue;
		memmove(out + j + 1, out + j, (n - j) * sizeof(*out));
		out[j] = p->priorities[i];
		n++;
	}
	return n;
}

int vd_pool_tables_build(struct vd_proxy_pool *p)
{
	uint32_t prio[VD_CFG_MAX_MEMBERS];
	unsigned n = priorities_sorted(p, prio);
	int rc;

	groups_free(p);
	p->groups = calloc(n, sizeof(*p->groups));
	if (!p->groups)
		return -ENOMEM;
	p->n_groups = n;
	for (unsigned g = 0; g < n; g++) {
		struct vd_proxy_group *gr = &p->groups[g];
		gr->priority = prio[g];
		rc = group_table(p, prio[g], true, &gr->fresh, &gr->fresh_any);
		if (rc)
			return rc;
		if (!dialog_differs(p, prio[g])) { /* the common case: one table serves both */
			gr->dialog = gr->fresh;
			gr->dialog_any = gr->fresh_any;
			continue;
		}
		rc = group_table(p, prio[g], false, &gr->dialog, &gr->dialog_any);
		if (rc)
			return rc;
	}
	return 0;
}

int vd_pool_init(struct vd_proxy_pool *p, const struct vd_cfg_pool *c, char *err, size_t errlen)
{
	unsigned n = c->n_members;
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", c->name);
	p->hash = c->hash;
	snprintf(p->hash_header, sizeof(p->hash_header), "%s", c->hash_header);
	p->hash_header_len = (uint16_t)strlen(p->hash_header);
	p->table_size = c->table_size;
	p->n_members = n;
	p->members = calloc(n, sizeof(*p->members));
	p->member_names = calloc(n, sizeof(*p->member_names));
	p->weights = calloc(n, sizeof(*p->weights));
	p->priorities = calloc(n, sizeof(*p->priorities));
	p->transports = calloc(n, sizeof(*p->transports));
	p->hosts = calloc(n, sizeof(*p->hosts));
	p->refs = calloc(1, sizeof(*p->refs));
	p->up = calloc(n, sizeof(*p->up));
	p->drained = calloc(n, sizeof(*p->drained));
	p->passive = calloc(n, sizeof(*p->passive));
	p->udp_max_bytes = c->udp_max_bytes;
	p->signals = (uint8_t)((c->outlier.retry_after ? VD_SIGNAL_RETRY_AFTER : 0) |
			       (c->outlier.overload_control ? VD_SIGNAL_OC : 0));
	if (!p->members || !p->member_names || !p->weights || !p->priorities || !p->up ||
	    !p->drained || !p->passive || !p->transports || !p->hosts || !p->refs)
		goto oom;
	for (unsigned i = 0; i < n; i++) {
		memcpy(&p->members[i], &c->members[i].addr, c->members[i].addrlen);
		vd_sockaddr_text(&p->members[i], p->member_names[i], sizeof(p->member_names[i]));
		p->weights[i] = c->members[i].weight;
		p->priorities[i] = c->members[i].priority;
		p->transports[i] = (uint8_t)c->members[i].transport;
		memcpy(p->hosts[i], c->members[i].host, sizeof(p->hosts[i]));
		p->up[i] = true;
		p->passive[i].share = VD_SHARE_WHOLE;
		p->passive[i].slow = 100;
	}
	*p->refs = 1;
	int rc = vd_pool_tables_build(p);
	if (rc) {
		snprintf(err, errlen, "pool %s: cannot build the Maglev tables: %s", c->name,
			 strerror(-rc));
		vd_pool_fini(p);
	}
	return rc;
oom:
	snprintf(err, errlen, "pool %s: out of memory", c->name);
	vd_pool_fini(p);
	return -ENOMEM;
}

/* ---- hot path ---- */

/* The user part of a SIP/SIPS URI ("sip:USER@host") or the number of a tel: URI. */
static struct vd_slice uri_user(struct vd_slice uri)
{
	const char *p = uri.p, *end = uri.p + uri.len;
	if (uri.len > 4 && memcmp(p, "tel:", 4) == 0) {
		p += 4;
		const char *semi = memchr(p, ';', (size_t)(end - p));
		return (struct vd_slice){ p, (uint32_t)((semi ? semi : end) - p) };
	}
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *at = colon ? memchr(colon, '@', (size_t)(end - colon)) : NULL;
	if (!at)
		return (struct vd_slice){ NULL, 0 };
	return (struct vd_slice){ colon + 1, (uint32_t)(at - colon - 1) };
}

/* The URI of a From/To value: inside <...>, or the addr-spec up to its parameters. */
static struct vd_slice header_uri(struct vd_slice v)
{
	const char *lt = memchr(v.p, '<', v.len);
	if (lt) {
		const char *gt = memchr(lt, '>', (size_t)(v.p + v.len - lt));
		if (gt)
			return (struct vd_slice){ lt + 1, (uint32_t)(gt - lt - 1) };
	}
	const char *semi = memchr(v.p, ';', v.len);
	return (struct vd_slice){ v.p, (uint32_t)((semi ? semi : v.p + v.len) - v.p) };
}

static struct vd_slice header_value(const struct vd_sip_msg *m, uint16_t idx)
{
	return idx == VD_SIP_NO_HDR ? (struct vd_slice){ NULL, 0 } : m->hdrs[idx].value;
}

/* The bytes the pool hashes; an absent key falls back to the Call-ID. */
static struct vd_slice hash_key(const struct vd_proxy_pool *p, const struct vd_sip_msg *m,
				const union vd_sockaddr *src)
{
	struct vd_slice k = { NULL, 0 };
	switch (p->hash) {
	case VD_HASH_SOURCE_IP:
		return src->sa.sa_family == AF_INET6
			       ? (struct vd_slice){ (const char *)&src->in6.sin6_addr, 16 }
			       : (struct vd_slice){ (const char *)&src->in.sin_addr, 4 };
	case VD_HASH_FROM_USER:
		k = uri_user(header_uri(header_value(m, m->first[VD_H_FROM])));
		break;
	case VD_HASH_TO_USER:
		k = uri_user(header_uri(header_value(m, m->first[VD_H_TO])));
		break;
	case VD_HASH_RURI_USER:
		k = uri_user(m->ruri);
		break;
	case VD_HASH_HEADER:
		k = header_value(m, vd_sip_find(m, p->hash_header, p->hash_header_len, 0));
		break;
	case VD_HASH_CALL_ID:
		break;
	}
	return k.p && k.len ? k : m->call_id;
}

int vd_pool_select(const struct vd_proxy_pool *p, const struct vd_sip_msg *m,
		   const union vd_sockaddr *src)
{
	struct vd_slice k = hash_key(p, m, src);
	uint64_t h = XXH3_64bits(k.p, k.len);
	bool dialog = m->to_tag.p != NULL; /* in-dialog: drained members still serve it */

	for (unsigned g = 0; g < p->n_groups; g++) {
		const struct vd_proxy_group *gr = &p->groups[g];
		if (!(dialog ? gr->dialog_any : gr->fresh_any))
			continue;
		uint16_t i = vd_maglev_lookup(dialog ? &gr->dialog : &gr->fresh, h);
		if (i != VD_MAGLEV_NO_MEMBER)
			return i;
	}
	return -1;
}
