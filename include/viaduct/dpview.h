/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the control plane reads from a datapath, whichever it is (kernel sockets in src/dp,
 * DPDK in dpdk/): how many workers, each worker's SIP counters (struct vd_stats), and the
 * datapath's own extras for the printed stats and /metrics. The control thread and the admin
 * thread only ever see a datapath through this view, so neither links against DPDK.
 *
 * Every callback is control plane: it may run on the control thread or on the admin
 * (libmicrohttpd) thread while the workers run, so it reads live counters with relaxed loads
 * and must not block for long. Optional callbacks may be NULL.
 */
#ifndef VIADUCT_DPVIEW_H
#define VIADUCT_DPVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "viaduct/stats.h"

struct vd_buf;
struct vd_guard;
union vd_sockaddr;

struct vd_dp_view {
	void *dp;	   /* the datapath, passed back to every callback */
	const char *name;  /* "kernel" or "dpdk": for messages */
	unsigned (*workers)(const void *dp);
	/** Worker i's live counters (i < workers()); valid until the datapath is destroyed. */
	const struct vd_stats *(*worker_stats)(const void *dp, unsigned i);
	/**
	 * Optional: worker i's loop rounds, bumped once per round of its loop, idle rounds
	 * included (relaxed load). The systemd watchdog pings only while every one moves
	 * (notify.h).
	 */
	uint64_t (*worker_rounds)(const void *dp, unsigned i);
	/** Optional: worker i's admission state (its hot sources for /status), or NULL. */
	const struct vd_guard *(*worker_guard)(const void *dp, unsigned i);
	/** Optional: datagrams the kernel dropped at our sockets (kernel datapath only). */
	uint64_t (*kernel_drops)(const void *dp);
	/** Optional: extra "stats ..." lines (SIGUSR1, exit), after the SIP counters. */
	void (*print)(const void *dp, FILE *f);
	/** Optional: extra Prometheus families for /metrics (vd_prom_family/vd_prom_sample). */
	void (*metrics)(const void *dp, struct vd_buf *b);
	/**
	 * Optional: work the control loop must do for the datapath at least every poll_ms
	 * milliseconds (e.g. DPDK: health probe replies coming back through rings, which have no
	 * file descriptor to wait on). Called once per control loop iteration, control thread.
	 */
	void (*poll)(void *dp, uint64_t now_ms);
	unsigned poll_ms;
	/**
	 * Optional: health probes through the datapath, when our listener addresses exist only
	 * there (DPDK). probe_send queues one datagram from src (a listener address, port
	 * probe_port) to dst: 0 or a negative errno code; its signature is struct
	 * vd_health_transport's send with dp as arg. probe_recv calls fn for at most max
	 * datagrams that arrived at probe_port (buf valid during the call) and returns how many.
	 * Control thread only; probe_recv runs every iteration (see poll_ms).
	 */
	int (*probe_send)(void *dp, const void *buf, size_t len, const union vd_sockaddr *src,
			  const union vd_sockaddr *dst);
	unsigned (*probe_recv)(void *dp,
			       void (*fn)(void *arg, const void *buf, size_t len,
					  const union vd_sockaddr *src),
			       void *arg, unsigned max);
	uint16_t probe_port;
	/**
	 * Optional: the connections to members (TCP, TLS) that failed since the last call, fn
	 * once per failure (address and enum vd_transport). Control thread, every loop
	 * iteration; the health prober counts them as failed probes.
	 */
	void (*member_failures)(void *dp,
				void (*fn)(void *arg, const union vd_sockaddr *a, uint8_t transport),
				void *arg);
	/** With member_failures: an eventfd the datapath writes when it has some (the control
	 * loop polls it and reads it empty), -1 if none. */
	int member_failures_fd;
};

#endif
