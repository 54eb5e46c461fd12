/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One proxy under test (tests/support/proxy_fixture.h) and the buffers to run messages through
 * it, as every proxy-level unit test needs them: harness_init()/harness_fini() around each
 * test, run_bytes()/run_text() as if a datagram arrived from ip:port (listener 0, or 1 for an
 * IPv6 source), then the result in `res`, the forwarded bytes in out(), a reply in reply().
 * Include it once per test binary; no packet leaves the process.
 */
#ifndef VD_TEST_PROXY_HARNESS_H
#define VD_TEST_PROXY_HARNESS_H

#include <criterion/criterion.h>
#include <string.h>

#include "proxy_fixture.h"
#include "viaduct/proxy.h"
#include "viaduct/rules.h"
#include "viaduct/sip.h"

#define HARNESS_REPLY_CAP 4096
#define HARNESS_MSG_CAP 70000

#define HARNESS_STATE __attribute__((unused)) static
HARNESS_STATE struct vd_config cfg;
HARNESS_STATE struct vd_proxy px;
HARNESS_STATE struct vd_proxy_scratch scratch;
HARNESS_STATE char reply_buf[HARNESS_REPLY_CAP];
HARNESS_STATE char pktmem[VD_PROXY_HEADROOM + HARNESS_MSG_CAP];
HARNESS_STATE struct vd_pktbuf pkt;
HARNESS_STATE struct vd_result res;

static inline void harness_init(enum vd_hash_key hash)
{
	char err[256];
	cr_assert_eq(fixture_proxy(&cfg, &px, hash, err, sizeof(err)), 0, "%s", err);
	scratch.reply = reply_buf;
	scratch.reply_cap = HARNESS_REPLY_CAP;
}

static inline void harness_fini(void)
{
	vd_proxy_fini(&px);
}

/* Recompile px from cfg after a test changed it (a policy key, a limit). */
static inline void harness_reload(void)
{
	char err[256];
	vd_proxy_fini(&px);
	cr_assert_eq(vd_proxy_init(&px, &cfg, err, sizeof(err)), 0, "%s", err);
}

static inline void run_bytes(const char *bytes, size_t len, const char *ip, uint16_t port)
{
	cr_assert_leq(len, HARNESS_MSG_CAP);
	union vd_sockaddr src = fixture_addr(ip, port);
	memcpy(pktmem + VD_PROXY_HEADROOM, bytes, len);
	pkt = (struct vd_pktbuf){ pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, (uint32_t)len };
	vd_proxy_process(&px, &pkt, &src, src.sa.sa_family == AF_INET6 ? 1 : 0, &scratch, &res);
}

static inline void run_text(const char *text, const char *ip, uint16_t port)
{
	run_bytes(text, strlen(text), ip, port);
}

/* The forwarded message, NUL-terminated (valid until the next out()). */
static inline const char *out(void)
{
	static char s[HARNESS_MSG_CAP + VD_PROXY_HEADROOM + 1];
	memcpy(s, pkt.base + pkt.off, pkt.len);
	s[pkt.len] = '\0';
	return s;
}

/* The locally built reply, NUL-terminated. */
static inline const char *reply(void)
{
	static char s[HARNESS_REPLY_CAP + 1];
	memcpy(s, reply_buf, res.reply_len);
	s[res.reply_len] = '\0';
	return s;
}

static inline bool dst_is(const char *ip, uint16_t port)
{
	union vd_sockaddr want = fixture_addr(ip, port);
	return res.dst.sa.sa_family == want.sa.sa_family &&
	       memcmp(&res.dst, &want, vd_sockaddr_len(&want)) == 0;
}

/* The branch value (NUL-terminated) our Via must carry for the response `text`, whose top Via is
 * the one below ours, to be relayed by px (what a pool member answering a request we forwarded
 * would find in it). */
static inline const char *branch_for_response(const char *text)
{
	static char b[VD_BRANCH_LEN + 1];
	struct vd_sip_msg m;
	vd_sip_scan(text, strlen(text), &px.limits, &m);
	cr_assert_eq(vd_branch_for_response(px.branch_key, &m, 0x0123456789abcdefULL, b), 0,
		     "no destination in the top Via of %s", text);
	b[VD_BRANCH_LEN] = '\0';
	return b;
}

/* Add a prefix to the snapshot's trusted next hops, as trusted_next_hops: would. */
static inline void trust(const char *cidr)
{
	struct vd_prefix c;
	cr_assert_eq(vd_prefix_parse(cidr, &c), 0);
	px.trusted[px.n_trusted++] = c;
}

#endif
