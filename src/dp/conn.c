/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP and TLS connections of a worker: the slot table and tokens, accepting (with the limits
 * of the tcp: section), reading and framing (RFC 3261 18.3) into the batch slots, our
 * connections to members, and the timers (slowloris and TLS handshakes, idle, connect).
 *
 * A connection belongs to the worker that accepted or opened it, for its whole life: only
 * that worker reads, writes or closes it, so nothing here takes a lock. Another worker that
 * has a message for it passes it through handoff.c. A connection is named by a token, (slot,
 * worker, generation), that our Via branch carries; a closed slot's generation moves on, so
 * an old token never reaches a new connection.
 *
 * Memory: an idle connection holds its slot (struct vd_conn) and nothing else; read and
 * write buffers come from a per-worker pool while a message is partial or a peer is behind.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"
#include "viaduct/route.h"
#include "viaduct/tls.h"

#define READS_PER_EVENT 8    /* reads from one connection before serving others */
#define ACCEPTS_PER_EVENT 64
#define BACKOFF_MIN_MS 100   /* reconnecting to a member that failed */
#define BACKOFF_MAX_MS 5000
#define BUF_LIMIT_MAX 8192   /* message buffers a worker may hold (partial reads, backlogs) */

uint64_t vd_conn_token(const struct vd_worker *w, const struct vd_conn *c)
{
	uint32_t slot = (uint32_t)(c - w->ct.c);
	return (uint64_t)c->gen << 32 | (uint64_t)w->id << 24 | slot;
}

struct vd_conn *vd_conn_of(struct vd_worker *w, uint64_t token)
{
	uint32_t slot = (uint32_t)token & 0xffffff;
	if (vd_token_worker(token) != w->id || slot >= w->ct.high)
		return NULL;
	struct vd_conn *c = &w->ct.c[slot];
	if (c->fd < 0 || c->gen != (uint32_t)(token >> 32) || c->closing == 2)
		return NULL;
	return c;
}

static uint64_t ev_data(const struct vd_worker *w, const struct vd_conn *c)
{
	return 1ULL << 63 | (uint64_t)(c->gen & 0x7fffffff) << 32 | (uint32_t)(c - w->ct.c);
}

void vd_conn_epoll_set(struct vd_worker *w, struct vd_conn *c, bool want_out)
{
	/* a closing connection reads no more: level-triggered EPOLLIN would wake us for ever */
	struct epoll_event ev = { .events = (c->closing ? 0 : EPOLLIN) | (want_out ? EPOLLOUT : 0),
				  .data.u64 = ev_data(w, c) };
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = want_out;
}

int vd_conns_init(struct vd_worker *w, const struct vd_config *cfg)
{
	struct vd_conn_table *t = &w->ct;
	unsigned n = w->dp->n_workers;
	/* the accepted connections one worker may hold, plus its own to members */
	t->cap = cfg->tcp.max_connections / n + 1 + VD_DP_OUTBOUND_MAX;
	if (t->cap > 0xffffff)
		t->cap = 0xffffff;
	t->c = calloc(t->cap, sizeof(*t->c));
	t->dirty = calloc(2 * (size_t)t->cap, sizeof(*t->dirty)); /* a flush may append again */
	t->out_mask = 2 * VD_DP_OUTBOUND_MAX - 1;
	t->out_slot = calloc(t->out_mask + 1, sizeof(*t->out_slot));
	t->out_retry_ms = calloc(t->out_mask + 1, sizeof(*t->out_retry_ms));
	t->out_backoff_ms = calloc(t->out_mask + 1, sizeof(*t->out_backoff_ms));
	t->out_addr = calloc(t->out_mask + 1, sizeof(*t->out_addr));
	t->out_tp = calloc(t->out_mask + 1, sizeof(*t->out_tp));
	t->buf_limit = t->cap < BUF_LIMIT_MAX ? t->cap : BUF_LIMIT_MAX;
	t->bufpool = calloc(t->buf_limit, sizeof(*t->bufpool));
	/* a message after our rewrite, or a reply, fits one buffer */
	t->buf_bytes = w->buf_size > w->scratch.reply_cap ? w->buf_size : w->scratch.reply_cap;
	t->busy = UINT32_MAX;
	if (!t->c || !t->dirty || !t->out_slot || !t->out_retry_ms || !t->out_backoff_ms ||
	    !t->out_addr || !t->out_tp || !t->bufpool)
		return -ENOMEM;
	/* slots are taken from the free list, else the next never-used one (t->high): the
	 * table's pages are touched as connections come, not all at start */
	t->free_head = UINT32_MAX;
	if (getrandom(&t->gen_base, sizeof(t->gen_base), GRND_NONBLOCK) != sizeof(t->gen_base))
		t->gen_base = (uint32_t)w->id * 2654435761u ^ (uint32_t)time(NULL);
	return 0;
}

void vd_conns_fini(struct vd_worker *w)
{
	struct vd_conn_table *t = &w->ct;
	for (uint32_t s = 0; t->c && s < t->high; s++)
		if (t->c[s].fd >= 0) {
			vd_conn_close(w, &t->c[s], VD_CLOSE_SHUTDOWN);
			t->busy = UINT32_MAX;
		}
	if (t->c)
		vd_conn_flush(w);
	for (uint32_t i = 0; i < t->n_bufpool; i++)
		free(t->bufpool[i]);
	free(t->bufpool);
	free(t->c);
	free(t->dirty);
	free(t->out_slot);
	free(t->out_retry_ms);
	free(t->out_backoff_ms);
	free(t->out_addr);
	free(t->out_tp);
	memset(t, 0, sizeof(*t));
}

static struct vd_conn *conn_new(struct vd_worker *w, int fd, const union vd_sockaddr *peer,
				uint16_t listener, bool outbound)
{
	struct vd_conn_table *t = &w->ct;
	uint32_t s;
	if (t->free_head != UINT32_MAX) {
		s = t->free_head;
		t->free_head = t->c[s].next_free;
	} else if (t->high < t->cap) {
		s = t->high; /* never used: zeroed by calloc */
	} else {
		return NULL;
	}
	struct vd_conn *c = &t->c[s];
	/* a never-used slot starts at the process's random generation: a token another
	 * process (or this one before a restart) issued does not name this connection */
	uint32_t gen = c->gen ? c->gen : (t->gen_base ? t->gen_base : 1);
	*c = (struct vd_conn){ .fd = fd, .gen = gen, .listener = listener, .peer = *peer,
			       .outbound = outbound, .last_rx_ms = w->now_ms,
			       .opened_ms = w->now_ms, .out_entry = UINT32_MAX };
	if (s + 1 > t->high)
		t->high = s + 1;
	struct epoll_event ev = { .events = EPOLLIN | (outbound ? EPOLLOUT : 0),
				  .data.u64 = ev_data(w, c) };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		c->fd = -1;
		c->next_free = t->free_head;
		t->free_head = s;
		return NULL;
	}
	c->want_out = outbound;
	t->n_open++;
	VD_STAT_ADD(w->tcp.open, 1);
	return c;
}

/* Slot of the hashed per-source counter: IPv4 address, or IPv6 /64 (one subscriber). */
static uint32_t per_ip_slot(const union vd_sockaddr *a)
{
	uint64_t x;
	if (a->sa.sa_family == AF_INET)
		x = a->in.sin_addr.s_addr;
	else
		memcpy(&x, &a->in6.sin6_addr, 8);
	x *= 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(x >> 40) % VD_DP_PER_IP_SLOTS;
}

static void accept_pause(struct vd_worker *w, unsigned j)
{
	struct epoll_event ev = { .events = 0, .data.u64 = vd_ev(VD_EV_LISTEN, j) };
	if (!w->accept_paused)
		VD_STAT_ADD(w->tcp.paused, 1);
	w->accept_paused = true;
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->lfds[j], &ev);
}

static void accept_resume(struct vd_worker *w)
{
	struct vd_dp *dp = w->dp;
	if (!w->accept_paused || atomic_load(&dp->conns_total) >= dp->tcp.max_connections ||
	    w->ct.n_open + VD_DP_OUTBOUND_MAX >= w->ct.cap)
		return;
	w->accept_paused = false;
	for (unsigned j = 0; j < w->n_fds; j++)
		if (w->lfds[j] >= 0) {
			struct epoll_event ev = { .events = EPOLLIN,
						  .data.u64 = vd_ev(VD_EV_LISTEN, j) };
			epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->lfds[j], &ev);
		}
}

void vd_conn_accept(struct vd_worker *w, unsigned j)
{
	struct vd_dp *dp = w->dp;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		/* at a limit, stop accepting: clients wait in the kernel's backlog */
		if (atomic_load(&dp->conns_total) >= dp->tcp.max_connections ||
		    w->ct.n_open + VD_DP_OUTBOUND_MAX >= w->ct.cap) {
			accept_pause(w, j);
			return;
		}
		union vd_sockaddr peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(w->lfds[j], &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_pause(w, j); /* resumed by the tick */
			return;
		}
		/* a denied source gets no connection slot: closed at once, before any byte */
		if (w->px->guard.acl && vd_lpm_lookup(w->px->guard.acl, &peer) == VD_GUARD_DENY) {
			close(fd);
			VD_STAT_ADD(w->tcp.refused_acl, 1);
			continue;
		}
		uint32_t ip = per_ip_slot(&peer);
		if (atomic_fetch_add(&dp->per_ip[ip], 1) >= dp->tcp.max_connections_per_ip) {
			atomic_fetch_sub(&dp->per_ip[ip], 1);
			close(fd);
			VD_STAT_ADD(w->tcp.refused_per_ip, 1);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* we batch ourselves */
		struct vd_conn *c = conn_new(w, fd, &peer, (uint16_t)j, false);
		if (!c) {
			atomic_fetch_sub(&dp->per_ip[ip], 1);
			close(fd);
			continue;
		}
		c->ip_slot = ip;
		atomic_fetch_add(&dp->conns_total, 1);
		VD_STAT_ADD(w->tcp.accepted, 1);
		if (w->px->listeners[j].transport == VD_TP_TLS) {
			/* the context of the snapshot in use: a reload's certificate for new
			 * connections, the old one kept by those already up */
			struct ssl_ctx_st *ctx = vd_tls_server(w->route->tls, j);
			c->transport = VD_TP_TLS;
			if (!ctx || vd_conn_tls_start(w, c, ctx, true, NULL))
				vd_conn_close(w, c, VD_CLOSE_TLS);
		} else {
			c->transport = VD_TP_TCP;
		}
	}
}

/* ---- reading and framing ---- */

static void pend_add(struct vd_worker *w, struct vd_conn *c, const char *p, uint32_t len,
		     uint8_t kind)
{
	unsigned k = w->n_pend;
	memcpy(w->bufs + (size_t)k * w->buf_size + VD_PROXY_HEADROOM, p, len);
	w->pend_len[k] = len;
	w->pend_kind[k] = kind;
	w->slot_conn[k] = vd_conn_token(w, c);
	w->slot_listener[k] = c->listener;
	w->rx_src[k] = c->peer;
	if (++w->n_pend == w->batch)
		vd_conn_run_pending(w);
}

void vd_conn_run_pending(struct vd_worker *w)
{
	if (!w->n_pend)
		return;
	unsigned n = w->n_pend;
	w->n_pend = 0;
	vd_batch_run(w, n, w->pend_len, w->pend_kind);
}

/* Stop reading c: what was framed is answered, then the connection closes (RFC 3261 18.3:
 * after a message that cannot be framed nothing on the stream can be). */
static void close_after_write(struct vd_worker *w, struct vd_conn *c, enum vd_close why)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->close_reason = (uint8_t)why;
	/* no more EPOLLIN; EPOLLOUT only while something waits to be written (the flush
	 * keeps it so): a level-triggered event with nothing to do would spin the worker */
	vd_conn_epoll_set(w, c, c->wlen > c->woff);
	if (!c->dirty) {
		c->dirty = 1;
		w->ct.dirty[w->ct.n_dirty++] = (uint32_t)(c - w->ct.c);
	}
}

/* Bytes that never became a message (a header block over max_message_size with no end in
 * sight): counted as received and dropped, so rx = tx + replies + drops still holds. */
static void count_dropped(struct vd_worker *w, uint32_t bytes, enum vd_drop why)
{
	VD_STAT_ADD(w->stats.rx, 1);
	VD_STAT_ADD(w->stats.rx_bytes, bytes);
	VD_STAT_ADD(w->stats.drops, 1);
	VD_STAT_ADD(w->stats.drop[why], 1);
}

/* Frame every complete message of c's buffer into the batch. */
static void frame_all(struct vd_worker *w, struct vd_conn *c)
{
	uint32_t off = 0, n;
	bool done = false;
	while (!done && off < c->rlen && c->closing == 0) {
		enum vd_frame f =
			vd_sip_frame_resume(c->rbuf + off, c->rlen - off, w->max_message, &c->frame, &n);
		switch (f) {
		case VD_FRAME_MORE:
			done = true;
			break;
		case VD_FRAME_MESSAGE:
			pend_add(w, c, c->rbuf + off, n, VD_SLOT_MESSAGE);
			off += n;
			break;
		case VD_FRAME_PING: /* RFC 5626 3.5.1: the pong is one CRLF */
			if (vd_conn_queue(w, c, "\r\n", 2) == 0)
				VD_STAT_ADD(w->tcp.pings, 1);
			off += n;
			break;
		case VD_FRAME_SKIP:
			off += n;
			break;
		case VD_FRAME_NO_LENGTH:
		case VD_FRAME_BAD_LENGTH:
			pend_add(w, c, c->rbuf + off, n,
				 f == VD_FRAME_NO_LENGTH ? VD_SLOT_NO_LENGTH : VD_SLOT_BAD_LENGTH);
			close_after_write(w, c, VD_CLOSE_UNFRAMED);
			off = c->rlen;
			break;
		case VD_FRAME_TOO_LARGE:
			if (n) /* the headers are complete: 513 can be told */
				pend_add(w, c, c->rbuf + off, n, VD_SLOT_TOO_LARGE);
			else
				count_dropped(w, c->rlen - off, VD_DROP_TOO_LARGE);
			close_after_write(w, c, VD_CLOSE_TOO_LARGE);
			off = c->rlen;
			break;
		}
	}
	if (c->closing) {
		off = c->rlen;
		c->frame = (struct vd_frame_progress){ 0, 0 };
	}
	if (off) { /* c->frame is relative to the partial message, which moves to the start */
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	/* a partial message has header_timeout_ms to complete, from its first byte */
	if (!c->rlen)
		c->msg_start_ms = 0;
	else if (off || !c->msg_start_ms)
		c->msg_start_ms = w->now_ms;
}

static void conn_read(struct vd_worker *w, struct vd_conn *c)
{
	w->ct.busy = (uint32_t)(c - w->ct.c);
	for (int i = 0; !c->closing && (i < READS_PER_EVENT || vd_conn_tls_pending(c)); i++) {
		if (!c->rbuf && !(c->rbuf = vd_conn_buf_get(w))) {
			vd_conn_close(w, c, VD_CLOSE_NO_BUFFER);
			break;
		}
		uint32_t room = w->max_message - c->rlen;
		bool was_ready = c->tls_ready;
		ssize_t r = vd_conn_recv(w, c, c->rbuf + c->rlen, room);
		if (c->ssl && !was_ready && c->tls_ready && c->wlen > c->woff)
			vd_conn_writable(w, c); /* queued while the handshake ran: write it now */
		if (r == VD_IO_CLOSED) {
			/* a half-close: what is queued for it still goes out (our own replies
			 * to what it sent before); responses arriving later find it closed (a
			 * stateless proxy cannot know how many will come) */
			close_after_write(w, c, VD_CLOSE_PEER);
			break;
		}
		if (r < 0) {
			if (r == VD_IO_ERROR || r == VD_IO_TLS)
				vd_conn_close(w, c, r == VD_IO_TLS ? VD_CLOSE_TLS : VD_CLOSE_ERROR);
			else if (c->tls_want_write)
				vd_conn_writable(w, c); /* the flush arms EPOLLOUT */
			break;
		}
		c->rlen += (uint32_t)r;
		c->last_rx_ms = w->now_ms;
		frame_all(w, c);
		if ((uint32_t)r < room && !c->ssl)
			break; /* drained (TLS reads a record at a time: read until it waits) */
	}
	if (c->rbuf && !c->rlen) {
		vd_conn_buf_put(w, c->rbuf);
		c->rbuf = NULL;
	}
	w->ct.busy = UINT32_MAX;
	if (c->closing && !c->dirty) { /* let the flush see it */
		c->dirty = 1;
		w->ct.dirty[w->ct.n_dirty++] = (uint32_t)(c - w->ct.c);
	}
}

void vd_conn_event(struct vd_worker *w, uint64_t d, uint32_t events)
{
	uint32_t s = (uint32_t)d;
	if (s >= w->ct.high)
		return;
	struct vd_conn *c = &w->ct.c[s];
	if (c->fd < 0 || (c->gen & 0x7fffffff) != ((d >> 32) & 0x7fffffff))
		return; /* closed (and maybe reused) since the event was reported */
	if (events & EPOLLOUT || (c->connecting && events & (EPOLLERR | EPOLLHUP)))
		vd_conn_writable(w, c);
	if (events & EPOLLOUT && c->ssl && c->tls_ready && c->tls_want_write && !c->closing)
		conn_read(w, c); /* an SSL_read that waited for the socket to be writable */
	if (!c->connecting && c->fd >= 0 && events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(w, c);
}

/* ---- our connections to members ---- */

/* A failed connection to a member, for the health prober (the control thread reads the
 * worker's event ring; the wake-up is written at the end of the worker's round). */
static void fail_event(struct vd_worker *w, const union vd_sockaddr *a, uint8_t tp)
{
	struct vd_member_event e;
	memset(&e, 0, sizeof(e));
	e.addr = *a;
	e.kind = VD_MEV_CONN_FAILED;
	e.transport = tp;
	vd_mev_push(&w->events, &e);
}

void vd_dp_member_events(void *dp_, void (*fn)(void *arg, const struct vd_member_event *e),
			 void *arg)
{
	struct vd_dp *dp = dp_;
	for (unsigned i = 0; i < dp->n_workers; i++)
		vd_mev_drain(&dp->workers[i].events, fn, arg);
}

uint64_t vd_dp_member_events_lost(const void *dp_)
{
	const struct vd_dp *dp = dp_;
	uint64_t n = 0;
	for (unsigned i = 0; i < dp->n_workers; i++)
		n += vd_mev_lost(&dp->workers[i].events);
	return n;
}

void vd_dp_events_wake(struct vd_worker *w)
{
	uint64_t one = 1;
	if (!vd_mev_take_wake(&w->events))
		return;
	/* EAGAIN only when the counter would overflow: the control thread is awake anyway */
	if (write(w->dp->ctl_evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

/* After a failed connection to a member: no new attempt before a backoff, doubling from
 * BACKOFF_MIN_MS up to BACKOFF_MAX_MS. */
static void outbound_backoff(struct vd_worker *w, uint32_t e)
{
	struct vd_conn_table *t = &w->ct;
	uint32_t b = t->out_backoff_ms[e] ? t->out_backoff_ms[e] * 2 : BACKOFF_MIN_MS;
	t->out_backoff_ms[e] = b > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b;
	t->out_retry_ms[e] = w->now_ms + t->out_backoff_ms[e];
}

static struct vd_conn *conn_open(struct vd_worker *w, const union vd_sockaddr *dst,
				 uint32_t entry, uint8_t tp, const char *peer_name)
{
	struct vd_conn_table *t = &w->ct;
	int fd = socket(dst->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int rc = connect(fd, &dst->sa, vd_sockaddr_len(dst));
	if (rc && errno != EINPROGRESS) { /* refused at once (local): a failure like any */
		close(fd);
		VD_STAT_ADD(w->tcp.closed[VD_CLOSE_CONNECT_FAILED], 1);
		outbound_backoff(w, entry);
		fail_event(w, dst, tp);
		return NULL;
	}
	int via = dst->sa.sa_family == AF_INET6 ? w->px->egress_stream_v6
						: w->px->egress_stream_v4;
	struct vd_conn *c = conn_new(w, fd, dst, (uint16_t)(via < 0 ? 0 : via), true);
	if (!c) {
		close(fd);
		outbound_backoff(w, entry); /* the table is full: no connect per message meanwhile */
		return NULL;
	}
	c->connecting = rc != 0;
	c->out_entry = entry;
	c->transport = tp;
	t->out_slot[entry] = (uint32_t)(c - t->c) + 1;
	if (!c->connecting)
		VD_STAT_ADD(w->tcp.connected, 1);
	if (tp == VD_TP_TLS) {
		struct ssl_ctx_st *ctx = vd_tls_client(w->route->tls);
		if (!ctx || vd_conn_tls_start(w, c, ctx, false, peer_name)) {
			vd_conn_close(w, c, VD_CLOSE_TLS);
			return NULL;
		}
		c->msg_start_ms = 0; /* a member's handshake is on the connect timer */
	}
	return c;
}

struct vd_conn *vd_conn_to(struct vd_worker *w, const union vd_sockaddr *dst, uint8_t tp,
			   const char *peer_name)
{
	struct vd_conn_table *t = &w->ct;
	uint32_t h = ((uint32_t)vd_sockaddr_hash(dst) + tp) & t->out_mask;
	for (uint32_t probes = 0; probes <= t->out_mask; probes++, h = (h + 1) & t->out_mask) {
		if (!t->out_addr[h].sa.sa_family) {
			t->out_addr[h] = *dst; /* a new member address: entries are never removed */
			t->out_tp[h] = tp;
			break;
		}
		if (vd_sockaddr_equal(&t->out_addr[h], dst) && t->out_tp[h] == tp)
			break;
	}
	if (!vd_sockaddr_equal(&t->out_addr[h], dst) || t->out_tp[h] != tp)
		return NULL; /* the map is full */
	if (t->out_slot[h]) {
		struct vd_conn *c = &t->c[t->out_slot[h] - 1];
		return c->closing ? NULL : c;
	}
	if (w->now_ms < t->out_retry_ms[h])
		return NULL; /* backing off after a failure */
	return conn_open(w, dst, h, tp, peer_name);
}

/* A member connection ended: forget it; after a failure, back off and tell the prober. */
void vd_conn_outbound_closed(struct vd_worker *w, struct vd_conn *c, bool failed)
{
	struct vd_conn_table *t = &w->ct;
	if (c->out_entry == UINT32_MAX)
		return;
	uint32_t e = c->out_entry;
	t->out_slot[e] = 0;
	if (!failed) {
		t->out_backoff_ms[e] = 0;
		return;
	}
	outbound_backoff(w, e);
	fail_event(w, &c->peer, c->transport);
}

/* ---- timers ---- */

void vd_conn_tick(struct vd_worker *w)
{
	const struct vd_cfg_tcp *cfg = &w->dp->tcp;
	uint64_t now = w->now_ms;
	for (uint32_t s = 0; s < w->ct.high; s++) {
		struct vd_conn *c = &w->ct.c[s];
		if (c->fd < 0 || c->closing == 2)
			continue;
		if (c->connecting || (c->outbound && c->ssl && !c->tls_ready)) {
			if (now - c->opened_ms >= cfg->connect_timeout_ms)
				vd_conn_close(w, c, VD_CLOSE_CONNECT_FAILED);
		} else if (c->msg_start_ms && now - c->msg_start_ms >= cfg->header_timeout_ms) {
			vd_conn_close(w, c, VD_CLOSE_HEADER_TIMEOUT);
		} else if (!c->outbound && now - c->last_rx_ms >= cfg->idle_timeout_ms) {
			vd_conn_close(w, c, VD_CLOSE_IDLE);
		}
	}
	accept_resume(w);
}
