/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UDP checksums over whole SIP datagrams, for ports without checksum offload (memif, TAP,
 * virtio-user without it): verified on receive, computed on send, two passes over ~650 bytes
 * per message, about a tenth of the datapath's instructions with DPDK's rte_raw_cksum (SSE2 at
 * best: 16 bytes per loop). vd_cksum_raw returns exactly what rte_raw_cksum returns, with an
 * AVX2 loop (64 bytes per iteration) when the CPU has it; the helpers below mirror
 * rte_ipv4/ipv6_udptcp_cksum(_verify) on top of it. cksum.c; tests/dpdk/test_cksum.c checks
 * both paths against DPDK's on every length and alignment.
 */
#ifndef VD_DPDK_CKSUM_H
#define VD_DPDK_CKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

/** The non-complemented 16-bit one's complement sum of buf, == rte_raw_cksum(buf, len). */
uint16_t vd_cksum_raw(const void *buf, size_t len);

/** Whether vd_cksum_raw takes its AVX2 loop on this CPU (for tests and the bench). */
bool vd_cksum_have_avx2(void);

/** The AVX2 loop itself; only when vd_cksum_have_avx2() (tests compare it with DPDK's). */
uint16_t vd_cksum_raw_avx2(const void *buf, size_t len);

/** rte_raw_cksum(buf, 20), for a received IPv4 header without options: five 32-bit words
 * summed in 64 bits and folded (2^16 = 1 modulo 2^16 - 1), instead of a loop over ten 16-bit
 * words (its length is not a constant there; encap's rte_ipv4_cksum gets unrolled by the
 * compiler). The result is 0 only for an all-zero header, as rte_raw_cksum's. */
static inline uint16_t vd_cksum_raw20(const void *buf)
{
	uint32_t w[5];
	memcpy(w, buf, sizeof(w));
	uint64_t s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	s = (s >> 32) + (s & 0xffffffff); /* < 2^33 */
	s = (s >> 16) + (s & 0xffff);	  /* < 2^17 + 2^16 */
	s = (s >> 16) + (s & 0xffff);
	return (uint16_t)((s >> 16) + (s & 0xffff));
}

/* Folds the L4 sum and the pseudo-header sum: __rte_ipv4/ipv6_udptcp_cksum. */
static inline uint16_t vd_cksum_l4_fold(uint16_t l4, uint16_t phdr)
{
	uint32_t s = (uint32_t)l4 + phdr;
	return (uint16_t)((s >> 16) + (s & 0xffff));
}

/** UDP over IPv4, checksum field 0 on entry: the value to store (rte_ipv4_udptcp_cksum). */
static inline uint16_t vd_cksum_udp4(const struct rte_ipv4_hdr *ip, const void *udp)
{
	uint32_t ihl = rte_ipv4_hdr_len(ip), tot = rte_be_to_cpu_16(ip->total_length);
	if (tot < ihl)
		return 0xffff; /* as rte_ipv4_udptcp_cksum: ~0, which UDP sends as all ones */
	uint16_t c = (uint16_t)~vd_cksum_l4_fold(vd_cksum_raw(udp, tot - ihl),
						 rte_ipv4_phdr_cksum(ip, 0));
	return c == 0 ? 0xffff : c; /* RFC 768: a computed 0 is sent as all ones */
}

/** UDP over IPv6 (no extension header), checksum field 0 on entry (rte_ipv6_udptcp_cksum). */
static inline uint16_t vd_cksum_udp6(const struct rte_ipv6_hdr *ip, const void *udp)
{
	uint16_t c = (uint16_t)~vd_cksum_l4_fold(
		vd_cksum_raw(udp, rte_be_to_cpu_16(ip->payload_len)), rte_ipv6_phdr_cksum(ip, 0));
	return c == 0 ? 0xffff : c;
}

/** A received IPv4 UDP/TCP checksum is right (rte_ipv4_udptcp_cksum_verify() == 0). */
static inline bool vd_cksum_udp4_ok(const struct rte_ipv4_hdr *ip, const void *l4)
{
	uint32_t ihl = rte_ipv4_hdr_len(ip), tot = rte_be_to_cpu_16(ip->total_length);
	return tot >= ihl &&
	       vd_cksum_l4_fold(vd_cksum_raw(l4, tot - ihl), rte_ipv4_phdr_cksum(ip, 0)) == 0xffff;
}

/** A received IPv6 UDP/TCP checksum is right (rte_ipv6_udptcp_cksum_verify() == 0). */
static inline bool vd_cksum_udp6_ok(const struct rte_ipv6_hdr *ip, const void *l4)
{
	return vd_cksum_l4_fold(vd_cksum_raw(l4, rte_be_to_cpu_16(ip->payload_len)),
				rte_ipv6_phdr_cksum(ip, 0)) == 0xffff;
}

#endif
