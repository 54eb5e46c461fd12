/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbours and the small protocols that keep the datapath reachable without a kernel:
 * ARP (RFC 826) and IPv6 neighbour discovery (RFC 4861, NS/NA only) for the listeners'
 * addresses, ICMP/ICMPv6 echo, and a per-lcore neighbour cache used to fill in the
 * destination MAC of what we send.
 *
 * ARP and NDP answers are shared with the other lcores through per-lcore inbox rings (the
 * lcore that receives the reply is often not the one that asked); what a data packet teaches
 * stays local, RSS brings that flow's packets to the same lcore anyway.
 *
 * The cache is a fixed open-addressing table (VD_NEIGH_SIZE slots, VD_NEIGH_PROBE probes):
 * no allocation, no lock, one per lcore. It learns from ARP replies/requests, from
 * neighbour advertisements/solicitations, and from the source MAC of every packet sent to
 * us (so a reply to a request never needs a lookup miss). A miss sends one ARP request or
 * NS (rate-limited per entry) and the caller drops the packet, counted: SIP endpoints
 * retransmit over UDP, so no queue of pending packets is kept. Entries do not expire in this
 * slice (a neighbour changing its MAC is relearned from its next packet or ARP).
 *
 * With an exception port (exception.c), the kernel behind it gets a copy of the ARP and
 * NS/NA handled here, and whatever ARP/ICMP is not ours to answer.
 */
#include <netinet/icmp6.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "dpdk_internal.h"
#include "tx.h"
#include "viaduct/route.h"

#define ETH_LEN		   ((uint16_t)sizeof(struct rte_ether_hdr))
#define IP6_LEN		   ((uint16_t)sizeof(struct rte_ipv6_hdr))
#define ND_HOP_LIMIT	   255 /* RFC 4861 7.1.1: NS/NA must arrive with hop limit 255 */
#define ND_OPT_LLA_LEN	   8   /* a link-layer address option for Ethernet: 1 unit of 8 bytes */
#define ICMP6_DEFAULT_HOPS 64
#define ICMP4_DEFAULT_TTL  64
#define NEIGH_HASH_SEED	   0x76646e68u /* "vdnh": fixed, the table is per process anyway */

/* No packing needed: the MAC is 2-byte aligned at offset 2, the option is 8 bytes. */
struct nd_lla_opt {
	uint8_t type, len;
	struct rte_ether_addr mac;
};
_Static_assert(sizeof(struct nd_lla_opt) == ND_OPT_LLA_LEN, "ND link-layer address option");

static unsigned ip_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Home slot of an address: a multiplicative hash (Fibonacci hashing) of its 32-bit words, the
 * top bits of the product. Two of these run per SIP message (learn on RX, resolve on TX): a few
 * instructions instead of rte_jhash's mixing rounds. Colliding sources only evict each
 * other's entries (VD_NEIGH_PROBE bounds the walk), so no keyed hash is needed. */
static inline uint32_t neigh_hash(int family, const uint32_t w[4])
{
	uint64_t x = w[0] ^ ((uint64_t)NEIGH_HASH_SEED << 32);
	if (family == AF_INET6)
		x ^= ((uint64_t)w[1] << 32 | w[2]) * 0xff51afd7ed558ccdull ^ (uint64_t)w[3] << 17 ^
		     (uint64_t)w[3] >> 15;
	return (uint32_t)((x * 0x9e3779b97f4a7c15ull) >> (64 - __builtin_ctz(VD_NEIGH_SIZE)));
}

/* The entry for ip, or with create a slot for it (free, else incomplete, else the home slot:
 * a full window evicts, and the evicted neighbour is simply resolved again). */
static struct vd_neigh *neigh_slot(struct vd_lcore *lc, int family, const void *ip, bool create)
{
	unsigned n = ip_len(family);
	uint32_t words[4] = { 0 }; /* aligned copy: the address sits unaligned in the packet */
	if (family == AF_INET)	   /* constant sizes: inlined copies and compares, no calls */
		memcpy(words, ip, 4);
	else
		memcpy(words, ip, 16);
	uint32_t h = neigh_hash(family, words);
	struct vd_neigh *victim = NULL;
	for (unsigned k = 0; k < VD_NEIGH_PROBE; k++) {
		struct vd_neigh *e = &lc->neigh[(h + k) & (VD_NEIGH_SIZE - 1)];
		if (e->state != VD_NEIGH_FREE && e->family == family &&
		    (family == AF_INET ? memcmp(e->ip, words, 4) == 0 : memcmp(e->ip, words, 16) == 0))
			return e;
		if (!victim || (e->state < victim->state))
			victim = e;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->family = (uint8_t)family;
	memcpy(victim->ip, words, n);
	return victim;
}

void vd_neigh_learn(struct vd_lcore *lc, int family, const void *ip,
		    const struct rte_ether_addr *mac)
{
	struct vd_neigh *e = neigh_slot(lc, family, ip, true);
	if (e->state == VD_NEIGH_REACHABLE && rte_is_same_ether_addr(&e->mac, mac))
		return;
	e->mac = *mac;
	e->state = VD_NEIGH_REACHABLE;
	VD_STAT_ADD(lc->c.neigh_learned, 1);
}

void vd_neigh_learn_all(struct vd_lcore *lc, int family, const void *ip,
			const struct rte_ether_addr *mac)
{
	struct vd_neigh_update u = {.mac = *mac, .family = (uint8_t)family};
	memcpy(u.ip, ip, ip_len(family));
	vd_neigh_learn(lc, family, ip, mac);
	for (unsigned i = 0; i < lc->n_workers; i++)
		if (lc->inboxes[i] != lc->inbox &&
		    rte_ring_mp_enqueue_elem(lc->inboxes[i], &u, sizeof(u)) != 0)
			VD_STAT_ADD(lc->c.neigh_inbox_full, 1);
}

void vd_neigh_inbox_drain(struct vd_lcore *lc)
{
	struct vd_neigh_update u[VD_NEIGH_INBOX_BURST];
	unsigned n = rte_ring_sc_dequeue_burst_elem(lc->inbox, u, sizeof(u[0]),
						    VD_NEIGH_INBOX_BURST, NULL);
	for (unsigned i = 0; i < n; i++)
		vd_neigh_learn(lc, u[i].family, u[i].ip, &u[i].mac);
}

static struct rte_mbuf *alloc_frame(struct vd_lcore *lc, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->pool);
	if (!m) {
		VD_STAT_ADD(lc->c.drop[VD_DPDK_DROP_NO_MBUF], 1);
		return NULL;
	}
	m->data_len = m->pkt_len = len;
	memset(rte_pktmbuf_mtod(m, void *), 0, len);
	return m;
}

static void send_arp_request(struct vd_lcore *lc, const struct in_addr *from, const void *target)
{
	struct rte_mbuf *m = alloc_frame(lc, ETH_LEN + sizeof(struct rte_arp_hdr));
	if (!m)
		return;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	eth->src_addr = lc->mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	arp->arp_data.arp_sha = lc->mac;
	arp->arp_data.arp_sip = from->s_addr;
	memcpy(&arp->arp_data.arp_tip, target, 4);
	VD_STAT_ADD(lc->c.arp_requests, 1);
	vd_dpdk_tx_queue(lc, m, NULL);
}

/* NS to the target's solicited-node group ff02::1:ffXX:XXXX (MAC 33:33:ff:XX:XX:XX). */
static void send_ns(struct vd_lcore *lc, const struct in6_addr *from, const uint8_t *target)
{
	uint16_t icmp_len = sizeof(struct nd_neighbor_solicit) + ND_OPT_LLA_LEN;
	struct rte_mbuf *m = alloc_frame(lc, ETH_LEN + IP6_LEN + icmp_len);
	if (!m)
		return;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	struct nd_neighbor_solicit *ns = (struct nd_neighbor_solicit *)(ip + 1);
	struct nd_lla_opt *opt = (struct nd_lla_opt *)(ns + 1);
	static const uint8_t group[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};

	memcpy(ip->dst_addr, group, sizeof(group));
	memcpy(ip->dst_addr + 13, target + 13, 3);
	eth->dst_addr = (struct rte_ether_addr){{0x33, 0x33, ip->dst_addr[12], ip->dst_addr[13],
						 ip->dst_addr[14], ip->dst_addr[15]}};
	eth->src_addr = lc->mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	ip->vtc_flow = RTE_BE32(0x60000000u);
	ip->payload_len = rte_cpu_to_be_16(icmp_len);
	ip->proto = IPPROTO_ICMPV6;
	ip->hop_limits = ND_HOP_LIMIT;
	memcpy(ip->src_addr, from, 16);
	ns->nd_ns_type = ND_NEIGHBOR_SOLICIT;
	memcpy(&ns->nd_ns_target, target, 16);
	*opt = (struct nd_lla_opt){ND_OPT_SOURCE_LINKADDR, 1, lc->mac};
	ns->nd_ns_cksum = rte_ipv6_udptcp_cksum(ip, ns);
	VD_STAT_ADD(lc->c.ns_sent, 1);
	vd_dpdk_tx_queue(lc, m, NULL);
}

/* The on-link address to resolve for `ip`: itself, its family's gateway, or NULL (no route).
 * A handful of prefixes, scanned linearly: only misses of the neighbour cache get here. */
static const void *next_hop(const struct vd_lcore *lc, int family, const void *ip)
{
	const struct vd_route_ip *net = lc->net;
	if (!net || net->n_networks == 0)
		return ip;
	for (unsigned i = 0; i < net->n_networks; i++)
		if (vd_prefix_contains(&net->networks[i], family, ip))
			return ip;
	if (family == AF_INET && net->has_gateway4)
		return net->gateway4;
	if (family == AF_INET6 && net->has_gateway6)
		return net->gateway6;
	return NULL;
}

const struct rte_ether_addr *vd_neigh_resolve(struct vd_lcore *lc, const union vd_sockaddr *dst,
					      unsigned src_listener, enum vd_dpdk_drop *why)
{
	int family = dst->sa.sa_family;
	const void *ip = family == AF_INET ? (const void *)&dst->in.sin_addr
					   : (const void *)&dst->in6.sin6_addr;
	/* On-link destinations (the common case: pool members) cost one lookup; off-link ones
	 * look up their gateway's entry, after a miss on their own. */
	struct vd_neigh *e = neigh_slot(lc, family, ip, false);
	if (e && e->state == VD_NEIGH_REACHABLE)
		return &e->mac;
	*why = VD_DPDK_DROP_NEIGH;
	const void *hop = next_hop(lc, family, ip);
	if (!hop) {
		*why = VD_DPDK_DROP_NO_ROUTE;
		return NULL;
	}
	e = neigh_slot(lc, family, hop, true);
	if (e->state == VD_NEIGH_REACHABLE)
		return &e->mac;
	ip = hop;
	uint64_t now = rte_rdtsc();
	if (e->state == VD_NEIGH_INCOMPLETE && now - e->solicited_tsc < lc->retry_tsc)
		return NULL; /* asked recently: do not flood the link */
	e->state = VD_NEIGH_INCOMPLETE;
	e->solicited_tsc = now;
	const union vd_sockaddr *from = &lc->px->listeners[src_listener].bind;
	if (family == AF_INET)
		send_arp_request(lc, &from->in.sin_addr, ip);
	else
		send_ns(lc, &from->in6.sin6_addr, ip);
	return NULL;
}

/* Swap the Ethernet addresses of a frame we answer in place. */
static void eth_reply(struct vd_lcore *lc, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->dst_addr = eth->src_addr;
	eth->src_addr = lc->mac;
}

void vd_dpdk_arp_input(struct vd_lcore *lc, struct rte_mbuf *m)
{
	if (m->data_len < ETH_LEN + sizeof(struct rte_arp_hdr)) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_MALFORMED);
		return;
	}
	struct rte_arp_hdr *arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, ETH_LEN);
	struct rte_arp_ipv4 *a = &arp->arp_data;
	if (arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
	    vd_dpdk_our_ip(lc->px, AF_INET, &a->arp_tip) == VD_DPDK_NO_LISTENER) {
		vd_dpdk_exc_punt(lc, m); /* the kernel's ARP (other addresses), or dropped */
		return;
	}
	/* the kernel resolves its own neighbours (and learns the asker) from a copy */
	vd_dpdk_exc_copy(lc, m);
	if (a->arp_sip != 0) /* 0.0.0.0: an address probe (RFC 5227), nothing to learn */
		vd_neigh_learn_all(lc, AF_INET, &a->arp_sip, &a->arp_sha);
	if (arp->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST)) {
		rte_pktmbuf_free(m); /* a reply to our request: learned above */
		return;
	}
	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	a->arp_tha = a->arp_sha;
	a->arp_sha = lc->mac;
	rte_be32_t ours = a->arp_tip;
	a->arp_tip = a->arp_sip;
	a->arp_sip = ours;
	eth_reply(lc, m);
	VD_STAT_ADD(lc->c.arp_replies, 1);
	vd_dpdk_tx_queue(lc, m, NULL);
}

void vd_dpdk_icmp4_input(struct vd_lcore *lc, struct rte_mbuf *m, uint16_t l3_off)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l3_off);
	uint16_t ihl = rte_ipv4_hdr_len(ip);
	uint16_t len = rte_be_to_cpu_16(ip->total_length) - ihl;
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((char *)ip + ihl);
	if (len < sizeof(*icmp)) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_MALFORMED);
		return;
	}
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST) {
		vd_dpdk_exc_punt(lc, m); /* errors (PMTU for the kernel's TCP), ...: the kernel's */
		return;
	}
	if (rte_raw_cksum(icmp, len) != 0xffff) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_BAD_CKSUM);
		return;
	}
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, len);
	rte_be32_t ours = ip->dst_addr;
	ip->dst_addr = ip->src_addr;
	ip->src_addr = ours;
	ip->time_to_live = ICMP4_DEFAULT_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	m->data_len = m->pkt_len = (uint32_t)(l3_off + ihl + len); /* no Ethernet padding */
	eth_reply(lc, m);
	VD_STAT_ADD(lc->c.echo_replies, 1);
	vd_dpdk_tx_queue(lc, m, NULL);
}

/* The link-layer address option of type `want` in an NS/NA, or NULL. */
static const struct rte_ether_addr *nd_lla(const uint8_t *opt, uint32_t len, uint8_t want)
{
	while (len >= ND_OPT_LLA_LEN) {
		uint32_t olen = (uint32_t)opt[1] * 8;
		if (olen == 0 || olen > len)
			return NULL; /* RFC 4861 4.6: a zero length is invalid */
		if (opt[0] == want && olen == ND_OPT_LLA_LEN)
			return &((const struct nd_lla_opt *)opt)->mac;
		opt += olen;
		len -= olen;
	}
	return NULL;
}

/* Answer an NS for one of our addresses with a solicited, override NA (+ target LLA). */
static void nd_solicit_input(struct vd_lcore *lc, struct rte_mbuf *m, struct rte_ipv6_hdr *ip,
			     uint16_t plen)
{
	struct nd_neighbor_solicit *ns = (struct nd_neighbor_solicit *)(ip + 1);
	static const uint8_t unspecified[16];
	if (plen < sizeof(*ns) ||
	    vd_dpdk_our_ip(lc->px, AF_INET6, &ns->nd_ns_target) == VD_DPDK_NO_LISTENER ||
	    memcmp(ip->src_addr, unspecified, 16) == 0) { /* DAD probes are not ours to answer */
		vd_dpdk_exc_punt(lc, m); /* the kernel's (its addresses, its DAD), or dropped */
		return;
	}
	vd_dpdk_exc_copy(lc, m); /* the kernel learns the asker too, as with ARP */
	const struct rte_ether_addr *lla =
		nd_lla((const uint8_t *)(ns + 1), plen - sizeof(*ns), ND_OPT_SOURCE_LINKADDR);
	if (lla)
		vd_neigh_learn_all(lc, AF_INET6, ip->src_addr, lla);
	struct nd_neighbor_advert *na = (struct nd_neighbor_advert *)ns; /* same layout */
	struct nd_lla_opt *opt = (struct nd_lla_opt *)(na + 1);
	uint16_t len = sizeof(*na) + ND_OPT_LLA_LEN;
	memcpy(ip->dst_addr, ip->src_addr, 16);
	memcpy(ip->src_addr, &na->nd_na_target, 16);
	ip->payload_len = rte_cpu_to_be_16(len);
	ip->hop_limits = ND_HOP_LIMIT;
	na->nd_na_type = ND_NEIGHBOR_ADVERT;
	na->nd_na_code = 0;
	na->nd_na_cksum = 0;
	na->nd_na_flags_reserved = ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE;
	*opt = (struct nd_lla_opt){ND_OPT_TARGET_LINKADDR, 1, lc->mac};
	na->nd_na_cksum = rte_ipv6_udptcp_cksum(ip, na);
	m->data_len = m->pkt_len = ETH_LEN + IP6_LEN + len;
	eth_reply(lc, m);
	VD_STAT_ADD(lc->c.na_sent, 1);
	vd_dpdk_tx_queue(lc, m, NULL);
}

static void nd_advert_input(struct vd_lcore *lc, struct rte_mbuf *m, struct rte_ipv6_hdr *ip,
			    uint16_t plen)
{
	const struct nd_neighbor_advert *na = (const struct nd_neighbor_advert *)(ip + 1);
	if (plen >= sizeof(*na)) {
		const struct rte_ether_addr *lla = nd_lla(
			(const uint8_t *)(na + 1), plen - sizeof(*na), ND_OPT_TARGET_LINKADDR);
		if (!lla)
			lla = &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr;
		vd_neigh_learn_all(lc, AF_INET6, &na->nd_na_target, lla);
	}
	vd_dpdk_exc_copy(lc, m); /* it may answer the kernel's own NS */
	rte_pktmbuf_free(m);
}

static void echo6_input(struct vd_lcore *lc, struct rte_mbuf *m, struct rte_ipv6_hdr *ip,
			struct icmp6_hdr *icmp)
{
	vd_neigh_learn(lc, AF_INET6, ip->src_addr,
		       &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr);
	uint8_t ours[16];
	memcpy(ours, ip->dst_addr, 16);
	memcpy(ip->dst_addr, ip->src_addr, 16);
	memcpy(ip->src_addr, ours, 16);
	ip->hop_limits = ICMP6_DEFAULT_HOPS;
	icmp->icmp6_type = ICMP6_ECHO_REPLY;
	icmp->icmp6_cksum = 0;
	icmp->icmp6_cksum = rte_ipv6_udptcp_cksum(ip, icmp);
	m->data_len = m->pkt_len = ETH_LEN + IP6_LEN + rte_be_to_cpu_16(ip->payload_len);
	eth_reply(lc, m);
	VD_STAT_ADD(lc->c.echo_replies, 1);
	vd_dpdk_tx_queue(lc, m, NULL);
}

void vd_dpdk_icmp6_input(struct vd_lcore *lc, struct rte_mbuf *m, uint16_t l3_off)
{
	struct rte_ipv6_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l3_off);
	uint16_t plen = rte_be_to_cpu_16(ip->payload_len);
	struct icmp6_hdr *icmp = (struct icmp6_hdr *)(ip + 1);
	if (plen < sizeof(*icmp)) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_MALFORMED);
		return;
	}
	if (rte_ipv6_udptcp_cksum_verify(ip, icmp) != 0) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_BAD_CKSUM);
		return;
	}
	bool nd = icmp->icmp6_type == ND_NEIGHBOR_SOLICIT || icmp->icmp6_type == ND_NEIGHBOR_ADVERT;
	if (nd && ip->hop_limits == ND_HOP_LIMIT) {
		if (icmp->icmp6_type == ND_NEIGHBOR_SOLICIT)
			nd_solicit_input(lc, m, ip, plen);
		else
			nd_advert_input(lc, m, ip, plen);
	} else if (icmp->icmp6_type == ICMP6_ECHO_REQUEST &&
		   vd_dpdk_our_ip(lc->px, AF_INET6, ip->dst_addr) != VD_DPDK_NO_LISTENER) {
		echo6_input(lc, m, ip, icmp);
	} else {
		vd_dpdk_exc_punt(lc, m); /* RS/RA, MLD, errors: the kernel's, or dropped */
	}
}
