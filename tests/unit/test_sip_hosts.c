/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hosts and URIs: the host parser against a byte loop on near-IPv4 shapes at every length, URI
 * and host parsing. (The host parser on random text at the page end, and the SSE2 fast paths
 * against their scalar twins: test_simd.c.)
 */
#include <ctype.h>

#include <criterion/criterion.h>

#include "corpus.h"
#include "sip_internal.h"
#include "viaduct/sip.h"

/* Reference for the host parser's IPv4 test: four dot-separated octets, 1-3 digits, <= 255. */
static bool ref_ipv4(const char *p, size_t n)
{
	unsigned octets = 0, digits = 0, v = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (digits == 0 || digits > 3 || v > 255)
				return false;
			octets++;
			digits = v = 0;
		} else {
			v = v * 10 + (unsigned)(p[i] - '0');
			digits++;
		}
	}
	return octets == 4;
}

/* Near-IPv4 hosts (the dot-mask test of the first 16 bytes): 3-5 groups of 0-4 digits around
 * 200..299, one or two dots between them, then a port or a parameter, at every length. */
Test(scan, host_parse_ipv4_shapes_agree_with_a_byte_loop)
{
	char buf[48];
	unsigned seed = 17;
	for (int round = 0; round < 300000; round++) {
		size_t n = 0;
		seed = seed * 1103515245u + 12345u;
		unsigned groups = 3 + (seed >> 16) % 3 / 2 + ((seed >> 20) % 8 == 0);
		for (unsigned g = 0; g < groups && n < 20; g++) {
			seed = seed * 1103515245u + 12345u;
			unsigned r = seed >> 8, digits = (r % 16 == 0) ? 0 : (r % 16 == 1) ? 4 : 1 + r % 3;
			for (unsigned d = 0; d < digits; d++, r /= 7)
				buf[n++] = d == 0 && digits == 3 ? "12222229"[r % 8] : (char)('0' + r % 10);
			if (g + 1 < groups)
				for (unsigned dots = (r % 32 == 0) ? 2 : 1; dots; dots--)
					buf[n++] = '.';
		}
		size_t k = n;
		const char *tail = (round & 1) ? ":5060;branch=z9hG4bK" : ";lr>";
		memcpy(buf + n, tail, strlen(tail));
		n += strlen(tail);
		if (round & 2) /* also with fewer than 16 bytes readable: the byte loop */
			n = k + (size_t)(round >> 2) % 4;
		const char *p = buf;
		struct vd_slice host;
		uint8_t type;
		uint16_t port;
		bool ok = vd_sip_host_parse(&p, buf + n, &host, &type, &port);
		if (k == 0) {
			cr_assert(!ok, "round %d", round);
			continue;
		}
		if (n == k + 1 && buf[k] == ':') /* a port cut short to its colon */
			continue;
		cr_assert(ok, "round %d: %.*s", round, (int)n, buf);
		cr_assert_eq(host.len, k, "round %d: %.*s", round, (int)n, buf);
		cr_assert_eq(type, ref_ipv4(buf, k) ? VD_HOST_IPV4 : VD_HOST_FQDN, "round %d: %.*s",
			     round, (int)k, buf);
	}
}

Test(scan, uri_and_host_parsing)
{
	struct vd_slice host, maddr;
	uint8_t type;
	uint16_t port;
	bool user, lr;
	struct vd_slice uri = { "sip:+1234;npdi@[2001:db8::1]:5070;lr;maddr=10.0.0.9", 51 };
	cr_assert_eq(vd_sip_uri_parse(uri, &host, &type, &port, &user, &lr, &maddr), 0);
	cr_expect(slice_is(host, "[2001:db8::1]"));
	cr_expect_eq(type, VD_HOST_IPV6);
	cr_expect_eq(port, 5070);
	cr_expect(user);
	cr_expect(lr);
	cr_expect(slice_is(maddr, "10.0.0.9"));
	struct vd_slice tel = { "tel:+1234", 9 };
	cr_expect_eq(vd_sip_uri_parse(tel, &host, &type, &port, &user, &lr, &maddr), -1);
	struct vd_slice badport = { "sip:10.0.0.1:99999", 18 };
	cr_expect_eq(vd_sip_uri_parse(badport, &host, &type, &port, &user, &lr, &maddr), -1);
	struct vd_slice v4 = { "sip:10.0.0.1", 12 };
	cr_assert_eq(vd_sip_uri_parse(v4, &host, &type, &port, &user, &lr, &maddr), 0);
	cr_expect_eq(type, VD_HOST_IPV4);
	cr_expect_not(user);
	struct vd_slice notv4 = { "sip:10.0.0.256", 14 };
	cr_assert_eq(vd_sip_uri_parse(notv4, &host, &type, &port, &user, &lr, &maddr), 0);
	cr_expect_eq(type, VD_HOST_FQDN, "256 is no octet");
}
