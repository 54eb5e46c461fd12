/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Longest-prefix match (include/viaduct/lpm.h): prefixes flattened into disjoint ranges.
 *
 * Prefixes are laminar (two are either disjoint or one contains the other), so sorting them
 * by start, wider first, and sweeping with a stack of the prefixes that are open gives every
 * elementary range its most specific prefix in O(n log n): the top of the stack. Neighbouring
 * ranges with the same value are merged. IPv6 keys are 128-bit integers (GCC/Clang's
 * unsigned __int128), IPv4 keys are widened to 64 bits so that "one past the end" of
 * 255.255.255.255 needs no special case.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/lpm.h"

__extension__ typedef unsigned __int128 u128;

/* One family's ranges: range i covers [start[i], start[i + 1]) and maps to value[i]; the
 * first starts at address 0. */
struct lpm_family {
	unsigned n;
	u128 *start;
	uint32_t *value;
};

struct vd_lpm {
	uint32_t none;
	struct lpm_family v4, v6;
};

/* A prefix as an inclusive key range in its family's key space. */
struct span {
	u128 lo, hi; /* hi inclusive */
	unsigned bits;
	uint32_t value;
	unsigned index; /* in the caller's list, for errors */
};

/* Network-order bytes (4 or 16) as an integer. */
static u128 key_of(const uint8_t *addr, unsigned bytes)
{
	uint64_t w[2];
	if (bytes == 4) {
		uint32_t v;
		memcpy(&v, addr, 4);
		return ntohl(v);
	}
	memcpy(w, addr, 16);
	return (u128)be64toh(w[0]) << 64 | be64toh(w[1]);
}

static struct span span_of(const struct vd_lpm_entry *e, unsigned index)
{
	unsigned width = e->prefix.family == AF_INET ? 32 : 128;
	u128 k = key_of(e->prefix.addr, width / 8);
	unsigned host_bits = e->prefix.bits >= width ? 0 : width - e->prefix.bits;
	/* a shift by 128 is undefined: ::/0's host part is every bit */
	u128 host = host_bits == 128 ? ~(u128)0 : ((u128)1 << host_bits) - 1;
	return (struct span){ .lo = k & ~host, .hi = (k & ~host) | host, .bits = e->prefix.bits,
			      .value = e->value, .index = index };
}

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->bits < y->bits ? -1 : x->bits > y->bits; /* wider first */
}

/* Append [at, ...) -> value unless it continues the previous range's value. */
static void emit(struct lpm_family *f, u128 at, uint32_t value)
{
	if (f->n && f->value[f->n - 1] == value)
		return;
	if (f->n && f->start[f->n - 1] == at) { /* an empty range before: replace it */
		f->value[f->n - 1] = value;
		if (f->n > 1 && f->value[f->n - 2] == value)
			f->n--;
		return;
	}
	f->start[f->n] = at;
	f->value[f->n++] = value;
}

/*
 * Flatten n sorted spans of one family whose key space ends at `last`. A family has at most
 * 2n + 1 ranges (each prefix opens one and closes one).
 */
static int flatten(struct lpm_family *f, const struct span *s, unsigned n, u128 last,
		   uint32_t none)
{
	const struct span **stack = malloc((n ? n : 1) * sizeof(*stack));
	f->start = malloc((2 * n + 1) * sizeof(*f->start));
	f->value = malloc((2 * n + 1) * sizeof(*f->value));
	if (!stack || !f->start || !f->value) {
		free(stack);
		return -ENOMEM;
	}
	unsigned depth = 0;
	u128 pos = 0;
	bool done = false; /* pos went past `last` */
	f->n = 0;
	for (unsigned i = 0; i <= n; i++) {
		/* close every open prefix that ends before this one starts (or all, at the end) */
		while (depth && (i == n || stack[depth - 1]->hi < s[i].lo)) {
			const struct span *top = stack[--depth];
			if (!done && pos <= top->hi) {
				emit(f, pos, top->value);
				if (top->hi == last)
					done = true;
				else
					pos = top->hi + 1;
			}
		}
		if (i == n)
			break;
		if (!done && pos < s[i].lo) {
			emit(f, pos, depth ? stack[depth - 1]->value : none);
			pos = s[i].lo;
		}
		stack[depth++] = &s[i];
	}
	if (!done)
		emit(f, pos, none);
	free(stack);
	return 0;
}

static int build_family(struct lpm_family *f, const struct vd_lpm_entry *e, unsigned n,
			int family, uint32_t none, char *err, size_t errlen)
{
	unsigned m = 0;
	struct span *s = malloc((n ? n : 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		if (e[i].prefix.family == family)
			s[m++] = span_of(&e[i], i);
	qsort(s, m, sizeof(*s), span_cmp);
	unsigned k = 0; /* duplicates: one entry when they agree, an error when not */
	for (unsigned i = 0; i < m; i++) {
		if (k && s[k - 1].lo == s[i].lo && s[k - 1].bits == s[i].bits) {
			if (s[k - 1].value == s[i].value)
				continue;
			char text[64];
			vd_prefix_text(&e[s[i].index].prefix, text, sizeof(text));
			snprintf(err, errlen, "%s is listed twice with different meanings", text);
			free(s);
			return -EINVAL;
		}
		s[k++] = s[i];
	}
	u128 last = family == AF_INET ? (u128)UINT32_MAX : ~(u128)0;
	int rc = flatten(f, s, k, last, none);
	free(s);
	return rc;
}

int vd_lpm_build(const struct vd_lpm_entry *e, unsigned n, uint32_t none, struct vd_lpm **out,
		 char *err, size_t errlen)
{
	struct vd_lpm *l = calloc(1, sizeof(*l));
	int rc = -ENOMEM;
	if (err && errlen)
		err[0] = '\0';
	if (!l)
		goto fail;
	l->none = none;
	for (unsigned i = 0; i < n; i++)
		if (e[i].prefix.family != AF_INET && e[i].prefix.family != AF_INET6) {
			snprintf(err, errlen, "entry %u: not an IPv4 or IPv6 prefix", i);
			rc = -EINVAL;
			goto fail;
		}
	rc = build_family(&l->v4, e, n, AF_INET, none, err, errlen);
	if (!rc)
		rc = build_family(&l->v6, e, n, AF_INET6, none, err, errlen);
	if (rc)
		goto fail;
	*out = l;
	return 0;
fail:
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "out of memory");
	vd_lpm_free(l);
	return rc;
}

void vd_lpm_free(struct vd_lpm *l)
{
	if (!l)
		return;
	free(l->v4.start);
	free(l->v4.value);
	free(l->v6.start);
	free(l->v6.value);
	free(l);
}

/* The last range whose start is <= key: a branch-light binary search (the range list always
 * starts at 0, so there is one). */
static uint32_t find(const struct lpm_family *f, u128 key)
{
	const u128 *base = f->start;
	unsigned len = f->n;
	while (len > 1) {
		unsigned half = len / 2;
		base = base[half] <= key ? base + half : base;
		len -= half;
	}
	return f->value[base - f->start];
}

uint32_t vd_lpm_lookup(const struct vd_lpm *l, const union vd_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return find(&l->v4, key_of((const uint8_t *)&a->in.sin_addr, 4));
	const uint8_t *b = a->in6.sin6_addr.s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
		return find(&l->v4, key_of(b + 12, 4));
	return find(&l->v6, key_of(b, 16));
}

unsigned vd_lpm_ranges(const struct vd_lpm *l, int family)
{
	return family == AF_INET ? l->v4.n : l->v6.n;
}
