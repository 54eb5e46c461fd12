/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Setup and teardown of the kernel-socket datapath: per worker, one SO_REUSEPORT socket per
 * listener (UDP, or a TCP listening socket: the kernel spreads connections over the workers),
 * an epoll set, an eventfd for hand-offs, the connection table and the batch buffers. Sockets
 * are opened before any thread starts, so a bind error (address in use, no such address)
 * stops the start-up with a clear message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include <sys/resource.h>

#include "viaduct/metrics.h"
#include "viaduct/log.h"

#include "dp_internal.h"
#include "viaduct/dpview.h"

#define LISTEN_BACKLOG 4096

static int open_socket(const union vd_sockaddr *a, bool tcp, bool freebind, char *err,
		       size_t errlen)
{
	int one = 1, size = VD_DP_SOCKBUF;
	char where[INET6_ADDRSTRLEN + 8];
	int fd = tcp ? socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
		     : socket(a->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	/* a v6 listener must not also take the v4 port of a v4 listener */
	if (a->sa.sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (freebind && setsockopt(fd, a->sa.sa_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
				   a->sa.sa_family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, &one,
				   sizeof(one)))
		goto fail;
	/* larger buffers absorb bursts; the kernel caps them at rmem_max/wmem_max */
	if (!tcp) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	}
	if (bind(fd, &a->sa, vd_sockaddr_len(a)))
		goto fail;
	if (tcp && listen(fd, LISTEN_BACKLOG))
		goto fail;
	return fd;
fail:;
	int e = errno;
	vd_sockaddr_text(a, where, sizeof(where));
	snprintf(err, errlen, "listener %s/%s: %s", where, tcp ? "tcp" : "udp", strerror(e));
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
	w->cpu = w->dp->pin ? allowed_cpu(w->id) : -1;
	w->batch = cfg->batch;
	w->max_message = cfg->limits.max_message_size;
	w->buf_size = VD_PROXY_HEADROOM + w->max_message;
	/* a reply copies a subset of the request's header lines, plus a few of its own */
	w->scratch.reply_cap = w->max_message + 512;
	w->scratch.worker = w->dp->scratch_base + w->id;
	/* the per-source table is split over the workers (a source's datagrams mostly reach one:
	 * SO_REUSEPORT hashes the 4-tuple); read once, at start */
	w->guard = vd_guard_new(cfg->guard.sources / w->dp->n_workers + 1);
	w->scratch.guard = w->guard;
	w->bufs = malloc((size_t)w->batch * w->buf_size);
	w->replies = malloc((size_t)w->batch * w->scratch.reply_cap);
	w->rx = calloc(w->batch, sizeof(*w->rx));
	w->rx_iov = calloc(w->batch, sizeof(*w->rx_iov));
	w->rx_src = calloc(w->batch, sizeof(*w->rx_src));
	w->res = calloc(w->batch, sizeof(*w->res));
	w->pkt = calloc(w->batch, sizeof(*w->pkt));
	w->tx = calloc(w->batch, sizeof(*w->tx));
	w->tx_iov = calloc(w->batch, sizeof(*w->tx_iov));
	w->slot_conn = calloc(w->batch, sizeof(*w->slot_conn));
	w->slot_listener = calloc(w->batch, sizeof(*w->slot_listener));
	w->pend_len = calloc(w->batch, sizeof(*w->pend_len));
	w->pend_kind = calloc(w->batch, sizeof(*w->pend_kind));
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!w->guard || !w->bufs || !w->replies || !w->rx || !w->rx_iov || !w->rx_src || !w->res ||
	    !w->pkt || !w->tx || !w->tx_iov || !w->slot_conn || !w->slot_listener ||
	    !w->pend_len || !w->pend_kind || w->epfd < 0 || w->evfd < 0 ||
	    vd_conns_init(w, cfg) || vd_capture_init(w, cfg, px)) {
		snprintf(err, errlen, "worker %u: out of memory", w->id);
		return -ENOMEM;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = vd_ev(VD_EV_WAKE, 0) };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev))
		return -errno;
	for (unsigned j = 0; j < px->n_listeners; j++) {
		bool tcp = px->listeners[j].transport != VD_TP_UDP;
		int fd = open_socket(&px->listeners[j].bind, tcp, w->dp->freebind, err, errlen);
		if (fd < 0)
			return fd;
		w->fds[j] = tcp ? -1 : fd;
		w->lfds[j] = tcp ? fd : -1;
		w->n_fds = j + 1;
		ev = (struct epoll_event){ .events = EPOLLIN,
					   .data.u64 = vd_ev(tcp ? VD_EV_LISTEN : VD_EV_UDP, j) };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev))
			return -errno;
	}
	return 0;
}

static void worker_fini(struct vd_worker *w)
{
	vd_conns_fini(w);
	vd_capture_fini(w);
	for (unsigned j = 0; j < w->n_fds; j++) {
		if (w->fds[j] >= 0)
			close(w->fds[j]);
		if (w->lfds[j] >= 0)
			close(w->lfds[j]);
	}
	if (w->epfd > 0)
		close(w->epfd);
	if (w->evfd > 0)
		close(w->evfd);
	free(w->slot_conn);
	free(w->slot_listener);
	free(w->pend_len);
	free(w->pend_kind);
	vd_guard_free(w->guard);
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

/* Every connection is a file descriptor: the soft limit goes up to the hard one (1,024 by
 * default would cap TCP far below tcp.max_connections), and a hard limit too low is said. */
static void raise_nofile(const struct vd_config *cfg, bool tcp)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r))
		return;
	rlim_t need = (rlim_t)cfg->tcp.max_connections + 64u * cfg->workers + 256u;
	if (tcp && r.rlim_max < need) { /* above the hard limit: only with CAP_SYS_RESOURCE */
		struct rlimit up = { need, need };
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			r = up;
	}
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
	if (tcp && r.rlim_cur < need)
		vd_log(VD_LOG_WARN, "open files limited to %llu: fewer TCP connections than "
				    "tcp.max_connections (%u) can be held; raise LimitNOFILE / ulimit -n",
		       (unsigned long long)r.rlim_cur, cfg->tcp.max_connections);
}

struct vd_dp *vd_dp_create(const struct vd_config *cfg, const struct vd_proxy *px, char *err,
			   size_t errlen)
{
	const struct vd_dp_options o = { .workers = cfg->workers, .pin = true };
	return vd_dp_create_with(cfg, px, &o, err, errlen);
}

struct vd_dp *vd_dp_create_with(const struct vd_config *cfg, const struct vd_proxy *px,
				const struct vd_dp_options *o, char *err, size_t errlen)
{
	struct vd_dp *dp = calloc(1, sizeof(*dp));
	if (!dp)
		goto oom;
	dp->n_workers = o->workers ? o->workers : 1;
	dp->n_external = o->external;
	dp->pin = o->pin;
	dp->freebind = o->freebind;
	dp->scratch_base = o->scratch_base;
	dp->ctl_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dp->ctl_evfd < 0) {
		free(dp);
		goto oom_nofree;
	}
	/* aligned: each worker's counters start on their own cache line */
	dp->workers = aligned_alloc(64, sizeof(*dp->workers) * dp->n_workers);
	if (!dp->workers)
		goto oom;
	memset(dp->workers, 0, sizeof(*dp->workers) * dp->n_workers);
	dp->tcp = cfg->tcp;
	dp->any_tcp = vd_dp_config_has_streams(cfg);
	raise_nofile(cfg, dp->any_tcp);
	dp->per_ip = calloc(VD_DP_PER_IP_SLOTS, sizeof(*dp->per_ip));
	if (!dp->per_ip || vd_handoff_init(dp)) {
		vd_dp_destroy(dp);
		goto oom_nofree;
	}
	for (unsigned i = 0; i < dp->n_workers; i++) {
		struct vd_worker *w = &dp->workers[i];
		w->id = i;
		w->dp = dp;
		w->stop = &dp->stop;
		for (unsigned j = 0; j < VD_CFG_MAX_LISTENERS; j++)
			w->fds[j] = w->lfds[j] = -1;
		w->cap.fd4 = w->cap.fd6 = -1;
	}
	for (unsigned i = 0; i < dp->n_workers; i++) {
		struct vd_worker *w = &dp->workers[i];
		if (worker_init(w, cfg, px, err, errlen) < 0) {
			vd_dp_destroy(dp);
			return NULL;
		}
	}
	return dp;
oom:
	free(dp);
oom_nofree:
	snprintf(err, errlen, "out of memory");
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
	vd_handoff_fini(dp);
	if (dp->ctl_evfd >= 0)
		close(dp->ctl_evfd);
	free(dp->per_ip);
	free(dp->workers);
	free(dp);
}

uint64_t vd_dp_kernel_drops(const struct vd_dp *dp)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < dp->n_workers; i++)
		for (unsigned j = 0; j < dp->workers[i].n_fds; j++) {
			if (dp->workers[i].fds[j] < 0)
				continue;
			uint32_t mem[SK_MEMINFO_VARS];
			socklen_t len = sizeof(mem);
			if (getsockopt(dp->workers[i].fds[j], SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
			    len >= sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1))
				total += mem[SK_MEMINFO_DROPS];
		}
	return total;
}

bool vd_dp_config_has_streams(const struct vd_config *cfg)
{
	for (unsigned j = 0; j < cfg->n_listeners; j++)
		if (cfg->listeners[j].transport != VD_TP_UDP)
			return true;
	for (unsigned i = 0; i < cfg->n_pools; i++)
		for (unsigned j = 0; j < cfg->pools[i].n_members; j++)
			if (cfg->pools[i].members[j].transport != VD_TP_UDP ||
			    cfg->pools[i].udp_max_bytes)
				return true;
	return false;
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

static const struct vd_guard *view_worker_guard(const void *dp, unsigned i)
{
	const struct vd_dp *d = dp;
	return i < d->n_workers ? d->workers[i].guard : NULL;
}

static const struct vd_stats *view_worker_stats(const void *dp, unsigned i)
{
	return vd_dp_worker_stats(dp, i);
}

static uint64_t view_worker_rounds(const void *dp, unsigned i)
{
	const struct vd_dp *d = dp;
	return i < d->n_workers ? __atomic_load_n(&d->workers[i].rounds, __ATOMIC_RELAXED) : 0;
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
				  .worker_guard = view_worker_guard,
				  .worker_rounds = view_worker_rounds,
				  .kernel_drops = view_kernel_drops,
				  .print = vd_dp_tcp_print,
				  .metrics = vd_dp_tcp_metrics,
				  .member_events = vd_dp_member_events,
				  .member_events_fd = dp->ctl_evfd,
				  .member_events_lost = vd_dp_member_events_lost };
}
