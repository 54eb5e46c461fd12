/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HEP v3 (include/viaduct/hep.h): the exact bytes of an IPv4/UDP datagram with a correlation
 * id and of an IPv6/TCP one with an authentication key, written out by hand from the HEP3
 * specification's chunk table (not produced by the encoder); the bounds (the largest payload
 * that fits, one byte more, a small buffer, mixed families); sampling (whole calls, the
 * share); and the batch against real loopback sockets: what arrives is what was encoded, a
 * full batch, a payload too large, a collector that is not there (refused).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viaduct/hep.h"

static union vd_sockaddr addr(const char *ip, uint16_t port)
{
	union vd_sockaddr a;
	cr_assert_eq(vd_sockaddr_parse(ip, port, &a), 0, "%s", ip);
	return a;
}

static void assert_bytes(const char *got, size_t n, const unsigned char *want, size_t wn)
{
	cr_assert_eq(n, wn, "length %zu, want %zu", n, wn);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq((unsigned char)got[i], want[i], "byte %zu: %02x, want %02x", i,
			     (unsigned char)got[i], want[i]);
}

Test(hep, ipv4_udp_with_correlation_exact_bytes)
{
	union vd_sockaddr s = addr("192.0.2.1", 5060), d = addr("198.51.100.2", 5070);
	struct vd_hep_meta m = { .src = &s, .dst = &d, .ip_proto = IPPROTO_UDP,
				 .ts_sec = 1600000000u, .ts_usec = 123456u, .capture_id = 2001,
				 .corr = "abc", .corr_len = 3 };
	static const unsigned char want[] = {
		'H', 'E', 'P', '3', 0x00, 0x71,                   /* total 113 */
		0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 0x02,             /* family AF_INET */
		0x00, 0x00, 0x00, 0x02, 0x00, 0x07, 0x11,             /* protocol UDP */
		0x00, 0x00, 0x00, 0x03, 0x00, 0x0a, 192, 0, 2, 1,     /* IPv4 source */
		0x00, 0x00, 0x00, 0x04, 0x00, 0x0a, 198, 51, 100, 2,  /* IPv4 destination */
		0x00, 0x00, 0x00, 0x07, 0x00, 0x08, 0x13, 0xc4,       /* source port 5060 */
		0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x13, 0xce,       /* destination port 5070 */
		0x00, 0x00, 0x00, 0x09, 0x00, 0x0a, 0x5f, 0x5e, 0x10, 0x00, /* seconds */
		0x00, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x01, 0xe2, 0x40, /* microseconds */
		0x00, 0x00, 0x00, 0x0b, 0x00, 0x07, 0x01,             /* protocol type SIP */
		0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x00, 0x07, 0xd1, /* capture id 2001 */
		0x00, 0x00, 0x00, 0x11, 0x00, 0x09, 'a', 'b', 'c',    /* correlation id */
		0x00, 0x00, 0x00, 0x0f, 0x00, 0x0b, 'h', 'e', 'l', 'l', 'o', /* payload */
	};
	char buf[256];
	size_t n = vd_hep_encode(buf, sizeof(buf), &m, "hello", 5);
	assert_bytes(buf, n, want, sizeof(want));
	/* the header alone: everything but the payload's data, the same total length */
	size_t h = vd_hep_header(buf, sizeof(buf), &m, 5);
	assert_bytes(buf, h, want, sizeof(want) - 5);
}

Test(hep, ipv6_tcp_with_auth_exact_bytes)
{
	union vd_sockaddr s = addr("2001:db8::1", 5060), d = addr("2001:db8::2", 9);
	struct vd_hep_meta m = { .src = &s, .dst = &d, .ip_proto = IPPROTO_TCP, .ts_sec = 1,
				 .ts_usec = 2, .capture_id = 0xfffffffeu, .auth = "pw",
				 .auth_len = 2 };
	static const unsigned char want[] = {
		'H', 'E', 'P', '3', 0x00, 0x85, /* total 133 */
		0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 0x0a, /* family AF_INET6 */
		0x00, 0x00, 0x00, 0x02, 0x00, 0x07, 0x06, /* protocol TCP */
		0x00, 0x00, 0x00, 0x05, 0x00, 0x16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0x01, /* IPv6 source */
		0x00, 0x00, 0x00, 0x06, 0x00, 0x16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0x02, /* IPv6 destination */
		0x00, 0x00, 0x00, 0x07, 0x00, 0x08, 0x13, 0xc4, /* source port 5060 */
		0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x00, 0x09, /* destination port 9 */
		0x00, 0x00, 0x00, 0x09, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01, /* seconds */
		0x00, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x02, /* microseconds */
		0x00, 0x00, 0x00, 0x0b, 0x00, 0x07, 0x01, /* SIP */
		0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0xff, 0xff, 0xff, 0xfe, /* capture id */
		0x00, 0x00, 0x00, 0x0e, 0x00, 0x08, 'p', 'w', /* authentication key */
		0x00, 0x00, 0x00, 0x0f, 0x00, 0x08, 'a', 'b', /* payload */
	};
	char buf[256];
	size_t n = vd_hep_encode(buf, sizeof(buf), &m, "ab", 2);
	assert_bytes(buf, n, want, sizeof(want));
}

Test(hep, bounds)
{
	union vd_sockaddr s = addr("192.0.2.1", 5060), d = addr("198.51.100.2", 5070);
	union vd_sockaddr s6 = addr("2001:db8::1", 5060);
	struct vd_hep_meta m = { .src = &s, .dst = &d, .ip_proto = IPPROTO_UDP };
	char *buf = malloc(VD_HEP_MAX + 16), *payload = calloc(1, VD_HEP_MAX);
	cr_assert(buf && payload);
	size_t h = vd_hep_header(buf, VD_HEP_HEADER_MAX, &m, 0);
	cr_assert_eq(h, 99, "IPv4 header without options: %zu bytes", h);
	/* the largest payload: the datagram is exactly VD_HEP_MAX bytes */
	size_t n = vd_hep_encode(buf, VD_HEP_MAX + 16, &m, payload, VD_HEP_MAX - h);
	cr_assert_eq(n, VD_HEP_MAX);
	cr_assert_eq((unsigned char)buf[4] << 8 | (unsigned char)buf[5], VD_HEP_MAX);
	cr_assert_eq(vd_hep_encode(buf, VD_HEP_MAX + 16, &m, payload, VD_HEP_MAX - h + 1), 0);
	cr_assert_eq(vd_hep_header(buf, VD_HEP_HEADER_MAX, &m, VD_HEP_MAX - h + 1), 0);
	/* a buffer one byte short of the header, or of header and payload */
	cr_assert_eq(vd_hep_header(buf, h - 1, &m, 0), 0);
	cr_assert_eq(vd_hep_encode(buf, h + 9, &m, payload, 10), 0);
	cr_assert_eq(vd_hep_encode(buf, h + 10, &m, payload, 10), h + 10);
	/* one family per datagram */
	m.dst = &s6;
	cr_assert_eq(vd_hep_header(buf, VD_HEP_HEADER_MAX, &m, 0), 0);
	/* the longest options fit VD_HEP_HEADER_MAX; a longer correlation id is left out */
	char big[VD_HEP_CORR_MAX + 1];
	memset(big, 'c', sizeof(big));
	struct vd_hep_meta m6 = { .src = &s6, .dst = &s6, .ip_proto = IPPROTO_TCP, .corr = big,
				  .corr_len = VD_HEP_CORR_MAX, .auth = big,
				  .auth_len = VD_HEP_AUTH_MAX };
	h = vd_hep_header(buf, VD_HEP_HEADER_MAX, &m6, 0);
	cr_assert_eq(h, 123 + 6 + VD_HEP_CORR_MAX + 6 + VD_HEP_AUTH_MAX);
	cr_assert(h <= VD_HEP_HEADER_MAX);
	m6.corr_len = VD_HEP_CORR_MAX + 1;
	cr_assert_eq(vd_hep_header(buf, VD_HEP_HEADER_MAX, &m6, 0), 123 + 6 + VD_HEP_AUTH_MAX);
	free(buf);
	free(payload);
}

Test(hep, sampling_is_by_call_and_near_the_share)
{
	char id[64];
	unsigned in50 = 0, in10 = 0;
	const unsigned n = 20000;
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(id, sizeof(id), "%u-%u@host.example", i * 2654435761u, i);
		bool a = vd_hep_sampled(id, (size_t)len, 50);
		cr_assert_eq(a, vd_hep_sampled(id, (size_t)len, 50), "the same call, the same answer");
		cr_assert(vd_hep_sampled(id, (size_t)len, 100));
		cr_assert(!vd_hep_sampled(id, (size_t)len, 0));
		bool b = vd_hep_sampled(id, (size_t)len, 10);
		cr_assert(!b || a, "a call sampled at 10%% is sampled at 50%% too");
		in50 += a;
		in10 += b;
	}
	cr_assert(in50 > n * 47 / 100 && in50 < n * 53 / 100, "50%%: %u of %u", in50, n);
	cr_assert(in10 > n * 8 / 100 && in10 < n * 12 / 100, "10%%: %u of %u", in10, n);
}

/* A UDP socket bound to 127.0.0.1 on a free port (the collector) and one connected to it. */
static void pair(int *rx, int *tx, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	*rx = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(*rx >= 0);
	cr_assert_eq(bind(*rx, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(*rx, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	*tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	cr_assert(*tx >= 0);
	cr_assert_eq(connect(*tx, (struct sockaddr *)&a, sizeof(a)), 0);
}

static ssize_t recv_one(int fd, char *buf, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 2000), 1, "a datagram within 2 s");
	return recv(fd, buf, cap, 0);
}

Test(hep, batch_sends_what_was_encoded)
{
	int rx, tx;
	uint16_t port;
	pair(&rx, &tx, &port);
	struct vd_hep_batch b;
	cr_assert_eq(vd_hep_batch_init(&b, 2), 0);
	union vd_sockaddr s = addr("192.0.2.1", 5060), d = addr("198.51.100.2", 5070);
	struct vd_hep_meta m = { .src = &s, .dst = &d, .ip_proto = IPPROTO_UDP, .ts_sec = 7,
				 .capture_id = 3, .corr = "call-1", .corr_len = 6 };
	const char *msgs[] = { "INVITE sip:a@b SIP/2.0\r\n\r\n", "SIP/2.0 100 Trying\r\n\r\n" };
	for (int i = 0; i < 2; i++)
		cr_assert_eq(vd_hep_add(&b, &m, msgs[i], (uint32_t)strlen(msgs[i])), 0);
	cr_assert_eq(vd_hep_add(&b, &m, "x", 1), -1, "a third copy does not fit 2 slots");
	cr_assert_eq(b.dropped[VD_HEP_DROP_FULL], 1);
	vd_hep_flush(&b, tx, 0);
	cr_assert_eq(b.sent, 2);
	cr_assert_eq(b.n, 0);
	for (int i = 0; i < 2; i++) {
		char got[512], want[512];
		ssize_t n = recv_one(rx, got, sizeof(got));
		size_t wn = vd_hep_encode(want, sizeof(want), &m, msgs[i], strlen(msgs[i]));
		cr_assert_eq((size_t)n, wn);
		cr_assert_eq(memcmp(got, want, wn), 0, "datagram %d as encoded", i);
	}
	char *huge = calloc(1, VD_HEP_MAX);
	cr_assert_eq(vd_hep_add(&b, &m, huge, VD_HEP_MAX), -1);
	cr_assert_eq(b.dropped[VD_HEP_DROP_TOO_LARGE], 1);
	free(huge);
	vd_hep_flush(&b, -1, 0); /* nothing queued, no socket: nothing counted */
	cr_assert_eq(b.dropped[VD_HEP_DROP_ERROR], 0);
	cr_assert_eq(vd_hep_add(&b, &m, "x", 1), 0);
	vd_hep_flush(&b, -1, 0);
	cr_assert_eq(b.dropped[VD_HEP_DROP_ERROR], 1);
	vd_hep_batch_fini(&b);
	close(rx);
	close(tx);
}

Test(hep, absent_collector_is_counted_as_refused)
{
	int rx, tx;
	uint16_t port;
	pair(&rx, &tx, &port);
	close(rx); /* nothing listens there any more: loopback answers port unreachable */
	struct vd_hep_batch b;
	cr_assert_eq(vd_hep_batch_init(&b, 8), 0);
	union vd_sockaddr s = addr("192.0.2.1", 5060), d = addr("198.51.100.2", 5070);
	struct vd_hep_meta m = { .src = &s, .dst = &d, .ip_proto = IPPROTO_UDP };
	/* the refusal comes back for an earlier datagram and fails a later send: bounded tries */
	for (int round = 0; round < 50 && !b.dropped[VD_HEP_DROP_REFUSED]; round++) {
		for (int i = 0; i < 8; i++)
			vd_hep_add(&b, &m, "OPTIONS", 7);
		vd_hep_flush(&b, tx, 0);
		struct pollfd p = { .fd = tx, .events = POLLERR };
		poll(&p, 1, 20); /* the ICMP error is pending on the socket, or soon */
	}
	cr_assert(b.dropped[VD_HEP_DROP_REFUSED] >= 1, "refused %lu, sent %lu",
		  (unsigned long)b.dropped[VD_HEP_DROP_REFUSED], (unsigned long)b.sent);
	uint64_t total = b.sent;
	for (int r = 0; r < VD_HEP_DROP__COUNT; r++)
		total += b.dropped[r];
	cr_assert_eq(total % 8, 0, "every copy counted once: %lu", (unsigned long)total);
	/* the refusal pauses sending: copies of the next second are counted, not encoded */
	cr_assert_eq(b.refused_until_ms, VD_HEP_REFUSED_PAUSE_MS, "refused at time 0");
	uint64_t refused = b.dropped[VD_HEP_DROP_REFUSED], sent = b.sent;
	vd_hep_batch_start(&b, VD_HEP_REFUSED_PAUSE_MS - 1);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(vd_hep_add(&b, &m, "OPTIONS", 7), -1);
	cr_assert_eq(b.n, 0, "nothing queued while paused");
	cr_assert_eq(b.dropped[VD_HEP_DROP_REFUSED], refused + 5);
	vd_hep_flush(&b, tx, VD_HEP_REFUSED_PAUSE_MS - 1);
	cr_assert_eq(b.sent, sent, "nothing sent while paused");
	vd_hep_batch_start(&b, VD_HEP_REFUSED_PAUSE_MS);
	cr_assert_eq(vd_hep_add(&b, &m, "OPTIONS", 7), 0, "queued again once the pause is over");
	cr_assert_eq(b.n, 1);
	vd_hep_batch_fini(&b);
	close(tx);
}

Test(hep, drop_names)
{
	cr_assert_str_eq(vd_hep_drop_name(VD_HEP_DROP_FULL), "full");
	cr_assert_str_eq(vd_hep_drop_name(VD_HEP_DROP_SOCKET), "socket-full");
	cr_assert_str_eq(vd_hep_drop_name(VD_HEP_DROP_REFUSED), "refused");
	cr_assert_str_eq(vd_hep_drop_name(VD_HEP_DROP__COUNT), "unknown");
}
