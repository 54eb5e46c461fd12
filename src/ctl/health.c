/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Health probing of pool members with SIP OPTIONS (see include/viaduct/health.h).
 *
 * The control thread owns a prober: one non-blocking UDP socket per address family and a
 * fixed-size record per member (its schedule, its one outstanding probe, its up/down state and
 * counters). Probing allocates nothing: a probe is identified by a prober-wide sequence number
 * that goes into the Via branch together with the member index and a per-prober random nonce,
 * so a reply is matched by reading one Via parameter, and a reply from an earlier viaduct, an
 * earlier probe or someone else is recognised and counted instead of being believed.
 *
 * The prober either owns its sockets (the kernel datapath: the listener addresses are the
 * kernel's) or is given a transport (the DPDK datapath: the addresses exist only there, so a
 * worker sends the probe and hands the reply back; see struct vd_health_transport). Everything
 * else, building, matching and judging, is the same code for both.
 *
 * A member over TCP or TLS gets no OPTIONS: its probe is a non-blocking TCP connect from a
 * socket of its own (like a load balancer's tcp-check), which tick() looks at with a
 * zero-timeout poll() every HEALTH_CONNECT_POLL_MS while any is in progress; next_ms() says
 * so. Connected counts as a reply (the connection is closed at once), refused or unreachable
 * as a failure judged at once, still connecting at the deadline as a timeout. A TLS member's
 * handshake is not tried: a listener that accepts is what we check. These are kernel sockets
 * with either kind of prober (with DPDK, the kernel needs a path: the exception port).
 *
 * Files: this one (probes, replies, life cycle), health_state.c (each member's up/down state
 * machine: judging and schedule, no sockets), health_connect.c (the connects),
 * health_members.c (the member list), health_internal.h (what they share).
 *
 * Time is whatever the caller passes as now_ms (CLOCK_MONOTONIC in production, a fake clock in
 * the tests); the prober never reads the clock itself. Members are few (at most
 * VD_HEALTH_MAX_MEMBERS, tens in practice), so the scheduler is a linear scan per tick instead
 * of a timer heap: a few thousand comparisons a tick cost microseconds, and there is no heap
 * to keep consistent across member-list replacements.
 */
#include "health_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "viaduct/log.h"

uint64_t vd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- addresses ---- */

int vd_health_fam_index(sa_family_t family)
{
	if (family == AF_INET)
		return FAM_V4;
	if (family == AF_INET6)
		return FAM_V6;
	return -1;
}

/* Can the prober send to this family at all: a socket, or a transport source address. */
static bool fam_usable(const struct vd_health *h, int fam)
{
	if (fam < 0)
		return false;
	return h->has_tx ? h->bound[fam].sa.sa_family != 0 : h->fd[fam] >= 0;
}

static uint16_t addr_port(const union vd_sockaddr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

/* Orders by family, address, port: a member's identity across reloads (equal = same member)
 * and the check that a reply comes from the member it claims to answer for. */
int vd_health_addr_cmp(const union vd_sockaddr *a, const union vd_sockaddr *b)
{
	int c;

	if (a->sa.sa_family != b->sa.sa_family)
		return a->sa.sa_family < b->sa.sa_family ? -1 : 1;
	if (a->sa.sa_family == AF_INET6) {
		c = memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr));
		if (!c)
			c = memcmp(&a->in6.sin6_port, &b->in6.sin6_port, sizeof(a->in6.sin6_port));
		return c;
	}
	if (a->sa.sa_family == AF_INET) {
		c = memcmp(&a->in.sin_addr, &b->in.sin_addr, sizeof(a->in.sin_addr));
		if (!c)
			c = memcmp(&a->in.sin_port, &b->in.sin_port, sizeof(a->in.sin_port));
		return c;
	}
	return memcmp(a, b, sizeof(*a)); /* not a family we probe: any stable order will do */
}

static bool addr_is_any(const union vd_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
}

/* The host part of a SIP URI or Via: IPv6 in brackets (RFC 3261 25.1, RFC 5118). */
static void host_text(const union vd_sockaddr *a, char out[HEALTH_HOST_MAX])
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(out, HEALTH_HOST_MAX, "[%s]", ip);
	} else {
		inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
		snprintf(out, HEALTH_HOST_MAX, "%s", ip);
	}
}

/*
 * Our address as member `to` will see it. A prober bound to a specific address is that
 * address. One bound to the wildcard would put 0.0.0.0 in its Via, which no member can answer
 * to, so we ask the kernel which source address it would pick: connect() on a scratch UDP
 * socket sends nothing. On failure the wildcard stays and the member's probes time out, which
 * is the truth: we cannot reach it.
 */
void vd_health_local_for(const struct vd_health *h, const union vd_sockaddr *to,
			 union vd_sockaddr *out)
{
	int fam = vd_health_fam_index(to->sa.sa_family);
	socklen_t len = sizeof(*out);
	int fd;

	memset(out, 0, sizeof(*out));
	if (!fam_usable(h, fam))
		return;
	*out = h->bound[fam];
	if (!addr_is_any(out) || h->has_tx) /* a transport's source is never a wildcard */
		return;
	fd = socket(to->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return;
	if (!connect(fd, &to->sa, vd_sockaddr_len(to)) && !getsockname(fd, &out->sa, &len)) {
		/* the scratch socket's port is its own: ours is the prober's */
		if (fam == FAM_V6)
			out->in6.sin6_port = h->bound[fam].in6.sin6_port;
		else
			out->in.sin_port = h->bound[fam].in.sin_port;
	} else {
		*out = h->bound[fam];
	}
	close(fd);
}

/* ---- the OPTIONS request ---- */

static uint64_t mix64(uint64_t x)
{
	x += MIX_GOLDEN;
	x = (x ^ (x >> 30)) * MIX_M1;
	x = (x ^ (x >> 27)) * MIX_M2;
	return x ^ (x >> 31);
}

/*
 * Writes the OPTIONS for member i's current probe into out. RFC 3261 8.1.1: Request-URI and To
 * are the member, From has a tag, Call-ID and branch are unique per probe, CSeq counts the
 * member's probes. ;rport (RFC 3581) lets the reply find us even through a NAT that rewrites
 * our port. Returns the length, or -ENOSPC (cannot happen with HEALTH_BUF_SIZE, but checked).
 */
static int build_options(const struct vd_health *h, unsigned i, char *out, size_t cap)
{
	const struct member *m = &h->m[i];
	char dst[HEALTH_HOST_MAX], src[HEALTH_HOST_MAX];
	unsigned dport = addr_port(&m->addr), sport = addr_port(&m->local);
	/* built after vd_health_sm_sent() counted this probe: the first is CSeq 1 */
	unsigned cseq = (unsigned)((m->sm.st.probes - 1) % HEALTH_CSEQ_MAX) + 1;
	int len;

	host_text(&m->addr, dst);
	host_text(&m->local, src);
	len = snprintf(out, cap,
		       "OPTIONS sip:%s:%u SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP %s:%u;branch=" HEALTH_BRANCH_PREFIX "%016" PRIx64
		       ".%04x.%016" PRIx64 ";rport\r\n"
		       "Max-Forwards: %u\r\n"
		       "From: <sip:viaduct@%s>;tag=%016" PRIx64 "\r\n"
		       "To: <sip:%s:%u>\r\n"
		       "Call-ID: %016" PRIx64 "-%016" PRIx64 "@%s\r\n"
		       "CSeq: %u OPTIONS\r\n"
		       "User-Agent: viaduct-health\r\n"
		       "Content-Length: 0\r\n"
		       "\r\n",
		       dst, dport, src, sport, h->nonce, i, m->sm.seq, HEALTH_MAX_FORWARDS, src,
		       mix64(h->nonce ^ m->sm.seq), dst, dport, m->sm.seq, h->nonce, src, cseq);
	if (len < 0 || (size_t)len >= cap)
		return -ENOSPC;
	return len;
}

/* ---- reading a reply: status line and the top Via's branch, nothing else ---- */

/* Fixed-width lowercase-or-uppercase hex; false on any other byte. */
static bool parse_hex(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t k = 0; k < n; k++) {
		char c = p[k];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

/* Decodes one of our branches; FOREIGN for anything else, including another prober's nonce. */
static enum reply_kind parse_branch(const char *b, size_t len, uint64_t nonce, struct reply *r)
{
	const char *p = b + HEALTH_BRANCH_PREFIX_LEN;
	uint64_t got_nonce, index;

	if (len != HEALTH_BRANCH_LEN || memcmp(b, HEALTH_BRANCH_PREFIX, HEALTH_BRANCH_PREFIX_LEN))
		return REPLY_FOREIGN;
	if (!parse_hex(p, HEALTH_NONCE_HEX, &got_nonce) || got_nonce != nonce)
		return REPLY_FOREIGN;
	p += HEALTH_NONCE_HEX;
	if (*p++ != '.' || !parse_hex(p, HEALTH_INDEX_HEX, &index))
		return REPLY_FOREIGN;
	p += HEALTH_INDEX_HEX;
	if (*p++ != '.' || !parse_hex(p, HEALTH_SEQ_HEX, &r->seq))
		return REPLY_FOREIGN;
	r->index = (uint16_t)index;
	return REPLY_OURS;
}

/*
 * What matching needs from a datagram, read by the proxy's own scanner (vd_sip_scan): a
 * well-formed response's status code and the branch of its top Via. Anything the scanner
 * refuses, and any request, is garbage.
 */
static enum reply_kind parse_reply(struct vd_health *h, const char *buf, size_t len,
				   struct reply *r)
{
	static const struct vd_sip_limits lim = { .max_headers = 64, .max_vias = 16 };
	struct vd_sip_msg *m = h->scan;
	if (vd_sip_scan(buf, len, &lim, m) != VD_SIP_OK || m->is_request || !m->via.branch.p)
		return REPLY_GARBAGE;
	r->status = m->status;
	return parse_branch(m->via.branch.p, m->via.branch.len, h->nonce, r);
}

/* ---- member state: judged by health_state.c, reported here ---- */

void vd_health_report(const struct vd_health *h, unsigned i, enum vd_health_sm_result r,
		      const char *what, unsigned status)
{
	/* one line per judged probe (per member and interval): what log_level debug is for */
	if (r != VD_HEALTH_SM_IGNORED && vd_log_get_level() >= VD_LOG_DEBUG) {
		char addr[VD_ADDR_TEXT_MAX];
		vd_sockaddr_text(&h->m[i].addr, addr, sizeof(addr));
		/* %.0u prints nothing for 0 */
		vd_log(VD_LOG_DEBUG, "health: member %u (%s): %s%.0u%s", i, addr, what, status,
		       r == VD_HEALTH_SM_UP ? ": up" : r == VD_HEALTH_SM_DOWN ? ": down" : "");
	}
	if ((r == VD_HEALTH_SM_UP || r == VD_HEALTH_SM_DOWN) && h->fn)
		h->fn(h->arg, i, r == VD_HEALTH_SM_UP);
}

/* ---- sending and expiring probes ---- */

/* Spread first probes evenly over one interval, so n members do not all go in one tick. */
static void place_first(struct vd_health *h, unsigned i, uint64_t now)
{
	vd_health_sm_place(&h->m[i].sm, now + (uint64_t)i * h->cfg.interval_ms / h->n);
}

/*
 * Sends member i's next probe. The probe is outstanding whether or not sending worked: a
 * full socket buffer (EAGAIN) or transport ring, a family with no socket or an unreachable
 * network all end as a timeout, the one place where failures are judged.
 */
static void send_probe(struct vd_health *h, unsigned i, uint64_t now)
{
	struct member *m = &h->m[i];
	int fam = vd_health_fam_index(m->addr.sa.sa_family);
	bool sent = false;
	int len;

	vd_health_sm_sent(&m->sm, &h->cfg, ++h->seq, now);
	if (m->transport != VD_TP_UDP) {
		vd_health_send_connect(h, i, now);
		return;
	}
	len = build_options(h, i, h->buf, sizeof(h->buf));
	if (len > 0 && fam_usable(h, fam)) {
		if (h->has_tx)
			sent = h->tx.send(h->tx.arg, h->buf, (size_t)len, &m->local, &m->addr) == 0;
		else
			sent = sendto(h->fd[fam], h->buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
				      &m->addr.sa, vd_sockaddr_len(&m->addr)) == len;
	}
	if (!sent)
		h->counters.tx_errors++;
}

void vd_health_tick(struct vd_health *h, uint64_t now_ms)
{
	vd_health_check_connects(h, now_ms); /* before expiring: a connect that made it is not late */
	h->connect_poll_ms = now_ms + HEALTH_CONNECT_POLL_MS;
	for (unsigned i = 0; i < h->n; i++) {
		struct member *m = &h->m[i];
		enum vd_health_sm_result r;

		if (!m->sm.scheduled)
			place_first(h, i, now_ms);
		/* expire before sending: with timeout == interval both happen in one tick */
		r = vd_health_sm_expire(&m->sm, &h->cfg, now_ms);
		if (r != VD_HEALTH_SM_IGNORED) {
			vd_health_connect_close(m); /* still connecting at the deadline */
			vd_health_report(h, i, r, "probe timed out", 0);
		}
		if (vd_health_sm_due(&m->sm, now_ms))
			send_probe(h, i, now_ms);
	}
}

uint64_t vd_health_next_ms(const struct vd_health *h)
{
	uint64_t next = UINT64_MAX;

	for (unsigned i = 0; i < h->n; i++) {
		const struct member *m = &h->m[i];
		uint64_t t = vd_health_sm_next_ms(&m->sm);

		if (!t)
			return 0; /* not placed yet: the next tick does it */
		if (m->cfd >= 0 && h->connect_poll_ms < t)
			t = h->connect_poll_ms; /* a connect in progress: look again soon */
		if (t < next)
			next = t;
	}
	return next;
}

/* ---- receiving replies ---- */

/* The member whose outstanding probe is r->seq, answering from its own address; -1 if none.
 * The index in the branch is tried first; after a member-list replacement it may be stale, so
 * the others are searched too (seq is unique, so at most one matches). */
static int find_probe(const struct vd_health *h, const struct reply *r,
		      const union vd_sockaddr *src)
{
	for (unsigned k = 0; k <= h->n; k++) {
		unsigned i = k == 0 ? r->index : k - 1;
		const struct member *m;

		if (i >= h->n || (k > 0 && i == r->index))
			continue;
		m = &h->m[i];
		if (vd_health_sm_awaits(&m->sm, r->seq) && m->transport == VD_TP_UDP)
			return vd_health_addr_cmp(&m->addr, src) ? -1 : (int)i;
	}
	return -1;
}

static void on_datagram(struct vd_health *h, const char *buf, size_t len,
			const union vd_sockaddr *src, uint64_t now)
{
	struct reply r;
	enum reply_kind kind = parse_reply(h, buf, len, &r);
	int i;

	if (kind == REPLY_GARBAGE) {
		h->counters.garbage++;
		return;
	}
	i = kind == REPLY_OURS ? find_probe(h, &r, src) : -1;
	if (i < 0) {
		h->counters.stray++; /* late, foreign, spoofed or from the wrong address */
		return;
	}
	if (r.status < 200) {
		h->counters.provisional++; /* the final response or the timeout decides */
		return;
	}
	vd_health_report(h, (unsigned)i,
			 vd_health_sm_reply(&h->m[i].sm, &h->cfg, r.seq, r.status, now),
			 "probe answered ", r.status);
}

void vd_health_on_readable(struct vd_health *h, int fd, uint64_t now_ms)
{
	if (fd < 0 || (fd != h->fd[FAM_V4] && fd != h->fd[FAM_V6]))
		return;
	for (unsigned k = 0; k < HEALTH_RX_BURST; k++) {
		union vd_sockaddr src;
		socklen_t slen = sizeof(src);
		ssize_t r = recvfrom(fd, h->buf, sizeof(h->buf), MSG_DONTWAIT, &src.sa, &slen);

		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			h->counters.rx_errors++;
			/* an ICMP port unreachable surfaces as ECONNREFUSED: nothing to judge,
			 * the probe's timeout does that; keep reading */
			if (errno == ECONNREFUSED)
				continue;
			return;
		}
		h->counters.rx++;
		on_datagram(h, h->buf, (size_t)r, &src, now_ms);
	}
}

void vd_health_on_datagram(struct vd_health *h, const void *buf, size_t len,
			   const union vd_sockaddr *src, uint64_t now_ms)
{
	h->counters.rx++;
	on_datagram(h, buf, len, src, now_ms);
}

/* ---- life cycle ---- */

/* The addresses probes leave from: bind_v4/v6, or a transport's src_v4/v6. */
static int check_sources(const union vd_sockaddr *v4, const union vd_sockaddr *v6, bool tx,
			 char *err, size_t errlen)
{
	sa_family_t f4 = v4->sa.sa_family, f6 = v6->sa.sa_family;

	if ((f4 != 0 && f4 != AF_INET) || (f6 != 0 && f6 != AF_INET6) || (!f4 && !f6)) {
		snprintf(err, errlen, "health: need an IPv4 %s and/or an IPv6 %s",
			 tx ? "src_v4" : "bind_v4", tx ? "src_v6" : "bind_v6");
		return -EINVAL;
	}
	/* no kernel to pick a source address or a port: the Via must name them */
	if (tx && ((f4 && (addr_is_any(v4) || !addr_port(v4))) ||
		   (f6 && (addr_is_any(v6) || !addr_port(v6))))) {
		snprintf(err, errlen,
			 "health: a transport needs concrete source addresses "
			 "and ports (no wildcard, no port 0)");
		return -EINVAL;
	}
	return 0;
}

static int check_config(const struct vd_health_config *c, char *err, size_t errlen)
{
	if (c->interval_ms == 0 || c->timeout_ms == 0 || c->timeout_ms > c->interval_ms) {
		/* one outstanding probe per member: it must resolve before the next is due */
		snprintf(err, errlen, "health: timeout_ms %u must be in 1..interval_ms (%u)",
			 c->timeout_ms, c->interval_ms);
		return -EINVAL;
	}
	if (c->down_after == 0 || c->up_after == 0) {
		snprintf(err, errlen, "health: down_after (%u) and up_after (%u) must be >= 1",
			 c->down_after, c->up_after);
		return -EINVAL;
	}
	return 0;
}

static int open_socket(struct vd_health *h, int fam, const union vd_sockaddr *a, char *err,
		       size_t errlen)
{
	char host[HEALTH_HOST_MAX];
	socklen_t len = sizeof(h->bound[fam]);
	int one = 1;
	int fd = socket(a->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	int rc;

	if (fd < 0)
		goto fail;
	/* the IPv6 socket must not receive IPv4-mapped traffic meant for the IPv4 one */
	if (fam == FAM_V6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (bind(fd, &a->sa, vd_sockaddr_len(a)) || getsockname(fd, &h->bound[fam].sa, &len))
		goto fail;
	h->fd[fam] = fd;
	return 0;
fail:
	rc = -errno;
	host_text(a, host);
	snprintf(err, errlen, "health: probe socket %s:%u: %s", host, addr_port(a), strerror(-rc));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Random, so that a restarted viaduct does not believe replies to its predecessor's probes
 * and its Call-IDs differ (RFC 3261 8.1.1.4). Falls back to time and pid: uniqueness, not
 * secrecy, is what matters here. */
static uint64_t make_nonce(void)
{
	uint64_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	return mix64((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (uint64_t)getpid();
}

/* The common part of both constructors: a prober with no sockets. */
static struct vd_health *prober_alloc(const struct vd_health_config *cfg, vd_health_change_fn fn,
				      void *arg, char *err, size_t errlen)
{
	struct vd_health *h = calloc(1, sizeof(*h));

	if (!h || !(h->scan = malloc(sizeof(*h->scan)))) {
		free(h);
		snprintf(err, errlen, "health: out of memory");
		return NULL;
	}
	h->cfg = *cfg;
	h->fn = fn;
	h->arg = arg;
	h->fd[FAM_V4] = h->fd[FAM_V6] = -1;
	h->nonce = make_nonce();
	return h;
}

struct vd_health *vd_health_new(const struct vd_health_config *cfg, vd_health_change_fn fn,
				void *arg, char *err, size_t errlen)
{
	struct vd_health *h = NULL;

	if (check_config(cfg, err, errlen) ||
	    check_sources(&cfg->bind_v4, &cfg->bind_v6, false, err, errlen))
		goto fail;
	h = prober_alloc(cfg, fn, arg, err, errlen);
	if (!h)
		goto fail;
	if (cfg->bind_v4.sa.sa_family && open_socket(h, FAM_V4, &cfg->bind_v4, err, errlen))
		goto fail;
	if (cfg->bind_v6.sa.sa_family && open_socket(h, FAM_V6, &cfg->bind_v6, err, errlen))
		goto fail;
	return h;
fail:
	vd_health_free(h);
	return NULL;
}

struct vd_health *vd_health_new_transport(const struct vd_health_config *cfg,
					  const struct vd_health_transport *t,
					  vd_health_change_fn fn, void *arg, char *err,
					  size_t errlen)
{
	struct vd_health *h;

	if (!t->send) {
		snprintf(err, errlen, "health: a transport needs a send function");
		return NULL;
	}
	if (check_config(cfg, err, errlen) ||
	    check_sources(&t->src_v4, &t->src_v6, true, err, errlen))
		return NULL;
	h = prober_alloc(cfg, fn, arg, err, errlen);
	if (!h)
		return NULL;
	h->tx = *t;
	h->has_tx = true;
	h->bound[FAM_V4] = t->src_v4;
	h->bound[FAM_V6] = t->src_v6;
	return h;
}

void vd_health_free(struct vd_health *h)
{
	if (!h)
		return;
	for (int f = 0; f < FAM_COUNT; f++)
		if (h->fd[f] >= 0)
			close(h->fd[f]);
	for (unsigned i = 0; i < h->n; i++)
		vd_health_connect_close(&h->m[i]);
	free(h->m);
	free(h->pfd);
	free(h->scan);
	free(h);
}

