/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop of the kernel-socket datapath:
 *
 *   while (!stop): epoll_wait on the worker's sockets -> read the published routing snapshot
 *   -> UDP: up to VD_DP_MAX_BURSTS recvmmsg batches per ready socket; TCP: accept, read and
 *   frame what connections have (conn.c) into the same batch slots; messages other workers
 *   passed us (handoff.c) -> vd_proxy_process() each message in place -> sendmmsg the UDP
 *   forwards and replies grouped by socket, queue the stream ones on their connections and
 *   write each connection once -> one RCU quiescent state.
 *
 * System calls are per batch (and per connection with data), never per message. A message
 * that cannot be sent is moved from tx/replies to drops with its reason, so the counters
 * always add up.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
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

static void process_one(struct vd_worker *w, unsigned k, uint32_t len, uint8_t kind)
{
	struct vd_result *res = &w->res[k];
	struct vd_pktbuf *pkt = &w->pkt[k];

	*pkt = (struct vd_pktbuf){ w->bufs + (size_t)k * w->buf_size, w->buf_size,
				   VD_PROXY_HEADROOM, len };
	w->scratch.reply = w->replies + (size_t)k * w->scratch.reply_cap;
	w->scratch.conn = w->slot_conn[k];
	if (w->cap.p) /* HEP capture: the message as received, before the core edits it */
		vd_capture_keep(w, k, len);
	if (kind == VD_SLOT_TOO_LARGE) /* over max_message_size: 513 or a drop */
		vd_proxy_too_large(w->px, pkt, &w->rx_src[k], &w->scratch, res);
	else if (kind != VD_SLOT_MESSAGE)
		vd_proxy_unframed(w->px, pkt, &w->rx_src[k], kind == VD_SLOT_NO_LENGTH, &w->scratch,
				  res);
	else
		vd_proxy_process(w->px, pkt, &w->rx_src[k], w->slot_listener[k], &w->scratch, res);
	vd_stats_count(&w->stats, res, len);
	if (w->cap.p)
		vd_capture_received(w, k, len);
	if (res->signal.bits) /* a member's 503 Retry-After or overload control */
		vd_mev_signal(&w->events, res, &w->rx_src[k], w->now_ms);
}

/* Bytes of slot k's outcome: the edited message or the reply. */
static const char *out_bytes(const struct vd_worker *w, unsigned k, uint32_t *len)
{
	const struct vd_result *res = &w->res[k];
	if (res->verdict == VD_VERDICT_FORWARD) {
		*len = w->pkt[k].len;
		return w->pkt[k].base + w->pkt[k].off;
	}
	*len = res->reply_len;
	return w->replies + (size_t)k * w->scratch.reply_cap;
}

/* Queue slot k's outcome on the connection of `token`: ours, or passed to its owner. A
 * response (dst set) goes only to a connection whose peer has its Via's address. */
static void send_on_token(struct vd_worker *w, unsigned k, uint64_t token,
			  const union vd_sockaddr *dst)
{
	uint32_t len;
	const char *p = out_bytes(w, k, &len);
	const struct vd_result *res = &w->res[k];
	if (vd_token_worker(token) != w->id) {
		/* the listener it leaves by, as the capture shows it: our reply goes back where
		 * its request came in; a response to another worker's connection is shown from
		 * the first stream listener of its family (the owner knows the exact one) */
		int via = w->slot_listener[k];
		if (res->verdict == VD_VERDICT_FORWARD)
			via = res->dst.sa.sa_family == AF_INET6 ? w->px->egress_stream_v6
								: w->px->egress_stream_v4;
		if (vd_handoff_push(w, token, dst, p, len)) {
			vd_stats_unsent(&w->stats, res, VD_DROP_HANDOFF_FULL);
		} else {
			VD_STAT_ADD(w->stats.tx_bytes, len);
			if (via >= 0)
				vd_capture_sent(w, k, &w->cap.local[via], &res->dst, IPPROTO_TCP, p,
						len);
		}
		return;
	}
	struct vd_conn *c = vd_conn_of(w, token);
	if (c && dst && !vd_sockaddr_same_ip(&c->peer, dst))
		c = NULL;
	if (!c || vd_conn_queue(w, c, p, len)) {
		vd_stats_unsent(&w->stats, res, VD_DROP_CONN_CLOSED);
	} else {
		VD_STAT_ADD(w->stats.tx_bytes, len);
		vd_capture_sent(w, k, &w->cap.local[c->listener], &c->peer, IPPROTO_TCP, p, len);
	}
}

/* The streams part of a batch: what goes over a connection. Returns true when slot k is one
 * (handled here), false when it leaves by UDP. */
static bool send_stream(struct vd_worker *w, unsigned k)
{
	const struct vd_result *res = &w->res[k];
	if (res->verdict == VD_VERDICT_REPLY && w->slot_conn[k]) {
		send_on_token(w, k, w->slot_conn[k], NULL); /* a reply goes back the way it came */
		return true;
	}
	if (res->verdict != VD_VERDICT_FORWARD)
		return false;
	if (res->conn) {
		send_on_token(w, k, res->conn, &res->dst);
		return true;
	}
	if (res->transport == VD_TP_UDP)
		return false;
	uint32_t len;
	const char *p = out_bytes(w, k, &len);
	const char *name = NULL;
	if (res->member >= 0 && res->pool < w->px->n_pools)
		name = w->px->pools[res->pool].hosts[res->member];
	struct vd_conn *c = vd_conn_to(w, &res->dst, res->transport, name);
	if (!c || vd_conn_queue(w, c, p, len)) {
		vd_stats_send_failed(&w->stats, res);
	} else {
		VD_STAT_ADD(w->stats.tx_bytes, len);
		vd_capture_sent(w, k, &w->cap.local[res->egress], &res->dst, IPPROTO_TCP, p, len);
	}
	return true;
}

/* Send the batch's UDP results that leave through socket `fd_index`. */
static void send_group(struct vd_worker *w, unsigned n, const uint8_t *udp, unsigned fd_index)
{
	unsigned c = 0;
	unsigned idx[w->batch];

	for (unsigned k = 0; k < n; k++) {
		const struct vd_result *res = &w->res[k];
		if (!udp[k])
			continue;
		unsigned via = res->verdict == VD_VERDICT_FORWARD ? res->egress : w->slot_listener[k];
		if (via != fd_index)
			continue;
		uint32_t len;
		w->tx_iov[c].iov_base = (void *)out_bytes(w, k, &len);
		w->tx_iov[c].iov_len = len;
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
			for (unsigned i = sent; i < sent + (unsigned)r; i++) {
				VD_STAT_ADD(w->stats.tx_bytes, w->tx_iov[i].iov_len);
				vd_capture_sent(w, idx[i], &w->cap.local[fd_index],
						&w->res[idx[i]].dst, IPPROTO_UDP,
						w->tx_iov[i].iov_base,
						(uint32_t)w->tx_iov[i].iov_len);
			}
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

void vd_batch_run(struct vd_worker *w, unsigned n, const uint32_t *lens, const uint8_t *kinds)
{
	uint8_t udp[w->batch];
	bool any_udp = false;

	vd_capture_begin(w); /* HEP: w->cap.p set when this batch is captured */
	for (unsigned k = 0; k < n; k++)
		process_one(w, k, lens[k], kinds ? kinds[k] : VD_SLOT_MESSAGE);
	if (w->cap.p)
		vd_capture_sending(w);
	for (unsigned k = 0; k < n; k++) {
		udp[k] = w->res[k].verdict != VD_VERDICT_DROP && !send_stream(w, k);
		any_udp |= udp[k];
	}
	for (unsigned j = 0; any_udp && j < w->n_fds; j++)
		if (w->fds[j] >= 0)
			send_group(w, n, udp, j);
	vd_conn_flush(w);
	if (w->cap.p) /* before the next batch reuses the buffers the copies point at */
		vd_capture_flush(w);
	vd_handoff_wake(w);
	vd_dp_events_wake(w);
	VD_STAT_ADD(w->stats.batches, 1);
}

/* One recvmmsg batch from UDP socket `listener`; returns the number received. */
static int burst(struct vd_worker *w, unsigned listener)
{
	uint32_t lens[w->batch];
	uint8_t kind[w->batch];

	rx_prepare(w);
	int n = recvmmsg(w->fds[listener], w->rx, w->batch, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	for (unsigned k = 0; k < (unsigned)n; k++) {
		lens[k] = w->rx[k].msg_len;
		kind[k] = w->rx[k].msg_hdr.msg_flags & MSG_TRUNC ? VD_SLOT_TOO_LARGE : VD_SLOT_MESSAGE;
		w->slot_conn[k] = 0;
		w->slot_listener[k] = (uint16_t)listener;
	}
	vd_batch_run(w, (unsigned)n, lens, kind);
	return n;
}

static void pin(struct vd_worker *w)
{
	if (w->cpu < 0)
		return; /* beside DPDK's lcores: wherever the kernel schedules it */
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	/* best effort: a restricted cpuset (containers) may refuse; the worker still runs */
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* vDSO: no system call */
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void dispatch(struct vd_worker *w, const struct epoll_event *ev)
{
	uint64_t d = ev->data.u64;
	if (d >> 63) { /* a connection: generation and slot */
		vd_conn_event(w, d, ev->events);
		return;
	}
	uint32_t idx = (uint32_t)d;
	switch ((unsigned)(d >> 32)) {
	case VD_EV_UDP:
		vd_conn_run_pending(w); /* the slots are about to be reused */
		for (int b = 0;; b++) {
			if (burst(w, idx) < (int)w->batch)
				break;
			if (b == VD_DP_MAX_BURSTS - 1) {
				w->behind = true; /* more waiting: the next round sheds */
				break;
			}
		}
		break;
	case VD_EV_LISTEN:
		vd_conn_accept(w, idx);
		break;
	case VD_EV_WAKE: {
		uint64_t v;
		if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
		vd_conn_run_pending(w);
		vd_handoff_drain(w);
		break;
	}
	}
}

void *vd_worker_main(void *arg)
{
	struct vd_worker *w = arg;
	struct epoll_event ev[VD_DP_EVENTS];

	pin(w);
	rcu_register_thread();
	w->now_ms = now_ms();
	w->next_tick_ms = w->now_ms + VD_DP_TICK_MS;
	while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
		/* offline while idle, so a publication never waits for this wait to time out */
		rcu_thread_offline();
		int n = epoll_wait(w->epfd, ev, VD_DP_EVENTS, VD_DP_POLL_MS);
		rcu_thread_online();
		w->now_ms = now_ms();
		vd_guard_tick(w->guard, (uint32_t)w->now_ms, w->behind);
		w->behind = false;
		/* every batch of this round is decided with the snapshot read here; the quiescent
		 * state after it tells writers this worker no longer holds it */
		w->route = vd_route_read();
		w->px = &w->route->px;
		for (int i = 0; i < n; i++)
			dispatch(w, &ev[i]);
		vd_conn_run_pending(w);
		if (w->now_ms >= w->next_tick_ms) {
			vd_conn_tick(w);
			w->next_tick_ms = w->now_ms + VD_DP_TICK_MS;
		}
		vd_conn_flush(w);
		vd_dp_events_wake(w); /* failed connections found by the timers */
		w->px = NULL;
		w->route = NULL;
		vd_route_quiescent();
		/* a round done, also an idle one (epoll_wait returns every VD_DP_POLL_MS): the
		 * control thread's watchdog reads it (notify.h); a stuck worker stops counting */
		__atomic_store_n(&w->rounds, w->rounds + 1, __ATOMIC_RELAXED);
	}
	rcu_unregister_thread();
	return NULL;
}
