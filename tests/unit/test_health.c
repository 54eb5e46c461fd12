/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the health prober (src/ctl/health.c) over real UDP sockets on 127.0.0.1 and
 * ::1, and TCP sockets on 127.0.0.1 for members probed with a connect.
 *
 * Fake members are plain sockets in the test that answer (or not) each OPTIONS they receive,
 * or listen (or not) for the prober's connects.
 * The test owns the clock: every now_ms passed to vd_health_tick()/vd_health_on_readable() is
 * a made-up value, so timeouts and intervals are exact and nothing sleeps. The only waits are
 * poll() calls bounded by WAIT_MS for a datagram that has already been sent on loopback, or a
 * connection already made, and ticks 1 ms apart, bounded by WAIT_MS, until a loopback connect
 * the prober made is resolved (settle()).
 */
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

static void on_change(void *arg, unsigned member, bool up)
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

static union vd_sockaddr loopback(int family, uint16_t port)
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

static uint16_t port_of(const union vd_sockaddr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

static struct fake fake_open(int family)
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

static struct vd_health_config config(int family)
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

static struct vd_health *prober(const struct vd_health_config *c, struct changes *ch)
{
	char err[256] = "";
	struct vd_health *h = vd_health_new(c, on_change, ch, err, sizeof(err));

	cr_assert_not_null(h, "vd_health_new: %s", err);
	return h;
}

static void set_members(struct vd_health *h, const struct fake *f, unsigned n)
{
	union vd_sockaddr a[8];

	cr_assert_leq(n, 8);
	for (unsigned i = 0; i < n; i++)
		a[i] = f[i].addr;
	cr_assert_eq(vd_health_set_members(h, a, NULL, n), 0);
}

/* The prober's bound port for a family (its Via must carry it). */
static uint16_t prober_port(const struct vd_health *h)
{
	int fds[2];
	union vd_sockaddr a;
	socklen_t len = sizeof(a);

	cr_assert_geq(vd_health_fds(h, fds), 1);
	cr_assert_eq(getsockname(fds[0], &a.sa, &len), 0);
	return port_of(&a);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* Receives one datagram (NUL-terminated) that must arrive within WAIT_MS. */
static size_t recv_msg(int fd, char *buf, union vd_sockaddr *src)
{
	socklen_t len = sizeof(*src);
	ssize_t r;

	cr_assert(readable(fd, WAIT_MS), "no datagram within %d ms", WAIT_MS);
	r = recvfrom(fd, buf, MSG_MAX - 1, 0, &src->sa, &len);
	cr_assert_geq(r, 0, "recvfrom: %s", strerror(errno));
	buf[r] = '\0';
	return (size_t)r;
}

static void expect_quiet(int fd)
{
	cr_assert_not(readable(fd, QUIET_MS), "unexpected datagram");
}

/* Copies header line `name` (with its CRLF) from msg to out; false if absent. */
static bool copy_header(const char *msg, const char *name, char *out, size_t cap)
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
static size_t answer_text(const char *req, int status, char *out, size_t cap)
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
static void answer_from(int fd, const char *req, const union vd_sockaddr *to, int status)
{
	char msg[4096];
	size_t len = answer_text(req, status, msg, sizeof(msg));
	cr_assert_eq(sendto(fd, msg, len, 0, &to->sa, vd_sockaddr_len(to)), (ssize_t)len);
}

static void send_raw(int fd, const void *msg, size_t len, const union vd_sockaddr *to)
{
	cr_assert_eq(sendto(fd, msg, len, 0, &to->sa, vd_sockaddr_len(to)), (ssize_t)len);
}

/* Feeds the prober until it has read `rx` datagrams in total (each one already sent). */
static void pump(struct vd_health *h, uint64_t now, uint64_t rx)
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
static size_t probe_round(struct vd_health *h, const struct fake *f, uint64_t now, int status,
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

static const struct vd_health_member_state *state(const struct vd_health *h, unsigned i)
{
	const struct vd_health_member_state *st = vd_health_state(h, i);

	cr_assert_not_null(st);
	return st;
}

/* Checks an OPTIONS against RFC 3261 8.1.1 and what the prober promises. */
static void check_options(const char *req, size_t len, const char *dst_host, uint16_t dst_port,
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
static void branch_of(const char *req, char *out, size_t cap)
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

Test(health, answered_member_stays_up_and_options_are_well_formed, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = prober(&c, &ch);
	struct fake f = fake_open(AF_INET);
	static char req[MSG_MAX];
	char branches[ROUNDS][128], callids[ROUNDS][256];
	union vd_sockaddr src;

	set_members(h, &f, 1);
	cr_assert_eq(vd_health_next_ms(h), 0, "a new member is due at once");
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t now = T0 + r * INTERVAL;
		size_t len;

		vd_health_tick(h, now);
		cr_assert_eq(vd_health_next_ms(h), now + TIMEOUT, "outstanding probe: its timeout");
		len = recv_msg(f.fd, req, &src);
		cr_assert_eq(port_of(&src), prober_port(h), "sent from the prober's socket");
		check_options(req, len, "127.0.0.1", port_of(&f.addr), "127.0.0.1", prober_port(h),
			      r + 1);
		branch_of(req, branches[r], sizeof(branches[r]));
		cr_assert(copy_header(req, "Call-ID", callids[r], sizeof(callids[r])));
		for (unsigned k = 0; k < r; k++) {
			cr_assert_str_neq(branches[k], branches[r], "branch reused");
			cr_assert_str_neq(callids[k], callids[r], "Call-ID reused");
		}
		answer_from(f.fd, req, &src, 200);
		pump(h, now + REPLY_LAG, r + 1);
		cr_assert_eq(state(h, 0)->replies, r + 1);
		cr_assert_eq(state(h, 0)->last_status, 200);
		cr_assert(state(h, 0)->up);
		cr_assert_eq(vd_health_next_ms(h), now + INTERVAL);
		vd_health_tick(h, now + INTERVAL - 1); /* not due yet */
		expect_quiet(f.fd);
	}
	cr_assert_eq(state(h, 0)->probes, ROUNDS);
	cr_assert_eq(state(h, 0)->timeouts, 0);
	cr_assert_eq(ch.n, 0, "no transition, no callback");
	vd_health_free(h);
	close(f.fd);
}

Test(health, silent_member_goes_down_after_exactly_down_after_timeouts, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = prober(&c, &ch);
	struct fake f = fake_open(AF_INET);
	static char first[MSG_MAX], req[MSG_MAX];
	union vd_sockaddr src;

	set_members(h, &f, 1);
	for (unsigned k = 1; k <= DOWN_AFTER + 2; k++) {
		uint64_t now = T0 + (k - 1) * INTERVAL;

		probe_round(h, &f, now, 0, k == 1 ? first : req);
		vd_health_tick(h, now + TIMEOUT - 1);
		cr_assert_eq(state(h, 0)->timeouts, k - 1, "expired early");
		vd_health_tick(h, now + TIMEOUT);
		cr_assert_eq(state(h, 0)->timeouts, k);
		cr_assert_eq(state(h, 0)->fails, k);
		cr_assert_eq(state(h, 0)->up, k < DOWN_AFTER, "round %u", k);
		cr_assert_eq(ch.n, k < DOWN_AFTER ? 0u : 1u, "round %u", k);
	}
	cr_assert_eq(ch.n_down, 1);
	cr_assert_eq(ch.member, 0);
	cr_assert_not(ch.up);
	cr_assert_eq(state(h, 0)->last_change_ms, T0 + (DOWN_AFTER - 1) * INTERVAL + TIMEOUT);

	/* a reply to a probe that already timed out proves nothing */
	src = loopback(AF_INET, prober_port(h));
	answer_from(f.fd, first, &src, 200);
	pump(h, T0 + 10 * INTERVAL, 1);
	cr_assert_eq(vd_health_counters(h)->stray, 1);
	cr_assert_eq(state(h, 0)->replies, 0);
	cr_assert_not(state(h, 0)->up);
	vd_health_free(h);
	close(f.fd);
}

Test(health, member_answering_503_goes_down_then_comes_back_with_200, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	struct fake f = fake_open(AF_INET);
	static char req[MSG_MAX];
	uint64_t now = T0;
	union vd_sockaddr src;

	c.down_after = 2;
	c.up_after = 3;
	h = prober(&c, &ch);
	set_members(h, &f, 1);
	for (unsigned k = 1; k <= c.down_after; k++, now += INTERVAL)
		probe_round(h, &f, now, 503, req);
	cr_assert_eq(ch.n, 1);
	cr_assert_not(ch.up);
	cr_assert_not(state(h, 0)->up);
	cr_assert_eq(state(h, 0)->errors_5xx, 2);
	cr_assert_eq(state(h, 0)->last_status, 503);
	cr_assert_eq(state(h, 0)->timeouts, 0);

	/* a provisional response changes nothing: the probe stays outstanding */
	vd_health_tick(h, now);
	recv_msg(f.fd, req, &src);
	answer_from(f.fd, req, &src, 100);
	pump(h, now + 1, vd_health_counters(h)->rx + 1);
	cr_assert_eq(vd_health_counters(h)->provisional, 1);
	cr_assert_eq(vd_health_next_ms(h), now + TIMEOUT);
	cr_assert_eq(state(h, 0)->replies, 2);
	answer_from(f.fd, req, &src, 200);
	pump(h, now + REPLY_LAG, vd_health_counters(h)->rx + 1);
	cr_assert_eq(state(h, 0)->oks, 1);
	now += INTERVAL;

	for (unsigned k = 2; k <= c.up_after; k++, now += INTERVAL) {
		cr_assert_not(state(h, 0)->up, "up after %u successes", k - 1);
		probe_round(h, &f, now, 200, req);
	}
	cr_assert(state(h, 0)->up);
	cr_assert_eq(ch.n, 2);
	cr_assert_eq(ch.n_up, 1);
	cr_assert(ch.up);
	cr_assert_eq(state(h, 0)->last_change_ms, now - INTERVAL + REPLY_LAG);
	cr_assert_eq(state(h, 0)->fails, 0);
	vd_health_free(h);
	close(f.fd);
}

/* Which final statuses count as alive: 5xx is the one failure; 1xx never decides. */
Test(health, status_classes, .timeout = TEST_TIMEOUT_S)
{
	static const struct {
		int status;
		bool ok;
	} table[] = {
		{200, true},  {202, true},  {302, true},  {403, true}, {404, true}, {486, true},
		{500, false}, {503, false}, {599, false}, {600, true}, {603, true}, {699, true},
	};
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	struct fake f = fake_open(AF_INET);
	static char req[MSG_MAX];

	c.down_after = c.up_after = 1;
	h = prober(&c, &ch);
	set_members(h, &f, 1);
	for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
		probe_round(h, &f, T0 + k * INTERVAL, table[k].status, req);
		cr_assert_eq(state(h, 0)->up, table[k].ok, "status %d", table[k].status);
		cr_assert_eq(state(h, 0)->last_status, table[k].status);
	}
	cr_assert_eq(state(h, 0)->errors_5xx, 3);
	vd_health_free(h);
	close(f.fd);
}

Test(health, set_members_keeps_kept_members_and_adds_new_ones_up, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	struct fake f[3] = {fake_open(AF_INET), fake_open(AF_INET), fake_open(AF_INET)};
	struct fake reordered[3];
	static char req[MSG_MAX], inflight[MSG_MAX];
	union vd_sockaddr src;
	const uint64_t t_b2 = T0 + INTERVAL + INTERVAL / 2; /* B's second probe */
	const uint64_t t = t_b2 + REPLY_LAG;

	c.down_after = 2;
	h = prober(&c, &ch);
	set_members(h, f, 2); /* A = f[0] silent, at T0; B = f[1] answers, at T0 + INTERVAL / 2 */
	for (unsigned round = 0; round < 2; round++) {
		uint64_t t_a = T0 + round * INTERVAL, t_b = t_a + INTERVAL / 2;

		probe_round(h, &f[0], t_a, 0, req);
		vd_health_tick(h, t_a + TIMEOUT);
		expect_quiet(f[1].fd);
		if (round == 0) {
			probe_round(h, &f[1], t_b, 200, req);
		} else {
			vd_health_tick(h, t_b); /* B's second probe: left in flight */
			recv_msg(f[1].fd, inflight, &src);
		}
	}
	cr_assert_not(state(h, 0)->up);
	cr_assert_eq(ch.n, 1);
	cr_assert(state(h, 1)->up);

	/* new list: B (was 1, probe in flight), C (new), A (was 0, down) */
	reordered[0] = f[1];
	reordered[1] = f[2];
	reordered[2] = f[0];
	set_members(h, reordered, 3);
	cr_assert_eq(vd_health_members(h), 3);
	cr_assert_null(vd_health_state(h, 3));
	cr_assert_not(state(h, 2)->up, "A keeps its state");
	cr_assert_eq(state(h, 2)->timeouts, 2);
	cr_assert_eq(state(h, 2)->probes, 2);
	cr_assert(state(h, 0)->up);
	cr_assert_eq(state(h, 0)->replies, 1);
	cr_assert(state(h, 1)->up, "a new member starts up");
	cr_assert_eq(state(h, 1)->probes, 0);
	cr_assert_eq(vd_health_next_ms(h), 0, "the new member is placed at the next tick");

	/* the reply to B's probe, sent under index 1, still matches B at index 0 */
	cr_assert_eq(src.sa.sa_family, AF_INET);
	answer_from(f[1].fd, inflight, &src, 200);
	pump(h, t, 2);
	cr_assert_eq(state(h, 0)->replies, 2);
	cr_assert_eq(vd_health_counters(h)->stray, 0);

	/* C's first probe is spread: index 1 of 3 -> a third of an interval after this tick */
	vd_health_tick(h, t + 20);
	expect_quiet(f[2].fd);
	cr_assert_eq(vd_health_next_ms(h), t + 20 + INTERVAL / 3);
	probe_round(h, &f[2], t + 20 + INTERVAL / 3, 200, req);
	cr_assert_eq(state(h, 1)->replies, 1);

	/* dropping members: the survivor keeps its counters */
	set_members(h, &f[2], 1);
	cr_assert_eq(vd_health_members(h), 1);
	cr_assert_eq(state(h, 0)->replies, 1);
	cr_assert_eq(ch.n, 1, "set_members itself reports nothing");
	vd_health_free(h);
	for (int k = 0; k < 3; k++)
		close(f[k].fd);
}

Test(health, first_probes_are_spread_over_the_interval, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	struct fake f[4] = {fake_open(AF_INET), fake_open(AF_INET), fake_open(AF_INET),
			    fake_open(AF_INET)};
	static char req[MSG_MAX];
	union vd_sockaddr src;

	c.timeout_ms = INTERVAL; /* outstanding probes must not hide the next due time */
	h = prober(&c, &ch);
	set_members(h, f, 4);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t due = T0 + i * INTERVAL / 4;

		vd_health_tick(h, due);
		recv_msg(f[i].fd, req, &src);
		for (unsigned j = 0; j < 4; j++)
			cr_assert_eq(state(h, j)->probes, j <= i ? 1u : 0u, "at %u: member %u", i,
				     j);
		if (i < 3)
			cr_assert_eq(vd_health_next_ms(h), due + INTERVAL / 4);
	}
	vd_health_free(h);
	for (int k = 0; k < 4; k++)
		close(f[k].fd);
}

Test(health, ipv6_prober_probes_a_member_on_loopback, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct fake f = fake_open(AF_INET6);
	struct vd_health_config c = config(AF_INET6);
	struct vd_health *h = prober(&c, &ch);
	static char req[MSG_MAX];
	int fds[2];
	size_t len;

	cr_assert_eq(vd_health_fds(h, fds), 1);
	set_members(h, &f, 1);
	len = probe_round(h, &f, T0, 200, req);
	check_options(req, len, "[::1]", port_of(&f.addr), "[::1]", prober_port(h), 1);
	cr_assert_eq(state(h, 0)->replies, 1);
	cr_assert(state(h, 0)->up);
	vd_health_free(h);
	close(f.fd);
}

Test(health, wildcard_bind_puts_the_real_source_address_in_via, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	struct fake f = fake_open(AF_INET);
	static char req[MSG_MAX];
	size_t len;

	c.bind_v4.in.sin_addr.s_addr = htonl(INADDR_ANY);
	h = prober(&c, &ch);
	set_members(h, &f, 1);
	len = probe_round(h, &f, T0, 200, req);
	check_options(req, len, "127.0.0.1", port_of(&f.addr), "127.0.0.1", prober_port(h), 1);
	cr_assert_eq(state(h, 0)->replies, 1);
	vd_health_free(h);
	close(f.fd);
}

Test(health, member_of_a_family_without_socket_times_out, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	union vd_sockaddr v6 = loopback(AF_INET6, 5060);

	c.down_after = 1;
	h = prober(&c, &ch);
	cr_assert_eq(vd_health_set_members(h, &v6, NULL, 1), 0);
	vd_health_tick(h, T0);
	cr_assert_eq(vd_health_counters(h)->tx_errors, 1);
	cr_assert_eq(state(h, 0)->probes, 1);
	vd_health_tick(h, T0 + TIMEOUT);
	cr_assert_eq(state(h, 0)->timeouts, 1);
	cr_assert_not(state(h, 0)->up);
	cr_assert_eq(ch.n_down, 1);
	vd_health_free(h);
}

/* An address that is never sent to: the prober has no socket of its family. */
static union vd_sockaddr doc_v6(unsigned i)
{
	union vd_sockaddr a = loopback(AF_INET6, 5060);

	inet_pton(AF_INET6, "2001:db8::", &a.in6.sin6_addr); /* documentation prefix */
	a.in6.sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
	a.in6.sin6_addr.s6_addr[15] = (uint8_t)i;
	return a;
}

Test(health, reload_of_the_largest_list_keeps_each_member_state, .timeout = TEST_TIMEOUT_S)
{
	enum { N = VD_HEALTH_MAX_MEMBERS };
	static union vd_sockaddr list[N];
	static bool probed[N]; /* first probe due by half an interval: offset i * interval / n */
	unsigned n_probed = 0;
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET); /* members are IPv6: nothing is sent */
	struct vd_health *h = prober(&c, &ch);

	for (unsigned i = 0; i < N; i++) {
		list[i] = doc_v6(i);
		probed[i] = (uint64_t)i * INTERVAL / N <= INTERVAL / 2;
		n_probed += probed[i];
	}
	cr_assert(probed[N / 2] && !probed[N / 2 + N / 100], "the spread is even");
	cr_assert_eq(vd_health_set_members(h, list, NULL, N), 0);
	vd_health_tick(h, T0);
	vd_health_tick(h, T0 + INTERVAL / 2);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(state(h, i)->probes, probed[i] ? 1u : 0u, "member %u", i);
	cr_assert_eq(vd_health_counters(h)->tx_errors, n_probed);

	/* reversed, and the first slot given to a new address (old member N - 1 leaves) */
	for (unsigned j = 0; j < N; j++)
		list[j] = doc_v6(N - 1 - j);
	list[0] = doc_v6(0xffff);
	cr_assert_eq(vd_health_set_members(h, list, NULL, N), 0);
	cr_assert_eq(state(h, 0)->probes, 0);
	cr_assert(state(h, 0)->up);
	for (unsigned j = 1; j < N; j++)
		cr_assert_eq(state(h, j)->probes, probed[N - 1 - j] ? 1u : 0u, "member %u", j);
	cr_assert_eq(vd_health_next_ms(h), 0);

	/* a duplicate address: one copy keeps the state, the other starts fresh */
	list[0] = list[N - 1];
	cr_assert_eq(vd_health_set_members(h, list, NULL, N), 0);
	cr_assert_eq(state(h, 0)->probes + state(h, N - 1)->probes, 1);
	vd_health_free(h);
}

/* Builds a 200 to `req` whose top Via is replaced by `via` (a full header line, CRLF included). */
static size_t reply_with_via(const char *req, const char *via, char *out, size_t cap)
{
	char from[512], to[512], callid[512], cseq[128];
	int len;

	cr_assert(copy_header(req, "From", from, sizeof(from)));
	cr_assert(copy_header(req, "To", to, sizeof(to)));
	cr_assert(copy_header(req, "Call-ID", callid, sizeof(callid)));
	cr_assert(copy_header(req, "CSeq", cseq, sizeof(cseq)));
	len = snprintf(out, cap, "SIP/2.0 200 OK\r\n%s%s%s%s%sContent-Length: 0\r\n\r\n", via, from,
		       to, callid, cseq);
	cr_assert_lt((size_t)len, cap);
	return (size_t)len;
}

Test(health, garbage_and_strays_are_counted_and_ignored, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = prober(&c, &ch);
	struct fake f = fake_open(AF_INET), other = fake_open(AF_INET);
	static char req[MSG_MAX], big[60000], msg[4096];
	static const char binary[] = {0x00, 0x01, (char)0xff, 0x7f, 0x16, 0x03, 0x01};
	static const char *const garbage[] = {
		"\r\n\r\n",
		"SIP/2.0 200 OK\r\n\r\n",
		"SIP/2.0 200",
		"SIP/2.0 2x0 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\r\n",
		"SIP/2.0 099 Low\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\r\n",
		"SIP/2.0 2000 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\r\n",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;rport\r\n\r\n",
		"SIP/2.0 200 OK\r\nFrom: <sip:a@b>\r\nCall-ID: x\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	};
	union vd_sockaddr to, src;
	char branch[128], via[256], bad[128];
	uint64_t sent = 0;
	size_t len;

	set_members(h, &f, 1);
	vd_health_tick(h, T0);
	len = recv_msg(f.fd, req, &src);
	to = loopback(AF_INET, prober_port(h));
	branch_of(req, branch, sizeof(branch));

	/* garbage: not a response we can read */
	send_raw(f.fd, "", 0, &to);
	send_raw(f.fd, binary, sizeof(binary), &to);
	memset(big, 'A', sizeof(big));
	send_raw(f.fd, big, sizeof(big), &to);
	send_raw(f.fd, req, len, &to); /* our own request echoed back */
	sent = 4;
	for (size_t k = 0; k < sizeof(garbage) / sizeof(garbage[0]); k++, sent++)
		send_raw(f.fd, garbage[k], strlen(garbage[k]), &to);
	pump(h, T0 + 1, sent);
	cr_assert_eq(vd_health_counters(h)->garbage, sent);
	cr_assert_eq(vd_health_counters(h)->stray, 0);

	/* strays: readable responses to no probe of ours */
	snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKother\r\n");
	send_raw(f.fd, msg, reply_with_via(req, via, msg, sizeof(msg)), &to);
	snprintf(bad, sizeof(bad), "%s", branch);
	bad[strlen("z9hG4bKvdh.")] ^= 1; /* another prober's nonce */
	snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 127.0.0.1:1;branch=%s\r\n", bad);
	send_raw(f.fd, msg, reply_with_via(req, via, msg, sizeof(msg)), &to);
	snprintf(bad, sizeof(bad), "%s", branch);
	bad[strlen(bad) - 1] ^= 1; /* another probe of ours */
	snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 127.0.0.1:1;branch=%s\r\n", bad);
	send_raw(f.fd, msg, reply_with_via(req, via, msg, sizeof(msg)), &to);
	answer_from(other.fd, req, &to, 200); /* right branch, wrong source */
	sent += 4;
	pump(h, T0 + 2, sent);
	cr_assert_eq(vd_health_counters(h)->stray, 4);
	cr_assert_eq(state(h, 0)->replies, 0);
	cr_assert_eq(vd_health_next_ms(h), T0 + TIMEOUT, "the probe is still outstanding");

	/* the real reply, in compact form with odd spacing, still matches */
	snprintf(via, sizeof(via), "v : SIP/2.0/UDP 127.0.0.1:1 ; BRANCH = %s ;received=x\r\n",
		 branch);
	send_raw(f.fd, msg, reply_with_via(req, via, msg, sizeof(msg)), &to);
	pump(h, T0 + 3, ++sent);
	cr_assert_eq(state(h, 0)->replies, 1);
	cr_assert_eq(vd_health_counters(h)->rx, sent);
	cr_assert_eq(vd_health_counters(h)->rx_errors, 0);
	cr_assert(state(h, 0)->up);
	cr_assert_eq(ch.n, 0);
	vd_health_free(h);
	close(f.fd);
	close(other.fd);
}

Test(health, bad_configs_and_arguments_are_refused, .timeout = TEST_TIMEOUT_S)
{
	struct vd_health_config c;
	char err[256];
	struct vd_health *h;
	static union vd_sockaddr many[VD_HEALTH_MAX_MEMBERS + 1];
	int fds[2];

	c = config(AF_INET);
	c.timeout_ms = INTERVAL + 1;
	err[0] = '\0';
	cr_assert_null(vd_health_new(&c, NULL, NULL, err, sizeof(err)));
	cr_assert(strstr(err, "timeout_ms"), "%s", err);
	c = config(AF_INET);
	c.down_after = 0;
	cr_assert_null(vd_health_new(&c, NULL, NULL, err, sizeof(err)));
	c = config(AF_INET);
	c.bind_v4.sa.sa_family = 0;
	cr_assert_null(vd_health_new(&c, NULL, NULL, err, sizeof(err)));
	c = config(AF_INET);
	c.bind_v4.in.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1: not ours */
	err[0] = '\0';
	cr_assert_null(vd_health_new(&c, NULL, NULL, err, sizeof(err)));
	cr_assert(strstr(err, "192.0.2.1"), "%s", err);

	c = config(AF_INET);
	h = vd_health_new(&c, NULL, NULL, err, sizeof(err));
	cr_assert_not_null(h, "%s", err);
	cr_assert_eq(vd_health_next_ms(h), UINT64_MAX, "no members, no work");
	cr_assert_eq(vd_health_set_members(h, many, NULL, VD_HEALTH_MAX_MEMBERS + 1), -EINVAL);
	cr_assert_eq(vd_health_members(h), 0);
	cr_assert_null(vd_health_state(h, 0));
	cr_assert_eq(vd_health_fds(h, fds), 1);
	vd_health_on_readable(h, fds[0] + 1000, T0); /* not ours: ignored */
	vd_health_on_readable(h, fds[0], T0);	     /* nothing queued: returns */
	vd_health_tick(h, T0);
	cr_assert_eq(vd_health_counters(h)->rx, 0);
	vd_health_free(h);
	vd_health_free(NULL);
}

Test(health, now_ms_is_monotonic)
{
	uint64_t a = vd_now_ms(), b = vd_now_ms();

	cr_assert_gt(a, 0);
	cr_assert_geq(b, a);
}

/* ---- transport mode: probes handed to a datapath, replies fed back with on_datagram ---- */

#define FAKE_TX_MAX 8

/* A datapath in the test: records what the prober asks it to send. */
struct fake_tx {
	unsigned n;
	int rc; /* what send() returns */
	char req[FAKE_TX_MAX][2048];
	size_t len[FAKE_TX_MAX];
	union vd_sockaddr src[FAKE_TX_MAX], dst[FAKE_TX_MAX];
};

static int fake_send(void *arg, const void *buf, size_t len, const union vd_sockaddr *src,
		     const union vd_sockaddr *dst)
{
	struct fake_tx *t = arg;
	unsigned k = t->n++ % FAKE_TX_MAX;

	cr_assert_lt(len, sizeof(t->req[k]));
	memcpy(t->req[k], buf, len);
	t->req[k][len] = '\0';
	t->len[k] = len;
	t->src[k] = *src;
	t->dst[k] = *dst;
	return t->rc;
}

/* The last request the fake datapath was given. */
static const char *last_req(const struct fake_tx *t)
{
	cr_assert_gt(t->n, 0, "nothing sent");
	return t->req[(t->n - 1) % FAKE_TX_MAX];
}

static union vd_sockaddr addr_of(const char *ip, uint16_t port)
{
	union vd_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':')) {
		a.in6.sin6_family = AF_INET6;
		cr_assert_eq(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), 1);
		a.in6.sin6_port = htons(port);
	} else {
		a.in.sin_family = AF_INET;
		cr_assert_eq(inet_pton(AF_INET, ip, &a.in.sin_addr), 1);
		a.in.sin_port = htons(port);
	}
	return a;
}

/* Our source in the tests: addresses that exist nowhere, which is the point of a transport. */
#define TX_SRC4 "192.0.2.2"
#define TX_SRC6 "2001:db8::2"
#define TX_PORT 50600

static struct vd_health *tx_prober(struct vd_health_config *c, struct fake_tx *t,
				   struct changes *ch)
{
	struct vd_health_transport tr = {
		.send = fake_send,
		.arg = t,
		.src_v4 = addr_of(TX_SRC4, TX_PORT),
		.src_v6 = addr_of(TX_SRC6, TX_PORT),
	};
	char err[256] = "";
	struct vd_health *h = vd_health_new_transport(c, &tr, on_change, ch, err, sizeof(err));

	cr_assert_not_null(h, "vd_health_new_transport: %s", err);
	return h;
}

/* Delivers member's answer `status` to the last request, as the datapath would. */
static void tx_answer(struct vd_health *h, const struct fake_tx *t, const union vd_sockaddr *from,
		      int status, uint64_t now)
{
	char msg[4096];
	size_t len = answer_text(last_req(t), status, msg, sizeof(msg));

	vd_health_on_datagram(h, msg, len, from, now);
}

Test(health_transport, probes_go_to_the_transport_with_our_source_in_via, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct fake_tx t = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = tx_prober(&c, &t, &ch);
	union vd_sockaddr members[2] = {addr_of("192.0.2.10", 5070), addr_of("2001:db8::10", 5080)};
	int fds[2];

	cr_assert_eq(vd_health_fds(h, fds), 0, "a transport prober has no socket");
	cr_assert_eq(vd_health_set_members(h, members, NULL, 2), 0);
	vd_health_tick(h, T0);		      /* member 0 at once */
	vd_health_tick(h, T0 + INTERVAL / 2); /* member 1 half an interval later */
	cr_assert_eq(t.n, 2);
	check_options(t.req[0], t.len[0], "192.0.2.10", 5070, TX_SRC4, TX_PORT, 1);
	check_options(t.req[1], t.len[1], "[2001:db8::10]", 5080, "[" TX_SRC6 "]", TX_PORT, 1);
	/* the transport is told where to send from (the Via) and where to */
	union vd_sockaddr want4 = addr_of(TX_SRC4, TX_PORT);
	cr_assert_eq(memcmp(&t.src[0].in, &want4.in, sizeof(want4.in)), 0);
	cr_assert_eq(t.src[1].sa.sa_family, AF_INET6);
	cr_assert_eq(port_of(&t.src[1]), TX_PORT);
	cr_assert_eq(port_of(&t.dst[0]), 5070);
	cr_assert_eq(port_of(&t.dst[1]), 5080);
	cr_assert_eq(t.dst[1].sa.sa_family, AF_INET6);
	cr_assert_eq(vd_health_counters(h)->tx_errors, 0);
	vd_health_free(h);
}

Test(health_transport, a_200_keeps_the_member_up_and_resolves_the_probe, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct fake_tx t = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = tx_prober(&c, &t, &ch);
	union vd_sockaddr m = addr_of("192.0.2.10", 5070);

	cr_assert_eq(vd_health_set_members(h, &m, NULL, 1), 0);
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t now = T0 + r * INTERVAL;

		vd_health_tick(h, now);
		cr_assert_eq(t.n, r + 1);
		cr_assert_eq(vd_health_next_ms(h), now + TIMEOUT);
		tx_answer(h, &t, &m, 200, now + REPLY_LAG);
		cr_assert_eq(state(h, 0)->replies, r + 1);
		cr_assert_eq(state(h, 0)->last_status, 200);
		cr_assert(state(h, 0)->up);
		cr_assert_eq(vd_health_next_ms(h), now + INTERVAL, "resolved: next probe due");
	}
	cr_assert_eq(vd_health_counters(h)->rx, ROUNDS);
	cr_assert_eq(state(h, 0)->timeouts, 0);
	cr_assert_eq(ch.n, 0);
	vd_health_free(h);
}

Test(health_transport, 503_marks_down_and_200_brings_back_over_ipv6, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct fake_tx t = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	union vd_sockaddr m = addr_of("2001:db8::10", 5070);
	uint64_t now = T0;

	c.down_after = 2;
	c.up_after = 2;
	h = tx_prober(&c, &t, &ch);
	cr_assert_eq(vd_health_set_members(h, &m, NULL, 1), 0);
	for (unsigned k = 0; k < c.down_after; k++, now += INTERVAL) {
		vd_health_tick(h, now);
		tx_answer(h, &t, &m, 503, now + REPLY_LAG);
	}
	cr_assert_not(state(h, 0)->up);
	cr_assert_eq(state(h, 0)->errors_5xx, 2);
	cr_assert_eq(ch.n_down, 1);
	cr_assert_eq(ch.member, 0);
	for (unsigned k = 0; k < c.up_after; k++, now += INTERVAL) {
		vd_health_tick(h, now);
		tx_answer(h, &t, &m, 200, now + REPLY_LAG);
	}
	cr_assert(state(h, 0)->up);
	cr_assert_eq(ch.n_up, 1);
	cr_assert_eq(state(h, 0)->timeouts, 0);
	vd_health_free(h);
}

Test(health_transport, provisional_responses_leave_the_probe_outstanding, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct fake_tx t = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	union vd_sockaddr m = addr_of("192.0.2.10", 5070);

	c.down_after = 1;
	h = tx_prober(&c, &t, &ch);
	cr_assert_eq(vd_health_set_members(h, &m, NULL, 1), 0);
	vd_health_tick(h, T0);
	tx_answer(h, &t, &m, 100, T0 + 1);
	tx_answer(h, &t, &m, 183, T0 + 2);
	cr_assert_eq(vd_health_counters(h)->provisional, 2);
	cr_assert_eq(state(h, 0)->replies, 0);
	cr_assert_eq(vd_health_next_ms(h), T0 + TIMEOUT, "still outstanding");
	/* only 1xx and then silence: a timeout, and with down_after 1 the member goes down */
	vd_health_tick(h, T0 + TIMEOUT);
	cr_assert_eq(state(h, 0)->timeouts, 1);
	cr_assert_not(state(h, 0)->up);
	cr_assert_eq(ch.n_down, 1);
	vd_health_free(h);
}

Test(health_transport, wrong_source_garbage_and_late_replies_are_not_believed,
     .timeout = TEST_TIMEOUT_S)
{
	static const char *const garbage[] = {
		"",
		"SIP/2.0 200 OK\r\n\r\n",
		"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKvdh.1\r\n\r\n",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.2:50600;rport\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	};
	struct changes ch = {0};
	struct fake_tx t = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = tx_prober(&c, &t, &ch);
	union vd_sockaddr members[2] = {addr_of("192.0.2.10", 5070), addr_of("192.0.2.11", 5070)};
	union vd_sockaddr other_port = addr_of("192.0.2.10", 5071);
	char first[2048];

	cr_assert_eq(vd_health_set_members(h, members, NULL, 2), 0);
	vd_health_tick(h, T0);
	snprintf(first, sizeof(first), "%s", last_req(&t));
	for (size_t k = 0; k < sizeof(garbage) / sizeof(garbage[0]); k++)
		vd_health_on_datagram(h, garbage[k], strlen(garbage[k]), &members[0], T0 + 1);
	vd_health_on_datagram(h, first, strlen(first), &members[0], T0 + 1); /* our own request */
	cr_assert_eq(vd_health_counters(h)->garbage, 6);
	/* member 0's probe answered by member 1, then from member 0's address on another port */
	tx_answer(h, &t, &members[1], 200, T0 + 2);
	tx_answer(h, &t, &other_port, 200, T0 + 2);
	cr_assert_eq(vd_health_counters(h)->stray, 2);
	cr_assert_eq(state(h, 0)->replies, 0);
	cr_assert_eq(state(h, 1)->replies, 0);
	cr_assert_eq(vd_health_next_ms(h), T0 + TIMEOUT, "member 0's probe still outstanding");
	/* times out; its reply arriving afterwards is a stray too */
	vd_health_tick(h, T0 + TIMEOUT);
	cr_assert_eq(state(h, 0)->timeouts, 1);
	{
		char msg[4096];
		size_t len = answer_text(first, 200, msg, sizeof(msg));

		vd_health_on_datagram(h, msg, len, &members[0], T0 + TIMEOUT + 1);
	}
	cr_assert_eq(vd_health_counters(h)->stray, 3);
	cr_assert_eq(state(h, 0)->replies, 0);
	cr_assert_eq(vd_health_counters(h)->rx, 6 + 3);
	cr_assert_eq(ch.n, 0, "one timeout is not down_after");
	vd_health_free(h);
}

Test(health_transport, refused_sends_and_missing_families_time_out, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct fake_tx t = {.rc = -ENOBUFS};
	struct vd_health_config c = config(AF_INET);
	struct vd_health_transport tr = {
		.send = fake_send, .arg = &t, .src_v4 = addr_of(TX_SRC4, TX_PORT)}; /* no IPv6 */
	union vd_sockaddr members[2] = {addr_of("192.0.2.10", 5070), addr_of("2001:db8::10", 5070)};
	char err[256] = "";
	struct vd_health *h;

	c.down_after = 1;
	h = vd_health_new_transport(&c, &tr, on_change, &ch, err, sizeof(err));
	cr_assert_not_null(h, "%s", err);
	cr_assert_eq(vd_health_set_members(h, members, NULL, 2), 0);
	vd_health_tick(h, T0);
	vd_health_tick(h, T0 + INTERVAL / 2);
	cr_assert_eq(t.n, 1, "no IPv6 source: the transport is not even asked");
	cr_assert_eq(vd_health_counters(h)->tx_errors, 2);
	cr_assert_eq(state(h, 0)->probes, 1);
	cr_assert_eq(state(h, 1)->probes, 1);
	vd_health_tick(h, T0 + INTERVAL / 2 + TIMEOUT);
	cr_assert_eq(state(h, 0)->timeouts, 1);
	cr_assert_eq(state(h, 1)->timeouts, 1);
	cr_assert_eq(ch.n_down, 2);
	vd_health_free(h);
}

Test(health_transport, bad_transports_are_refused, .timeout = TEST_TIMEOUT_S)
{
	struct vd_health_config c = config(AF_INET);
	struct fake_tx t = {0};
	struct vd_health_transport tr;
	char err[256];

	tr = (struct vd_health_transport){.send = fake_send, .arg = &t};
	err[0] = '\0';
	cr_assert_null(vd_health_new_transport(&c, &tr, NULL, NULL, err, sizeof(err)));
	cr_assert(strstr(err, "src_v4"), "no source at all: %s", err);
	tr.src_v4 = addr_of("0.0.0.0", TX_PORT);
	cr_assert_null(vd_health_new_transport(&c, &tr, NULL, NULL, err, sizeof(err)));
	cr_assert(strstr(err, "wildcard"), "%s", err);
	tr.src_v4 = addr_of(TX_SRC4, 0);
	cr_assert_null(vd_health_new_transport(&c, &tr, NULL, NULL, err, sizeof(err)));
	tr.src_v4 = addr_of(TX_SRC4, TX_PORT);
	tr.src_v6 = addr_of("::", TX_PORT);
	cr_assert_null(vd_health_new_transport(&c, &tr, NULL, NULL, err, sizeof(err)));
	tr.src_v6 = addr_of(TX_SRC4, TX_PORT); /* IPv4 in the IPv6 slot */
	cr_assert_null(vd_health_new_transport(&c, &tr, NULL, NULL, err, sizeof(err)));
	tr.src_v6 = (union vd_sockaddr){0};
	tr.send = NULL;
	cr_assert_null(vd_health_new_transport(&c, &tr, NULL, NULL, err, sizeof(err)));
	tr.send = fake_send;
	c.timeout_ms = 0;
	cr_assert_null(vd_health_new_transport(&c, &tr, NULL, NULL, err, sizeof(err)));
	c.timeout_ms = TIMEOUT;
	c.bind_v4.sa.sa_family = 0; /* ignored in transport mode */
	struct vd_health *h = vd_health_new_transport(&c, &tr, NULL, NULL, err, sizeof(err));
	cr_assert_not_null(h, "%s", err);
	vd_health_free(h);
}

/* The socket prober takes datagrams from elsewhere too (same matching as on_readable). */
Test(health_transport, socket_prober_accepts_on_datagram_too, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = prober(&c, &ch);
	struct fake f = fake_open(AF_INET);
	static char req[MSG_MAX], msg[4096];
	union vd_sockaddr src;
	size_t len;

	set_members(h, &f, 1);
	vd_health_tick(h, T0);
	recv_msg(f.fd, req, &src);
	len = answer_text(req, 200, msg, sizeof(msg));
	vd_health_on_datagram(h, msg, len, &f.addr, T0 + 1);
	cr_assert_eq(state(h, 0)->replies, 1);
	cr_assert_eq(vd_health_counters(h)->rx, 1);
	vd_health_free(h);
	close(f.fd);
}

/* ---- TCP and TLS members: a TCP connect is the probe ---- */

#define CONNECT_SOON_MS 10 /* a connect in progress: the prober wants a tick within this */

static const uint8_t tp_tcp[] = {VD_TP_TCP};

/* A TCP socket on 127.0.0.1 with an ephemeral port, listening with `backlog` or, with
 * backlog < 0, only bound: a connect to it is refused (RST, ECONNREFUSED). */
static struct fake tcp_open(int backlog)
{
	struct fake f = {.addr = loopback(AF_INET, 0)};
	socklen_t len = sizeof(f.addr);

	f.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(f.fd, 0, "socket: %s", strerror(errno));
	cr_assert_eq(bind(f.fd, &f.addr.sa, vd_sockaddr_len(&f.addr)), 0, "bind: %s",
		     strerror(errno));
	cr_assert_eq(getsockname(f.fd, &f.addr.sa, &len), 0);
	if (backlog >= 0)
		cr_assert_eq(listen(f.fd, backlog), 0, "listen: %s", strerror(errno));
	return f;
}

/* Accepts the connection a probe made: the listener must be readable within WAIT_MS. Then
 * the prober's side is connected already (it acknowledged the SYN-ACK). */
static int accept_one(int lfd)
{
	int fd;

	cr_assert(readable(lfd, WAIT_MS), "no connection within %d ms", WAIT_MS);
	fd = accept(lfd, NULL, NULL);
	cr_assert_geq(fd, 0, "accept: %s", strerror(errno));
	return fd;
}

/* The prober closed its end of an accepted connection without writing anything. */
static void expect_eof(int fd)
{
	char c;

	cr_assert(readable(fd, WAIT_MS), "connection not closed within %d ms", WAIT_MS);
	cr_assert_eq(recv(fd, &c, 1, MSG_DONTWAIT), 0, "the prober wrote to a connect probe");
}

/* Ticks at `now` until member i has `want` probes resolved (replies + timeouts): the outcome
 * of a connect on loopback is a real event, usually there at the first tick. Bounded by
 * WAIT_MS of real time, 1 ms between tries; meanwhile the prober must want a tick soon. */
static void settle(struct vd_health *h, unsigned i, uint64_t now, uint64_t want)
{
	uint64_t limit = vd_now_ms() + WAIT_MS;

	for (;;) {
		vd_health_tick(h, now);
		if (state(h, i)->replies + state(h, i)->timeouts >= want)
			return;
		cr_assert_leq(vd_health_next_ms(h), now + CONNECT_SOON_MS, "connect not watched");
		cr_assert_lt(vd_now_ms(), limit, "connect not resolved within %d ms", WAIT_MS);
		poll(NULL, 0, 1);
	}
}

Test(health_tcp, listening_member_stays_up_and_each_probe_is_one_closed_connection,
     .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = prober(&c, &ch);
	struct fake l = tcp_open(16);

	cr_assert_eq(vd_health_set_members(h, &l.addr, tp_tcp, 1), 0);
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t now = T0 + r * INTERVAL;
		int conn;

		vd_health_tick(h, now);
		cr_assert_eq(state(h, 0)->probes, r + 1);
		conn = accept_one(l.fd);
		settle(h, 0, now + REPLY_LAG, r + 1);
		cr_assert_eq(state(h, 0)->replies, r + 1);
		cr_assert(state(h, 0)->up);
		cr_assert_eq(vd_health_next_ms(h), now + INTERVAL, "resolved: next probe due");
		expect_eof(conn);
		close(conn);
		vd_health_tick(h, now + INTERVAL - 1);
		cr_assert_eq(state(h, 0)->probes, r + 1, "not due yet");
		cr_assert_not(readable(l.fd, 0), "a connection between probes");
	}
	cr_assert_eq(state(h, 0)->timeouts, 0);
	cr_assert_eq(state(h, 0)->last_status, 0);
	cr_assert_eq(vd_health_counters(h)->tx_errors, 0);
	cr_assert_eq(vd_health_counters(h)->rx, 0, "no OPTIONS, no datagram");
	cr_assert_eq(ch.n, 0);
	vd_health_free(h);
	close(l.fd);
}

Test(health_tcp, refused_member_goes_down_then_up_again_once_listening, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = prober(&c, &ch);
	struct fake l = tcp_open(-1); /* bound, not listening: its port refuses connects */
	const uint64_t t_down = T0 + (DOWN_AFTER - 1) * INTERVAL;
	uint64_t now = T0;

	cr_assert_eq(vd_health_set_members(h, &l.addr, tp_tcp, 1), 0);
	for (unsigned k = 1; k <= DOWN_AFTER + 1; k++, now += INTERVAL) {
		vd_health_tick(h, now);
		settle(h, 0, now + REPLY_LAG, k);
		cr_assert_eq(state(h, 0)->timeouts, k);
		cr_assert_eq(state(h, 0)->fails, k);
		cr_assert_eq(state(h, 0)->up, k < DOWN_AFTER, "round %u", k);
		cr_assert_eq(ch.n, k < DOWN_AFTER ? 0u : 1u, "round %u", k);
		/* judged when refused, not at the timeout: the next probe is all that is left */
		cr_assert_eq(vd_health_next_ms(h), now + INTERVAL);
	}
	cr_assert_eq(ch.n_down, 1);
	cr_assert_eq(ch.member, 0);
	cr_assert_geq(state(h, 0)->last_change_ms, t_down);
	cr_assert_leq(state(h, 0)->last_change_ms, t_down + REPLY_LAG);
	cr_assert_eq(state(h, 0)->replies, 0);
	cr_assert_eq(vd_health_counters(h)->tx_errors, 0);

	/* the member listens again: up after exactly up_after connects */
	cr_assert_eq(listen(l.fd, 16), 0, "listen: %s", strerror(errno));
	for (unsigned k = 1; k <= UP_AFTER; k++, now += INTERVAL) {
		int conn;

		cr_assert_not(state(h, 0)->up, "up after %u successes", k - 1);
		vd_health_tick(h, now);
		conn = accept_one(l.fd);
		settle(h, 0, now + REPLY_LAG, DOWN_AFTER + 1 + k);
		cr_assert_eq(state(h, 0)->replies, k);
		cr_assert_eq(state(h, 0)->oks, k);
		close(conn);
	}
	cr_assert(state(h, 0)->up);
	cr_assert_eq(state(h, 0)->fails, 0);
	cr_assert_eq(state(h, 0)->probes, DOWN_AFTER + 1 + UP_AFTER);
	cr_assert_eq(ch.n, 2);
	cr_assert_eq(ch.n_up, 1);
	cr_assert(ch.up);
	cr_assert_eq(state(h, 0)->last_change_ms, now - INTERVAL + REPLY_LAG);
	vd_health_free(h);
	close(l.fd);
}

/* A listener whose accept queue is full drops SYNs: the connect stays in progress until the
 * probe's timeout, which is then a failure like an unanswered OPTIONS. */
Test(health_tcp, connect_in_progress_at_the_timeout_is_a_timeout, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h;
	struct fake l = tcp_open(0); /* backlog 0: one queued connection fills it */
	int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t limit;

	cr_assert_geq(filler, 0);
	cr_assert_eq(connect(filler, &l.addr.sa, vd_sockaddr_len(&l.addr)), 0, "connect: %s",
		     strerror(errno));
	cr_assert(readable(l.fd, WAIT_MS), "the filler is not queued");
	c.down_after = 1;
	h = prober(&c, &ch);
	cr_assert_eq(vd_health_set_members(h, &l.addr, tp_tcp, 1), 0);
	vd_health_tick(h, T0);
	cr_assert_eq(state(h, 0)->probes, 1);
	/* for QUIET_MS of real time the connect stays in progress, and watched */
	limit = vd_now_ms() + QUIET_MS;
	do {
		poll(NULL, 0, 1);
		vd_health_tick(h, T0 + TIMEOUT - 1);
		cr_assert_eq(state(h, 0)->replies + state(h, 0)->timeouts, 0, "resolved early");
		cr_assert_eq(vd_health_next_ms(h), T0 + TIMEOUT,
			     "the deadline comes before the next look");
	} while (vd_now_ms() < limit);
	vd_health_tick(h, T0 + TIMEOUT);
	cr_assert_eq(state(h, 0)->timeouts, 1);
	cr_assert_eq(state(h, 0)->replies, 0);
	cr_assert_not(state(h, 0)->up);
	cr_assert_eq(ch.n_down, 1);
	cr_assert_eq(state(h, 0)->last_change_ms, T0 + TIMEOUT);
	cr_assert_eq(vd_health_next_ms(h), T0 + INTERVAL, "connect closed: nothing to watch");
	vd_health_free(h);
	close(filler);
	close(l.fd);
}

Test(health_tcp, a_member_is_its_address_and_its_transport, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = prober(&c, &ch);
	struct fake u = fake_open(AF_INET);
	struct fake l = {.addr = u.addr}; /* TCP at the UDP member's address and port */
	union vd_sockaddr a[2] = {u.addr, u.addr};
	const uint8_t udp_tls[2] = {VD_TP_UDP, VD_TP_TLS}, tls_udp[2] = {VD_TP_TLS, VD_TP_UDP};
	const uint8_t tls_tcp[2] = {VD_TP_TLS, VD_TP_TCP}, bad[2] = {VD_TP_UDP, VD_TP__COUNT};
	static char req[MSG_MAX];
	int conn;

	l.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(l.fd, 0);
	if (bind(l.fd, &l.addr.sa, vd_sockaddr_len(&l.addr)))
		cr_skip_test("TCP port %u taken: %s", port_of(&l.addr), strerror(errno));
	cr_assert_eq(listen(l.fd, 16), 0);

	/* two members: OPTIONS to one at T0, a connect (TLS: TCP only) to the other later */
	cr_assert_eq(vd_health_set_members(h, a, udp_tls, 2), 0);
	probe_round(h, &u, T0, 200, req);
	cr_assert_not(readable(l.fd, 0), "the UDP member got a connect");
	vd_health_tick(h, T0 + INTERVAL / 2);
	expect_quiet(u.fd);
	conn = accept_one(l.fd);
	settle(h, 1, T0 + INTERVAL / 2 + REPLY_LAG, 1);
	close(conn);
	cr_assert_eq(state(h, 0)->replies, 1);
	cr_assert_eq(state(h, 0)->last_status, 200);
	cr_assert_eq(state(h, 1)->replies, 1);
	cr_assert_eq(state(h, 1)->last_status, 0);

	/* reordered: each state follows its address and transport */
	cr_assert_eq(vd_health_set_members(h, a, tls_udp, 2), 0);
	cr_assert_eq(state(h, 0)->last_status, 0);
	cr_assert_eq(state(h, 0)->replies, 1);
	cr_assert_eq(state(h, 1)->last_status, 200);
	/* a transport that changed is a new member; a bad one is refused */
	cr_assert_eq(vd_health_set_members(h, a, tls_tcp, 2), 0);
	cr_assert_eq(state(h, 0)->probes, 1);
	cr_assert_eq(state(h, 1)->probes, 0);
	cr_assert_eq(vd_health_set_members(h, a, bad, 2), -EINVAL);
	cr_assert_eq(state(h, 0)->probes, 1, "old list kept");
	cr_assert_eq(ch.n, 0);
	vd_health_free(h);
	close(u.fd);
	close(l.fd);
}

/* The datapath's failed connections to a member count like failed probes: down_after of them
 * take a TCP member down between probes; another transport at the same address, or an
 * address the prober does not know, is not touched. */
Test(health_tcp, the_datapaths_failed_connections_take_a_member_down, .timeout = TEST_TIMEOUT_S)
{
	struct changes ch = {0};
	struct vd_health_config c = config(AF_INET);
	struct vd_health *h = prober(&c, &ch);
	union vd_sockaddr m = loopback(AF_INET, 5999), other = loopback(AF_INET, 5998);
	union vd_sockaddr a[2] = {m, m};
	const uint8_t tp[2] = {VD_TP_TCP, VD_TP_UDP};

	cr_assert_eq(vd_health_set_members(h, a, tp, 2), 0);
	for (unsigned k = 0; k + 1 < DOWN_AFTER; k++)
		vd_health_on_conn_failure(h, &m, VD_TP_TCP, T0 + k);
	cr_assert(state(h, 0)->up, "one failure short of down_after: still up");
	vd_health_on_conn_failure(h, &other, VD_TP_TCP, T0 + 10); /* not a member */
	vd_health_on_conn_failure(h, &m, VD_TP_TLS, T0 + 11);	  /* not this transport */
	cr_assert(state(h, 0)->up);
	cr_assert_eq(ch.n, 0);
	vd_health_on_conn_failure(h, &m, VD_TP_TCP, T0 + 12);
	cr_assert_not(state(h, 0)->up, "down after %u failed connections", DOWN_AFTER);
	cr_assert_eq(state(h, 0)->conn_failures, DOWN_AFTER);
	cr_assert_eq(ch.n_down, 1);
	cr_assert_eq(ch.member, 0);
	cr_assert(state(h, 1)->up, "the UDP member at the same address is another member");
	cr_assert_eq(state(h, 1)->conn_failures, 0);
	vd_health_free(h);
}
