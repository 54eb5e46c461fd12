/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop of the kernel-socket datapath:
 *
 *   while (!stop): poll the worker's sockets; for each ready socket, up to VD_DP_MAX_BURSTS
 *   times: recvmmsg a batch -> read the published routing snapshot -> vd_proxy_process()
 *   each datagram in place -> sendmmsg the forwards and replies, grouped by sending socket
 *   -> one RCU quiescent state.
 *
 * System calls are per batch, never per message. A datagram that cannot be sent is moved
 * from tx/replies to drops (send-failed), so the counters always add up.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "dp_internal.h"
#include "viaduct/route.h"

static void rx_prepare(struct vd_worker *w)
{
	for (unsigned k = 0; k < w->batch; k++) {
		w->rx_iov[k].iov_base = w->bufs + (size_t)k * w->buf_size + VD_PROXY_HEADROOM;
		w->rx_iov[k].iov_len = w->max_message;
		struct msghdr *h = &w->rx[k].msg_hdr;
		memset(h, 0, sizeof(*h));
		h->msg_name = &w->rx_src[k];
		h->msg_namelen = sizeof(w->rx_src[k]);
		h->msg_iov = &w->rx_iov[k];
		h->msg_iovlen = 1;
	}
}

static void process_one(struct vd_worker *w, unsigned k, unsigned listener)
{
	struct vd_result *res = &w->res[k];
	struct vd_pktbuf *pkt = &w->pkt[k];
	uint32_t len = w->rx[k].msg_len;

	*pkt = (struct vd_pktbuf){ w->bufs + (size_t)k * w->buf_size, w->buf_size,
				   VD_PROXY_HEADROOM, len };
	w->scratch.reply = w->replies + (size_t)k * w->scratch.reply_cap;
	if (w->rx[k].msg_hdr.msg_flags & MSG_TRUNC) /* over max_message_size: 513 or a drop */
		vd_proxy_too_large(w->px, pkt, &w->rx_src[k], &w->scratch, res);
	else
		vd_proxy_process(w->px, pkt, &w->rx_src[k], listener, &w->scratch, res);
	vd_stats_count(&w->stats, res, len);
}

/* Send the batch's results that leave through socket `fd_index`. */
static void send_group(struct vd_worker *w, unsigned n, unsigned listener, unsigned fd_index)
{
	unsigned c = 0;
	unsigned idx[w->batch];

	for (unsigned k = 0; k < n; k++) {
		const struct vd_result *res = &w->res[k];
		unsigned via = res->verdict == VD_VERDICT_FORWARD ? res->egress : listener;
		if (res->verdict == VD_VERDICT_DROP || via != fd_index)
			continue;
		bool fwd = res->verdict == VD_VERDICT_FORWARD;
		w->tx_iov[c].iov_base = fwd ? w->pkt[k].base + w->pkt[k].off
					    : w->replies + (size_t)k * w->scratch.reply_cap;
		w->tx_iov[c].iov_len = fwd ? w->pkt[k].len : res->reply_len;
		struct msghdr *h = &w->tx[c].msg_hdr;
		memset(h, 0, sizeof(*h));
		h->msg_name = (void *)&res->dst;
		h->msg_namelen = vd_sockaddr_len(&res->dst);
		h->msg_iov = &w->tx_iov[c];
		h->msg_iovlen = 1;
		idx[c++] = k;
	}
	unsigned sent = 0;
	while (sent < c) {
		int r = sendmmsg(w->fds[fd_index], w->tx + sent, c - sent, MSG_DONTWAIT);
		if (r > 0) {
			for (unsigned i = sent; i < sent + (unsigned)r; i++)
				VD_STAT_ADD(w->stats.tx_bytes, w->tx_iov[i].iov_len);
			sent += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* the first unsent datagram failed (EAGAIN, EHOSTUNREACH, ...): count, go on */
		vd_stats_send_failed(&w->stats, &w->res[idx[sent]]);
		sent++;
	}
}

/*
 * One recvmmsg batch from socket `listener`; returns the number received. The whole batch
 * is decided and sent with the snapshot read at its start; the quiescent state after it
 * tells writers this worker no longer holds that snapshot.
 */
static int burst(struct vd_worker *w, unsigned listener)
{
	rx_prepare(w);
	int n = recvmmsg(w->fds[listener], w->rx, w->batch, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	w->px = &vd_route_read()->px;
	for (unsigned k = 0; k < (unsigned)n; k++)
		process_one(w, k, listener);
	for (unsigned j = 0; j < w->n_fds; j++)
		send_group(w, (unsigned)n, listener, j);
	w->px = NULL;
	vd_route_quiescent();
	VD_STAT_ADD(w->stats.batches, 1);
	return n;
}

static void pin(struct vd_worker *w)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	/* best effort: a restricted cpuset (containers) may refuse; the worker still runs */
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void *vd_worker_main(void *arg)
{
	struct vd_worker *w = arg;
	struct pollfd pfd[VD_CFG_MAX_LISTENERS];

	pin(w);
	rcu_register_thread();
	for (unsigned j = 0; j < w->n_fds; j++)
		pfd[j] = (struct pollfd){ .fd = w->fds[j], .events = POLLIN };
	while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
		/* offline while idle, so a publication never waits for this poll to time out */
		rcu_thread_offline();
		int r = poll(pfd, w->n_fds, VD_DP_POLL_MS);
		rcu_thread_online();
		if (r <= 0)
			continue;
		for (unsigned j = 0; j < w->n_fds; j++) {
			if (!(pfd[j].revents & POLLIN))
				continue;
			for (int b = 0; b < VD_DP_MAX_BURSTS; b++)
				if (burst(w, j) < (int)w->batch)
					break;
		}
	}
	rcu_unregister_thread();
	return NULL;
}
