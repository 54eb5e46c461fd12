/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hand-off of messages to the worker that owns a connection. A connection belongs to one
 * worker, but the response to a request that came over it may reach another (a UDP member
 * answers to whichever socket the kernel picks), and with the DPDK datapath every UDP
 * message arrives at a DPDK lcore, outside this datapath. The sender passes the message to
 * the owner through a ring only the two of them use (one producer, one consumer: two atomic
 * indexes, no lock), then wakes the owner once per batch through its eventfd.
 *
 * Producers are this datapath's workers (0 .. n_workers-1) and the external ones (DPDK
 * lcores: n_workers ..). A record says where the bytes go: over the connection of a token,
 * or to an address by TCP/TLS (our connection to a member, opened by the owner if needed).
 * Records are padded to 8 bytes and never split across the end of the ring: a length of
 * UINT32_MAX tells the consumer to wrap to the start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dp_internal.h"

#define WRAP UINT32_MAX

enum { REC_TOKEN = 0, REC_ADDRESS };

struct rec {
	uint32_t len;
	uint8_t kind, transport;
	int16_t member;
	uint16_t pool;
	uint16_t pad;
	uint64_t token;
	union vd_sockaddr dst;
	uint32_t pad2;
};
#define REC_HEAD ((uint32_t)sizeof(struct rec))
_Static_assert(sizeof(struct rec) % 8 == 0, "records stay 8-byte aligned");

static inline uint32_t rec_size(uint32_t len)
{
	return (REC_HEAD + len + 7u) & ~7u;
}

static unsigned producers(const struct vd_dp *dp)
{
	return dp->n_workers + dp->n_external;
}

int vd_handoff_init(struct vd_dp *dp)
{
	unsigned n = dp->n_workers, p = producers(dp);
	if (p < 2 || (!dp->any_tcp && !dp->n_external))
		return 0; /* UDP only: nothing is ever handed off */
	dp->rings = aligned_alloc(64, sizeof(*dp->rings) * p * n);
	dp->ext_wake = calloc((size_t)(dp->n_external ? dp->n_external : 1) * n, sizeof(bool));
	if (!dp->rings || !dp->ext_wake)
		return -ENOMEM;
	memset(dp->rings, 0, sizeof(*dp->rings) * p * n);
	for (unsigned i = 0; i < p * n; i++) {
		if (i / n == i % n)
			continue; /* a worker does not pass messages to itself */
		dp->rings[i].size = VD_DP_RING_BYTES;
		dp->rings[i].data = malloc(VD_DP_RING_BYTES);
		if (!dp->rings[i].data)
			return -ENOMEM;
	}
	return 0;
}

void vd_handoff_fini(struct vd_dp *dp)
{
	for (unsigned i = 0; dp->rings && i < producers(dp) * dp->n_workers; i++)
		free(dp->rings[i].data);
	free(dp->rings);
	free(dp->ext_wake);
	dp->rings = NULL;
	dp->ext_wake = NULL;
}

static int push(struct vd_ring *r, const struct rec *h, const char *p)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint32_t need = rec_size(h->len), at = head % r->size, pad = 0;
	if (r->size - at < need)
		pad = r->size - at; /* skip to the start: a record is never split */
	if (r->size - (head - tail) < pad + need)
		return -1;
	if (pad) {
		uint32_t wrap = WRAP;
		memcpy(r->data + at, &wrap, sizeof(wrap));
		at = 0;
	}
	memcpy(r->data + at, h, REC_HEAD);
	memcpy(r->data + at + REC_HEAD, p, h->len);
	atomic_store_explicit(&r->head, head + pad + need, memory_order_release);
	return 0;
}

int vd_handoff_push(struct vd_worker *w, uint64_t token, const union vd_sockaddr *dst,
		    const char *p, uint32_t len)
{
	struct vd_dp *dp = w->dp;
	unsigned to = vd_token_worker(token);
	if (to >= dp->n_workers || to == w->id || !dp->rings)
		return -1;
	struct rec h = { .len = len, .kind = REC_TOKEN, .token = token };
	if (dst)
		h.dst = *dst;
	if (push(&dp->rings[w->id * dp->n_workers + to], &h, p))
		return -1;
	w->wake[to] = true;
	VD_STAT_ADD(w->tcp.handoff_out, 1);
	return 0;
}

/* The worker that sends to dst: the same one for every message to a member, so that one
 * connection per member carries them (a hash of the address). */
static unsigned owner_of(const struct vd_dp *dp, const union vd_sockaddr *dst)
{
	uint32_t x = dst->in.sin_port;
	if (dst->sa.sa_family == AF_INET)
		x ^= dst->in.sin_addr.s_addr;
	else
		for (unsigned i = 0; i < 4; i++) {
			uint32_t w;
			memcpy(&w, (const char *)&dst->in6.sin6_addr + 4 * i, 4);
			x ^= w;
		}
	return (x * 2654435761u >> 16) % dp->n_workers;
}

int vd_dp_submit(struct vd_dp *dp, unsigned producer, const struct vd_result *res,
		 const char *p, uint32_t len)
{
	if (producer >= dp->n_external || !dp->rings)
		return -1;
	struct rec h = { .len = len, .member = res->member, .pool = res->pool,
			 .transport = res->transport };
	unsigned to;
	if (res->conn) {
		h.kind = REC_TOKEN;
		h.token = res->conn;
		h.dst = res->dst; /* the owner checks its connection's peer against it */
		to = vd_token_worker(res->conn);
		if (to >= dp->n_workers)
			return -1;
	} else {
		h.kind = REC_ADDRESS;
		h.dst = res->dst;
		to = owner_of(dp, &res->dst);
	}
	if (push(&dp->rings[(dp->n_workers + producer) * dp->n_workers + to], &h, p))
		return -1;
	dp->ext_wake[producer * dp->n_workers + to] = true;
	return 0;
}

static void wake(struct vd_dp *dp, bool *flags)
{
	for (unsigned i = 0; i < dp->n_workers; i++) {
		if (!flags[i])
			continue;
		flags[i] = false;
		uint64_t one = 1;
		/* EAGAIN only when the counter is about to overflow: the owner is awake anyway */
		if (write(dp->workers[i].evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			continue;
	}
}

void vd_handoff_wake(struct vd_worker *w)
{
	wake(w->dp, w->wake);
}

void vd_dp_submit_flush(struct vd_dp *dp, unsigned producer)
{
	if (producer < dp->n_external && dp->ext_wake)
		wake(dp, dp->ext_wake + producer * dp->n_workers);
}

/* One record for this worker: onto its connection, or ours to the address. */
static void deliver(struct vd_worker *w, const struct rec *h, const char *p)
{
	struct vd_conn *c;
	if (h->kind == REC_TOKEN) {
		c = vd_conn_of(w, h->token);
		if (c && h->dst.sa.sa_family && !vd_sockaddr_same_ip(&c->peer, &h->dst))
			c = NULL; /* a token of another process (or of a restart): not this peer */
	} else {
		const char *name = NULL;
		if (h->member >= 0 && h->pool < w->px->n_pools &&
		    (unsigned)h->member < w->px->pools[h->pool].n_members)
			name = w->px->pools[h->pool].hosts[h->member];
		c = vd_conn_to(w, &h->dst, h->transport, name);
	}
	if (c && vd_conn_queue(w, c, p, h->len) == 0)
		VD_STAT_ADD(w->tcp.handoff_in, 1);
	else
		VD_STAT_ADD(w->tcp.handoff_lost, 1);
}

void vd_handoff_drain(struct vd_worker *w)
{
	struct vd_dp *dp = w->dp;
	for (unsigned from = 0; dp->rings && from < producers(dp); from++) {
		if (from == w->id)
			continue;
		struct vd_ring *r = &dp->rings[from * dp->n_workers + w->id];
		uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
		while (tail != head) {
			uint32_t at = tail % r->size, len;
			memcpy(&len, r->data + at, sizeof(len));
			if (len == WRAP) {
				tail += r->size - at;
				continue;
			}
			struct rec h;
			memcpy(&h, r->data + at, REC_HEAD);
			deliver(w, &h, r->data + at + REC_HEAD);
			tail += rec_size(h.len);
		}
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	vd_conn_flush(w);
}
