/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the health prober with a transport (the DPDK datapath's way: probes handed to
 * a send function, replies passed back with vd_health_on_datagram).
 * Helpers and the fake clock: tests/support/health_fixture.h.
 */
#include "health_fixture.h"

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
