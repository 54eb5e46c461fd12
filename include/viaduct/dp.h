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

/** Datagrams the kernel dropped at the workers' sockets (receive buffer full): loss that
 * never reached viaduct, so it is outside rx = tx + replies + drops. Control plane. */
uint64_t vd_dp_kernel_drops(const struct vd_dp *dp);
const struct vd_stats *vd_dp_worker_stats(const struct vd_dp *dp, unsigned i);

struct vd_dp_view;
/** Fill v with the control plane's view of dp (include/viaduct/dpview.h). */
void vd_dp_view_init(struct vd_dp *dp, struct vd_dp_view *v);

#endif
