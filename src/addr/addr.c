/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Addresses (include/viaduct/addr.h): text forms of socket addresses, and IP prefixes.
 * The address text is written without snprintf: the proxy puts one in received= per request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "viaduct/addr.h"

#define IPV4_BYTES	  4
#define IPV6_BYTES	  16
#define BITS_PER_BYTE	  8
#define PREFIX_DIGITS_MAX 3 /* "/128" */
#define IPV6_TEXT_MAX	  46 /* INET6_ADDRSTRLEN */

int vd_sockaddr_parse(const char *text, uint16_t port, union vd_sockaddr *out)
{
	char host[INET6_ADDRSTRLEN];
	size_t n = text ? strlen(text) : 0;

	memset(out, 0, sizeof(*out));
	if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
		text++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

uint16_t vd_addr_port(const union vd_sockaddr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

/* "0".."255" and their lengths: an IPv4 address is written for every request (received=),
 * and four table copies beat four divisions loops. Filled once before main(). */
static char octet_text[256][4];
static uint8_t octet_len[256];

__attribute__((constructor)) static void octet_table_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		unsigned n = 0;
		if (i >= 100)
			octet_text[i][n++] = (char)('0' + i / 100);
		if (i >= 10)
			octet_text[i][n++] = (char)('0' + i / 10 % 10);
		octet_text[i][n++] = (char)('0' + i % 10);
		octet_len[i] = (uint8_t)n;
	}
}

static uint32_t ip4_text(const uint8_t b[4], char *out)
{
	uint32_t n = 0;
	for (int i = 0; i < 4; i++) {
		memcpy(out + n, octet_text[b[i]], 4); /* out has room: >= 46 bytes */
		n += octet_len[b[i]];
		out[n++] = '.';
	}
	return n - 1;
}

/*
 * An IPv6 address as inet_ntop() writes it (RFC 5952: lower-case hex without leading zeros,
 * the first longest run of two or more zero groups as "::", IPv4-mapped and IPv4-compatible
 * addresses with a dotted quad), without glibc's sprintf per group: IPv6 clients get a
 * received= on most requests. Returns the length; out has room for IPV6_TEXT_MAX bytes.
 */
static uint32_t ip6_text(const uint8_t b[16], char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint16_t w[8];
	int best = -1, best_len = 0;
	for (int i = 0, run = 0; i < 8; i++) {
		w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
		run = w[i] ? 0 : run + 1;
		if (run > best_len) {
			best_len = run;
			best = i - run + 1;
		}
	}
	if (best_len < 2)
		best = -1;
	uint32_t n = 0;
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			out[n++] = ':';
			if (best + best_len == 8)
				out[n++] = ':';
			i += best_len - 1;
			continue;
		}
		if (i)
			out[n++] = ':';
		/* ::a.b.c.d (compatible) and ::ffff:a.b.c.d (mapped), as glibc writes them */
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return n + ip4_text(b + 12, out + n);
		int shift = w[i] >= 0x1000 ? 12 : w[i] >= 0x100 ? 8 : w[i] >= 0x10 ? 4 : 0;
		for (; shift >= 0; shift -= 4)
			out[n++] = hex[(w[i] >> shift) & 0xf];
	}
	return n;
}

uint32_t vd_addr_ip_text(const union vd_sockaddr *a, char *out)
{
	if (a->sa.sa_family == AF_INET)
		return ip4_text((const uint8_t *)&a->in.sin_addr, out);
	return ip6_text(a->in6.sin6_addr.s6_addr, out);
}

void vd_sockaddr_text(const union vd_sockaddr *a, char *out, size_t len)
{
	char ip[IPV6_TEXT_MAX];
	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, vd_addr_port(a));
	} else {
		inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, vd_addr_port(a));
	}
}

void vd_prefix_text(const struct vd_prefix *p, char *out, size_t len)
{
	char ip[IPV6_TEXT_MAX];
	if (!inet_ntop(p->family == AF_INET6 ? AF_INET6 : AF_INET, p->addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(out, len, "%s/%u", ip, p->bits);
}

void vd_prefix_canonical(struct vd_prefix *p)
{
	for (unsigned k = 0; k < IPV6_BYTES; k++) {
		unsigned bits = p->bits > k * BITS_PER_BYTE ? p->bits - k * BITS_PER_BYTE : 0;
		p->addr[k] &= bits >= BITS_PER_BYTE ? 0xff : (uint8_t)(0xff00u >> bits);
	}
}

/* Decimal prefix length: 1..3 digits, nothing else, at most max. */
static int parse_prefix(const char *p, unsigned max, uint8_t *out)
{
	unsigned v = 0, digits = 0;

	for (; *p; p++, digits++) {
		if (*p < '0' || *p > '9' || digits == PREFIX_DIGITS_MAX)
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (!digits || v > max)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

int vd_prefix_parse(const char *text, struct vd_prefix *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	struct vd_prefix c = {0};
	unsigned max;

	if (!len || len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, len);
	addr[len] = '\0';
	c.family = memchr(addr, ':', len) ? AF_INET6 : AF_INET;
	if (inet_pton(c.family, addr, c.addr) != 1)
		return -EINVAL;
	max = (c.family == AF_INET ? IPV4_BYTES : IPV6_BYTES) * BITS_PER_BYTE;
	c.bits = (uint8_t)max;
	if (slash && parse_prefix(slash + 1, max, &c.bits))
		return -EINVAL;
	vd_prefix_canonical(&c);
	*out = c;
	return 0;
}

bool vd_prefix_contains(const struct vd_prefix *p, int family, const void *ip)
{
	if (p->family != family)
		return false;
	const uint8_t *b = ip;
	unsigned full = p->bits / 8u, rest = p->bits % 8u;
	if (memcmp(p->addr, b, full) != 0)
		return false;
	return rest == 0 || ((p->addr[full] ^ b[full]) & (uint8_t)(0xffu << (8u - rest))) == 0;
}

bool vd_addr_in_prefixes(const struct vd_prefix *p, unsigned n, const union vd_sockaddr *a)
{
	for (unsigned i = 0; i < n; i++)
		if (vd_prefix_contains(&p[i], a->sa.sa_family, vd_sockaddr_ip(a)))
			return true;
	return false;
}
