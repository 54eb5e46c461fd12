/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Address helpers of the proxy: literal hosts from SIP headers to socket addresses, "is this
 * host:port us?", and the small formatters used to write Via parameters without snprintf.
 *
 * No DNS here: the datapath never blocks, so an FQDN next hop is a counted drop or reply.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proxy_internal.h"

#define IPV6_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Hex digit values + 1; 0 for every other byte: one load and one test a character. */
static const uint8_t hex_value1[256] = {
	['0'] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	['A'] = 11, 12, 13, 14, 15, 16,
	['a'] = 11, 12, 13, 14, 15, 16,
};

/* A dotted quad as inet_pton(AF_INET) takes it: four decimal octets <= 255, no leading zero. */
static bool ip4_strict(const char *p, const char *end, uint8_t out[4])
{
	unsigned octets = 0, v = 0;
	bool digit = false;
	for (; p < end; p++) {
		if ((unsigned)(*p - '0') < 10) {
			if (digit && v == 0)
				return false; /* "01" */
			v = v * 10 + (unsigned)(*p - '0');
			if (v > 255)
				return false;
			if (!digit && ++octets > 4)
				return false;
			digit = true;
		} else if (*p == '.' && digit && octets < 4) {
			out[octets - 1] = (uint8_t)v;
			v = 0;
			digit = false;
		} else {
			return false;
		}
	}
	if (octets < 4)
		return false;
	out[3] = (uint8_t)v;
	return true;
}

/*
 * IPv6 text (no brackets) to 16 bytes, accepting what glibc's inet_pton(AF_INET6) accepts
 * (tests/unit compares them on random and edge-case text): 1-4 hex digits a group, at most one
 * "::" standing for at least one zero group, an optional dotted quad as the last 32 bits.
 * inet_pton wanted a NUL-terminated copy and cost ~600 instructions per IPv6 message.
 */
static bool ip6_parse(const char *p, const char *end, uint8_t out[16])
{
	uint8_t b[16];
	unsigned n = 0, digits = 0, val = 0; /* n: bytes stored */
	int gap = -1;			       /* where "::" stands, in bytes */
	if (p == end)
		return false;
	if (*p == ':' && (++p == end || *p != ':')) /* a leading ':' only as "::" */
		return false;
	const char *tok = p; /* start of the current group: a dotted quad starts there */
	while (p < end) {
		char c = *p++;
		unsigned d = hex_value1[(unsigned char)c];
		if (d) {
			if (digits == 4)
				return false;
			val = val << 4 | (d - 1);
			digits++;
		} else if (c == ':') {
			tok = p;
			if (digits == 0) {
				if (gap >= 0)
					return false;
				gap = (int)n;
				continue;
			}
			if (p == end || n == 16)
				return false;
			b[n++] = (uint8_t)(val >> 8);
			b[n++] = (uint8_t)val;
			digits = val = 0;
		} else if (c == '.' && n <= 12 && ip4_strict(tok, end, b + n)) {
			n += 4;
			digits = 0;
			break;
		} else {
			return false;
		}
	}
	if (digits) {
		if (n == 16)
			return false;
		b[n++] = (uint8_t)(val >> 8);
		b[n++] = (uint8_t)val;
	}
	if (gap >= 0) {
		if (n == 16)
			return false; /* "::" must stand for something */
		unsigned tail = n - (unsigned)gap;
		memset(out, 0, 16);
		memcpy(out, b, (size_t)gap);
		memcpy(out + 16 - tail, b + gap, tail);
		return true;
	}
	if (n != 16)
		return false;
	memcpy(out, b, 16);
	return true;
}

/* Parse a literal host into binary: 4 bytes for IPv4, 16 for IPv6 (brackets stripped). */
static bool host_to_ip(struct vd_slice host, uint8_t host_type, uint8_t ip[16])
{
	const char *p = host.p;
	uint32_t len = host.len;

	if (host_type == VD_HOST_IPV4) {
		/* the scanner checked the dotted-quad shape: four octets <= 255 */
		unsigned octet = 0, k = 0;
		for (uint32_t i = 0; i < len; i++) {
			if (p[i] == '.') {
				ip[k++] = (uint8_t)octet;
				octet = 0;
			} else {
				octet = octet * 10 + (unsigned)(p[i] - '0');
			}
		}
		ip[k] = (uint8_t)octet;
		return k == 3;
	}
	if (host_type != VD_HOST_IPV6)
		return false;
	p++;
	len -= 2; /* the scanner guarantees "[...]" with at least one byte inside */
	if (len >= IPV6_TEXT_MAX + 2)
		return false;
	return ip6_parse(p, p + len, ip);
}

bool vd_addr_from_host(struct vd_slice host, uint8_t host_type, uint16_t port,
		       union vd_sockaddr *out)
{
	uint8_t ip[16];
	if (!host_to_ip(host, host_type, ip))
		return false;
	memset(out, 0, sizeof(*out));
	uint16_t nport = htons(port ? port : VD_SIP_DEFAULT_PORT);
	if (host_type == VD_HOST_IPV4) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = nport;
		memcpy(&out->in.sin_addr, ip, 4);
	} else {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = nport;
		memcpy(&out->in6.sin6_addr, ip, 16);
	}
	return true;
}

bool vd_addr_from_ip_text(struct vd_slice text, uint16_t port, union vd_sockaddr *out)
{
	bool v6 = memchr(text.p, ':', text.len) != NULL;
	if (v6 && text.len >= 2 && text.p[0] == '[')
		return vd_addr_from_host(text, VD_HOST_IPV6, port, out);
	if (v6) {
		char tmp[IPV6_TEXT_MAX + 2];
		if (text.len + 2 >= sizeof(tmp))
			return false;
		tmp[0] = '[';
		memcpy(tmp + 1, text.p, text.len);
		tmp[text.len + 1] = ']';
		return vd_addr_from_host((struct vd_slice){ tmp, text.len + 2 }, VD_HOST_IPV6, port,
					 out);
	}
	/* received= comes from the wire: check the dotted-quad shape before converting */
	const char *p = text.p;
	struct vd_slice host;
	uint8_t type;
	uint16_t ignored;
	if (!vd_sip_host_parse(&p, text.p + text.len, &host, &type, &ignored) ||
	    p != text.p + text.len || type != VD_HOST_IPV4)
		return false;
	return vd_addr_from_host(host, type, port, out);
}

bool vd_parse_port(struct vd_slice s, uint16_t *port)
{
	uint32_t v = 0;
	if (s.len == 0 || s.len > 5)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(s.p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

bool vd_addr_host_equals(struct vd_slice host, uint8_t host_type, const union vd_sockaddr *a)
{
	uint8_t ip[16];
	if (!host_to_ip(host, host_type, ip))
		return false;
	if (a->sa.sa_family == AF_INET)
		return host_type == VD_HOST_IPV4 && memcmp(ip, &a->in.sin_addr, 4) == 0;
	return host_type == VD_HOST_IPV6 && memcmp(ip, &a->in6.sin6_addr, 16) == 0;
}

bool vd_addr_is_ours(const struct vd_proxy *px, struct vd_slice host, uint8_t host_type,
		     uint16_t port)
{
	uint16_t p = port ? port : VD_SIP_DEFAULT_PORT;
	/* The common case first, without converting the text: our advertised host byte for byte
	 * (our Via and Record-Route come back as we wrote them). Equal text is ours below too:
	 * same type, same address, or the same name. */
	for (unsigned i = 0; i < px->n_listeners; i++) {
		const struct vd_proxy_listener *l = &px->listeners[i];
		if (host.len == l->host_len && (l->port == p || vd_addr_port(&l->bind) == p) &&
		    memcmp(host.p, l->host, host.len) == 0)
			return true;
	}
	uint8_t ip[16];
	bool literal = host_to_ip(host, host_type, ip);

	for (unsigned i = 0; i < px->n_listeners; i++) {
		const struct vd_proxy_listener *l = &px->listeners[i];
		if (l->port != p && vd_addr_port(&l->bind) != p)
			continue;
		if (!literal) { /* a name: compare the text; literals compare as bytes below */
			if (host.len == l->host_len &&
			    vd_slice_eq_nocase(host, (struct vd_slice){ l->host, l->host_len }))
				return true;
			continue;
		}
		/* numeric forms differ in text ("[::1]" vs "[0::1]"): compare the bytes */
		/* constant sizes: inlined compares instead of a memcmp call */
		if (l->host_type == host_type && (host_type == VD_HOST_IPV4
							  ? memcmp(l->ip, ip, 4) == 0
							  : memcmp(l->ip, ip, 16) == 0))
			return true;
		const union vd_sockaddr *b = &l->bind;
		if (b->sa.sa_family == AF_INET ? host_type == VD_HOST_IPV4 &&
							 memcmp(ip, &b->in.sin_addr, 4) == 0
					       : host_type == VD_HOST_IPV6 &&
							 memcmp(ip, &b->in6.sin6_addr, 16) == 0)
			return true;
	}
	/* not what we advertise or bind, but an address of this host at a listener's port
	 * (0.0.0.0, 127.x, ::1, another interface): the kernel would deliver it to us */
	union vd_sockaddr a;
	return literal && vd_addr_from_host(host, host_type, p, &a) &&
	       vd_addr_is_local_listener(px, &a);
}

uint32_t vd_put_u32(char *out, uint32_t v)
{
	char tmp[10];
	uint32_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (uint32_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void vd_put_hex64_scalar(char *out, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = hex[v & 0xf];
}

void vd_put_hex64(char *out, uint64_t v)
{
#if defined(__SSE2__)
	/* All 16 digits at once (a branch and a To tag per message): the bytes most significant
	 * first, each split into its high and low nibble, interleaved, then '0' + n, plus
	 * 'a' - '0' - 10 where n > 9. */
	__m128i b = _mm_cvtsi64_si128((long long)__builtin_bswap64(v));
	__m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
	__m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
	__m128i n = _mm_unpacklo_epi8(hi, lo);
	__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)),
				       _mm_set1_epi8('a' - '0' - 10));
	__m128i text = _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8('0')), letter);
	_mm_storeu_si128((__m128i *)(void *)out, text);
#else
	vd_put_hex64_scalar(out, v);
#endif
}
