/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal state of the kernel-socket datapath, shared by its setup (dp.c) and the worker
 * loop (worker.c). Not a public header.
 */
#ifndef VD_DP_INTERNAL_H
#define VD_DP_INTERNAL_H

#include <pthread.h>
#include <sys/socket.h>

#include "viaduct/dp.h"

#define VD_DP_POLL_MS 100     /* how often an idle worker looks at the stop flag */
#define VD_DP_MAX_BURSTS 8    /* batches read from one socket before polling again */
#define VD_DP_SOCKBUF (4 << 20) /* socket buffer size asked for (capped by rmem_max) */

/* One worker: its counters first (own cache lines), then its sockets and batch buffers. */
struct vd_worker {
	struct vd_stats stats;
	const struct vd_proxy *px; /* the snapshot of the batch in progress, NULL between */
	const int *stop;
	unsigned id;
	int cpu;
	pthread_t thread;
	bool started;
	unsigned n_fds; /* one per listener, same index as px->listeners */
	int fds[VD_CFG_MAX_LISTENERS];
	unsigned batch;
	uint32_t buf_size;     /* headroom + max message */
	uint32_t max_message;
	char *bufs;            /* batch receive buffers */
	struct vd_proxy_scratch scratch;
	char *replies;         /* batch reply buffers, scratch.reply_cap each */
	struct mmsghdr *rx;
	struct iovec *rx_iov;
	union vd_sockaddr *rx_src;
	struct vd_result *res;
	struct vd_pktbuf *pkt;
	struct mmsghdr *tx;
	struct iovec *tx_iov;
};

struct vd_dp {
	int stop;
	unsigned n_workers;
	struct vd_worker *workers;
};

void *vd_worker_main(void *arg);

#endif
