/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TX of the DPDK datapath (tx.c): the per-lcore TX queue and its flush, the tx_burst retry
 * loop, the Ethernet/IP/UDP encapsulation of outgoing datagrams and the queueing of their
 * fragments. A leaf: tx.c calls frag.c and cksum.h, never worker.c, neigh.c, probe.c or
 * exception.c, which all call it, so the calls between those files form no cycle.
 * Worker lcore only, on that lcore's own struct vd_lcore; no allocation but frag.c's
 * fragments (mbufs from the pool), no lock, no syscall beyond what the PMD's tx_burst does.
 */
#ifndef VD_DPDK_TX_H
#define VD_DPDK_TX_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dpdk_internal.h"

/** What TX did with a frame it was handed. */
enum vd_tx_result {
	VD_TX_QUEUED = 0, /* queued: the mbuf is TX's now */
	VD_TX_REFUSED,	  /* not queued, *why says why: the mbuf is still the caller's */
};

/**
 * Queue m for this lcore's next flush, flushing first when the queue is full. res is the SIP
 * result m carries (counted as send-failed if the ring refuses m), or NULL. Consumes m.
 */
void vd_dpdk_tx_queue(struct vd_lcore *lc, struct rte_mbuf *m, const struct vd_result *res);

/** Send the queue on the data port's TX queue; what the ring refuses is counted and freed. */
void vd_dpdk_tx_flush(struct vd_lcore *lc);

/**
 * rte_eth_tx_burst of pkts[0..n-1] on (port, queue), at most `tries` times while the ring takes
 * part of them. Returns how many were sent: pkts[sent..n-1] stay the caller's.
 */
unsigned vd_dpdk_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, unsigned n,
			  unsigned tries);

/**
 * Prepend Ethernet/IP/UDP in front of the payload at buffer offset `off` (len bytes, with at
 * least the headers' size in front of it), from `from` (ours) to `dst` through next hop MAC
 * `mac`, checksums done or offloaded. Returns true when the IP datagram is over lc->mtu: then
 * its checksums are final in software and it must go through vd_dpdk_tx_fragments.
 */
bool vd_dpdk_encap(struct vd_lcore *lc, struct rte_mbuf *m, uint32_t off, uint32_t len,
		   const union vd_sockaddr *from, const union vd_sockaddr *dst,
		   const struct rte_ether_addr *mac);

/**
 * A frame vd_dpdk_encap found over the MTU: split it (frag.c), queue the fragments in one flush
 * (res, carried by the last, is counted as failed if the ring refuses any) and free m; or
 * VD_TX_REFUSED with *why set and m untouched.
 */
enum vd_tx_result vd_dpdk_tx_fragments(struct vd_lcore *lc, struct rte_mbuf *m,
				       const struct vd_result *res, enum vd_dpdk_drop *why);

#endif
