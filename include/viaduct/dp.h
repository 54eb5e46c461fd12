/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel-socket datapath: the embedded default that needs no special hardware.
 *
 * N worker threads, each pinned to a core, each with its own SO_REUSEPORT UDP socket per
 * listener (the kernel spreads flows over them), receiving with recvmmsg and sending with
 * sendmmsg in batches around vd_proxy_process(). Per batch: one poll, one recvmmsg per ready
 * socket, one sendmmsg per destination socket; nothing per message but the SIP work.
 */
#ifndef VIADUCT_DP_H
#define VIADUCT_DP_H

#include <stdbool.h>

#include "viaduct/config.h"
#include "viaduct/proxy.h"
#include "viaduct/stats.h"

struct vd_dp;

/**
 * Open every worker's sockets (bind errors are reported here, before any thread starts) and
 * allocate their buffers. Returns NULL with a message in err.
 */
struct vd_dp *vd_dp_create(const struct vd_config *cfg, const struct vd_proxy *px, char *err,
			   size_t errlen);
/** Start the worker threads. Returns 0 or a negative errno code. */
int vd_dp_start(struct vd_dp *dp);
/** Ask workers to stop and join them (they notice within one poll timeout). */
void vd_dp_stop(struct vd_dp *dp);
void vd_dp_destroy(struct vd_dp *dp);

unsigned vd_dp_workers(const struct vd_dp *dp);

/* How a kernel datapath is made when it is not the only one (beside DPDK). */
struct vd_dp_options {
	unsigned workers;      /* worker threads (0: 1) */
	bool pin;              /* pin worker i to the i-th cpu this process may use */
	bool freebind;         /* listeners bound before their address exists on an interface */
	unsigned scratch_base; /* worker i uses the snapshot's rules scratch scratch_base + i */
	unsigned external;     /* producers outside it that pass messages (vd_dp_submit) */
};

struct vd_dp *vd_dp_create_with(const struct vd_config *cfg, const struct vd_proxy *px,
				const struct vd_dp_options *o, char *err, size_t errlen);

/** Does this outcome leave over a connection (a response back over its request's, or a
 * request to a TCP/TLS member)? Then a datagram-only datapath passes it to vd_dp_submit(). */
static inline bool vd_dp_stream_bound(const struct vd_result *res)
{
	return res->verdict == VD_VERDICT_FORWARD && (res->conn || res->transport != VD_TP_UDP);
}

/**
 * From external producer `producer` (< options.external; one thread per producer, e.g. a
 * DPDK lcore): have the worker owning the connection write `len` bytes (copied) as `res`
 * says. 0, or -1 when that worker's ring is full (the caller counts the drop). Lock-free.
 */
int vd_dp_submit(struct vd_dp *dp, unsigned producer, const struct vd_result *res,
		 const char *p, uint32_t len);
/** Wake the workers `producer` submitted to since its last flush (once per batch). */
void vd_dp_submit_flush(struct vd_dp *dp, unsigned producer);
/** Does the config need connections (a TCP/TLS listener or member, or udp_max_bytes)? */
bool vd_dp_config_has_streams(const struct vd_config *cfg);

/** Datagrams the kernel dropped at the workers' sockets (receive buffer full): loss that
 * never reached viaduct, so it is outside rx = tx + replies + drops. Control plane. */
uint64_t vd_dp_kernel_drops(const struct vd_dp *dp);
const struct vd_stats *vd_dp_worker_stats(const struct vd_dp *dp, unsigned i);

struct vd_dp_view;
/** Fill v with the control plane's view of dp (include/viaduct/dpview.h). */
void vd_dp_view_init(struct vd_dp *dp, struct vd_dp_view *v);

#endif
