/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of dpdk/cksum.c: vd_cksum_raw (and its AVX2 loop, when the CPU has AVX2) returns
 * what DPDK's rte_raw_cksum returns for every length 0..2100 at every alignment 0..7, on
 * random bytes, all-zero and all-0xff buffers (the carry extremes); the UDP helpers agree
 * with rte_ipv4/ipv6_udptcp_cksum(_verify) on real datagrams, and a flipped bit fails the
 * check. No EAL: these are pure functions over memory.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <rte_udp.h>

#include "cksum.h"

#define MAX_LEN	  2100 /* past a 1500-byte MTU and every tail length of the 64-byte loop */
#define MAX_ALIGN 8
#define SEED	  0x5eed1234u

static uint8_t buf[MAX_LEN + MAX_ALIGN];

static void fill(int pattern)
{
	srand(SEED);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern < 0 ? (uint8_t)rand() : (uint8_t)pattern;
}

static void check_all(uint16_t (*fn)(const void *, size_t), const char *what)
{
	for (int pattern = -1; pattern <= 0xff; pattern += 0x80) { /* random, 0x7f, 0xff */
		fill(pattern);
		for (size_t a = 0; a < MAX_ALIGN; a++)
			for (size_t len = 0; len <= MAX_LEN; len++)
				cr_assert_eq(fn(buf + a, len), rte_raw_cksum(buf + a, len),
					     "%s: pattern %d, offset %zu, length %zu", what,
					     pattern, a, len);
	}
	memset(buf, 0, sizeof(buf));
	for (size_t len = 0; len <= MAX_LEN; len++)
		cr_assert_eq(fn(buf, len), rte_raw_cksum(buf, len), "%s: zeros, length %zu", what,
			     len);
}

Test(cksum, raw_equals_dpdk)
{
	check_all(vd_cksum_raw, "vd_cksum_raw");
}

Test(cksum, avx2_equals_dpdk)
{
	if (!vd_cksum_have_avx2())
		cr_skip_test("this CPU has no AVX2: vd_cksum_raw always takes DPDK's loop");
	check_all(vd_cksum_raw_avx2, "vd_cksum_raw_avx2");
}

/* An Ethernet-less IPv4 or IPv6 + UDP datagram with `len` random payload bytes at buf. */
static void *datagram(int v6, size_t len, void **udp_out)
{
	fill(-1);
	struct rte_udp_hdr *udp;
	if (v6) {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)buf;
		memset(ip, 0, sizeof(*ip));
		ip->vtc_flow = rte_cpu_to_be_32(0x60000000u);
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + len));
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = 64;
		ip->src_addr[0] = 0xfd, ip->src_addr[15] = 0x15;
		ip->dst_addr[0] = 0xfd, ip->dst_addr[15] = 0x02;
		udp = (struct rte_udp_hdr *)(ip + 1);
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)buf;
		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = 0x45;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*udp) + len));
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = rte_cpu_to_be_32(0xc0a8010f);
		ip->dst_addr = rte_cpu_to_be_32(0x0ac90002);
		udp = (struct rte_udp_hdr *)(ip + 1);
	}
	udp->src_port = rte_cpu_to_be_16(5060);
	udp->dst_port = rte_cpu_to_be_16(5070);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + len));
	udp->dgram_cksum = 0;
	*udp_out = udp;
	return buf;
}

Test(cksum, udp_helpers_equal_dpdk)
{
	for (int v6 = 0; v6 <= 1; v6++) {
		for (size_t len = 0; len <= 1400; len += 7) {
			void *udp;
			void *ip = datagram(v6, len, &udp);
			struct rte_udp_hdr *u = udp;
			uint16_t ours = v6 ? vd_cksum_udp6(ip, udp) : vd_cksum_udp4(ip, udp);
			uint16_t dpdk = v6 ? rte_ipv6_udptcp_cksum(ip, udp)
					   : rte_ipv4_udptcp_cksum(ip, udp);
			cr_assert_eq(ours, dpdk, "IPv%d, %zu bytes", v6 ? 6 : 4, len);
			u->dgram_cksum = ours;
			cr_assert(v6 ? vd_cksum_udp6_ok(ip, udp) : vd_cksum_udp4_ok(ip, udp),
				  "IPv%d, %zu bytes: own checksum refused", v6 ? 6 : 4, len);
			cr_assert_eq(v6 ? rte_ipv6_udptcp_cksum_verify(ip, udp)
					: rte_ipv4_udptcp_cksum_verify(ip, udp),
				     0);
			if (len == 0)
				continue;
			((uint8_t *)udp)[sizeof(*u) + len / 2] ^= 0x10; /* one bit of the payload */
			cr_assert(!(v6 ? vd_cksum_udp6_ok(ip, udp) : vd_cksum_udp4_ok(ip, udp)),
				  "IPv%d, %zu bytes: a flipped bit passed", v6 ? 6 : 4, len);
		}
	}
}

/* The 20-byte IPv4 header sum against rte_raw_cksum on random, all-zero, all-ones and
 * one-word headers at every alignment. */
Test(cksum, ip4_header20_equals_dpdk)
{
	uint32_t seed = 20;
	for (int k = 0; k < 200000; k++) {
		uint8_t *h = buf + k % MAX_ALIGN;
		for (int i = 0; i < 20; i++) {
			seed = seed * 1103515245u + 12345u;
			h[i] = k % 7 == 0 ? 0xff : k % 7 == 1 ? 0 : (uint8_t)(seed >> 16);
		}
		if (k % 7 == 2) { /* a single nonzero word */
			memset(h, 0, 20);
			h[seed % 20] = (uint8_t)(seed >> 8);
		}
		cr_assert_eq(vd_cksum_raw20(h), rte_raw_cksum(h, 20), "header %d", k);
	}
}
