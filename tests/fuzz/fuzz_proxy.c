/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over scan + decide + rewrite: any byte string is processed by a proxy
 * configured like the unit tests, and every outcome is checked for consistency (a forward
 * stays inside the buffer, a reply fits its buffer and is a SIP response). Seeded with the
 * corpus; a crash it finds becomes a corpus file and a unit test.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/proxy.h"

#define REPLY_CAP 20000

static struct vd_proxy px;
static struct vd_proxy_scratch scratch;
static char reply_buf[REPLY_CAP];
static char pktmem[VD_PROXY_HEADROOM + 70000];

static void fill(struct sockaddr_storage *ss, socklen_t *len, int family, const char *ip,
		 uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &a->sin6_addr);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, ip, &a->sin_addr);
		*len = sizeof(*a);
	}
}

static void init(void)
{
	static struct vd_config cfg;
	char err[256];
	cfg.n_listeners = 2;
	fill(&cfg.listeners[0].addr, &cfg.listeners[0].addrlen, AF_INET, "127.0.0.1", 5060);
	strcpy(cfg.listeners[0].advertise, "192.168.1.2");
	cfg.listeners[0].advertise_port = 5060;
	fill(&cfg.listeners[1].addr, &cfg.listeners[1].addrlen, AF_INET6, "::1", 5060);
	strcpy(cfg.listeners[1].advertise, "[::1]");
	cfg.listeners[1].advertise_port = 5060;
	strcpy(cfg.pool.name, "fuzz");
	cfg.pool.table_size = 251;
	cfg.pool.n_members = 2;
	fill(&cfg.pool.members[0].addr, &cfg.pool.members[0].addrlen, AF_INET, "127.0.0.1", 5070);
	fill(&cfg.pool.members[1].addr, &cfg.pool.members[1].addrlen, AF_INET6, "::1", 5080);
	cfg.pool.members[0].weight = cfg.pool.members[1].weight = 1;
	cfg.limits = (struct vd_cfg_limits){ 65507, 96, 16 };
	cfg.retry_after = 5;
	if (vd_proxy_init(&px, &cfg, err, sizeof(err)))
		abort();
	scratch.reply = reply_buf;
	scratch.reply_cap = REPLY_CAP;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	if (size > sizeof(pktmem) - VD_PROXY_HEADROOM)
		return 0;
	union vd_sockaddr src;
	memset(&src, 0, sizeof(src));
	src.in.sin_family = AF_INET;
	src.in.sin_port = htons(40000);
	src.in.sin_addr.s_addr = htonl(0xc0a8010f); /* 192.168.1.15 */
	memcpy(pktmem + VD_PROXY_HEADROOM, data, size);
	struct vd_pktbuf pkt = { pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, (uint32_t)size };
	struct vd_result res;
	vd_proxy_process(&px, &pkt, &src, 0, &scratch, &res);
	switch (res.verdict) {
	case VD_VERDICT_FORWARD:
		if (pkt.off > VD_PROXY_HEADROOM + size || (uint64_t)pkt.off + pkt.len > pkt.cap)
			abort();
		break;
	case VD_VERDICT_REPLY:
		if (res.reply_len > REPLY_CAP || memcmp(reply_buf, "SIP/2.0 ", 8) != 0 ||
		    res.status < 200 || res.status > 599)
			abort();
		break;
	case VD_VERDICT_DROP:
		if (res.drop == VD_DROP_NONE || res.drop >= VD_DROP__COUNT)
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
