/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one's complement sum behind the UDP checksums (cksum.h). DPDK's rte_raw_cksum adds
 * 16-bit words in a C loop the compiler vectorises with whatever the build targets: SSE2 on
 * a generic x86-64 build, 16 bytes per iteration. Here an AVX2 twin adds 64 bytes per
 * iteration into 32-bit lanes (a multiply-add of pairs of words, biased to signed, so lanes
 * never carry into each other), then a 32- and a 16-byte step; it is picked at run time when
 * the CPU has AVX2 (at compile time with -march=native). The last < 16 bytes are one more
 * masked 16-byte step (no byte loop); DPDK's loop takes buffers under 64 bytes and every CPU
 * without AVX2.
 *
 * Same result as rte_raw_cksum, bit for bit: both are the plain sum of the same little-endian
 * words, folded to 16 bits; a folded non-zero sum lies in [1, 0xffff] and two such values
 * equal modulo 0xffff are equal, so where the carries were folded does not matter. Lane
 * bound: a lane moves by at most 2^16 per 64 bytes, i.e. stays within a signed 32-bit lane
 * for any buffer under 2 MB (a UDP datagram is at most 64 kB); the lanes are added in 64 bits.
 */
#include "cksum.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define VD_CKSUM_X86 1
#endif

#define AVX2_BLOCK 64u /* bytes per AVX2 iteration; shorter buffers take DPDK's loop */

#if VD_CKSUM_X86
/* Lanes t..t+15 of this, loaded at tail_mask + t, keep the last t bytes of a 16-byte block. */
static const uint8_t tail_mask[32] = {[16 ... 31] = 0xff};

/* The sum of p[0, len) as little-endian 16-bit words (64-bit, unfolded), len >= 16. The bytes
 * after the last whole 16-byte block: the 16 bytes that end where the even part of the buffer
 * ends (an even offset, so the words line up), those already summed masked off; an odd last
 * byte is added alone as the low half of a word, as rte_raw_cksum does. */
__attribute__((target("avx2", "tune=haswell"))) static uint64_t sum_avx2(const uint8_t *p,
									 size_t len)
{
	/* (w ^ 0x8000) read as signed is w - 32768: madd with 1s adds two such words into a
	 * 32-bit lane without carries; the 32768 per word is added back at the end */
	const __m256i bias = _mm256_set1_epi16((short)0x8000), ones = _mm256_set1_epi16(1);
	__m256i a = _mm256_setzero_si256(), b = a;
	uint64_t words = 0; /* words summed in the vectors, zeros of the half-width steps too */
	size_t i = len & ~(size_t)(AVX2_BLOCK - 1);
#define ADD_WORDS(acc, x) \
	acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_xor_si256(x, bias), ones))
	for (const uint8_t *q = p, *end = p + i; q != end; q += AVX2_BLOCK) {
		ADD_WORDS(a, _mm256_loadu_si256((const __m256i *)(const void *)q));
		ADD_WORDS(b, _mm256_loadu_si256((const __m256i *)(const void *)(q + 32)));
	}
	words += i / 2;
	if (i + 32 <= len) {
		ADD_WORDS(a, _mm256_loadu_si256((const __m256i *)(const void *)(p + i)));
		words += 16;
		i += 32;
	}
	if (i + 16 <= len) { /* the high half gets zeros */
		ADD_WORDS(b, _mm256_zextsi128_si256(
				     _mm_loadu_si128((const __m128i *)(const void *)(p + i))));
		words += 16;
		i += 16;
	}
	size_t even = len & ~(size_t)1;
	if (i < even) { /* the 2..14 even bytes before the odd one, if any; i >= 16 here */
		__m128i m = _mm_loadu_si128((const __m128i *)(const void *)(tail_mask + (even - i)));
		ADD_WORDS(a, _mm256_zextsi128_si256(_mm_and_si128(
				     _mm_loadu_si128((const __m128i *)(const void *)(p + even - 16)), m)));
		words += 16;
	}
#undef ADD_WORDS
	/* 16 signed lanes, widened to 64 bits before they are added together */
	__m256i w = _mm256_add_epi64(
		_mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(a)),
				 _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a, 1))),
		_mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(b)),
				 _mm256_cvtepi32_epi64(_mm256_extracti128_si256(b, 1))));
	__m128i h = _mm_add_epi64(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
	int64_t biased = _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
	return (uint64_t)(biased + (int64_t)(words * 32768)) + (len & 1 ? p[len - 1] : 0);
}

uint16_t vd_cksum_raw_avx2(const void *buf, size_t len)
{
	if (len < 16)
		return rte_raw_cksum(buf, len); /* the tail step reads the 16 bytes before the end */
	uint64_t s = sum_avx2(buf, len);
	s = (s >> 32) + (s & 0xffffffffu);
	s = (s >> 32) + (s & 0xffffffffu);
	s = (s >> 16) + (s & 0xffffu);
	s = (s >> 16) + (s & 0xffffu);
	return (uint16_t)s;
}
#else
uint16_t vd_cksum_raw_avx2(const void *buf, size_t len)
{
	return rte_raw_cksum(buf, len); /* not x86: never selected (vd_cksum_have_avx2) */
}
#endif

static inline bool have_avx2(void)
{
#if defined(__AVX2__)
	return true;
#elif VD_CKSUM_X86
	return __builtin_cpu_supports("avx2"); /* a load and a bit test */
#else
	return false;
#endif
}

bool vd_cksum_have_avx2(void)
{
	return have_avx2();
}

uint16_t vd_cksum_raw(const void *buf, size_t len)
{
	if (len >= AVX2_BLOCK && have_avx2())
		return vd_cksum_raw_avx2(buf, len);
	return rte_raw_cksum(buf, len);
}
