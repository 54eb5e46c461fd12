/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Longest-prefix match (include/viaduct/lpm.h): a table of nested and disjoint prefixes read
 * by hand, the edges of both address spaces, duplicates, and a differential run of random
 * prefix sets against a linear scan for the longest match.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "viaduct/lpm.h"

#define NONE 99u

static struct vd_lpm_entry entry(const char *cidr, uint32_t value)
{
	struct vd_lpm_entry e = { .value = value };
	cr_assert_eq(vd_prefix_parse(cidr, &e.prefix), 0, "%s", cidr);
	return e;
}

static union vd_sockaddr addr(const char *ip)
{
	union vd_sockaddr a;
	cr_assert_eq(vd_sockaddr_parse(ip, 5060, &a), 0, "%s", ip);
	return a;
}

static uint32_t look(const struct vd_lpm *l, const char *ip)
{
	union vd_sockaddr a = addr(ip);
	return vd_lpm_lookup(l, &a);
}

Test(lpm, nested_and_disjoint_prefixes)
{
	const struct vd_lpm_entry e[] = {
		entry("10.0.0.0/8", 1),      entry("10.1.0.0/16", 2),   entry("10.1.2.0/24", 3),
		entry("10.1.2.128/25", 4),   entry("10.1.2.200/32", 5), entry("192.0.2.0/24", 6),
		entry("2001:db8::/32", 7),   entry("2001:db8:1::/48", 8), entry("::1/128", 9),
		entry("10.255.255.255/32", 10),
	};
	struct vd_lpm *l;
	char err[128];
	cr_assert_eq(vd_lpm_build(e, sizeof(e) / sizeof(e[0]), NONE, &l, err, sizeof(err)), 0, "%s",
		     err);
	static const struct {
		const char *ip;
		uint32_t want;
	} t[] = {
		{ "9.255.255.255", NONE },  { "10.0.0.0", 1 },	     { "10.0.255.255", 1 },
		{ "10.1.0.0", 2 },	    { "10.1.2.0", 3 },	     { "10.1.2.127", 3 },
		{ "10.1.2.128", 4 },	    { "10.1.2.199", 4 },     { "10.1.2.200", 5 },
		{ "10.1.2.201", 4 },	    { "10.1.2.255", 4 },     { "10.1.3.0", 2 },
		{ "10.2.0.0", 1 },	    { "10.255.255.254", 1 }, { "10.255.255.255", 10 },
		{ "11.0.0.0", NONE },	    { "192.0.2.77", 6 },     { "192.0.3.0", NONE },
		{ "0.0.0.0", NONE },	    { "255.255.255.255", NONE },
		{ "2001:db8::1", 7 },	    { "2001:db8:1::1", 8 },  { "2001:db8:2::", 7 },
		{ "2001:db9::", NONE },	    { "::1", 9 },	     { "::2", NONE },
		{ "::", NONE },		    { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NONE },
		{ "::ffff:10.1.2.200", 5 }, /* IPv4-mapped: looked up as IPv4 */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_expect_eq(look(l, t[i].ip), t[i].want, "%s: %u, want %u", t[i].ip,
			     look(l, t[i].ip), t[i].want);
	vd_lpm_free(l);
}

Test(lpm, whole_address_spaces_and_their_edges)
{
	const struct vd_lpm_entry e[] = {
		entry("0.0.0.0/0", 1), entry("255.255.255.255/32", 2), entry("0.0.0.0/32", 3),
		entry("::/0", 4),      entry("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 5),
		entry("::/128", 6),
	};
	struct vd_lpm *l;
	char err[128];
	cr_assert_eq(vd_lpm_build(e, 6, NONE, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(look(l, "0.0.0.0"), 3);
	cr_expect_eq(look(l, "0.0.0.1"), 1);
	cr_expect_eq(look(l, "255.255.255.254"), 1);
	cr_expect_eq(look(l, "255.255.255.255"), 2);
	cr_expect_eq(look(l, "::"), 6);
	cr_expect_eq(look(l, "::1"), 4);
	cr_expect_eq(look(l, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 4);
	cr_expect_eq(look(l, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 5);
	cr_expect_eq(vd_lpm_ranges(l, AF_INET), 3);
	vd_lpm_free(l);

	cr_assert_eq(vd_lpm_build(NULL, 0, NONE, &l, err, sizeof(err)), 0);
	cr_expect_eq(look(l, "10.0.0.1"), NONE, "an empty table maps everything to none");
	cr_expect_eq(look(l, "2001:db8::1"), NONE);
	vd_lpm_free(l);
}

Test(lpm, duplicates_agree_or_are_refused)
{
	struct vd_lpm *l;
	char err[128];
	struct vd_lpm_entry same[] = { entry("10.0.0.0/8", 1), entry("10.9.9.9/8", 1) };
	cr_assert_eq(vd_lpm_build(same, 2, NONE, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(look(l, "10.1.1.1"), 1);
	vd_lpm_free(l);
	struct vd_lpm_entry clash[] = { entry("2001:db8::/32", 1), entry("2001:db8::/32", 2) };
	cr_assert_eq(vd_lpm_build(clash, 2, NONE, &l, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "2001:db8::/32"), "%s", err);
}

/* Random prefix sets (many nested: prefixes of a few seed addresses) against a linear scan. */
static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint32_t linear(const struct vd_lpm_entry *e, unsigned n, const union vd_sockaddr *a)
{
	int best = -1;
	uint32_t v = NONE;
	int fam = a->sa.sa_family;
	for (unsigned i = 0; i < n; i++)
		if (vd_prefix_contains(&e[i].prefix, fam, vd_sockaddr_ip(a)) &&
		    (int)e[i].prefix.bits > best) {
			best = e[i].prefix.bits;
			v = e[i].value;
		}
	return v;
}

Test(lpm, random_sets_agree_with_a_linear_scan)
{
	enum { SETS = 40, PREFIXES = 600, LOOKUPS = 4000 };
	static struct vd_lpm_entry e[PREFIXES];
	uint64_t s = 0x9e3779b97f4a7c15ull;
	for (int set = 0; set < SETS; set++) {
		uint8_t seeds[4][16];
		for (int k = 0; k < 4; k++)
			for (int b = 0; b < 16; b++)
				seeds[k][b] = (uint8_t)rng(&s);
		unsigned n = 0;
		while (n < PREFIXES) {
			struct vd_lpm_entry x = { .value = (uint32_t)(rng(&s) % 7) };
			x.prefix.family = rng(&s) & 1 ? AF_INET : AF_INET6;
			unsigned width = x.prefix.family == AF_INET ? 32 : 128;
			memcpy(x.prefix.addr, seeds[rng(&s) % 4], 16);
			x.prefix.addr[rng(&s) % (width / 8)] ^= (uint8_t)(rng(&s) % 3); /* near seeds */
			x.prefix.bits = (uint8_t)(rng(&s) % (width + 1));
			if (x.prefix.family == AF_INET)
				memset(x.prefix.addr + 4, 0, 12);
			vd_prefix_canonical(&x.prefix);
			bool dup = false; /* same prefix again: keep the first meaning */
			for (unsigned i = 0; i < n && !dup; i++)
				dup = e[i].prefix.family == x.prefix.family &&
				      e[i].prefix.bits == x.prefix.bits &&
				      !memcmp(e[i].prefix.addr, x.prefix.addr, 16);
			if (!dup)
				e[n++] = x;
		}
		struct vd_lpm *l;
		char err[128];
		cr_assert_eq(vd_lpm_build(e, n, NONE, &l, err, sizeof(err)), 0, "%s", err);
		for (int i = 0; i < LOOKUPS; i++) {
			union vd_sockaddr a = { 0 };
			const uint8_t *seed = seeds[rng(&s) % 4];
			if (rng(&s) & 1) {
				a.in.sin_family = AF_INET;
				memcpy(&a.in.sin_addr, seed, 4);
				((uint8_t *)&a.in.sin_addr)[rng(&s) % 4] ^= (uint8_t)rng(&s);
			} else {
				a.in6.sin6_family = AF_INET6;
				memcpy(&a.in6.sin6_addr, seed, 16);
				a.in6.sin6_addr.s6_addr[rng(&s) % 16] ^= (uint8_t)rng(&s);
			}
			cr_assert_eq(vd_lpm_lookup(l, &a), linear(e, n, &a), "set %d lookup %d", set,
				     i);
		}
		vd_lpm_free(l);
	}
}
