/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the health prober's unit tests share (test_health.c, test_health_transport.c,
 * test_health_tcp.c): the fake clock's constants, fake members over real loopback sockets,
 * a prober that records its up/down changes, and the helpers that drive probes and replies.
 * The test owns the clock: every now_ms passed to the prober is a made-up value; the only
 * waits are poll() calls bounded by WAIT_MS for what has already been sent on loopback.
 * Include it once per test binary.
 */
#ifndef VD_TEST_HEALTH_FIXTURE_H
#define VD_TEST_HEALTH_FIXTURE_H

#include <viaduct/health.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#define HF_UNUSED __attribute__((unused))
#define T0	       1000000u /* fake clock start: far from 0 to catch "0 means unset" bugs */
#define INTERVAL       1000u
#define TIMEOUT	       400u
#define DOWN_AFTER     3u
#define UP_AFTER       2u
#define REPLY_LAG      5u   /* fake ms between a probe and its reply */
#define WAIT_MS	       2000 /* bound on waiting for a datagram already sent on loopback */
#define QUIET_MS       20   /* how long "nothing arrives" is watched */
#define MSG_MAX	       65536
#define ROUNDS	       5u
#define TEST_TIMEOUT_S 10

struct changes {
	unsigned n, n_up, n_down;
	unsigned member;
	bool up;
};

struct fake {
	int fd;
	union vd_sockaddr addr;
};

HF_UNUSED static void on_change(void *arg, unsigned member, bool up)
{
	struct changes *c = arg;

	c->n++;
	c->member = member;
	c->up = up;
	if (up)
		c->n_up++;
	else
		c->n_down++;
}

HF_UNUSED static union vd_sockaddr loopback(int family, uint16_t port)
{
	union vd_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (family == AF_INET6) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = in6addr_loopback;
		a.in6.sin6_port = htons(port);
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.in.sin_port = htons(port);
	}
	return a;
}

HF_UNUSED static uint16_t port_of(const union vd_sockaddr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

HF_UNUSED static struct fake fake_open(int family)
{
	struct fake f = {.addr = loopback(family, 0)};
	socklen_t len = sizeof(f.addr);

	f.fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f.fd, 0, "socket: %s", strerror(errno));
	if (bind(f.fd, &f.addr.sa, vd_sockaddr_len(&f.addr)))
		cr_skip_test("cannot bind a %s socket: %s",
			     family == AF_INET6 ? "::1" : "127.0.0.1", strerror(errno));
	cr_assert_eq(getsockname(f.fd, &f.addr.sa, &len), 0);
	return f;
}

HF_UNUSED static struct vd_health_config config(int family)
{
	struct vd_health_config c = {
		.interval_ms = INTERVAL,
		.timeout_ms = TIMEOUT,
		.down_after = DOWN_AFTER,
		.up_after = UP_AFTER,
	};

	if (family == AF_INET6)
		c.bind_v6 = loopback(AF_INET6, 0);
	else
		c.bind_v4 = loopback(AF_INET, 0);
	return c;
}

HF_UNUSED static struct vd_health *prober(const struct vd_health_config *c, struct changes *ch)
{
	char err[256] = "";
	struct vd_health *h = vd_health_new(c, on_change, ch, err, sizeof(err));

	cr_assert_not_null(h, "vd_health_new: %s", err);
	return h;
}

HF_UNUSED static void set_members(struct vd_health *h, const struct fake *f, unsigned n)
{
	union vd_sockaddr a[8];

	cr_assert_leq(n, 8);
	for (unsigned i = 0; i < n; i++)
		a[i] = f[i].addr;
	cr_assert_eq(vd_health_set_members(h, a, NULL, n), 0);
}

/* The prober's bound port for a family (its Via must carry it). */
HF_UNUSED static uint16_t prober_port(const struct vd_health *h)
{
	int fds[2];
	union vd_sockaddr a;
	socklen_t len = sizeof(a);

	cr_assert_geq(vd_health_fds(h, fds), 1);
	cr_assert_eq(getsockname(fds[0], &a.sa, &len), 0);
	return port_of(&a);
}

HF_UNUSED static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* Receives one datagram (NUL-terminated) that must arrive within WAIT_MS. */
HF_UNUSED static size_t recv_msg(int fd, char *buf, union vd_sockaddr *src)
{
	socklen_t len = sizeof(*src);
	ssize_t r;

	cr_assert(readable(fd, WAIT_MS), "no datagram within %d ms", WAIT_MS);
	r = recvfrom(fd, buf, MSG_MAX - 1, 0, &src->sa, &len);
	cr_assert_geq(r, 0, "recvfrom: %s", strerror(errno));
	buf[r] = '\0';
	return (size_t)r;
}

HF_UNUSED static void expect_quiet(int fd)
{
	cr_assert_not(readable(fd, QUIET_MS), "unexpected datagram");
}

/* Copies header line `name` (with its CRLF) from msg to out; false if absent. */
HF_UNUSED static bool copy_header(const char *msg, const char *name, char *out, size_t cap)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s:", name);
	p = strstr(msg, key);
	if (!p)
		return false;
	p += 2;
	e = strstr(p, "\r\n");
	cr_assert_not_null(e);
	snprintf(out, cap, "%.*s\r\n", (int)(e - p), p);
	return true;
}

/* A member's answer to req as a SIP server writes it (RFC 3261 8.2.6): Via, From, To (+ tag),
 * Call-ID and CSeq copied. */
HF_UNUSED static size_t answer_text(const char *req, int status, char *out, size_t cap)
{
	char via[512], from[512], tot[512], callid[512], cseq[128];
	int len;

	cr_assert(copy_header(req, "Via", via, sizeof(via)));
	cr_assert(copy_header(req, "From", from, sizeof(from)));
	cr_assert(copy_header(req, "To", tot, sizeof(tot)));
	cr_assert(copy_header(req, "Call-ID", callid, sizeof(callid)));
	cr_assert(copy_header(req, "CSeq", cseq, sizeof(cseq)));
	tot[strlen(tot) - 2] = '\0';
	len = snprintf(out, cap,
		       "SIP/2.0 %d Whatever\r\n%s%s%s;tag=fake1\r\nServer: sipp\r\n%s%s"
		       "Content-Length: 0\r\n\r\n",
		       status, via, from, tot, callid, cseq);
	cr_assert_lt((size_t)len, cap);
	return (size_t)len;
}

/* Answers a request from a member's socket. */
HF_UNUSED static void answer_from(int fd, const char *req, const union vd_sockaddr *to, int status)
{
	char msg[4096];
	size_t len = answer_text(req, status, msg, sizeof(msg));
	cr_assert_eq(sendto(fd, msg, len, 0, &to->sa, vd_sockaddr_len(to)), (ssize_t)len);
}

HF_UNUSED static void send_raw(int fd, const void *msg, size_t len, const union vd_sockaddr *to)
{
	cr_assert_eq(sendto(fd, msg, len, 0, &to->sa, vd_sockaddr_len(to)), (ssize_t)len);
}

/* Feeds the prober until it has read `rx` datagrams in total (each one already sent). */
HF_UNUSED static void pump(struct vd_health *h, uint64_t now, uint64_t rx)
{
	int fds[2];
	unsigned n = vd_health_fds(h, fds);

	while (vd_health_counters(h)->rx < rx) {
		struct pollfd p[2];

		for (unsigned k = 0; k < n; k++)
			p[k] = (struct pollfd){.fd = fds[k], .events = POLLIN};
		cr_assert_gt(poll(p, n, WAIT_MS), 0, "prober got no datagram within %d ms",
			     WAIT_MS);
		for (unsigned k = 0; k < n; k++)
			if (p[k].revents & POLLIN)
				vd_health_on_readable(h, fds[k], now);
	}
}

/* One probe of a member at `now`: tick, receive the OPTIONS, answer `status` (0 = silence). */
HF_UNUSED static size_t probe_round(struct vd_health *h, const struct fake *f, uint64_t now, int status,
			  char *req)
{
	union vd_sockaddr src;
	size_t len;

	vd_health_tick(h, now);
	len = recv_msg(f->fd, req, &src);
	if (status) {
		answer_from(f->fd, req, &src, status);
		pump(h, now + REPLY_LAG, vd_health_counters(h)->rx + 1);
	}
	return len;
}

HF_UNUSED static const struct vd_health_member_state *state(const struct vd_health *h, unsigned i)
{
	const struct vd_health_member_state *st = vd_health_state(h, i);

	cr_assert_not_null(st);
	return st;
}

/* Checks an OPTIONS against RFC 3261 8.1.1 and what the prober promises. */
HF_UNUSED static void check_options(const char *req, size_t len, const char *dst_host, uint16_t dst_port,
			  const char *via_host, uint16_t via_port, unsigned cseq)
{
	char want[256], hdr[512];
	unsigned n;

	cr_assert_eq(strlen(req), len, "NUL byte in the request");
	snprintf(want, sizeof(want), "OPTIONS sip:%s:%u SIP/2.0\r\n", dst_host, dst_port);
	cr_assert_eq(strncmp(req, want, strlen(want)), 0, "start line: %s", req);
	snprintf(want, sizeof(want), "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK", via_host, via_port);
	cr_assert(copy_header(req, "Via", hdr, sizeof(hdr)));
	cr_assert_eq(strncmp(hdr, want, strlen(want)), 0, "Via: %s want %s", hdr, want);
	cr_assert(strstr(req, "\r\nMax-Forwards: 70\r\n"), "Max-Forwards: %s", req);
	cr_assert(copy_header(req, "CSeq", hdr, sizeof(hdr)));
	cr_assert_eq(sscanf(hdr, "CSeq: %u OPTIONS\r", &n), 1, "CSeq: %s", hdr);
	cr_assert_eq(n, cseq);
	cr_assert(copy_header(req, "From", hdr, sizeof(hdr)));
	snprintf(want, sizeof(want), "From: <sip:viaduct@%s>;tag=", via_host);
	cr_assert_eq(strncmp(hdr, want, strlen(want)), 0, "From: %s", hdr);
	cr_assert(copy_header(req, "To", hdr, sizeof(hdr)));
	snprintf(want, sizeof(want), "To: <sip:%s:%u>\r\n", dst_host, dst_port);
	cr_assert_str_eq(hdr, want);
	cr_assert(copy_header(req, "Call-ID", hdr, sizeof(hdr)));
	cr_assert(strstr(req, "\r\nUser-Agent: viaduct-health\r\n"));
	/* Content-Length 0 and nothing after the blank line */
	cr_assert_geq(len, 24);
	cr_assert_str_eq(req + len - 23, "\r\nContent-Length: 0\r\n\r\n");
}

/* The branch value of a request's Via, into out. */
HF_UNUSED static void branch_of(const char *req, char *out, size_t cap)
{
	const char *b = strstr(req, ";branch=");
	size_t n;

	cr_assert_not_null(b);
	b += strlen(";branch=");
	n = strcspn(b, ";\r\n ");
	cr_assert_lt(n, cap);
	memcpy(out, b, n);
	out[n] = '\0';
}

#endif
