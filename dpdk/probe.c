/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Health probes through the DPDK datapath. The listener addresses exist only inside DPDK (the
 * kernel has no such interface), so the control thread's prober (src/ctl/health.c) cannot use
 * sockets: it hands each OPTIONS to worker 0 through a ring, and the workers hand the replies
 * back through another.
 *
 *   control thread --probe TX ring (MP/SC)--> worker 0: encapsulate from our listener address
 *   and the probe port, resolve the next hop like any forwarded message, send.
 *   any worker --probe RX ring (MP/SC)--> control thread: a UDP datagram to one of our
 *   addresses at the probe port (no listener there) is queued as it is, mbuf and all; the
 *   control thread reads the payload, gives it to vd_health_on_datagram(), frees the mbuf.
 *
 * A ring element carries the mbuf and the addresses, so the mbufs need no private area. The
 * control thread is not an EAL lcore: rte_pktmbuf_alloc/free then bypass the per-lcore cache
 * and use the pool's (thread-safe) ring, and the rings are multi-producer. Workers do no
 * syscall, lock or allocation here: a full ring is a counted drop.
 *
 * The probe port (VD_DPDK_PROBE_PORT) is a UDP port on our listener addresses that no listener
 * may use: replies to probes come back to it (the probe's Via names it). A listener on it would
 * win (udp_input looks for listeners first) and the probes would time out: vd_dpdk_probe_init
 * refuses to start probing then. State is per process (EAL allows one datapath per process).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <urcu-qsbr.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "dpdk_internal.h"
#include "tx.h"
#include "viaduct/dpdk.h"
#include "viaduct/log.h"
#include "viaduct/route.h"

#define UDP_HDR_LEN ((uint32_t)sizeof(struct rte_udp_hdr))
/* The largest probe the TX path takes: the payload after the standard headroom (which holds
 * our Ethernet/IP/UDP headers). An OPTIONS is a few hundred bytes. */
#define PROBE_MAX_LEN (VD_DPDK_DATA_ROOM - RTE_PKTMBUF_HEADROOM)
/* Replies larger than one mbuf arrive reassembled, possibly chained: copied here first. */
#define PROBE_RX_BUF 65536

/* One ring element, both directions. TX: from src (ours) to dst. RX: the payload at
 * [off, off + len) of the frame, sent by src. */
struct probe_elem {
	struct rte_mbuf *m;
	union vd_sockaddr src, dst;
	uint32_t off, len;
};
_Static_assert(sizeof(struct probe_elem) % 4 == 0, "rte_ring element sizes are multiples of 4");

/* Set once by vd_dpdk_probe_init before the workers and the control thread start, cleared by
 * vd_dpdk_probe_fini after they stopped; the counters are written by the control thread only. */
static struct {
	struct rte_ring *tx, *rx;
	struct rte_mempool *pool;
	struct vd_dpdk_probe_counters c;
} probe;

/* Read on every UDP datagram that matched no listener (worker.c): 0 = probing is off. */
uint16_t vd_dpdk_probe_port_be;

/* A listener on the probe port of one of our addresses would take the replies: its index,
 * or VD_DPDK_NO_LISTENER. */
static int probe_port_clash(const struct vd_proxy *px, uint16_t port)
{
	for (unsigned j = 0; j < px->n_listeners; j++)
		if (px->listeners[j].port == port)
			return (int)j;
	return VD_DPDK_NO_LISTENER;
}

int vd_dpdk_probe_init(struct rte_mempool *pool)
{
	const struct vd_proxy *px = &vd_route_published->px;
	int clash = probe_port_clash(px, VD_DPDK_PROBE_PORT);

	if (clash != VD_DPDK_NO_LISTENER) {
		vd_log(VD_LOG_WARN,
		       "dpdk: listener %s:%u uses the health probe port %u: health probes "
		       "through the datapath are off; move that listener to another port",
		       px->listeners[clash].host, px->listeners[clash].port, VD_DPDK_PROBE_PORT);
		return 0;
	}
	probe.tx = rte_ring_create_elem("vd_probe_tx", sizeof(struct probe_elem),
					VD_DPDK_PROBE_RING, (int)rte_socket_id(), RING_F_SC_DEQ);
	probe.rx = rte_ring_create_elem("vd_probe_rx", sizeof(struct probe_elem),
					VD_DPDK_PROBE_RING, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (!probe.tx || !probe.rx) {
		vd_log(VD_LOG_ERROR, "dpdk: cannot create the health probe rings: %s",
		       rte_strerror(rte_errno));
		vd_dpdk_probe_fini();
		return -ENOMEM;
	}
	probe.pool = pool;
	vd_dpdk_probe_port_be = rte_cpu_to_be_16(VD_DPDK_PROBE_PORT);
	return 0;
}

static void ring_purge(struct rte_ring *r)
{
	struct probe_elem e;

	while (r && rte_ring_sc_dequeue_elem(r, &e, sizeof(e)) == 0)
		rte_pktmbuf_free(e.m);
}

void vd_dpdk_probe_fini(void)
{
	vd_dpdk_probe_port_be = 0;
	ring_purge(probe.tx);
	ring_purge(probe.rx);
	rte_ring_free(probe.tx);
	rte_ring_free(probe.rx);
	probe.tx = probe.rx = NULL;
	probe.pool = NULL;
}

/* ---- control thread ---- */

bool vd_dpdk_probe_ready(void)
{
	return probe.tx != NULL;
}

uint16_t vd_dpdk_probe_port(void)
{
	return VD_DPDK_PROBE_PORT;
}

int vd_dpdk_probe_send(void *dp, const void *buf, size_t len, const union vd_sockaddr *src,
		       const union vd_sockaddr *dst)
{
	struct probe_elem e = {.src = *src, .dst = *dst};
	char *p;

	(void)dp; /* one datapath per process: the state is ours */
	if (!probe.tx)
		return -ENODEV;
	if (len > PROBE_MAX_LEN || src->sa.sa_family != dst->sa.sa_family) {
		probe.c.refused++;
		return -EINVAL;
	}
	e.m = rte_pktmbuf_alloc(probe.pool);
	if (!e.m) {
		probe.c.no_mbuf++;
		return -ENOMEM;
	}
	/* after the standard headroom, where worker 0 prepends Ethernet/IP/UDP */
	p = rte_pktmbuf_append(e.m, (uint16_t)len);
	if (!p) { /* cannot happen: PROBE_MAX_LEN is the tailroom of a fresh mbuf */
		rte_pktmbuf_free(e.m);
		probe.c.refused++;
		return -EINVAL;
	}
	memcpy(p, buf, len);
	if (rte_ring_mp_enqueue_elem(probe.tx, &e, sizeof(e)) != 0) {
		rte_pktmbuf_free(e.m);
		probe.c.tx_ring_full++;
		return -ENOBUFS;
	}
	probe.c.queued++;
	return 0;
}

unsigned vd_dpdk_probe_recv(void *dp, vd_dpdk_probe_fn fn, void *arg, unsigned max)
{
	static char copy[PROBE_RX_BUF]; /* control thread only */
	struct probe_elem e[VD_DPDK_PROBE_BURST];
	unsigned done = 0;

	(void)dp;
	if (!probe.rx)
		return 0;
	while (done < max) {
		unsigned want = RTE_MIN(max - done, (unsigned)VD_DPDK_PROBE_BURST);
		unsigned n = rte_ring_sc_dequeue_burst_elem(probe.rx, e, sizeof(e[0]), want, NULL);

		for (unsigned i = 0; i < n; i++) {
			uint32_t len = RTE_MIN(e[i].len, (uint32_t)PROBE_RX_BUF);
			const void *p = rte_pktmbuf_read(e[i].m, e[i].off, len, copy);

			if (p)
				fn(arg, p, len, &e[i].src);
			rte_pktmbuf_free(e[i].m);
		}
		probe.c.delivered += n;
		done += n;
		if (n < want)
			break;
	}
	return done;
}

void vd_dpdk_probe_print(FILE *f)
{
	if (!probe.tx)
		return;
	fprintf(f,
		"stats dpdk_probe queued=%" PRIu64 " delivered=%" PRIu64 " tx_ring_full=%" PRIu64
		" no_mbuf=%" PRIu64 " refused=%" PRIu64 "\n",
		probe.c.queued, probe.c.delivered, probe.c.tx_ring_full, probe.c.no_mbuf,
		probe.c.refused);
}

/* ---- workers ---- */

void vd_dpdk_probe_input(struct vd_lcore *lc, struct rte_mbuf *m, const struct vd_rx_meta *meta)
{
	struct probe_elem e = {
		.m = m, .src = meta->src, .off = meta->l4_off + UDP_HDR_LEN, .len = meta->sip_len};

	if (!probe.rx || rte_ring_mp_enqueue_elem(probe.rx, &e, sizeof(e)) != 0) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_PROBE_RX_FULL);
		return;
	}
	VD_STAT_ADD(lc->c.probe_rx, 1);
}

/* One probe: from our listener address named in its Via, to the member. */
static void probe_out(struct vd_lcore *lc, struct probe_elem *e)
{
	const union vd_sockaddr *src = &e->src;
	const void *ip = src->sa.sa_family == AF_INET6 ? (const void *)&src->in6.sin6_addr
						       : (const void *)&src->in.sin_addr;
	int l = vd_dpdk_our_ip(lc->px, src->sa.sa_family, ip);
	enum vd_dpdk_drop why = VD_DPDK_DROP_NEIGH;
	const struct rte_ether_addr *mac;

	/* the listener went away in a reload since the probe was built */
	if (l == VD_DPDK_NO_LISTENER) {
		vd_dpdk_drop(lc, e->m, VD_DPDK_DROP_PROBE_NO_SOURCE);
		return;
	}
	mac = vd_neigh_resolve(lc, &e->dst, (unsigned)l, &why);
	if (!mac) { /* solicited: the probe times out, the next one finds the neighbour */
		vd_dpdk_drop(lc, e->m, why);
		return;
	}
	if (vd_dpdk_encap(lc, e->m, e->m->data_off, e->m->data_len, src, &e->dst, mac)) {
		vd_dpdk_drop(lc, e->m, VD_DPDK_DROP_TOO_BIG); /* an OPTIONS over the MTU: no */
		return;
	}
	VD_STAT_ADD(lc->c.probe_tx, 1);
	vd_dpdk_tx_queue(lc, e->m, NULL);
}

unsigned vd_dpdk_probe_tx_drain(struct vd_lcore *lc)
{
	struct probe_elem e[VD_DPDK_PROBE_BURST];
	unsigned n;

	if (!probe.tx)
		return 0;
	n = rte_ring_sc_dequeue_burst_elem(probe.tx, e, sizeof(e[0]), VD_DPDK_PROBE_BURST, NULL);
	if (n == 0)
		return 0;
	/* the snapshot of this loop iteration, as burst() reads it: valid until the next
	 * quiescent state */
	const struct vd_route *r = vd_route_read();
	lc->px = &r->px;
	lc->net = &r->ip;
	for (unsigned i = 0; i < n; i++)
		probe_out(lc, &e[i]);
	lc->px = NULL;
	lc->net = NULL;
	return n;
}
