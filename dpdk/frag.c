/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IP fragments in the DPDK datapath: reassembly on RX, fragmentation on TX.
 *
 * RX: IPv4 and IPv6 fragments addressed to one of our listeners are reassembled with
 * librte_ip_frag, one table per worker lcore (single writer, no lock). RSS keeps every
 * fragment of a datagram on one queue: fragments hash on the addresses only (RTE_ETH_RSS_IP
 * covers FRAG_IPV4/FRAG_IPV6), the first fragment included, since it has MF set. The table is
 * bounded (VD_FRAG_MAX_FLOWS datagrams in assembly, each holding at most
 * RTE_LIBRTE_IP_FRAG_MAX_FRAG mbufs, for VD_FRAG_TIMEOUT_MS), and the mbuf pool is sized for
 * it (VD_FRAG_POOL_MBUFS), so that a flood of incomplete datagrams cannot starve RX. Whatever
 * the library gives up on (table full, timed out, overlapping or too many fragments) lands on
 * the death row; the row is counted (drop "reassembly") and freed after every burst.
 *
 * The library returns the datagram as a chain: the first fragment's mbuf, its headers intact,
 * followed by the others' payloads. The SIP core needs contiguous bytes, so the chain is
 * linearized in place: the later payloads are copied into the first mbuf's tailroom and their
 * mbufs freed (rte_pktmbuf_linearize). A fresh mbuf would have the same data room as the
 * first one (one pool, VD_DPDK_DATA_ROOM) and so could hold nothing more; it would only add
 * an allocation and a copy of the first fragment. A datagram that does not fit (frames over
 * ~4 KB) is dropped as too_big.
 *
 * TX: a frame whose IP datagram exceeds the port MTU is copied into MTU-sized fragments in
 * fresh mbufs; the caller queues them and frees the original. Copying (instead of
 * rte_ipv4_fragment_packet's direct + indirect chains) keeps every fragment one segment, so
 * the port needs no MULTI_SEGS offload and no second pool, and treats both families alike;
 * it is a slow path of at most ~4 KB per datagram. Checksums are final before the split: the
 * UDP checksum covers the whole datagram and no NIC could compute it per fragment.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_udp.h>

#include "dpdk_internal.h"

#define ETH_LEN	 ((uint16_t)sizeof(struct rte_ether_hdr))
#define IP4_LEN	 ((uint16_t)sizeof(struct rte_ipv4_hdr))
#define IP6_LEN	 ((uint16_t)sizeof(struct rte_ipv6_hdr))
#define FRAG_LEN ((uint16_t)sizeof(struct rte_ipv6_fragment_ext))
#define MS_PER_S 1000
#define FRAG_UNIT 8 /* fragment offsets count 8-byte units, in both families */

int vd_frag_init(struct vd_lcore *lc, int socket)
{
	/* the death row holds what one burst can give up: it is freed after every burst */
	RTE_BUILD_BUG_ON(VD_DPDK_BURST > RTE_IP_FRAG_DEATH_ROW_LEN);
	uint64_t cycles = rte_get_tsc_hz() * VD_FRAG_TIMEOUT_MS / MS_PER_S;
	lc->frag_tbl = rte_ip_frag_table_create(VD_FRAG_BUCKETS, VD_FRAG_BUCKET_ENTRIES,
						VD_FRAG_MAX_FLOWS, cycles, socket);
	lc->frag_dr.cnt = 0;
	return lc->frag_tbl ? 0 : -ENOMEM;
}

void vd_frag_fini(struct vd_lcore *lc)
{
	if (!lc->frag_tbl)
		return;
	rte_ip_frag_free_death_row(&lc->frag_dr, 0);
	rte_ip_frag_table_destroy(lc->frag_tbl); /* frees the mbufs of incomplete datagrams */
	lc->frag_tbl = NULL;
}

void vd_frag_burst_end(struct vd_lcore *lc)
{
	/* walks the LRU list from the oldest entry and stops at the first live one */
	rte_ip_frag_table_del_expired_entries(lc->frag_tbl, &lc->frag_dr, rte_rdtsc());
	if (lc->frag_dr.cnt == 0)
		return;
	VD_STAT_ADD(lc->c.drop[VD_DPDK_DROP_REASSEMBLY], lc->frag_dr.cnt);
	rte_ip_frag_free_death_row(&lc->frag_dr, VD_DPDK_PREFETCH);
}

/* One contiguous segment, or NULL after counting the drop. */
static struct rte_mbuf *linearize(struct vd_lcore *lc, struct rte_mbuf *m)
{
	if (rte_pktmbuf_linearize(m) < 0) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_TOO_BIG);
		return NULL;
	}
	/* a NIC can only have judged the first fragment: have the whole datagram verified */
	m->ol_flags &= ~RTE_MBUF_F_RX_L4_CKSUM_MASK;
	VD_STAT_ADD(lc->c.reassembled, 1);
	return m;
}

struct rte_mbuf *vd_frag_ipv4_input(struct vd_lcore *lc, struct rte_mbuf *m,
				    struct rte_ipv4_hdr *ip, uint16_t ihl, uint16_t tot)
{
	VD_STAT_ADD(lc->c.frags_rx, 1);
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - ETH_LEN - tot)); /* Ethernet padding */
	m->l2_len = ETH_LEN;
	m->l3_len = ihl;
	m = rte_ipv4_frag_reassemble_packet(lc->frag_tbl, &lc->frag_dr, m, rte_rdtsc(), ip);
	if (!m)
		return NULL; /* held until complete, or on the death row */
	m = linearize(lc, m);
	if (m) { /* the library zeroes it; the caller checks the header again */
		ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, ETH_LEN);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	return m;
}

struct rte_mbuf *vd_frag_ipv6_input(struct vd_lcore *lc, struct rte_mbuf *m,
				    struct rte_ipv6_hdr *ip)
{
	uint16_t plen = rte_be_to_cpu_16(ip->payload_len);
	VD_STAT_ADD(lc->c.frags_rx, 1);
	if (plen <= FRAG_LEN) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_MALFORMED);
		return NULL;
	}
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - ETH_LEN - IP6_LEN - plen));
	struct rte_ipv6_fragment_ext *fh = (struct rte_ipv6_fragment_ext *)(ip + 1);
	if ((rte_be_to_cpu_16(fh->frag_data) & RTE_IPV6_FRAG_USED_MASK) == 0) {
		/* an atomic fragment (RFC 6946): offset 0, no more; process it alone */
		ip->proto = fh->next_header;
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(plen - FRAG_LEN));
		memmove(rte_pktmbuf_mtod_offset(m, char *, FRAG_LEN), rte_pktmbuf_mtod(m, char *),
			ETH_LEN + IP6_LEN);
		rte_pktmbuf_adj(m, FRAG_LEN);
		return m;
	}
	m->l2_len = ETH_LEN;
	m->l3_len = IP6_LEN + FRAG_LEN;
	m = rte_ipv6_frag_reassemble_packet(lc->frag_tbl, &lc->frag_dr, m, rte_rdtsc(), ip, fh);
	return m ? linearize(lc, m) : NULL;
}

/* A fresh identification for a datagram from this lcore: the lcores' sequences interleave
 * (worker + k * n_workers), so two lcores sending to the same destination do not collide. */
static uint32_t next_id(struct vd_lcore *lc)
{
	return lc->ip_id++ * lc->n_workers + lc->worker;
}

uint16_t vd_frag_ipv4_id(struct vd_lcore *lc)
{
	return (uint16_t)next_id(lc);
}

unsigned vd_frag_split(struct vd_lcore *lc, const struct rte_mbuf *m, struct rte_mbuf **out,
		       unsigned max, enum vd_dpdk_drop *why)
{
	const char *frame = rte_pktmbuf_mtod(m, const char *);
	bool v6 = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)->ether_type ==
		  RTE_BE16(RTE_ETHER_TYPE_IPV6);
	uint16_t l3 = v6 ? IP6_LEN : IP4_LEN, extra = v6 ? FRAG_LEN : 0;
	if (lc->mtu <= l3 + extra + FRAG_UNIT) {
		*why = VD_DPDK_DROP_TOO_BIG;
		return 0;
	}
	/* every fragment but the last carries a multiple of 8 bytes */
	uint32_t chunk = (uint32_t)(lc->mtu - l3 - extra) & ~(uint32_t)(FRAG_UNIT - 1);
	uint32_t plen = m->data_len - ETH_LEN - l3; /* UDP header + payload */
	unsigned n = (plen + chunk - 1) / chunk;
	if (n > max) {
		*why = VD_DPDK_DROP_TOO_BIG;
		return 0;
	}
	if (rte_pktmbuf_alloc_bulk(lc->pool, out, n) != 0) {
		*why = VD_DPDK_DROP_NO_MBUF;
		return 0;
	}
	uint32_t id6 = v6 ? rte_cpu_to_be_32(next_id(lc)) : 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t off = i * chunk, len = RTE_MIN(chunk, plen - off);
		uint16_t more = off + len < plen;
		/* cannot fail: the data room holds an MTU-sized frame (checked at setup) */
		char *p = rte_pktmbuf_append(out[i], (uint16_t)(ETH_LEN + l3 + extra + len));
		memcpy(p, frame, ETH_LEN + l3);
		memcpy(p + ETH_LEN + l3 + extra, frame + ETH_LEN + l3 + off, len);
		if (v6) {
			struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(p + ETH_LEN);
			struct rte_ipv6_fragment_ext *fh = (struct rte_ipv6_fragment_ext *)(ip + 1);
			ip->payload_len = rte_cpu_to_be_16((uint16_t)(FRAG_LEN + len));
			fh->next_header = ip->proto;
			fh->reserved = 0;
			fh->frag_data = rte_cpu_to_be_16((uint16_t)RTE_IPV6_SET_FRAG_DATA(off, more));
			fh->id = id6;
			ip->proto = IPPROTO_FRAGMENT;
			continue;
		}
		/* the identification is the original's (encap gave it one); never DF */
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + ETH_LEN);
		ip->total_length = rte_cpu_to_be_16((uint16_t)(IP4_LEN + len));
		ip->fragment_offset =
			rte_cpu_to_be_16((uint16_t)((off / FRAG_UNIT) |
						    (more ? RTE_IPV4_HDR_MF_FLAG : 0)));
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	VD_STAT_ADD(lc->c.fragmented, 1);
	VD_STAT_ADD(lc->c.frags_tx, n);
	return n;
}
