/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TX of the DPDK datapath: everything a worker lcore sends on the data port goes through
 * vd_dpdk_tx_queue into lc->tx[] (SIP datagrams and their fragments, ARP/NS of neigh.c, echo
 * and neighbour answers, health probes of probe.c) and leaves in one vd_dpdk_tx_flush per
 * burst, as l3fwd does; vd_dpdk_encap prepends Ethernet/IP/UDP to outgoing datagrams.
 *
 * This file is a leaf of the datapath's call graph (tx.h): it calls frag.c (fragments, IPv4
 * identification) and cksum.h, and nothing that calls it. Next hop resolution stays with the
 * callers (neigh.c), so a caller hands TX a frame whose destination MAC is known.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "cksum.h"
#include "tx.h"

#define ETH_LEN		((uint16_t)sizeof(struct rte_ether_hdr))
#define IP4_LEN		((uint16_t)sizeof(struct rte_ipv4_hdr))
#define IP6_LEN		((uint16_t)sizeof(struct rte_ipv6_hdr))
#define UDP_LEN		((uint16_t)sizeof(struct rte_udp_hdr))
#define IP4_VERSION_IHL 0x45	    /* version 4, 5 words: we never send options */
#define IP6_VTC_FLOW	0x60000000u /* version 6, traffic class 0, flow label 0 */
#define VD_DPDK_TTL	64

unsigned vd_dpdk_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, unsigned n,
			  unsigned tries)
{
	unsigned sent = 0;
	for (unsigned t = 0; t < tries && sent < n; t++)
		sent += rte_eth_tx_burst(port, queue, pkts + sent, (uint16_t)(n - sent));
	return sent;
}

void vd_dpdk_tx_flush(struct vd_lcore *lc)
{
	unsigned sent = vd_dpdk_tx_burst(lc->port, lc->queue, lc->tx, lc->n_tx, VD_DPDK_TX_RETRIES);
	VD_STAT_ADD(lc->c.tx_pkts, sent);
	for (unsigned i = sent; i < lc->n_tx; i++) {
		if (lc->tx_res[i])
			vd_stats_send_failed(&lc->stats, lc->tx_res[i]);
		vd_dpdk_drop(lc, lc->tx[i], VD_DPDK_DROP_TX_FULL);
	}
	lc->n_tx = 0;
}

void vd_dpdk_tx_queue(struct vd_lcore *lc, struct rte_mbuf *m, const struct vd_result *res)
{
	if (lc->n_tx == VD_DPDK_TX_MAX) /* fragments and solicitations can outgrow one burst */
		vd_dpdk_tx_flush(lc);
	lc->tx_res[lc->n_tx] = res;
	lc->tx[lc->n_tx++] = m;
}

/*
 * Checksums are left to the NIC when the port offloads them (lc->tx_ol: the UDP field then
 * holds the pseudo-header sum), except for a datagram over the MTU: its UDP checksum covers
 * all the fragments, so it is computed here in software.
 */
bool vd_dpdk_encap(struct vd_lcore *lc, struct rte_mbuf *m, uint32_t off, uint32_t len,
		   const union vd_sockaddr *from, const union vd_sockaddr *dst,
		   const struct rte_ether_addr *mac)
{
	bool v6 = dst->sa.sa_family == AF_INET6;
	uint16_t hdr = (uint16_t)(ETH_LEN + (v6 ? IP6_LEN : IP4_LEN) + UDP_LEN);
	m->data_off = (uint16_t)(off - hdr);
	m->data_len = (uint16_t)(hdr + len);
	m->pkt_len = m->data_len;
	m->ol_flags = 0;
	m->l2_len = ETH_LEN;
	bool big = hdr - ETH_LEN + len > lc->mtu;
	uint64_t ol = big ? 0 : lc->tx_ol;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->dst_addr = *mac;
	eth->src_addr = lc->mac;
	eth->ether_type = rte_cpu_to_be_16(v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, hdr - UDP_LEN);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(UDP_LEN + len));
	udp->dgram_cksum = 0;
	if (v6) {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
		ip->vtc_flow = rte_cpu_to_be_32(IP6_VTC_FLOW);
		ip->payload_len = udp->dgram_len;
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = VD_DPDK_TTL;
		memcpy(ip->src_addr, &from->in6.sin6_addr, 16);
		memcpy(ip->dst_addr, &dst->in6.sin6_addr, 16);
		udp->src_port = from->in6.sin6_port;
		udp->dst_port = dst->in6.sin6_port;
		m->l3_len = IP6_LEN;
		if (ol & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
			m->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
			udp->dgram_cksum = rte_ipv6_phdr_cksum(ip, m->ol_flags);
		} else {
			udp->dgram_cksum = vd_cksum_udp6(ip, udp);
		}
		return big;
	}
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = IP4_VERSION_IHL,
		.total_length = rte_cpu_to_be_16((uint16_t)(IP4_LEN + UDP_LEN + len)),
		.packet_id = rte_cpu_to_be_16(vd_frag_ipv4_id(lc)), /* no DF: may be fragmented */
		.time_to_live = VD_DPDK_TTL,
		.next_proto_id = IPPROTO_UDP,
		.src_addr = from->in.sin_addr.s_addr,
		.dst_addr = dst->in.sin_addr.s_addr,
	};
	udp->src_port = from->in.sin_port;
	udp->dst_port = dst->in.sin_port;
	m->l3_len = IP4_LEN;
	if (ol & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM; /* the field stays 0 */
	else
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (ol & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
		udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	} else {
		udp->dgram_cksum = vd_cksum_udp4(ip, udp);
	}
	return big;
}

/* The fragments go to one flush, so that res, carried by the last one, is counted as failed
 * if the ring refuses any of them (it refuses a suffix of the array). */
enum vd_tx_result vd_dpdk_tx_fragments(struct vd_lcore *lc, struct rte_mbuf *m,
				       const struct vd_result *res, enum vd_dpdk_drop *why)
{
	struct rte_mbuf *frags[VD_FRAG_TX_MAX];
	unsigned n = vd_frag_split(lc, m, frags, VD_FRAG_TX_MAX, why);
	if (n == 0)
		return VD_TX_REFUSED;
	rte_pktmbuf_free(m);
	if (lc->n_tx + n > VD_DPDK_TX_MAX)
		vd_dpdk_tx_flush(lc);
	for (unsigned i = 0; i < n; i++)
		vd_dpdk_tx_queue(lc, frags[i], i == n - 1 ? res : NULL);
	return VD_TX_QUEUED;
}
