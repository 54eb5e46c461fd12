/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the health prober (src/ctl/health.c) with its own UDP sockets on 127.0.0.1 and
 * ::1: fake members answer (or not) each OPTIONS; timeouts, 5xx, status classes, member-list
 * replacement, first-probe spreading, IPv6, wildcard binds, garbage and strays, bad configs.
 * Helpers and the fake clock: tests/support/health_fixture.h.
 */
#include "health_fixture.h"

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
