/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The prober's member list (health.c is the prober): replacing it on reload with state carried
 * over by address and transport, the accessors, and the datapath's failed connections.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health_internal.h"

/* A member's identity across reloads: its address and its transport (a UDP and a TCP
 * member at one address are two members, probed two ways). */
static int member_cmp(const union vd_sockaddr *a, uint8_t tpa, const union vd_sockaddr *b,
		      uint8_t tpb)
{
	int c = vd_health_addr_cmp(a, b);

	return c ? c : (tpa > tpb) - (tpa < tpb);
}

/* An old member, sorted by identity so that a reload of n members costs O(n log n). */
struct old_ref {
	union vd_sockaddr addr;
	unsigned index;
	uint8_t transport;
	bool taken; /* claimed by a new member: a duplicate gets a fresh state */
};

static int old_ref_cmp(const void *a, const void *b)
{
	const struct old_ref *x = a, *y = b;

	return member_cmp(&x->addr, x->transport, &y->addr, y->transport);
}

static void sort_old(const struct vd_health *h, struct old_ref *refs)
{
	for (unsigned i = 0; i < h->n; i++)
		refs[i] = (struct old_ref){
			.addr = h->m[i].addr, .index = i, .transport = h->m[i].transport};
	if (h->n > 1)
		qsort(refs, h->n, sizeof(*refs), old_ref_cmp);
}

/* Index of the old member (a, tp) that no new member has claimed yet, or -1: the first equal
 * entry by binary search, then past the claimed ones. */
static int claim_old(struct old_ref *refs, unsigned n, const union vd_sockaddr *a, uint8_t tp)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (member_cmp(&refs[mid].addr, refs[mid].transport, a, tp) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && !member_cmp(&refs[lo].addr, refs[lo].transport, a, tp); lo++) {
		if (!refs[lo].taken) {
			refs[lo].taken = true;
			return (int)refs[lo].index;
		}
	}
	return -1;
}

/*
 * Kept members carry over everything, their outstanding probe included: its reply is still
 * matched (by sequence number, see find_probe) although its index may have changed, and its
 * connect goes on. New members start up and unscheduled: the next tick spreads them over the
 * interval. A dropped member's connect is closed. On error the old list stays in force.
 */
int vd_health_set_members(struct vd_health *h, const union vd_sockaddr *members,
			  const uint8_t *transports, unsigned n)
{
	struct member *m = NULL;
	struct pollfd *pfd = NULL;
	struct old_ref *refs = NULL;
	int rc = -EINVAL;

	if (n > VD_HEALTH_MAX_MEMBERS)
		goto fail;
	for (unsigned j = 0; transports && j < n; j++)
		if (transports[j] >= VD_TP__COUNT)
			goto fail;
	rc = -ENOMEM;
	if (n && (!(m = calloc(n, sizeof(*m))) || !(pfd = calloc(n, sizeof(*pfd)))))
		goto fail;
	if (h->n && !(refs = malloc(h->n * sizeof(*refs))))
		goto fail;
	sort_old(h, refs);
	for (unsigned j = 0; j < n; j++) {
		uint8_t tp = transports ? transports[j] : VD_TP_UDP;
		int i = claim_old(refs, h->n, &members[j], tp);

		if (i >= 0) {
			m[j] = h->m[i];
			continue;
		}
		m[j].addr = members[j];
		m[j].transport = tp;
		m[j].cfd = -1;
		vd_health_sm_init(&m[j].sm);
		if (tp == VD_TP_UDP) /* the Via and From of its OPTIONS */
			vd_health_local_for(h, &members[j], &m[j].local);
	}
	for (unsigned k = 0; k < h->n; k++)
		if (!refs[k].taken)
			vd_health_connect_close(&h->m[refs[k].index]);
	free(refs);
	free(h->m);
	free(h->pfd);
	h->m = m;
	h->pfd = pfd;
	h->n = n;
	return 0;
fail:
	free(refs);
	free(pfd);
	free(m);
	return rc;
}

unsigned vd_health_fds(const struct vd_health *h, int fds[2])
{
	unsigned n = 0;

	for (int f = 0; f < FAM_COUNT; f++)
		if (h->fd[f] >= 0)
			fds[n++] = h->fd[f];
	return n;
}

const struct vd_health_member_state *vd_health_state(const struct vd_health *h, unsigned i)
{
	return i < h->n ? &h->m[i].sm.st : NULL;
}

unsigned vd_health_members(const struct vd_health *h)
{
	return h->n;
}

const struct vd_health_counters *vd_health_counters(const struct vd_health *h)
{
	return &h->counters;
}

void vd_health_on_conn_failure(struct vd_health *h, const union vd_sockaddr *a,
			       uint8_t transport, uint64_t now_ms)
{
	for (unsigned i = 0; i < h->n; i++) {
		struct member *m = &h->m[i];
		if (m->transport != transport || vd_health_addr_cmp(&m->addr, a) != 0)
			continue;
		vd_health_report(h, i, vd_health_sm_conn_failure(&m->sm, &h->cfg, now_ms),
				 "a worker's connection failed", 0);
		return;
	}
}
