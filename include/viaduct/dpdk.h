/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK datapath: the fast path, polling one Ethernet port with one RX/TX queue pair per
 * worker lcore and running the same SIP core (vd_proxy_process) as the kernel-socket
 * datapath. It owns L2/L3/L4 itself: it answers ARP and IPv6 neighbour solicitations for the
 * listeners' addresses, resolves next hops with a per-lcore neighbour cache, answers ICMP and
 * ICMPv6 echo, and rewrites Ethernet/IP/UDP headers around the SIP payload.
 *
 * `viaduct --dpdk` (src/main.c) drives it: vd_dpdk_open, vd_dpdk_view for the control plane,
 * vd_dpdk_run with the control loop (reload, admin API, health) on a control thread, then
 * vd_dpdk_close. Only dpdk/ includes rte_*.h: this header is plain C.
 */
#ifndef VIADUCT_DPDK_H
#define VIADUCT_DPDK_H

#include "viaduct/config.h"
#include "viaduct/dpview.h"

struct vd_dpdk;

/**
 * Initialise EAL with eal_argv (argv[0] first; EAL may reorder it, so pass a copy), then the
 * mbuf pool, the data port (cfg->port by device name, else the first port that is not
 * cfg->exception), one RX/TX queue pair per worker and the per-lcore state. cfg is copied.
 *
 * Preconditions: the first routing snapshot is published (vd_route_publish): the listeners
 * (our IP addresses and UDP ports on the port) and the worker count come from it, and every
 * listener must have a concrete address (a wildcard cannot answer ARP). The signals the
 * control thread takes must already be blocked: EAL's threads inherit the mask.
 * Logs "ready: dpdk port N (driver) mac M, ..." when the port is started.
 *
 * Returns 0 with *out set, or a negative errno code after logging what failed and what to
 * try (EAL init, no port, mbuf pool, port or queue setup); nothing is left to close then.
 * Once per process (EAL initialises once).
 */
int vd_dpdk_open(const struct vd_cfg_dpdk *cfg, int eal_argc, char **eal_argv, struct vd_dpdk **out);

/** Fill v with the control plane's view of d (workers, counters, the poll hook). */
void vd_dpdk_view(struct vd_dpdk *d, struct vd_dp_view *v);

/**
 * Run the workers on their lcores (the calling thread, the main lcore, runs worker 0) and
 * control(arg) on a DPDK control thread. When control returns, the workers stop; returns
 * control's return value once every worker has returned, or a negative errno code if a
 * worker or the control thread could not be started (everything started is stopped).
 */
int vd_dpdk_run(struct vd_dpdk *d, int (*control)(void *arg), void *arg);

/** Worker lcores of d. */
unsigned vd_dpdk_workers(const struct vd_dpdk *d);

/**
 * TCP and TLS beside DPDK: the kernel datapath `streams` serves the stream listeners (their
 * traffic reaches the kernel through the exception path) and owns every connection; the
 * lcores pass it what must leave over one (a response to a request that came over TCP/TLS, a
 * request to a TCP/TLS member) with vd_dp_submit, producer = the lcore's worker index. Set
 * before vd_dpdk_run.
 */
struct vd_dp;
void vd_dpdk_set_streams(struct vd_dpdk *d, struct vd_dp *streams);

/** Stop and close the port, free the datapath's memory, rte_eal_cleanup. Workers stopped. */
void vd_dpdk_close(struct vd_dpdk *d);

/*
 * Health probes through the datapath (dpdk/probe.c), for the control thread's prober
 * (struct vd_health_transport): our listener addresses exist only inside DPDK. Probes leave
 * from a listener address and the probe port (vd_dpdk_probe_port(), a UDP port no listener
 * may use), through worker 0; replies to that port come back through a ring. Control thread
 * only, between vd_dpdk_open and vd_dpdk_close. `dp` is unused (one datapath per process): the
 * signatures fit struct vd_dp_view.
 */
union vd_sockaddr;
typedef void (*vd_dpdk_probe_fn)(void *arg, const void *buf, size_t len,
				 const union vd_sockaddr *src);
/** Whether probes can go through the datapath (rings set up, probe port free). */
bool vd_dpdk_probe_ready(void);
/** The UDP port probes leave from and replies come back to (host order). */
uint16_t vd_dpdk_probe_port(void);
/**
 * Queue one datagram from src (one of our listener addresses, port vd_dpdk_probe_port()) to
 * dst for worker 0. Returns 0, or -ENODEV (not ready), -EINVAL (too large, mixed families),
 * -ENOMEM (no mbuf), -ENOBUFS (ring full). Whatever happens later (neighbour unresolved,
 * source gone in a reload) is a counted drop: the probe times out.
 */
int vd_dpdk_probe_send(void *dp, const void *buf, size_t len, const union vd_sockaddr *src,
		       const union vd_sockaddr *dst);
/** Calls fn for up to max datagrams that arrived at the probe port (buf valid during the
 * call), frees them; returns how many. Never blocks. */
unsigned vd_dpdk_probe_recv(void *dp, vd_dpdk_probe_fn fn, void *arg, unsigned max);

#endif
