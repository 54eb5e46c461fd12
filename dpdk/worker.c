/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The poll loop of one worker lcore, in the DPDK style (examples/l3fwd):
 *
 *   while (!stop): rx_burst(32) -> stage 1: parse Ethernet/IP/UDP of every frame (ARP,
 *   ICMP echo and neighbour discovery are answered right there) -> read the published
 *   routing snapshot -> stage 2: vd_proxy_process() each SIP datagram in place inside its
 *   mbuf, then resolve the next hop (neigh.c) and prepend Ethernet/IP/UDP for the verdict
 *   (tx.c) -> stage 3: one tx_burst (tx.c) -> one RCU quiescent state.
 *
 * The SIP payload stays where the NIC wrote it; the core grows the message into the mbuf's
 * headroom. VD_DPDK_HDR_RESERVE bytes at the very front are kept back for our headers. When
 * the core says VD_DROP_NO_ROOM, the payload is moved toward the tail (a counted slow path)
 * and processed again. Every frame ends counted: forwarded, replied, or dropped by reason.
 *
 * What is not ours to handle but is to our addresses (TCP, other ports, other protocols,
 * multicast) goes to the kernel through the exception port (exception.c) when there is one.
 *
 * IP fragments for us are reassembled, and datagrams over the port MTU fragmented on TX
 * (frag.c, through tx.c); IPv4 header and UDP checksums go to the NIC when the port offloads
 * them, else the UDP ones are verified here and computed in tx.c with cksum.h (an AVX2 sum
 * when the CPU has it).
 *
 * This file is the top of the datapath's calls (dpdk_internal.h): it calls neigh.c, probe.c,
 * exception.c, frag.c and tx.c, and none of them calls it back.
 *
 * Not here yet (a later step): multi-segment messages.
 */
#include <string.h>
#include <urcu-qsbr.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "cksum.h"
#include "dpdk_internal.h"
#include "tx.h"
#include "viaduct/dp.h"
#include "viaduct/route.h"

#define ETH_LEN ((uint16_t)sizeof(struct rte_ether_hdr))
#define IP4_LEN ((uint16_t)sizeof(struct rte_ipv4_hdr))
#define IP6_LEN ((uint16_t)sizeof(struct rte_ipv6_hdr))
#define UDP_LEN ((uint16_t)sizeof(struct rte_udp_hdr))

/* What stage 1 made of a frame (ipv4_input, ipv6_input, udp_input). */
enum rx_result {
	RX_OURS = 0, /* UDP to a listener or to the probe port, checked: meta is filled in */
	RX_CONSUMED, /* answered, held for reassembly, or dropped and counted already */
	RX_DROP,     /* not taken: *why says why (not_for_us frames may go to the kernel) */
};

static inline enum rx_result rx_drop(enum vd_dpdk_drop *why, enum vd_dpdk_drop reason)
{
	*why = reason;
	return RX_DROP;
}

/* Index of the listener bound to (ip, port) of this family, or VD_DPDK_NO_LISTENER. */
static int listener_for(const struct vd_proxy *px, int family, const void *ip, uint16_t port_be)
{
	for (unsigned j = 0; j < px->n_listeners; j++) {
		const union vd_sockaddr *b = &px->listeners[j].bind;
		/* TCP/TLS listeners are the kernel's (through the exception path) */
		if (b->sa.sa_family != family || px->listeners[j].transport != VD_TP_UDP)
			continue;
		if (family == AF_INET && b->in.sin_port == port_be &&
		    memcmp(&b->in.sin_addr, ip, 4) == 0)
			return (int)j;
		if (family == AF_INET6 && b->in6.sin6_port == port_be &&
		    memcmp(&b->in6.sin6_addr, ip, 16) == 0)
			return (int)j;
	}
	return VD_DPDK_NO_LISTENER;
}

/* UDP checks shared by both families; fills meta for a datagram to one of our listeners or
 * to the probe port (RX_OURS), else RX_DROP. */
static enum rx_result udp_input(struct vd_lcore *lc, struct rte_mbuf *m, struct vd_rx_meta *meta,
				uint16_t l4_off, uint32_t l4_len, int family, const void *dst_ip,
				enum vd_dpdk_drop *why)
{
	if (l4_len < UDP_LEN)
		return rx_drop(why, VD_DPDK_DROP_MALFORMED);
	const struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, l4_off);
	uint16_t dlen = rte_be_to_cpu_16(udp->dgram_len);
	if (dlen < UDP_LEN || dlen > l4_len)
		return rx_drop(why, VD_DPDK_DROP_MALFORMED);
	int l = listener_for(lc->px, family, dst_ip, udp->dst_port);
	bool probe = l == VD_DPDK_NO_LISTENER;
	if (probe && (!vd_dpdk_probe_port_be || udp->dst_port != vd_dpdk_probe_port_be))
		return rx_drop(why, VD_DPDK_DROP_NOT_FOR_US);
	/* no listener, our address, the probe port: a health probe reply (probe.c) */
	meta->kind = probe ? VD_RX_PROBE : VD_RX_SIP;
	meta->listener = (uint8_t)(probe ? 0 : l);
	meta->l4_off = l4_off;
	meta->sip_len = dlen - UDP_LEN;
	if (family == AF_INET)
		meta->src.in.sin_port = udp->src_port;
	else
		meta->src.in6.sin6_port = udp->src_port;
	return RX_OURS;
}

/* Hardware said good: trust it; bad: drop; unknown: verify in software. */
static bool l4_cksum_ok(const struct rte_mbuf *m, int family, const void *ip, const void *udp)
{
	uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (f == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return true;
	if (f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return false;
	if (family == AF_INET) {
		if (((const struct rte_udp_hdr *)udp)->dgram_cksum == 0)
			return true; /* IPv4 UDP may omit its checksum (RFC 768) */
		return vd_cksum_udp4_ok(ip, udp);
	}
	return vd_cksum_udp6_ok(ip, udp); /* mandatory over IPv6 (RFC 8200) */
}

/* *mp may be replaced: a fragment that completes a datagram comes back as the datagram, in
 * another mbuf (the first fragment's). */
static enum rx_result ipv4_input(struct vd_lcore *lc, struct rte_mbuf **mp, struct vd_rx_meta *meta,
				 enum vd_dpdk_drop *why)
{
	struct rte_mbuf *m = *mp;
	if (m->data_len < ETH_LEN + IP4_LEN)
		return rx_drop(why, VD_DPDK_DROP_MALFORMED);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, ETH_LEN);
	uint16_t ihl =
		(uint16_t)((ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * RTE_IPV4_IHL_MULTIPLIER);
	uint16_t tot = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < IP4_LEN || tot < ihl ||
	    ETH_LEN + tot > m->data_len)
		return rx_drop(why, VD_DPDK_DROP_MALFORMED);
	if (vd_dpdk_our_ip(lc->px, AF_INET, &ip->dst_addr) == VD_DPDK_NO_LISTENER)
		return rx_drop(why, VD_DPDK_DROP_NOT_FOR_US);
	uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (f == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	    (f != RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
	     (ihl == IP4_LEN ? vd_cksum_raw20(ip) : rte_raw_cksum(ip, ihl)) != 0xffff))
		return rx_drop(why, VD_DPDK_DROP_BAD_CKSUM);
	if (ip->fragment_offset &
	    rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		m = vd_frag_ipv4_input(lc, m, ip, ihl, tot);
		if (!m)
			return RX_CONSUMED; /* held until the datagram is complete, or dropped */
		/* the whole datagram takes this path again, once: it is no fragment any more */
		*mp = m;
		return ipv4_input(lc, mp, meta, why);
	}
	/* any packet for us teaches us its sender's MAC (on-link, or its router's) */
	vd_neigh_learn(lc, AF_INET, &ip->src_addr,
		       &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr);
	if (ip->next_proto_id == IPPROTO_ICMP) {
		vd_dpdk_icmp4_input(lc, m, ETH_LEN);
		return RX_CONSUMED;
	}
	if (ip->next_proto_id != IPPROTO_UDP)
		return rx_drop(why, VD_DPDK_DROP_NOT_FOR_US);
	meta->src.in = (struct sockaddr_in){.sin_family = AF_INET};
	memcpy(&meta->src.in.sin_addr, &ip->src_addr, 4);
	enum rx_result r =
		udp_input(lc, m, meta, ETH_LEN + ihl, tot - ihl, AF_INET, &ip->dst_addr, why);
	if (r == RX_OURS && !l4_cksum_ok(m, AF_INET, ip, (char *)ip + ihl))
		r = rx_drop(why, VD_DPDK_DROP_BAD_CKSUM);
	return r;
}

/* Only a UDP, ICMPv6 or fragment header right after the fixed header is handled: other
 * extension headers are dropped as not ours. *mp may be replaced, as in ipv4_input. */
static enum rx_result ipv6_input(struct vd_lcore *lc, struct rte_mbuf **mp, struct vd_rx_meta *meta,
				 enum vd_dpdk_drop *why)
{
	struct rte_mbuf *m = *mp;
	if (m->data_len < ETH_LEN + IP6_LEN)
		return rx_drop(why, VD_DPDK_DROP_MALFORMED);
	struct rte_ipv6_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, ETH_LEN);
	uint16_t plen = rte_be_to_cpu_16(ip->payload_len);
	if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6 || ETH_LEN + IP6_LEN + plen > m->data_len)
		return rx_drop(why, VD_DPDK_DROP_MALFORMED);
	if (ip->proto == IPPROTO_FRAGMENT) { /* first: a large echo request comes in fragments */
		if (vd_dpdk_our_ip(lc->px, AF_INET6, ip->dst_addr) == VD_DPDK_NO_LISTENER)
			return rx_drop(why, VD_DPDK_DROP_NOT_FOR_US);
		m = vd_frag_ipv6_input(lc, m, ip);
		if (!m)
			return RX_CONSUMED; /* held, or dropped and counted */
		*mp = m;
		ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, ETH_LEN);
		if (ip->proto == IPPROTO_FRAGMENT) /* nested: refused, or this would recurse */
			return rx_drop(why, VD_DPDK_DROP_MALFORMED);
		return ipv6_input(lc, mp, meta, why);
	}
	if (ip->proto == IPPROTO_ICMPV6) {
		vd_dpdk_icmp6_input(lc, m, ETH_LEN); /* NS to a solicited-node group, echo */
		return RX_CONSUMED;
	}
	if (ip->proto != IPPROTO_UDP ||
	    vd_dpdk_our_ip(lc->px, AF_INET6, ip->dst_addr) == VD_DPDK_NO_LISTENER)
		return rx_drop(why, VD_DPDK_DROP_NOT_FOR_US);
	vd_neigh_learn(lc, AF_INET6, ip->src_addr,
		       &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr);
	meta->src.in6 = (struct sockaddr_in6){.sin6_family = AF_INET6};
	memcpy(&meta->src.in6.sin6_addr, ip->src_addr, 16);
	enum rx_result r =
		udp_input(lc, m, meta, ETH_LEN + IP6_LEN, plen, AF_INET6, ip->dst_addr, why);
	if (r == RX_OURS && !l4_cksum_ok(m, AF_INET6, ip, ip + 1))
		r = rx_drop(why, VD_DPDK_DROP_BAD_CKSUM);
	return r;
}

/* Stage 1: what is this frame? SIP stays for stage 2; the rest is answered or dropped. */
static void classify(struct vd_lcore *lc, struct rte_mbuf **mp, struct vd_rx_meta *meta)
{
	struct rte_mbuf *m = *mp; /* ipv4/ipv6_input may replace *mp (reassembly) */
	enum vd_dpdk_drop why = VD_DPDK_DROP_NOT_FOR_US; /* unknown ethertypes */
	enum rx_result r = RX_DROP;
	meta->kind = VD_RX_DONE;
	if (m->nb_segs > 1) {
		why = VD_DPDK_DROP_TOO_BIG; /* no reassembly of chained mbufs in this slice */
	} else if (m->data_len < ETH_LEN) {
		why = VD_DPDK_DROP_MALFORMED;
	} else {
		uint16_t type = rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type;
		if (type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
			vd_dpdk_arp_input(lc, m);
			return;
		}
		if (type == RTE_BE16(RTE_ETHER_TYPE_IPV4))
			r = ipv4_input(lc, mp, meta, &why);
		else if (type == RTE_BE16(RTE_ETHER_TYPE_IPV6))
			r = ipv6_input(lc, mp, meta, &why);
	}
	if (r != RX_DROP)
		return; /* RX_OURS: stage 2 takes it; RX_CONSUMED: nothing left to do */
	meta->kind = VD_RX_DONE;
	if (why == VD_DPDK_DROP_NOT_FOR_US)
		vd_dpdk_exc_punt(lc, *mp); /* the kernel's (exception path), or dropped */
	else
		vd_dpdk_drop(lc, *mp, why);
}

/* Run the core; on VD_DROP_NO_ROOM move the payload toward the tail and run it again. */
static void process(struct vd_lcore *lc, struct vd_pktbuf *pkt, const struct vd_rx_meta *meta,
		    struct vd_result *res)
{
	vd_proxy_process(lc->px, pkt, &meta->src, meta->listener, &lc->scratch, res);
	if (res->verdict != VD_VERDICT_DROP || res->drop != VD_DROP_NO_ROOM ||
	    pkt->off >= VD_PROXY_HEADROOM)
		return;
	uint32_t tail = pkt->cap - pkt->off - pkt->len;
	uint32_t shift = RTE_MIN(VD_PROXY_HEADROOM - pkt->off, tail);
	if (shift == 0)
		return;
	memmove(pkt->base + pkt->off + shift, pkt->base + pkt->off, pkt->len);
	pkt->off += shift;
	VD_STAT_ADD(lc->c.room_moves, 1);
	vd_proxy_process(lc->px, pkt, &meta->src, meta->listener, &lc->scratch, res);
}

/* The reply replaces the request in the same mbuf, after the standard headroom. */
static bool place_reply(struct vd_lcore *lc, struct rte_mbuf *m, const struct vd_result *res,
			uint32_t *off)
{
	uint16_t hdr = (uint16_t)(ETH_LEN + UDP_LEN +
				  (res->dst.sa.sa_family == AF_INET6 ? IP6_LEN : IP4_LEN));
	*off = RTE_PKTMBUF_HEADROOM + hdr;
	if (*off + res->reply_len > m->buf_len)
		return false;
	memcpy((char *)m->buf_addr + *off, lc->scratch.reply, res->reply_len);
	return true;
}

/* Stage 2 for one SIP datagram: decide, then encapsulate and queue, or count and free. */
static void sip_one(struct vd_lcore *lc, struct rte_mbuf *m, const struct vd_rx_meta *meta,
		    struct vd_result *res)
{
	uint32_t payload = m->data_off + meta->l4_off + UDP_LEN; /* from buf_addr */
	struct vd_pktbuf pkt = {(char *)m->buf_addr + VD_DPDK_HDR_RESERVE,
				m->buf_len - VD_DPDK_HDR_RESERVE, payload - VD_DPDK_HDR_RESERVE,
				meta->sip_len};
	process(lc, &pkt, meta, res);
	vd_stats_count(&lc->stats, res, meta->sip_len);
	if (res->signal.bits) /* a member's 503 Retry-After or overload control: rare */
		vd_mev_signal(&lc->events, res, &meta->src,
			      rte_rdtsc() / (rte_get_tsc_hz() / MS_PER_S));
	if (res->verdict == VD_VERDICT_DROP) {
		rte_pktmbuf_free(m);
		return;
	}
	if (vd_dp_stream_bound(res)) {
		/* over a TCP/TLS connection: the kernel datapath beside us writes it */
		if (!lc->streams || vd_dp_submit(lc->streams, lc->worker, res, pkt.base + pkt.off,
						 pkt.len)) {
			vd_stats_unsent(&lc->stats, res,
					lc->streams ? VD_DROP_HANDOFF_FULL : VD_DROP_NO_EGRESS);
		} else {
			VD_STAT_ADD(lc->stats.tx_bytes, pkt.len);
			lc->submitted = true;
		}
		rte_pktmbuf_free(m);
		return;
	}
	bool fwd = res->verdict == VD_VERDICT_FORWARD;
	unsigned from = fwd ? res->egress : meta->listener;
	uint32_t off = VD_DPDK_HDR_RESERVE + pkt.off, len = fwd ? pkt.len : res->reply_len;
	enum vd_dpdk_drop why;
	const struct rte_ether_addr *mac;
	if (!fwd && !place_reply(lc, m, res, &off)) {
		why = VD_DPDK_DROP_TOO_BIG;
		goto fail;
	}
	mac = vd_neigh_resolve(lc, &res->dst, from, &why);
	if (!mac)
		goto fail; /* solicited: the endpoint's retransmission gets through */
	bool big = vd_dpdk_encap(lc, m, off, len, &lc->px->listeners[from].bind, &res->dst, mac);
	VD_STAT_ADD(lc->stats.tx_bytes, len);
	if (!big) {
		vd_dpdk_tx_queue(lc, m, res);
		return;
	}
	if (vd_dpdk_tx_fragments(lc, m, res, &why) == VD_TX_QUEUED)
		return;
fail:
	vd_stats_send_failed(&lc->stats, res);
	vd_dpdk_drop(lc, m, why);
}

static unsigned burst(struct vd_lcore *lc)
{
	struct rte_mbuf *pkts[VD_DPDK_BURST];
	/* Busy cycles as testpmd's --record-core-cycles counts them: the TSC over every loop
	 * iteration that received frames, rx_burst to tx_burst; empty polls are idle. */
	uint64_t start_tsc = rte_rdtsc();
	uint16_t n = rte_eth_rx_burst(lc->port, lc->queue, pkts, VD_DPDK_BURST);
	if (n == 0)
		return 0;
	VD_STAT_ADD(lc->c.rx_pkts, n);
	/* behind: still half a ring waiting after full bursts (counting the ring reads its
	 * descriptors, so only every VD_DPDK_BEHIND_BURSTS full bursts) */
	lc->full_bursts = n == VD_DPDK_BURST ? lc->full_bursts + 1 : 0;
	if (!lc->full_bursts)
		lc->behind = false;
	else if (lc->behind_desc && lc->full_bursts % VD_DPDK_BEHIND_BURSTS == 0)
		lc->behind = rte_eth_rx_queue_count(lc->port, lc->queue) >= lc->behind_desc;
	vd_guard_tick(lc->guard, (uint32_t)(start_tsc / lc->tsc_per_ms), lc->behind);
	const struct vd_route *r = vd_route_read();
	lc->px = &r->px;
	lc->net = &r->ip;
	for (unsigned i = 0; i < n && i < VD_DPDK_PREFETCH; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (unsigned i = 0; i < n; i++) {
		if (i + VD_DPDK_PREFETCH < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + VD_DPDK_PREFETCH], void *));
		classify(lc, &pkts[i], &lc->meta[i]);
	}
	for (unsigned i = 0; i < n; i++)
		if (lc->meta[i].kind == VD_RX_SIP)
			sip_one(lc, pkts[i], &lc->meta[i], &lc->res[i]);
		else if (lc->meta[i].kind == VD_RX_PROBE)
			vd_dpdk_probe_input(lc, pkts[i], &lc->meta[i]);
	vd_dpdk_tx_flush(lc);
	if (lc->submitted) { /* one wake-up per burst for the stream workers */
		vd_dp_submit_flush(lc->streams, lc->worker);
		lc->submitted = false;
	}
	vd_frag_burst_end(lc);
	lc->px = NULL;
	VD_STAT_ADD(lc->stats.batches, 1);
	VD_STAT_ADD(lc->c.busy_cycles, rte_rdtsc() - start_tsc);
	return n;
}

int vd_dpdk_worker_main(void *arg)
{
	struct vd_lcore *lc = arg;
	unsigned idle = 0;

	rcu_register_thread();
	while (!__atomic_load_n(lc->stop, __ATOMIC_RELAXED)) { /* the control thread sets it */
		/* every round counts, the sleeping ones too: the control thread's watchdog reads
		 * it (notify.h); a stuck lcore stops counting */
		__atomic_store_n(&lc->rounds, lc->rounds + 1, __ATOMIC_RELAXED);
		vd_neigh_inbox_drain(lc);
		/* health probes from the control thread leave through worker 0 */
		if (lc->worker == 0 && vd_dpdk_probe_tx_drain(lc))
			vd_dpdk_tx_flush(lc);
		unsigned got = burst(lc);
		if (lc->exc_on) /* what the burst punted to the kernel, and the kernel's frames */
			got += vd_dpdk_exc_service(lc, got == 0);
		if (got) {
			idle = 0;
		} else if (++idle >= VD_DPDK_IDLE_POLLS && VD_DPDK_IDLE_SLEEP_US > 0) {
			/* offline while asleep: a publication never waits for this lcore */
			rcu_thread_offline();
			rte_delay_us_sleep(VD_DPDK_IDLE_SLEEP_US);
			rcu_thread_online();
			continue;
		}
		vd_route_quiescent(); /* also when idle: writers wait for every online reader */
	}
	rcu_unregister_thread();
	return 0;
}
