/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writing to TCP connections, and closing them. Messages for a connection are appended to
 * its write queue during a batch; the flush after the batch writes each dirty connection
 * once (one send for all its messages). What the kernel does not take stays queued with
 * EPOLLOUT armed; a queue over write_queue_bytes means the peer does not read: it is closed
 * and counted, the worker never waits for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dp_internal.h"

char *vd_conn_buf_get(struct vd_worker *w)
{
	struct vd_conn_table *t = &w->ct;
	if (t->n_bufpool)
		return t->bufpool[--t->n_bufpool];
	if (t->bufs_out >= t->buf_limit)
		return NULL;
	char *b = malloc(t->buf_bytes); /* grows to the bound once, then recycles */
	if (b)
		t->bufs_out++;
	return b;
}

void vd_conn_buf_put(struct vd_worker *w, char *b)
{
	struct vd_conn_table *t = &w->ct;
	if (t->n_bufpool < t->buf_limit) {
		t->bufpool[t->n_bufpool++] = b;
		return;
	}
	free(b);
	t->bufs_out--;
}

static void mark_dirty(struct vd_worker *w, struct vd_conn *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	w->ct.dirty[w->ct.n_dirty++] = (uint32_t)(c - w->ct.c);
}

void vd_conn_close(struct vd_worker *w, struct vd_conn *c, enum vd_close why)
{
	if (c->closing == 2)
		return;
	c->closing = 2;
	c->close_reason = (uint8_t)why;
	mark_dirty(w, c);
}

/* A write queue that outgrows one pool buffer moves to a larger allocation of its own
 * (a backlog: the cold path). */
static int wbuf_room(struct vd_worker *w, struct vd_conn *c, uint32_t len)
{
	struct vd_conn_table *t = &w->ct;
	if (!c->wbuf) {
		if (!(c->wbuf = vd_conn_buf_get(w)))
			return -1;
		c->wcap = t->buf_bytes;
		c->woff = c->wlen = 0;
	}
	if (c->wlen + len <= c->wcap)
		return 0;
	if (c->woff) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
		if (c->wlen + len <= c->wcap)
			return 0;
	}
	uint32_t cap = c->wcap * 2 > c->wlen + len ? c->wcap * 2 : c->wlen + len;
	char *nb = malloc(cap);
	if (!nb)
		return -1;
	memcpy(nb, c->wbuf, c->wlen);
	if (c->wcap == t->buf_bytes)
		vd_conn_buf_put(w, c->wbuf);
	else
		free(c->wbuf);
	c->wbuf = nb;
	c->wcap = cap;
	return 0;
}

static void wbuf_release(struct vd_worker *w, struct vd_conn *c)
{
	if (!c->wbuf)
		return;
	if (c->wcap == w->ct.buf_bytes)
		vd_conn_buf_put(w, c->wbuf);
	else
		free(c->wbuf);
	c->wbuf = NULL;
	c->woff = c->wlen = c->wcap = 0;
}

int vd_conn_queue(struct vd_worker *w, struct vd_conn *c, const char *p, uint32_t len)
{
	if (c->closing == 2)
		return -1;
	if ((uint64_t)(c->wlen - c->woff) + len > w->dp->tcp.write_queue_bytes) {
		vd_conn_close(w, c, VD_CLOSE_WRITE_QUEUE);
		return -1;
	}
	if (wbuf_room(w, c, len)) {
		vd_conn_close(w, c, VD_CLOSE_NO_BUFFER);
		return -1;
	}
	memcpy(c->wbuf + c->wlen, p, len);
	c->wlen += len;
	mark_dirty(w, c);
	return 0;
}

static void conn_free(struct vd_worker *w, struct vd_conn *c)
{
	struct vd_conn_table *t = &w->ct;
	struct vd_dp *dp = w->dp;
	VD_STAT_ADD(w->tcp.closed[c->close_reason], 1);
	VD_STAT_ADD(w->tcp.unsent_bytes, c->wlen - c->woff);
	VD_STAT_ADD(w->tcp.open, (uint64_t)-1);
	vd_conn_tls_free(c);
	close(c->fd); /* leaves the epoll set with it */
	if (c->outbound) {
		vd_conn_outbound_closed(w, c, c->connecting ||
						      c->close_reason == VD_CLOSE_CONNECT_FAILED ||
						      c->close_reason == VD_CLOSE_ERROR ||
						      c->close_reason == VD_CLOSE_TLS);
	} else {
		atomic_fetch_sub(&dp->per_ip[c->ip_slot], 1);
		atomic_fetch_sub(&dp->conns_total, 1);
	}
	if (c->rbuf)
		vd_conn_buf_put(w, c->rbuf);
	wbuf_release(w, c);
	uint32_t s = (uint32_t)(c - t->c);
	uint32_t gen = c->gen + 1 ? c->gen + 1 : 1;
	*c = (struct vd_conn){ .fd = -1, .gen = gen, .next_free = t->free_head };
	t->free_head = s;
	t->n_open--;
}

void vd_conn_writable(struct vd_worker *w, struct vd_conn *c)
{
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			vd_conn_close(w, c, VD_CLOSE_CONNECT_FAILED);
			return;
		}
		c->connecting = 0;
		VD_STAT_ADD(w->tcp.connected, 1);
	}
	mark_dirty(w, c);
}

/* Write c's queue once (a TLS connection's handshake first). */
static void conn_write(struct vd_worker *w, struct vd_conn *c)
{
	if (c->connecting || (c->wlen == c->woff && (!c->ssl || c->tls_ready)))
		return;
	ssize_t r = vd_conn_send(w, c, c->wbuf + c->woff, c->wlen - c->woff);
	if (r > 0)
		c->woff += (uint32_t)r;
	else if (r == VD_IO_ERROR || r == VD_IO_TLS)
		vd_conn_close(w, c, r == VD_IO_TLS ? VD_CLOSE_TLS : VD_CLOSE_ERROR);
}

void vd_conn_flush(struct vd_worker *w)
{
	struct vd_conn_table *t = &w->ct;
	uint32_t keep = 0;
	for (uint32_t i = 0; i < t->n_dirty; i++) {
		struct vd_conn *c = &t->c[t->dirty[i]];
		if (c->fd < 0)
			continue;
		if (t->dirty[i] == t->busy) { /* being read: the flush after the read does it */
			t->dirty[keep++] = t->dirty[i];
			continue;
		}
		c->dirty = 0;
		if (c->closing != 2)
			conn_write(w, c);
		if (c->closing != 2 && c->wlen == c->woff)
			wbuf_release(w, c);
		if (c->closing == 2 ||
		    (c->closing == 1 && c->wlen == c->woff)) {
			conn_free(w, c);
			continue;
		}
		bool want_out = c->connecting || c->tls_want_write ||
				(c->wlen > c->woff && (!c->ssl || c->tls_ready));
		if (want_out != (bool)c->want_out)
			vd_conn_epoll_set(w, c, want_out);
	}
	t->n_dirty = keep;
}
