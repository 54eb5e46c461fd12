/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HEP v3 capture in the kernel datapath: a copy of every SIP message a worker receives and
 * sends goes to the collector of the snapshot's hep: (include/viaduct/hep.h).
 *
 * Per batch (vd_batch_run): one wall-clock read (vDSO, no system call) when it starts, for
 * the received copies, and one when its sending starts, for the sent ones; each message is
 * copied as received before the core edits it in place (the only copy: a sent message's
 * copy points at the bytes the worker sends, still in the batch buffers at the flush); after
 * the core has read it, its Call-ID decides whether its call is sampled and becomes the
 * correlation id; at the end of the batch one sendmmsg sends every copy (vd_hep_flush). A
 * full socket buffer or a refusing collector costs dropped copies, counted, never a wait.
 *
 * What is captured: every message the scanner read as SIP (not what admission dropped
 * before reading it, not-sip datagrams, keepalives), sampled by Call-ID; one without a
 * Call-ID (a malformed request, our 400 to it) only at sample 100. Addresses: a received
 * message from its source to the listener it arrived on, a sent one from the listener it
 * leaves by to its destination (a wildcard listener is shown by its advertised address when
 * that is an IP literal); over our own connections to members the local port shown is the
 * listener's, not the connection's ephemeral one. TLS is shown as TCP (HEP has no number).
 *
 * Memory per worker: batch x limits.max_message_size for the received copies (touched only
 * as far as messages reach), 2 x batch datagram slots (VD_HEP_HEADER_MAX bytes of header each,
 * the payload is not copied), two UDP sockets (one per family, connected to the collector).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"
#include "viaduct/route.h"

#define HEP_SOCKBUF (1 << 20) /* send buffer asked for: a burst of copies fits */

static int hep_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	int size = HEP_SOCKBUF;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	return fd; /* -1 (no IPv6 on this host): copies to such a collector count as errors */
}

/* The address a listener is shown with: its bind address, or for a wildcard its advertised
 * IP literal of the same family. */
static void local_of(const struct vd_proxy_listener *l, union vd_sockaddr *out)
{
	*out = l->bind;
	if (l->bind.sa.sa_family == AF_INET && l->bind.in.sin_addr.s_addr == INADDR_ANY &&
	    l->host_type == VD_HOST_IPV4)
		memcpy(&out->in.sin_addr, l->ip, 4);
	else if (l->bind.sa.sa_family == AF_INET6 &&
		 IN6_IS_ADDR_UNSPECIFIED(&l->bind.in6.sin6_addr) && l->host_type == VD_HOST_IPV6)
		memcpy(&out->in6.sin6_addr, l->ip, 16);
}

int vd_capture_init(struct vd_worker *w, const struct vd_config *cfg, const struct vd_proxy *px)
{
	struct vd_capture *c = &w->cap;
	c->fd4 = c->fd6 = c->fd = -1;
	if (!cfg->hep.enabled)
		return 0;
	c->rx = malloc((size_t)w->batch * w->max_message);
	c->take = calloc(w->batch, sizeof(*c->take));
	c->corr_off = calloc(w->batch, sizeof(*c->corr_off));
	c->corr_len = calloc(w->batch, sizeof(*c->corr_len));
	if (!c->rx || !c->take || !c->corr_off || !c->corr_len ||
	    vd_hep_batch_init(&c->batch, 2 * w->batch))
		return -ENOMEM;
	c->fd4 = hep_socket(AF_INET);
	c->fd6 = hep_socket(AF_INET6);
	for (unsigned j = 0; j < px->n_listeners; j++)
		local_of(&px->listeners[j], &c->local[j]);
	c->on = true;
	return 0;
}

void vd_capture_fini(struct vd_worker *w)
{
	struct vd_capture *c = &w->cap;
	if (c->fd4 >= 0)
		close(c->fd4);
	if (c->fd6 >= 0)
		close(c->fd6);
	c->fd4 = c->fd6 = -1;
	free(c->rx);
	free(c->take);
	free(c->corr_off);
	free(c->corr_len);
	vd_hep_batch_fini(&c->batch);
	c->rx = NULL;
	c->on = false;
}

static void wall_clock(struct vd_capture *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* vDSO: no system call */
	c->sec = (uint32_t)ts.tv_sec;
	c->usec = (uint32_t)(ts.tv_nsec / 1000);
}

/*
 * The socket of the collector's family, connected to it, or -1 (its copies then count as
 * errors): connect() again only when a reload changed the collector, or a second after a
 * connect() that failed (no route), never per batch. A new collector starts without the old
 * one's refusal pause, and its socket without a refusal still pending from the old one.
 */
static int collector_fd(struct vd_capture *c, const union vd_sockaddr *to, uint64_t now_ms)
{
	int fd = to->sa.sa_family == AF_INET6 ? c->fd6 : c->fd4;
	bool same = vd_sockaddr_equal_scoped(&c->to, to);
	if (fd < 0)
		return -1;
	if (c->connected && same)
		return fd;
	if (same && now_ms < c->connect_retry_ms)
		return -1;
	if (!same)
		c->batch.refused_until_ms = 0;
	c->to = *to;
	c->connected = connect(fd, &to->sa, vd_sockaddr_len(to)) == 0;
	if (!c->connected) {
		c->connect_retry_ms = now_ms + VD_HEP_REFUSED_PAUSE_MS;
		return -1;
	}
	int err;
	socklen_t len = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len); /* reads and clears a stale error */
	return fd;
}

bool vd_capture_begin(struct vd_worker *w)
{
	struct vd_capture *c = &w->cap;
	c->p = NULL;
	if (!c->on || !w->route->hep.enabled || w->route->hep.sample == 0)
		return false;
	c->p = &w->route->hep;
	c->fd = collector_fd(c, &c->p->collector, w->now_ms); /* may end a refusal pause */
	vd_hep_batch_start(&c->batch, w->now_ms);
	wall_clock(c);
	return true;
}

void vd_capture_received(struct vd_worker *w, unsigned k, uint32_t len)
{
	struct vd_capture *c = &w->cap;
	const char *copy = c->rx + (size_t)k * w->max_message;
	const struct vd_sip_msg *m = &w->scratch.msg;
	const char *data = w->pkt[k].base + VD_PROXY_HEADROOM;
	c->take[k] = 0;
	/* not read by the scanner (admission dropped it unread: the view is an older
	 * message's), or not SIP at all (no start line: whatever drop reason admission or the
	 * size limit gave it first): no copy */
	if (m->buf != data || m->start_line_end == 0 || w->res[k].drop == VD_DROP_NOT_SIP)
		return;
	c->corr_len[k] = 0;
	if (m->call_id.len) {
		/* the view's slices point at the bytes as received: the same offsets in the copy,
		 * which the core's in-place edits have not touched */
		c->corr_off[k] = (uint32_t)(m->call_id.p - data);
		c->corr_len[k] = (uint16_t)(m->call_id.len > VD_HEP_CORR_MAX ? 0 : m->call_id.len);
		if (!vd_hep_sampled(copy + c->corr_off[k], m->call_id.len, c->p->sample))
			return;
	} else if (c->p->sample < 100) {
		return;
	}
	c->take[k] = 1;
	uint8_t proto = w->slot_conn[k] ? IPPROTO_TCP : IPPROTO_UDP;
	vd_capture_add(w, k, &w->rx_src[k], &c->local[w->slot_listener[k]], proto, copy, len);
}

void vd_capture_add(struct vd_worker *w, unsigned k, const union vd_sockaddr *src,
		    const union vd_sockaddr *dst, uint8_t proto, const char *p, uint32_t len)
{
	struct vd_capture *c = &w->cap;
	const struct vd_hep_params *hp = c->p;
	struct vd_hep_meta m = { .src = src, .dst = dst, .ip_proto = proto, .ts_sec = c->sec,
				 .ts_usec = c->usec, .capture_id = hp->capture_id,
				 .corr = c->rx + (size_t)k * w->max_message + c->corr_off[k],
				 .corr_len = c->corr_len[k], .auth = hp->auth,
				 .auth_len = hp->auth_len };
	vd_hep_add(&c->batch, &m, p, len);
}

void vd_capture_sending(struct vd_worker *w)
{
	wall_clock(&w->cap);
}

void vd_capture_flush(struct vd_worker *w)
{
	struct vd_capture *c = &w->cap;
	struct vd_hep_batch *b = &c->batch;
	if (b->n)
		vd_hep_flush(b, c->fd, w->now_ms);
	/* the counts since the last flush (drops at add time included) into the stats */
	if (b->sent) {
		VD_STAT_ADD(w->stats.hep_sent, b->sent);
		b->sent = 0;
	}
	for (unsigned r = 0; r < VD_HEP_DROP__COUNT; r++)
		if (b->dropped[r]) {
			VD_STAT_ADD(w->stats.hep_dropped[r], b->dropped[r]);
			b->dropped[r] = 0;
		}
	c->p = NULL;
}
