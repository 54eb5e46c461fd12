/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the health prober's TCP-connect probes of stream members (TCP, TLS) over real
 * TCP sockets on 127.0.0.1, and of the datapath's failed connections counted as failures.
 * Helpers and the fake clock: tests/support/health_fixture.h.
 */
#include "health_fixture.h"

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
