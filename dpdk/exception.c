/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The exception path: the datapath owns the NIC, the kernel still gets what is not SIP, so
 * that the host stays manageable (ssh, monitoring, routing daemons) on the same port.
 *
 * A second DPDK port, the exception port (dpdk.exception: a TAP or virtio-user vdev), is
 * the kernel's side. It has the data port's MAC, so the kernel's frames are valid on the
 * wire and the wire's frames are valid for the kernel; both go through unchanged:
 *
 *   data port -> kernel: whatever the poll loop does not consume and the kernel could want
 *     (for_kernel below): TCP, UDP to ports without a listener, other protocols to our
 *     addresses, IPv6 link-local unicast (the kernel's own addresses), multicast and
 *     broadcast, unknown ethertypes. ARP and neighbour discovery are still answered by
 *     neigh.c, and the kernel gets a copy (vd_dpdk_exc_copy) to resolve its own neighbours.
 *     Unicast to an address that is not ours is dropped as not_for_us: we are no router.
 *   kernel -> data port: every frame the kernel sends on the exception interface.
 *
 * Queues: one TX and one RX queue per worker on the exception port; each worker sends what
 * it punts on its own TX queue and polls its own RX queue, sending what the kernel wrote on
 * its own data port TX queue. So no ring between lcores and no lcore is special, and the
 * kernel spreads its TX over the queues by flow (a multi-queue TAP, virtio-user queues=N).
 * A worker polls its exception RX queue when its data burst was empty, else every
 * VD_EXC_POLL_EVERY bursts: a TAP's rx_burst is a read() system call, and management
 * traffic does not need a poll per SIP burst.
 *
 * Everything is batched per burst and counted (struct vd_dpdk_counters exc_*): a full ring
 * or a failed copy is a counted drop, never a wait.
 */
#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>

#include "dpdk_internal.h"
#include "tx.h"
#include "viaduct/log.h"

#define ETH_LEN		  ((uint16_t)sizeof(struct rte_ether_hdr))
#define VD_EXC_RX_DESC	  256 /* management traffic: small rings, the pool is sized for data */
#define VD_EXC_TX_DESC	  256
_Static_assert(VD_EXC_RX_DESC + VD_EXC_TX_DESC <= VD_DPDK_EXC_MBUFS,
	       "the mbuf pool is sized with VD_DPDK_EXC_MBUFS per exception queue pair");
#define VD_EXC_POLL_EVERY 8 /* data bursts between two polls of the exception RX queue */
#define VD_EXC_TX_RETRIES 2 /* tx_burst attempts before a full ring counts as drops */

/* fe80::/10: the kernel's addresses on the link (the listeners are never link-local). */
static bool ip6_link_local(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/*
 * Would the kernel want this frame the poll loop did not consume? Multicast and broadcast
 * yes; unicast only to our MAC, and then IP only to our addresses (IPv6 also link-local),
 * any other ethertype yes. The IP header was checked by ipv4/ipv6_input or is checked here.
 */
static bool for_kernel(const struct vd_lcore *lc, const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (m->data_len < ETH_LEN)
		return false;
	if (rte_is_multicast_ether_addr(&eth->dst_addr))
		return true;
	if (!rte_is_same_ether_addr(&eth->dst_addr, &lc->mac))
		return false;
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		if (m->data_len < ETH_LEN + sizeof(struct rte_ipv4_hdr))
			return false;
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		return vd_dpdk_our_ip(lc->px, AF_INET, &ip->dst_addr) != VD_DPDK_NO_LISTENER;
	}
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
		if (m->data_len < ETH_LEN + sizeof(struct rte_ipv6_hdr))
			return false;
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(eth + 1);
		return ip6_link_local(ip->dst_addr) ||
		       vd_dpdk_our_ip(lc->px, AF_INET6, ip->dst_addr) != VD_DPDK_NO_LISTENER;
	}
	return true; /* ARP, VLAN, LLDP, ...: the kernel decides */
}

/* Send what this burst gave the kernel on this worker's exception TX queue. */
static void exc_flush(struct vd_lcore *lc)
{
	unsigned n = lc->n_exc;
	unsigned sent = vd_dpdk_tx_burst(lc->exc_port, lc->queue, lc->exc_tx, n, VD_EXC_TX_RETRIES);
	VD_STAT_ADD(lc->c.exc_tx, sent);
	if (sent < n) {
		VD_STAT_ADD(lc->c.exc_tx_drops, n - sent);
		rte_pktmbuf_free_bulk(lc->exc_tx + sent, n - sent);
	}
	lc->n_exc = 0;
}

static void exc_queue(struct vd_lcore *lc, struct rte_mbuf *m)
{
	if (lc->n_exc == RTE_DIM(lc->exc_tx)) /* at most one per received frame: defensive */
		exc_flush(lc);
	lc->exc_tx[lc->n_exc++] = m;
}

void vd_dpdk_exc_punt(struct vd_lcore *lc, struct rte_mbuf *m)
{
	if (!lc->exc_on || !for_kernel(lc, m)) {
		vd_dpdk_drop(lc, m, VD_DPDK_DROP_NOT_FOR_US);
		return;
	}
	exc_queue(lc, m);
}

void vd_dpdk_exc_copy(struct vd_lcore *lc, const struct rte_mbuf *m)
{
	if (!lc->exc_on)
		return;
	struct rte_mbuf *c = rte_pktmbuf_copy(m, lc->pool, 0, UINT32_MAX);
	if (!c) {
		VD_STAT_ADD(lc->c.exc_tx_drops, 1);
		return;
	}
	exc_queue(lc, c);
}

unsigned vd_dpdk_exc_service(struct vd_lcore *lc, bool idle)
{
	struct rte_mbuf *pkts[VD_DPDK_BURST];
	if (lc->n_exc)
		exc_flush(lc);
	if (!idle && ++lc->exc_polls < VD_EXC_POLL_EVERY)
		return 0;
	lc->exc_polls = 0;
	uint16_t n = rte_eth_rx_burst(lc->exc_port, lc->queue, pkts, VD_DPDK_BURST);
	if (n == 0)
		return 0;
	/* the data port TX queue is this worker's: its own burst was flushed before */
	unsigned sent = vd_dpdk_tx_burst(lc->port, lc->queue, pkts, n, VD_EXC_TX_RETRIES);
	VD_STAT_ADD(lc->c.exc_rx, n);
	VD_STAT_ADD(lc->c.tx_pkts, sent);
	if (sent < n) {
		VD_STAT_ADD(lc->c.exc_rx_drops, n - sent);
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
	return n;
}

/* One RX/TX queue pair per worker, the data port's MAC and MTU, started. */
static int exc_setup(uint16_t p, const char *name, uint16_t data_port, unsigned n_workers,
		     struct rte_mempool *pool)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf = {0};
	struct rte_ether_addr mac;
	uint16_t nrx = VD_EXC_RX_DESC, ntx = VD_EXC_TX_DESC, mtu;
	int rc = rte_eth_dev_info_get(p, &info);
	if (rc < 0)
		goto fail;
	if (info.max_rx_queues < n_workers || info.max_tx_queues < n_workers) {
		vd_log(VD_LOG_ERROR,
		       "dpdk: exception port %s (%s) has %u RX / %u TX queue(s), the "
		       "datapath needs one pair per worker (%u): give the vdev more queues "
		       "(virtio_user: queues=%u) or run fewer workers",
		       name, info.driver_name, info.max_rx_queues, info.max_tx_queues, n_workers,
		       n_workers);
		return -EINVAL;
	}
	rc = rte_eth_dev_configure(p, (uint16_t)n_workers, (uint16_t)n_workers, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(p, &nrx, &ntx);
	int socket = rte_eth_dev_socket_id(p);
	for (uint16_t q = 0; rc == 0 && q < n_workers; q++) {
		rc = rte_eth_rx_queue_setup(p, q, nrx, (unsigned)socket, NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p, q, ntx, (unsigned)socket, NULL);
	}
	if (rc == 0)
		rc = rte_eth_macaddr_get(data_port, &mac);
	if (rc < 0)
		goto fail;
	/* net_tap: this is the kernel interface's MAC. virtio-user over vhost-net only keeps it
	 * on the DPDK side: set the kernel interface's MAC to the data port's yourself. */
	rc = rte_eth_dev_default_mac_addr_set(p, &mac);
	if (rc == -ENOTSUP)
		vd_log(VD_LOG_WARN,
		       "dpdk: exception port %s cannot take the data port's MAC: give its kernel "
		       "interface that MAC (ip link set DEV address ...), or the kernel drops "
		       "what it is sent",
		       name);
	else if (rc < 0)
		goto fail;
	/* the kernel must not send frames the data port cannot: best effort */
	if (rte_eth_dev_get_mtu(data_port, &mtu) == 0)
		rte_eth_dev_set_mtu(p, mtu);
	rc = rte_eth_dev_start(p);
	if (rc < 0)
		goto fail;
	char mac_s[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac_s, sizeof(mac_s), &mac);
	vd_log(VD_LOG_INFO,
	       "dpdk: exception port %u (%s, %s): frames for the kernel, mac %s, %u queue "
	       "pair(s)",
	       p, name, info.driver_name, mac_s, n_workers);
	return 0;
fail:
	vd_log(VD_LOG_ERROR, "dpdk: exception port %s: setup with %u queue pair(s) failed: %s",
	       name, n_workers, rte_strerror(-rc));
	return rc;
}

int vd_dpdk_exc_open(const char *name, uint16_t data_port, struct rte_mempool *pool,
		     struct vd_lcore *const *lcores, unsigned n_workers, uint16_t *exc_port)
{
	uint16_t p;
	*exc_port = RTE_MAX_ETHPORTS;
	if (!name[0])
		return 0; /* no exception path: what is not ours is dropped as not_for_us */
	if (rte_eth_dev_get_port_by_name(name, &p) != 0) {
		vd_log(VD_LOG_ERROR,
		       "dpdk: exception port %s is not a port: add its device to dpdk.eal and name "
		       "it in dpdk.exception, e.g. --vdev=net_tap1,iface=vdhost0 with exception: "
		       "net_tap1 (or virtio_user1,path=/dev/vhost-net,queues=N)",
		       name);
		return -ENODEV;
	}
	if (p == data_port) {
		vd_log(VD_LOG_ERROR,
		       "dpdk: exception port %s is the data port: give the kernel a device of its "
		       "own (dpdk.port names the data port)",
		       name);
		return -EINVAL;
	}
	int rc = exc_setup(p, name, data_port, n_workers, pool);
	if (rc) {
		rte_eth_dev_close(p);
		return rc;
	}
	for (unsigned i = 0; i < n_workers; i++) {
		lcores[i]->exc_port = p;
		lcores[i]->exc_on = true;
	}
	*exc_port = p;
	return 0;
}

void vd_dpdk_exc_close(uint16_t exc_port)
{
	if (exc_port < RTE_MAX_ETHPORTS && rte_eth_dev_is_valid_port(exc_port)) {
		rte_eth_dev_stop(exc_port);
		rte_eth_dev_close(exc_port);
	}
}
