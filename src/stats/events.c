/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Events about members from a worker to the control thread (include/viaduct/dpview.h, struct
 * vd_mev_ring): a failed connection, a 503 with Retry-After, RFC 7339 overload control.
 *
 * One producer and one consumer per ring: the producer writes the slot, then publishes its
 * head with release; the consumer reads the head with acquire, the slots, then gives them back
 * through its tail with release. No lock, no allocation, no system call on either side (the
 * wake-up is the datapath's, once a batch).
 */
#include <string.h>

#include "viaduct/dpview.h"

_Static_assert((VD_MEV_RING & (VD_MEV_RING - 1)) == 0, "ring size: a power of two");
_Static_assert((VD_MEV_SEEN & (VD_MEV_SEEN - 1)) == 0, "filter size: a power of two");

bool vd_mev_push(struct vd_mev_ring *r, const struct vd_member_event *e)
{
	uint32_t head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	if (head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= VD_MEV_RING) {
		__atomic_store_n(&r->lost, r->lost + 1, __ATOMIC_RELAXED);
		return false;
	}
	r->ev[head & (VD_MEV_RING - 1)] = *e;
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	r->wake = true;
	return true;
}

unsigned vd_mev_drain(struct vd_mev_ring *r, void (*fn)(void *arg, const struct vd_member_event *e),
		      void *arg)
{
	uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
	uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	unsigned n = 0;
	for (; tail != head; tail++, n++) {
		struct vd_member_event e = r->ev[tail & (VD_MEV_RING - 1)];
		__atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE); /* the slot is free again */
		fn(arg, &e);
	}
	return n;
}

/* Push e unless the filter saw the same signal of the same member less than
 * VD_MEV_REPEAT_MS ago. A collision of two members in one entry only costs a push. */
static void push_filtered(struct vd_mev_ring *r, const struct vd_member_event *e, uint64_t now_ms)
{
	uint64_t key = vd_sockaddr_hash(&e->addr) * 2 + (e->kind == VD_MEV_OVERLOAD);
	unsigned i = (unsigned)(key ^ key >> 17) & (VD_MEV_SEEN - 1);
	struct vd_mev_seen *s = &r->seen[i];
	if (s->key == key && s->kind == e->kind && s->value == e->value && s->oc == e->oc &&
	    s->seq == e->seq && now_ms - s->at_ms < VD_MEV_REPEAT_MS)
		return;
	if (!vd_mev_push(r, e))
		return; /* not remembered: the next one tries again */
	s->key = key;
	s->kind = e->kind;
	s->value = e->value;
	s->oc = e->oc;
	s->seq = e->seq;
	s->at_ms = now_ms;
}

void vd_mev_signal(struct vd_mev_ring *r, const struct vd_result *res, const union vd_sockaddr *src,
		   uint64_t now_ms)
{
	const struct vd_peer_signal *sg = &res->signal;
	struct vd_member_event e;
	memset(&e, 0, sizeof(e));
	e.addr = *src;
	if (sg->bits & VD_SIGNAL_RETRY_AFTER) {
		e.kind = VD_MEV_RETRY_AFTER;
		e.value = sg->retry_after_s;
		push_filtered(r, &e, now_ms);
	}
	if (sg->bits & VD_SIGNAL_OC) {
		e.kind = VD_MEV_OVERLOAD;
		e.value = sg->oc_validity_ms;
		e.oc = sg->oc;
		e.has_seq = sg->oc_has_seq;
		e.seq = sg->oc_seq;
		push_filtered(r, &e, now_ms);
	}
}
