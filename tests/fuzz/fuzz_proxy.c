/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over scan + decide + rewrite: any byte string is processed by the proxy of
 * tests/support/proxy_fixture.h, and every outcome is checked for consistency (fuzz_check.h:
 * a forward stays inside the buffer and is still SIP, a reply fits its buffer and is a SIP
 * response). Seeded with the corpus; a crash it finds becomes a corpus file and a unit test.
 * fuzz_proxy_rules.c is the same core with rules, pools and admission, up to 64 kB.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "proxy_fixture.h"
#include "viaduct/proxy.h"
#include "viaduct/sip.h"

#define REPLY_CAP 20000

static struct vd_proxy px;
static struct vd_proxy_scratch scratch;
static char reply_buf[REPLY_CAP];
static char pktmem[VD_PROXY_HEADROOM + 70000];

static void init(void)
{
	static struct vd_config cfg;
	char err[256];
	if (fixture_proxy(&cfg, &px, VD_HASH_CALL_ID, err, sizeof(err)))
		abort();
	/* the largest UDP payload, so every size the fuzzer makes is scanned */
	px.max_message_size = VD_CFG_MAX_MESSAGE_CEIL;
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
	union vd_sockaddr src = fixture_addr("192.168.1.15", 40000);
	memcpy(pktmem + VD_PROXY_HEADROOM, data, size);
	struct vd_pktbuf pkt = { pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, (uint32_t)size };
	struct vd_result res;
	vd_proxy_process(&px, &pkt, &src, 0, &scratch, &res);
	fuzz_check_result(&px, &pkt, &res, reply_buf, REPLY_CAP, (uint32_t)size, false, true);
	/* the parsers of a member's signals: the proxy reaches them only for a response with a
	 * valid keyed branch, which the fuzzer cannot make, so they get the input directly */
	struct vd_sip_oc oc;
	uint32_t secs;
	if (vd_sip_via_oc((const char *)data, (const char *)data + size, &oc) && oc.oc > 100)
		abort();
	if (vd_sip_retry_after((struct vd_slice){ (const char *)data, (uint32_t)size }, &secs) &&
	    secs > VD_SIP_RETRY_AFTER_MAX)
		abort();
	return 0;
}
