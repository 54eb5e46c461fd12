/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Setup and teardown of the DPDK datapath: EAL init, the mbuf pool, port 0 with one RX/TX
 * queue pair per worker lcore (RSS over IP/UDP when there is more than one and the port
 * can hash), the per-lcore state, launching the poll loops (the calling thread, the main
 * lcore, runs worker 0) next to the control loop on a control thread, and the control
 * plane's view of the datapath (its counters are rendered by stats.c).
 *
 * Every failure says what went wrong and what to try; workers never log.
 */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dpdk_internal.h"
#include "dpdk_stats.h"
#include "viaduct/dpdk.h"
#include "viaduct/log.h"
#include "viaduct/route.h"

#define VD_DPDK_REPLY_SLACK  512  /* a reply copies some request headers plus a few of its own */
#define VD_DPDK_LINK_WAIT_MS 3000 /* how long to wait for the link before going on anyway */
#define MS_PER_S	     1000

const char *const vd_dpdk_drop_names[VD_DPDK_DROP__COUNT] = {
	[VD_DPDK_DROP_NO_MBUF] = "no_mbuf",	   [VD_DPDK_DROP_NOT_FOR_US] = "not_for_us",
	[VD_DPDK_DROP_NEIGH] = "neigh_unresolved", [VD_DPDK_DROP_BAD_CKSUM] = "bad_cksum",
	[VD_DPDK_DROP_TOO_BIG] = "too_big",	   [VD_DPDK_DROP_MALFORMED] = "malformed",
	[VD_DPDK_DROP_REASSEMBLY] = "reassembly", [VD_DPDK_DROP_TX_FULL] = "tx_full",
	[VD_DPDK_DROP_NO_ROUTE] = "no_route",
	[VD_DPDK_DROP_PROBE_RX_FULL] = "probe_rx_full",
	[VD_DPDK_DROP_PROBE_NO_SOURCE] = "probe_no_source",
};

struct vd_dpdk {
	struct vd_cfg_dpdk cfg; /* the dpdk: section at start (a reload never changes it) */
	uint16_t port;		/* the data port (RTE_MAX_ETHPORTS until chosen) */
	volatile int stop;	/* set when the control loop returns: every poll loop ends */
	unsigned n_workers;
	struct rte_mempool *pool;
	struct vd_lcore *lcores[VD_CFG_MAX_WORKERS];
	char *replies[VD_CFG_MAX_WORKERS];
	struct rte_ring *inboxes[VD_CFG_MAX_WORKERS];
	uint64_t tx_ol; /* checksum offloads enabled on the port (port_setup) */
	uint16_t mtu;
	uint16_t rx_desc; /* per RX queue, as configured */
	uint16_t exc_port; /* the exception port (exception.c), RTE_MAX_ETHPORTS: none */
};

/* A wildcard listener cannot answer ARP/NS nor be a source address: refuse it up front. */
static int check_listeners(const struct vd_proxy *px)
{
	static const uint8_t any6[16];
	for (unsigned j = 0; j < px->n_listeners; j++) {
		const union vd_sockaddr *b = &px->listeners[j].bind;
		if ((b->sa.sa_family == AF_INET && b->in.sin_addr.s_addr == 0) ||
		    (b->sa.sa_family == AF_INET6 && memcmp(&b->in6.sin6_addr, any6, 16) == 0)) {
			vd_log(VD_LOG_ERROR,
			       "dpdk: listener %u (%s) is a wildcard address: the "
			       "DPDK datapath owns its addresses, give each listener "
			       "the IP it answers ARP/NDP for",
			       j, px->listeners[j].host);
			return -EINVAL;
		}
	}
	return 0;
}

static unsigned pick_workers(unsigned want, const struct rte_eth_dev_info *info)
{
	unsigned n = RTE_MIN(want, rte_lcore_count());
	n = RTE_MIN(n, (unsigned)info->max_rx_queues);
	n = RTE_MIN(n, (unsigned)info->max_tx_queues);
	if (n < want)
		vd_log(VD_LOG_INFO,
		       "dpdk: %u worker(s) instead of %u: %u lcore(s), port has %u "
		       "RX / %u TX queue(s)",
		       n, want, rte_lcore_count(), info->max_rx_queues, info->max_tx_queues);
	return n ? n : 1;
}

/* A configured descriptor count, or the default. */
static uint16_t desc_count(uint16_t configured, uint16_t def)
{
	return configured ? configured : def;
}

static int create_pool(struct vd_dpdk *d)
{
	/* every queue's descriptors full (data and exception ports), plus what is in flight and
	 * in the per-lcore caches, plus what a full reassembly table holds; plus both probe
	 * rings full. dpdk.mbufs overrides the sum (too few: counted no_mbuf drops, not a crash). */
	unsigned per_q = desc_count(d->cfg.rx_desc, VD_DPDK_RX_DESC) +
			 desc_count(d->cfg.tx_desc, VD_DPDK_TX_DESC) + VD_DPDK_EXC_MBUFS +
			 VD_DPDK_TX_MAX + VD_DPDK_POOL_CACHE + VD_FRAG_POOL_MBUFS;
	unsigned n = RTE_MAX((unsigned)VD_DPDK_MIN_MBUFS,
			     d->n_workers * per_q + 2 * VD_DPDK_PROBE_RING);
	if (d->cfg.mbufs)
		n = d->cfg.mbufs;
	d->pool = rte_pktmbuf_pool_create("vd_mbufs", n, VD_DPDK_POOL_CACHE, 0, VD_DPDK_DATA_ROOM,
					  (int)rte_socket_id());
	if (d->pool) {
		vd_log(VD_LOG_INFO, "dpdk: mbuf pool: %u mbufs of %u bytes (%s)", n,
		       (unsigned)VD_DPDK_DATA_ROOM, d->cfg.mbufs ? "dpdk.mbufs" : "sized from the queues");
		return 0;
	}
	vd_log(VD_LOG_ERROR,
	       "dpdk: cannot create the mbuf pool (%u mbufs of %u bytes): %s; "
	       "give EAL more memory (-m 1024 with --no-huge; with hugepages, reserve more, "
	       "e.g. dpdk-hugepages.py --setup 2G (package dpdk), or lower dpdk.mbufs)",
	       n, (unsigned)VD_DPDK_DATA_ROOM, rte_strerror(rte_errno));
	return -ENOMEM;
}

static int port_setup(struct vd_dpdk *d, uint16_t port, const struct rte_eth_dev_info *info)
{
	struct rte_eth_conf conf = {0};
	uint64_t rss = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info->flow_type_rss_offloads;
	uint16_t nrx = desc_count(d->cfg.rx_desc, VD_DPDK_RX_DESC);
	uint16_t ntx = desc_count(d->cfg.tx_desc, VD_DPDK_TX_DESC);
	int rc;

	d->rx_desc = nrx;
	if (d->n_workers > 1 && rss) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss;
	}
	/* IPv4 header and UDP checksums on TX when the port computes them (encap) */
	d->tx_ol = (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM) &
		   info->tx_offload_capa;
	conf.txmode.offloads = d->tx_ol;
	rc = rte_eth_dev_configure(port, (uint16_t)d->n_workers, (uint16_t)d->n_workers, &conf);
	if (rc < 0)
		goto fail;
	rc = rte_eth_dev_get_mtu(port, &d->mtu);
	if (rc < 0)
		goto fail;
	/* a fragment (frag.c) must fit one mbuf: never fragment to more than the data room */
	d->mtu = (uint16_t)RTE_MIN((unsigned)d->mtu,
				   VD_DPDK_DATA_ROOM - RTE_PKTMBUF_HEADROOM - RTE_ETHER_HDR_LEN);
	vd_log(VD_LOG_INFO, "dpdk: port %u: MTU %u, TX checksum offload: IPv4 %s, UDP %s", port,
	       d->mtu, d->tx_ol & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM ? "on" : "off",
	       d->tx_ol & RTE_ETH_TX_OFFLOAD_UDP_CKSUM ? "on" : "off");
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	if (rc == 0)
		vd_log(VD_LOG_INFO, "dpdk: port %u: %u RX / %u TX descriptors per queue", port, nrx,
		       ntx);
	if (rc < 0)
		goto fail;
	int socket = rte_eth_dev_socket_id(port);
	for (uint16_t q = 0; q < d->n_workers; q++) {
		rc = rte_eth_rx_queue_setup(port, q, nrx, (unsigned)socket, NULL, d->pool);
		if (rc < 0)
			goto fail;
		rc = rte_eth_tx_queue_setup(port, q, ntx, (unsigned)socket, NULL);
		if (rc < 0)
			goto fail;
	}
	/* NS go to solicited-node multicast groups: best effort, a vdev may not filter at all */
	rte_eth_allmulticast_enable(port);
	rc = rte_eth_dev_start(port);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	vd_log(VD_LOG_ERROR, "dpdk: port %u (%s): setup with %u queue pair(s) failed: %s", port,
	       info->driver_name, d->n_workers, rte_strerror(-rc));
	return rc;
}

static int lcores_init(struct vd_dpdk *d, uint16_t port, volatile int *stop)
{
	struct rte_ether_addr mac;
	uint32_t reply_cap = vd_route_published->cfg.limits.max_message_size + VD_DPDK_REPLY_SLACK;
	rte_eth_macaddr_get(port, &mac);
	for (unsigned i = 0; i < d->n_workers; i++) {
		struct vd_lcore *lc = rte_zmalloc("vd_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE);
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "vd_neigh_%u", i);
		d->replies[i] = rte_malloc("vd_reply", reply_cap, RTE_CACHE_LINE_SIZE);
		d->inboxes[i] =
			rte_ring_create_elem(name, sizeof(struct vd_neigh_update), VD_NEIGH_INBOX,
					     (int)rte_socket_id(), RING_F_SC_DEQ);
		d->lcores[i] = lc;
		if (!lc || !d->replies[i] || !d->inboxes[i]) {
			vd_log(VD_LOG_ERROR,
			       "dpdk: out of memory for worker %u state; give EAL "
			       "more memory (-m)",
			       i);
			return -ENOMEM;
		}
		lc->worker = i;
		lc->port = port;
		lc->queue = (uint16_t)i;
		lc->mac = mac;
		lc->pool = d->pool;
		lc->stop = stop;
		lc->inbox = d->inboxes[i];
		lc->inboxes = d->inboxes;
		lc->n_workers = d->n_workers;
		lc->retry_tsc = rte_get_tsc_hz() * VD_NEIGH_RETRY_MS / MS_PER_S;
		lc->scratch.worker = i;
		/* the per-source table is split over the lcores (RSS keeps a source on one) */
		lc->guard = vd_guard_new(vd_route_published->cfg.guard.sources / d->n_workers + 1);
		if (!lc->guard) {
			vd_log(VD_LOG_ERROR, "dpdk: out of memory for worker %u's source table", i);
			return -ENOMEM;
		}
		lc->scratch.guard = lc->guard;
		/* behind: half the RX ring filled. A driver that cannot count its ring gives no
		 * signal (full bursts alone do not tell a growing backlog from a busy steady state) */
		lc->behind_desc = rte_eth_rx_queue_count(port, (uint16_t)i) >= 0 ? d->rx_desc / 2 : 0;
		if (i == 0 && !lc->behind_desc)
			vd_log(VD_LOG_WARN, "dpdk: port %u cannot count its RX ring: overload shedding "
					    "(overload:) is off on this datapath", port);
		lc->tsc_per_ms = rte_get_tsc_hz() / MS_PER_S ? rte_get_tsc_hz() / MS_PER_S : 1;
		lc->scratch.reply = d->replies[i];
		lc->scratch.reply_cap = reply_cap;
		lc->tx_ol = d->tx_ol;
		lc->mtu = d->mtu;
		if (vd_frag_init(lc, (int)rte_socket_id()) < 0) {
			vd_log(VD_LOG_ERROR,
			       "dpdk: out of memory for worker %u's reassembly table (%u flows); "
			       "give EAL more memory (-m)",
			       i, (unsigned)VD_FRAG_MAX_FLOWS);
			return -ENOMEM;
		}
	}
	return 0;
}

static void wait_link(uint16_t port)
{
	struct rte_eth_link link = {0};
	for (int ms = 0; ms < VD_DPDK_LINK_WAIT_MS; ms += 100) {
		rte_eth_link_get_nowait(port, &link);
		if (link.link_status == RTE_ETH_LINK_UP)
			return;
		rte_delay_ms(100);
	}
	vd_log(VD_LOG_WARN, "dpdk: port %u link still down after %d ms; running anyway", port,
	       VD_DPDK_LINK_WAIT_MS);
}

/* Worker i > 0 on the i-th worker lcore; the main lcore runs worker 0 (vd_dpdk_run). */
static int launch(struct vd_dpdk *d)
{
	unsigned i = 1, id;
	RTE_LCORE_FOREACH_WORKER(id)
	{
		if (i == d->n_workers)
			break;
		int rc = rte_eal_remote_launch(vd_dpdk_worker_main, d->lcores[i++], id);
		if (rc < 0) {
			vd_log(VD_LOG_ERROR, "dpdk: cannot launch worker on lcore %u: %s", id,
			       rte_strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* The data port: the one named in the config, else the first that is not the exception
 * port. */
static int pick_port(const struct vd_cfg_dpdk *cfg, uint16_t *port)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	uint16_t p;
	if (cfg->port[0]) {
		if (rte_eth_dev_get_port_by_name(cfg->port, port) == 0)
			return 0;
		vd_log(VD_LOG_ERROR,
		       "dpdk: no port named %s: check dpdk.port against the --vdev/PCI devices of "
		       "dpdk.eal (e.g. port: net_tap0 with --vdev=net_tap0,iface=vd0)",
		       cfg->port);
		return -ENODEV;
	}
	RTE_ETH_FOREACH_DEV(p)
	{
		if (cfg->exception[0] && rte_eth_dev_get_name_by_port(p, name) == 0 &&
		    strcmp(name, cfg->exception) == 0)
			continue;
		*port = p;
		return 0;
	}
	vd_log(VD_LOG_ERROR, "dpdk: no port: bind a NIC to vfio-pci (dpdk-devbind.py) "
			     "or pass a virtual device, e.g. --vdev=net_tap0,iface=vd0");
	return -ENODEV;
}

static int start_port(struct vd_dpdk *d, uint16_t *port, volatile int *stop)
{
	struct rte_eth_dev_info info;
	const struct vd_route *r = vd_route_published;
	int rc = check_listeners(&r->px);
	if (rc == 0)
		rc = pick_port(&d->cfg, port);
	if (rc)
		return rc;
	rc = rte_eth_dev_info_get(*port, &info);
	if (rc < 0) {
		vd_log(VD_LOG_ERROR, "dpdk: port %u: no device info: %s", *port, rte_strerror(-rc));
		return rc;
	}
	d->n_workers = pick_workers(r->cfg.workers, &info);
	rc = create_pool(d);
	if (rc == 0)
		rc = port_setup(d, *port, &info);
	if (rc == 0)
		rc = lcores_init(d, *port, stop);
	if (rc == 0) /* the kernel's side of the port (dpdk.exception), if any */
		rc = vd_dpdk_exc_open(d->cfg.exception, *port, d->pool, d->lcores, d->n_workers,
				      &d->exc_port);
	if (rc == 0)
		rc = vd_dpdk_probe_init(d->pool); /* health probes' rings (probe.c) */
	if (rc)
		return rc;
	wait_link(*port);
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &d->lcores[0]->mac);
	vd_log(VD_LOG_INFO,
	       "ready: dpdk port %u (%s) mac %s, %u worker(s), %u listener(s) "
	       "(first %s:%u), tsc %" PRIu64 " Hz",
	       *port, info.driver_name, mac, d->n_workers, r->px.n_listeners,
	       r->px.listeners[0].host, r->px.listeners[0].port, rte_get_tsc_hz());
	return 0;
}

void vd_dpdk_close(struct vd_dpdk *d)
{
	if (rte_eth_dev_is_valid_port(d->port)) { /* also after a failed setup */
		rte_eth_dev_stop(d->port);
		rte_eth_dev_close(d->port);
	}
	vd_dpdk_exc_close(d->exc_port); /* its queues' mbufs go back before the pool goes */
	for (unsigned i = 0; i < VD_CFG_MAX_WORKERS; i++) {
		if (d->lcores[i]) {
			vd_frag_fini(d->lcores[i]); /* its mbufs go back before the pool goes */
			vd_guard_free(d->lcores[i]->guard);
		}
		rte_free(d->lcores[i]);
		rte_free(d->replies[i]);
		rte_ring_free(d->inboxes[i]);
	}
	vd_dpdk_probe_fini(); /* the mbufs left in its rings go back before the pool goes */
	rte_mempool_free(d->pool);
	rte_eal_cleanup();
}

int vd_dpdk_open(const struct vd_cfg_dpdk *cfg, int eal_argc, char **eal_argv, struct vd_dpdk **out)
{
	static struct vd_dpdk d; /* one per process: EAL initialises once */

	d.cfg = *cfg;
	d.port = RTE_MAX_ETHPORTS;
	d.exc_port = RTE_MAX_ETHPORTS;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		int e = rte_errno;
		vd_log(VD_LOG_ERROR,
		       "dpdk: EAL init failed: %s; check the EAL arguments (dpdk.eal in the config, "
		       "or after --): try --no-huge -m 1024 without hugepages, --no-pci without a "
		       "bound NIC, -l with lcores that exist, a --file-prefix of your own next to "
		       "another DPDK process, and run as root",
		       rte_strerror(e));
		return e > 0 ? -e : -EINVAL;
	}
	int rc = start_port(&d, &d.port, &d.stop);
	if (rc) {
		vd_dpdk_close(&d);
		return rc;
	}
	*out = &d;
	return 0;
}

/* ---- the control plane's view (include/viaduct/dpview.h) ---- */

/* How long the control loop may sleep between two view_poll calls. */
#define VD_DPDK_CONTROL_POLL_MS 10

static unsigned view_workers(const void *dp)
{
	return ((const struct vd_dpdk *)dp)->n_workers;
}

static const struct vd_stats *view_worker_stats(const void *dp, unsigned i)
{
	return &((const struct vd_dpdk *)dp)->lcores[i]->stats;
}

static const struct vd_guard *view_worker_guard(const void *dp, unsigned i)
{
	return ((const struct vd_dpdk *)dp)->lcores[i]->guard;
}

static uint64_t view_worker_rounds(const void *dp, unsigned i)
{
	return __atomic_load_n(&((const struct vd_dpdk *)dp)->lcores[i]->rounds, __ATOMIC_RELAXED);
}

static void view_print(const void *dp, FILE *f)
{
	const struct vd_dpdk *d = dp;
	vd_dpdk_stats_print(f, d->lcores, d->n_workers);
	vd_dpdk_probe_print(f);
}

static void view_metrics(const void *dp, struct vd_buf *b)
{
	const struct vd_dpdk *d = dp;
	vd_dpdk_stats_metrics(b, d->lcores, d->n_workers);
}

/*
 * Called by the control loop at least every VD_DPDK_CONTROL_POLL_MS (control thread): the
 * place for control-plane work that comes through rings rather than file descriptors
 * (health probe replies, the exception path).
 */
static void view_poll(void *dp, uint64_t now_ms)
{
	(void)dp;
	(void)now_ms;
}

static void view_member_events(void *dp, void (*fn)(void *arg, const struct vd_member_event *e),
			       void *arg)
{
	struct vd_dpdk *d = dp;
	for (unsigned i = 0; i < d->n_workers; i++)
		vd_mev_drain(&d->lcores[i]->events, fn, arg);
}

static uint64_t view_member_events_lost(const void *dp)
{
	const struct vd_dpdk *d = dp;
	uint64_t n = 0;
	for (unsigned i = 0; i < d->n_workers; i++)
		n += vd_mev_lost(&d->lcores[i]->events);
	return n;
}

unsigned vd_dpdk_workers(const struct vd_dpdk *d)
{
	return d->n_workers;
}

void vd_dpdk_set_streams(struct vd_dpdk *d, struct vd_dp *streams)
{
	for (unsigned i = 0; i < d->n_workers; i++)
		d->lcores[i]->streams = streams;
}

void vd_dpdk_view(struct vd_dpdk *d, struct vd_dp_view *v)
{
	*v = (struct vd_dp_view){ .dp = d,
				  .name = "dpdk",
				  .workers = view_workers,
				  .worker_stats = view_worker_stats,
				  .worker_guard = view_worker_guard,
				  .worker_rounds = view_worker_rounds,
				  .print = view_print,
				  .metrics = view_metrics,
				  .poll = view_poll,
				  .poll_ms = VD_DPDK_CONTROL_POLL_MS,
				  .member_events = view_member_events,
				  .member_events_fd = -1,
				  .member_events_lost = view_member_events_lost };
	if (vd_dpdk_probe_ready()) { /* probe.c: health probes through worker 0 */
		v->probe_send = vd_dpdk_probe_send;
		v->probe_recv = vd_dpdk_probe_recv;
		v->probe_port = vd_dpdk_probe_port();
	}
}

/* ---- running: workers on the lcores, the control loop on a control thread ---- */

struct control_arg {
	struct vd_dpdk *d;
	int (*fn)(void *arg);
	void *arg;
	int rc;
};

/*
 * Where the control loop runs: on a DPDK control thread, not on an lcore. Every lcore, the
 * main one included, polls a queue pair (so `-l 0` is one worker, `-l 0-3` four, as
 * before), and the control loop sleeps in poll() most of the time: it needs no core of its
 * own. rte_ctrl_thread_create gives it the CPUs EAL started with minus the lcores' (the
 * main lcore's CPU when none is left, where worker 0 yields it while idle). It is not an RCU
 * reader: it publishes snapshots and waits for the lcores, which are QSBR readers.
 * When the loop returns (SIGTERM/SIGINT) it tells every worker to stop.
 */
static void *control_main(void *p)
{
	struct control_arg *c = p;
	c->rc = c->fn(c->arg);
	__atomic_store_n(&c->d->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

int vd_dpdk_run(struct vd_dpdk *d, int (*control)(void *arg), void *arg)
{
	struct control_arg c = { .d = d, .fn = control, .arg = arg };
	pthread_t tid;
	int rc = launch(d);
	if (rc == 0) {
		rc = rte_ctrl_thread_create(&tid, "vd-control", NULL, control_main, &c);
		if (rc)
			vd_log(VD_LOG_ERROR, "dpdk: cannot create the control thread: %s",
			       strerror(rc < 0 ? -rc : rc));
	}
	if (rc) {
		__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
		rte_eal_mp_wait_lcore();
		return rc < 0 ? rc : -rc;
	}
	vd_dpdk_worker_main(d->lcores[0]); /* until control_main sets stop */
	rte_eal_mp_wait_lcore();
	pthread_join(tid, NULL);
	return c.rc;
}
