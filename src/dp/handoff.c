/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hand-off of messages between workers. A connection belongs to one worker, but the
 * response to a request that came over it may reach another (a UDP member answers to
 * whichever socket the kernel picks). That worker passes the message to the owner through a
 * ring only the two of them use (one producer, one consumer: two atomic indexes, no lock),
 * then wakes the owner once per batch through its eventfd.
 *
 * A record is {u32 length, u32 pad, u64 token, bytes}, padded to 8 bytes, never split across
 * the end of the ring: a length of UINT32_MAX tells the consumer to wrap to the start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dp_internal.h"

#define REC_HEAD 16u
#define WRAP UINT32_MAX

static inline uint32_t rec_size(uint32_t len)
{
	return (REC_HEAD + len + 7u) & ~7u;
}

int vd_handoff_init(struct vd_dp *dp)
{
	unsigned n = dp->n_workers;
	if (n < 2)
		return 0;
	dp->rings = aligned_alloc(64, sizeof(*dp->rings) * n * n);
	if (!dp->rings)
		return -ENOMEM;
	memset(dp->rings, 0, sizeof(*dp->rings) * n * n);
	for (unsigned i = 0; i < n * n; i++) {
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
	for (unsigned i = 0; dp->rings && i < dp->n_workers * dp->n_workers; i++)
		free(dp->rings[i].data);
	free(dp->rings);
	dp->rings = NULL;
}

int vd_handoff_push(struct vd_worker *w, uint64_t token, const char *p, uint32_t len)
{
	struct vd_dp *dp = w->dp;
	unsigned to = vd_token_worker(token);
	if (to >= dp->n_workers || !dp->rings)
		return -1;
	struct vd_ring *r = &dp->rings[w->id * dp->n_workers + to];
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint32_t need = rec_size(len), at = head % r->size, pad = 0;
	if (r->size - at < need)
		pad = r->size - at; /* skip to the start: a record is never split */
	if (r->size - (head - tail) < pad + need)
		return -1;
	if (pad) {
		uint32_t wrap = WRAP;
		memcpy(r->data + at, &wrap, sizeof(wrap));
		at = 0;
	}
	memcpy(r->data + at, &len, sizeof(len));
	memcpy(r->data + at + 8, &token, sizeof(token));
	memcpy(r->data + at + REC_HEAD, p, len);
	atomic_store_explicit(&r->head, head + pad + need, memory_order_release);
	w->wake[to] = true;
	VD_STAT_ADD(w->tcp.handoff_out, 1);
	return 0;
}

void vd_handoff_wake(struct vd_worker *w)
{
	struct vd_dp *dp = w->dp;
	for (unsigned i = 0; i < dp->n_workers; i++) {
		if (!w->wake[i])
			continue;
		w->wake[i] = false;
		uint64_t one = 1;
		/* EAGAIN only when the counter is about to overflow: the owner is awake anyway */
		if (write(dp->workers[i].evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			continue;
	}
}

void vd_handoff_drain(struct vd_worker *w)
{
	struct vd_dp *dp = w->dp;
	for (unsigned from = 0; dp->rings && from < dp->n_workers; from++) {
		if (from == w->id)
			continue;
		struct vd_ring *r = &dp->rings[from * dp->n_workers + w->id];
		uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
		while (tail != head) {
			uint32_t at = tail % r->size, len;
			memcpy(&len, r->data + at, sizeof(len));
			if (len == WRAP || r->size - at < REC_HEAD) {
				tail += r->size - at;
				continue;
			}
			uint64_t token;
			memcpy(&token, r->data + at + 8, sizeof(token));
			struct vd_conn *c = vd_conn_of(w, token);
			if (c && vd_conn_queue(w, c, r->data + at + REC_HEAD, len) == 0)
				VD_STAT_ADD(w->tcp.handoff_in, 1);
			else
				VD_STAT_ADD(w->tcp.handoff_lost, 1);
			tail += rec_size(len);
		}
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	vd_conn_flush(w);
}
