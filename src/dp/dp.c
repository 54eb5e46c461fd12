/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Setup and teardown of the kernel-socket datapath: per worker, one SO_REUSEPORT UDP socket
 * per listener and the batch buffers. Sockets are opened before any thread starts, so a bind
 * error (address in use, no such address) stops the start-up with a clear message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include "dp_internal.h"
#include "viaduct/dpview.h"

static int open_socket(const union vd_sockaddr *a, char *err, size_t errlen)
{
	int one = 1, size = VD_DP_SOCKBUF;
	char where[INET6_ADDRSTRLEN + 8];
	int fd = socket(a->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	/* a v6 listener must not also take the v4 port of a v4 listener */
	if (a->sa.sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	/* larger buffers absorb bursts; the kernel caps them at rmem_max/wmem_max */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, &a->sa, vd_sockaddr_len(a)))
		goto fail;
	return fd;
fail:;
	int e = errno;
	vd_sockaddr_text(a, where, sizeof(where));
	snprintf(err, errlen, "listener %s: %s", where, strerror(e));
	if (fd >= 0)
		close(fd);
	return -e;
}

/* The i-th CPU (wrapping) of the CPUs this process may use: pinning respects taskset,
 * cpusets and containers instead of assuming CPUs 0..N-1. */
static int allowed_cpu(unsigned i)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) == 0)
		return (int)i;
	unsigned k = i % (unsigned)CPU_COUNT(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set) && k-- == 0)
			return c;
	return (int)i;
}

static int worker_init(struct vd_worker *w, const struct vd_config *cfg,
		       const struct vd_proxy *px, char *err, size_t errlen)
{
	w->cpu = allowed_cpu(w->id);
	w->batch = cfg->batch;
	w->max_message = cfg->limits.max_message_size;
	w->buf_size = VD_PROXY_HEADROOM + w->max_message;
	/* a reply copies a subset of the request's header lines, plus a few of its own */
	w->scratch.reply_cap = w->max_message + 512;
	w->scratch.worker = w->id;
	w->bufs = malloc((size_t)w->batch * w->buf_size);
	w->replies = malloc((size_t)w->batch * w->scratch.reply_cap);
	w->rx = calloc(w->batch, sizeof(*w->rx));
	w->rx_iov = calloc(w->batch, sizeof(*w->rx_iov));
	w->rx_src = calloc(w->batch, sizeof(*w->rx_src));
	w->res = calloc(w->batch, sizeof(*w->res));
	w->pkt = calloc(w->batch, sizeof(*w->pkt));
	w->tx = calloc(w->batch, sizeof(*w->tx));
	w->tx_iov = calloc(w->batch, sizeof(*w->tx_iov));
	if (!w->bufs || !w->replies || !w->rx || !w->rx_iov || !w->rx_src || !w->res ||
	    !w->pkt || !w->tx || !w->tx_iov) {
		snprintf(err, errlen, "worker %u: out of memory", w->id);
		return -ENOMEM;
	}
	for (unsigned j = 0; j < px->n_listeners; j++) {
		int fd = open_socket(&px->listeners[j].bind, err, errlen);
		if (fd < 0)
			return fd;
		w->fds[w->n_fds++] = fd;
	}
	return 0;
}

static void worker_fini(struct vd_worker *w)
{
	for (unsigned j = 0; j < w->n_fds; j++)
		close(w->fds[j]);
	free(w->bufs);
	free(w->replies);
	free(w->rx);
	free(w->rx_iov);
	free(w->rx_src);
	free(w->res);
	free(w->pkt);
	free(w->tx);
	free(w->tx_iov);
}

struct vd_dp *vd_dp_create(const struct vd_config *cfg, const struct vd_proxy *px, char *err,
			   size_t errlen)
{
	struct vd_dp *dp = calloc(1, sizeof(*dp));
	if (!dp)
		goto oom;
	dp->n_workers = cfg->workers;
	/* aligned: each worker's counters start on their own cache line */
	dp->workers = aligned_alloc(64, sizeof(*dp->workers) * dp->n_workers);
	if (!dp->workers)
		goto oom;
	memset(dp->workers, 0, sizeof(*dp->workers) * dp->n_workers);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		struct vd_worker *w = &dp->workers[i];
		w->id = i;
		w->stop = &dp->stop;
		if (worker_init(w, cfg, px, err, errlen) < 0) {
			vd_dp_destroy(dp);
			return NULL;
		}
	}
	return dp;
oom:
	snprintf(err, errlen, "out of memory");
	free(dp);
	return NULL;
}

int vd_dp_start(struct vd_dp *dp)
{
	for (unsigned i = 0; i < dp->n_workers; i++) {
		struct vd_worker *w = &dp->workers[i];
		int rc = pthread_create(&w->thread, NULL, vd_worker_main, w);
		if (rc)
			return -rc;
		w->started = true;
	}
	return 0;
}

void vd_dp_stop(struct vd_dp *dp)
{
	__atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		if (dp->workers[i].started)
			pthread_join(dp->workers[i].thread, NULL);
		dp->workers[i].started = false;
	}
}

void vd_dp_destroy(struct vd_dp *dp)
{
	if (!dp)
		return;
	vd_dp_stop(dp);
	for (unsigned i = 0; dp->workers && i < dp->n_workers; i++)
		worker_fini(&dp->workers[i]);
	free(dp->workers);
	free(dp);
}

uint64_t vd_dp_kernel_drops(const struct vd_dp *dp)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < dp->n_workers; i++)
		for (unsigned j = 0; j < dp->workers[i].n_fds; j++) {
			uint32_t mem[SK_MEMINFO_VARS];
			socklen_t len = sizeof(mem);
			if (getsockopt(dp->workers[i].fds[j], SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
			    len >= sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1))
				total += mem[SK_MEMINFO_DROPS];
		}
	return total;
}

unsigned vd_dp_workers(const struct vd_dp *dp)
{
	return dp->n_workers;
}

const struct vd_stats *vd_dp_worker_stats(const struct vd_dp *dp, unsigned i)
{
	return &dp->workers[i].stats;
}

/* The control plane's view (include/viaduct/dpview.h): the functions above, typed for it. */
static unsigned view_workers(const void *dp)
{
	return vd_dp_workers(dp);
}

static const struct vd_stats *view_worker_stats(const void *dp, unsigned i)
{
	return vd_dp_worker_stats(dp, i);
}

static uint64_t view_kernel_drops(const void *dp)
{
	return vd_dp_kernel_drops(dp);
}

void vd_dp_view_init(struct vd_dp *dp, struct vd_dp_view *v)
{
	*v = (struct vd_dp_view){ .dp = dp,
				  .name = "kernel",
				  .workers = view_workers,
				  .worker_stats = view_worker_stats,
				  .kernel_drops = view_kernel_drops };
}
