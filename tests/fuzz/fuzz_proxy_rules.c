/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over the proxy as an edge runs it: routing rules compiled into hyperscan
 * (tests/fuzz/proxy_rules.yaml, loaded once with the real config loader and vd_proxy_init),
 * the worker's admission state (struct vd_guard: acl, per-source limit with bans, per-method
 * limits, reply budgets, shedding), datagrams up to the largest UDP payload in a buffer sized
 * and placed as the kernel datapath does (src/dp/dp.c: VD_PROXY_HEADROOM + max_message_size,
 * reply buffer max_message_size + 512), and messages over a connection framed as
 * src/dp/conn.c frames them. Every outcome is checked (fuzz_check.h).
 *
 * Input: a payload, optionally followed by FUZZ_MARK and control bytes:
 *
 *   payload [ FUZZ_MARK setup (source step)* ]
 *
 *   setup   bits 0-1  start clock (1, 10^6, just under 2^31, 1 s before the 32-bit wrap)
 *           bit  2    rate_limit.over: reply (else drop)
 *           bits 3-4  overload.shed: drop, reply, off, drop
 *           bit  5    stream: the payload came over a TCP connection (framed, pipelined)
 *           bit  6    no admission state (a datapath without a guard: scratch.guard NULL)
 *           bit  7    the datagram was larger than max_message_size: vd_proxy_too_large on
 *                     the kernel's truncated read (the payload repeated to that size)
 *   source  bits 0-2  address class (sources[] below), bits 3-7 vary the host (32 each)
 *   step    bits 0-3  clock: 0 no tick, else vd_guard_tick after advancing by steps_ms[]
 *           bit  4    the tick says the receive queue is behind (overload)
 *           bits 5-6  the payload is delivered 1, 3, 10 or 40 times from that source
 *           bit  7    the datagram is the payload repeated to max_message_size bytes
 *
 * Without the mark (the SIP corpus as it is) the payload is one datagram from the UE of the
 * corpus call flows. The guard is made afresh for every input, so an input replays alone.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "viaduct/config_file.h"
#include "viaduct/proxy.h"

#define FUZZ_MARK      "\xff\xffVD"
#define FUZZ_MARK_LEN  4
#define GUARD_SOURCES  64	  /* small: 16 sets of 4, so sources evict each other */
#define MAX_DELIVERIES 160	  /* per input, all steps together */
#define MAX_WORK       (2u << 20) /* bytes processed per input: big payloads get fewer deliveries */
#define STREAM_TOKEN   0x0000000100000001ull /* any non-zero connection token */
#define LISTENER_V4    0
#define LISTENER_V6    1
#define LISTENER_TCP   2

static struct vd_config cfg;
static struct vd_proxy px;
static struct vd_proxy_scratch scratch;
static char *pktmem, *reply_buf;
static uint32_t buf_size, reply_cap;
static uint8_t base_over, base_shed;

/* Address classes, one per prefix of proxy_rules.yaml that decides something. */
enum { SRC_UE, SRC_ACL, SRC_MEMBER, SRC_TRUSTED, SRC_EXEMPT, SRC_UE6, SRC_ACL6, SRC_MAPPED };

static const uint32_t steps_ms[16] = {
	0, 0, 1, 5, 50, 200, 499, 501, 1000, 2001, 5000, 60000, 3600000, 0x7fffffffu,
	0x80000000u, 0xffffffffu,
};
static const uint32_t start_ms[4] = { 1, 1000000, 0x7ffff000u, 0xfffffc18u };
static const unsigned repeats[4] = { 1, 3, 10, 40 };
static const uint16_t member_ports[4] = { 5070, 5080, 5091, 6070 };

static union vd_sockaddr source(uint8_t b)
{
	union vd_sockaddr a;
	unsigned x = b >> 3;
	char ip[64];
	uint16_t port = (uint16_t)(40000 + x);
	switch (b & 7) {
	case SRC_UE:
		snprintf(ip, sizeof(ip), "192.168.1.%u", 15 + x);
		break;
	case SRC_ACL:
		snprintf(ip, sizeof(ip), "203.0.113.%u", x);
		break; /* 16..31 allowed */
	case SRC_MEMBER:
		if (x & 4) {
			snprintf(ip, sizeof(ip), "::1");
			port = (uint16_t)(x & 8 ? 8090 : 5090);
		} else {
			snprintf(ip, sizeof(ip), "127.0.0.1");
			port = member_ports[x & 3];
		}
		break;
	case SRC_TRUSTED:
		snprintf(ip, sizeof(ip), "10.9.%u.1", x);
		break;
	case SRC_EXEMPT:
		snprintf(ip, sizeof(ip), "10.1.0.%u", x);
		break;
	case SRC_UE6:
		snprintf(ip, sizeof(ip), "2001:db8:1:%x::15", x);
		break; /* a /64 each */
	case SRC_ACL6:
		snprintf(ip, sizeof(ip), "2001:db8:bad::%x", x);
		break; /* one /64 */
	default:
		snprintf(ip, sizeof(ip), "::ffff:192.168.1.%u", 15 + x);
		break;
	}
	vd_sockaddr_parse(ip, port, &a);
	return a;
}

static void init(void)
{
	char err[512];
	if (vd_config_load(FUZZ_RULES_YAML, &cfg, err, sizeof(err)) ||
	    vd_proxy_init(&px, &cfg, err, sizeof(err))) {
		fprintf(stderr, "fuzz_proxy_rules: %s\n", err);
		abort();
	}
	/* pool "numbers": its one member down (503); pool "callee": its first member drained */
	int numbers = vd_config_pool_index(&cfg, "numbers"),
	    callee = vd_config_pool_index(&cfg, "callee");
	if (numbers < 0 || callee < 0 ||
	    vd_proxy_member_state(&px, (unsigned)numbers, 0, false, false) ||
	    vd_proxy_member_state(&px, (unsigned)callee, 0, true, true))
		abort();
	/* the kernel datapath's buffers (src/dp/dp.c worker_init), exactly: ASan sees any byte
	 * written or read past them */
	buf_size = VD_PROXY_HEADROOM + px.max_message_size;
	reply_cap = px.max_message_size + 512;
	pktmem = malloc(buf_size);
	reply_buf = malloc(reply_cap);
	if (!pktmem || !reply_buf)
		abort();
	scratch.reply = reply_buf;
	scratch.reply_cap = reply_cap;
	scratch.worker = 0;
	base_over = px.guard.over;
	base_shed = px.guard.shed;
}

/* The message repeated up to max_message_size bytes: a datagram that fills the buffer (no
 * tailroom; a message shorter than its datagram is cut to its Content-Length, RFC 3261 18.3),
 * or the kernel's truncated read of a larger one. Returns the new length. */
static uint32_t fill(char *p, uint32_t len)
{
	uint32_t max = px.max_message_size;
	if (len == 0) {
		memset(p, 0, max);
		return max;
	}
	for (uint32_t n = len; n < max; n *= 2) /* p[0, n) is whole copies while it doubles */
		memcpy(p + n, p, n < max - n ? n : max - n);
	return max;
}

/* One message of len bytes, as a datapath hands it over. kind: 0 a message, 1 larger than
 * max_message_size (the kernel's read of it: max_message_size bytes), 2/3 a stream header
 * block without / with a bad Content-Length. full: the datagram fills the buffer. */
static void deliver(const char *msg, uint32_t len, int kind, bool full,
		    const union vd_sockaddr *src, unsigned listener)
{
	struct vd_result res;
	memcpy(pktmem + VD_PROXY_HEADROOM, msg, len);
	if (full || (kind == 1 && !scratch.conn))
		len = fill(pktmem + VD_PROXY_HEADROOM, len);
	struct vd_pktbuf pkt = { pktmem, buf_size, VD_PROXY_HEADROOM, len };
	if (kind == 1)
		vd_proxy_too_large(&px, &pkt, src, &scratch, &res);
	else if (kind)
		vd_proxy_unframed(&px, &pkt, src, kind == 2, &scratch, &res);
	else
		vd_proxy_process(&px, &pkt, src, listener, &scratch, &res);
	/* the datapaths call vd_proxy_too_large and vd_proxy_unframed without admission (what
	 * they answer claimed more bytes than max_message_size, or closes its connection) */
	fuzz_check_result(&px, &pkt, &res, reply_buf, reply_cap, len,
			  scratch.guard != NULL && kind == 0, kind == 0);
}

/* The payload as one read of a connection: every frame it holds, as conn.c frame_all(). */
static void deliver_stream(const char *p, uint32_t len, const union vd_sockaddr *src)
{
	uint32_t off = 0, n;
	if (len > px.max_message_size)
		len = px.max_message_size; /* a read is at most the buffer's room */
	while (off < len) {
		enum vd_frame f = vd_sip_frame(p + off, len - off, px.max_message_size, &n);
		switch (f) {
		case VD_FRAME_MORE:
			return;
		case VD_FRAME_MESSAGE:
			deliver(p + off, n, 0, false, src, LISTENER_TCP);
			off += n;
			break;
		case VD_FRAME_PING:
		case VD_FRAME_SKIP:
			off += n;
			break;
		case VD_FRAME_NO_LENGTH:
		case VD_FRAME_BAD_LENGTH:
			deliver(p + off, n, f == VD_FRAME_NO_LENGTH ? 2 : 3, false, src,
				LISTENER_TCP);
			return;
		case VD_FRAME_TOO_LARGE:
			if (n)
				deliver(p + off, n, 1, false, src, LISTENER_TCP);
			return;
		}
	}
}

/* Every source entry keeps its buckets within their bursts. */
static void check_guard(const struct vd_guard *g)
{
	for (uint32_t i = 0; i < (g->set_mask + 1) * VD_GUARD_WAYS; i++) {
		const struct vd_guard_src *e = &g->src[i];
		if (e->family &&
		    (e->tokens > px.guard.burst || e->reply_tokens > px.guard.reply_burst))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	const uint8_t *mark = memmem(data, size, FUZZ_MARK, FUZZ_MARK_LEN);
	const char *payload = (const char *)data;
	uint32_t len = (uint32_t)(mark ? (size_t)(mark - data) : size);
	const uint8_t *ctl = mark ? mark + FUZZ_MARK_LEN : NULL;
	size_t n_ctl = mark ? size - len - FUZZ_MARK_LEN : 0;
	if (len > px.max_message_size)
		return -1; /* larger datagrams never reach the core whole */

	uint8_t setup = n_ctl ? ctl[0] : 0;
	static const uint8_t default_steps[2] = { SRC_UE, 0 };
	const uint8_t *steps = n_ctl > 1 ? ctl + 1 : default_steps;
	size_t n_steps = n_ctl > 1 ? (n_ctl - 1) / 2 : 1;

	px.guard.over = setup & 4 ? VD_OVER_REPLY : base_over;
	static const uint8_t sheds[4] = { VD_SHED_DROP, VD_SHED_REPLY, VD_SHED_OFF, VD_SHED_DROP };
	px.guard.shed = (setup >> 3) & 3 ? sheds[(setup >> 3) & 3] : base_shed;
	bool stream = setup & 0x20, truncated = setup & 0x80;
	struct vd_guard *g = setup & 0x40 ? NULL : vd_guard_new(GUARD_SOURCES);
	scratch.guard = g;
	scratch.conn = stream ? STREAM_TOKEN : 0;
	uint32_t now = start_ms[setup & 3];
	if (g)
		vd_guard_tick(g, now, false);

	unsigned delivered = 0;
	size_t work = 0;
	for (size_t i = 0; i < n_steps && delivered < MAX_DELIVERIES; i++) {
		uint8_t sb = steps[2 * i], st = steps[2 * i + 1];
		union vd_sockaddr src = source(sb);
		if ((st & 15) && g) {
			now += steps_ms[st & 15];
			vd_guard_tick(g, now, st & 16);
		}
		unsigned listener = src.sa.sa_family == AF_INET6 ? LISTENER_V6 : LISTENER_V4;
		bool full = st & 0x80;
		uint32_t cost = (full || truncated) && !stream ? px.max_message_size : len;
		for (unsigned r = 0;
		     r < repeats[(st >> 5) & 3] && delivered < MAX_DELIVERIES && work <= MAX_WORK;
		     r++, delivered++, work += cost) {
			if (stream)
				deliver_stream(payload, len, &src);
			else
				deliver(payload, len, truncated, full, &src, listener);
		}
		if (g)
			check_guard(g);
	}
	vd_guard_free(g);
	return 0;
}
