/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Addresses: the one socket-address type every layer uses (config, proxy, rules, health,
 * admin, datapaths), its compare, hash and text forms, and IP prefixes (CIDR) with their
 * parser and containment test. The bottom layer: it includes nothing of viaduct's.
 */
#ifndef VIADUCT_ADDR_H
#define VIADUCT_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/** An IPv4 or IPv6 socket address, small enough to copy per message. */
union vd_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static inline socklen_t vd_sockaddr_len(const union vd_sockaddr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
}

/** Same family, address and port. Constant-size compares, inlined: hot path. */
static inline bool vd_sockaddr_equal(const union vd_sockaddr *a, const union vd_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family || a->in.sin_port != b->in.sin_port)
		return false; /* sin_port and sin6_port coincide */
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
}

/** vd_sockaddr_equal, and the same IPv6 scope (fe80::1%eth0 is not fe80::1%eth1): for the
 * comparisons of configured addresses (duplicates, a changed collector). */
static inline bool vd_sockaddr_equal_scoped(const union vd_sockaddr *a,
					    const union vd_sockaddr *b)
{
	return vd_sockaddr_equal(a, b) &&
	       (a->sa.sa_family != AF_INET6 || a->in6.sin6_scope_id == b->in6.sin6_scope_id);
}

/** Same family and address, ports aside. */
static inline bool vd_sockaddr_same_ip(const union vd_sockaddr *a, const union vd_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
}

/** Multiplicative hash of the address words and the port, for open-addressing tables: a few
 * instructions (every request asks whether its source is a member). */
static inline uint64_t vd_sockaddr_hash(const union vd_sockaddr *a)
{
	uint64_t x = a->sa.sa_family == AF_INET ? a->in.sin_addr.s_addr : 0;
	if (a->sa.sa_family == AF_INET6) {
		uint64_t w[2];
		memcpy(w, &a->in6.sin6_addr, sizeof(w));
		x = w[0] ^ (w[1] * 0x6d656d6265727321ULL); /* "members!" */
	}
	x = (x ^ a->in.sin_port) * 0x9e3779b97f4a7c15ULL;
	return x ^ (x >> 29);
}

/** The address bytes: 4 for IPv4, 16 for IPv6. */
static inline const uint8_t *vd_sockaddr_ip(const union vd_sockaddr *a)
{
	return a->sa.sa_family == AF_INET ? (const uint8_t *)&a->in.sin_addr
					  : (const uint8_t *)&a->in6.sin6_addr;
}

/**
 * A numeric IPv4 or IPv6 address (IPv6 may be in brackets) with port (host order) into *out:
 * 0, or -EINVAL for anything else (names are the config loader's business).
 */
int vd_sockaddr_parse(const char *text, uint16_t port, union vd_sockaddr *out);

/** The port in host order. */
uint16_t vd_addr_port(const union vd_sockaddr *a);

#define VD_ADDR_TEXT_MAX 56 /* "[" IPv6 "]:" port, NUL included */

/** "ip:port", IPv6 in brackets ("[::1]:5060"): logs, errors, Maglev member identities. */
void vd_sockaddr_text(const union vd_sockaddr *a, char *out, size_t len);

/**
 * The address alone as inet_ntop() writes it (RFC 5952 for IPv6), without snprintf: the
 * proxy writes one into received= per request. Returns the length; out has room for 46
 * bytes and gets no NUL.
 */
uint32_t vd_addr_ip_text(const union vd_sockaddr *a, char *out);

/** An IP prefix; host bits beyond `bits` are zero. */
struct vd_prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bits;
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
};

/**
 * Parse "10.0.0.0/8" or "2001:db8::/32" (a bare address is a /32 or /128). 0 or -EINVAL (not
 * an address, prefix missing after '/', out of range or not 1..3 digits). Host bits beyond the
 * prefix are cleared, not refused: "10.1.2.3/8" is 10.0.0.0/8.
 */
int vd_prefix_parse(const char *text, struct vd_prefix *out);

/** "10.0.0.0/8", "2001:db8::/32": logs and errors. */
void vd_prefix_text(const struct vd_prefix *p, char *out, size_t len);

/** Clear the host bits of p (a prefix filled by hand). */
void vd_prefix_canonical(struct vd_prefix *p);

/** ip (4 or 16 bytes of family) is inside p. */
bool vd_prefix_contains(const struct vd_prefix *p, int family, const void *ip);

/** a is inside one of the n prefixes (a short list: trusted peers, local networks). */
bool vd_addr_in_prefixes(const struct vd_prefix *p, unsigned n, const union vd_sockaddr *a);

#endif
