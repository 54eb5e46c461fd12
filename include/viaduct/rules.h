/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing rules: an ordered list of match conditions with an action, compiled into ONE
 * hyperscan database per routing snapshot.
 *
 * A rule matches when every condition it has holds: method set, Request-URI regex, From and
 * To regexes (on the whole header value), regexes on any other header's value, source CIDR
 * list, arrival listener. The first matching rule wins. Compilation happens on the control
 * plane; matching is on the hot path: each field a rule needs is scanned once per message
 * against the one database, with a per-worker scratch, and never allocates.
 */
#ifndef VIADUCT_RULES_H
#define VIADUCT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "viaduct/addr.h"
#include "viaduct/sip.h"

#define VD_RULE_NAME_MAX 64
#define VD_RULE_MAX_HEADERS 8 /* header-value conditions per rule */
#define VD_RULE_MAX_CIDRS 32  /* source prefixes per rule */

enum vd_rule_action {
	VD_ACTION_ROUTE = 0, /* to pool `pool` */
	VD_ACTION_REJECT,    /* a locally built reply `code reason` */
	VD_ACTION_DROP,      /* counted drop */
};

struct vd_rule_header_cond {
	char name[VD_RULE_NAME_MAX]; /* header name; compact forms match too (vd_sip_find) */
	const char *regex;          /* PCRE syntax as hyperscan takes it; owned by the spec */
};

/** One rule as written in config (plain data; strings owned by the caller). */
struct vd_rule_spec {
	char name[VD_RULE_NAME_MAX];
	uint32_t methods;       /* bit set of 1u << enum vd_sip_method; 0 = any method */
	const char *ruri;       /* regex or NULL */
	const char *from;       /* regex on the From header value, or NULL */
	const char *to;         /* regex on the To header value, or NULL */
	unsigned n_headers;
	struct vd_rule_header_cond headers[VD_RULE_MAX_HEADERS];
	unsigned n_cidrs;       /* 0 = any source */
	struct vd_prefix cidrs[VD_RULE_MAX_CIDRS];
	uint32_t listeners;     /* bit set of listener indexes; 0 = any listener */
	enum vd_rule_action action;
	unsigned pool;          /* ROUTE: index of the pool */
	uint16_t code;          /* REJECT: 400..699 */
	char reason[64];        /* REJECT: reason phrase */
};

/** Compiled rules (opaque). Immutable once built; shared by all workers. */
struct vd_rules;
/** Per-worker matching state (opaque): hyperscan scratch + per-message match bits. */
struct vd_rules_scratch;

/**
 * Compile n rules (in order) into one hyperscan database. Returns 0, or a negative errno code
 * with a message naming the rule and the field ("rule emergency: ruri: <hyperscan error>"):
 * -EINVAL for a bad spec or regex, -ENOMEM. Everything is copied: the caller may free specs
 * and their strings right after. Regexes are compiled with HS_FLAG_DOTALL (`.` crosses folded
 * header lines) and HS_FLAG_ALLOWEMPTY (`.*` compiles and means "the field is present"); an
 * empty regex is refused. A set without any regex gets no database and never scans.
 * Control plane only.
 */
int vd_rules_compile(const struct vd_rule_spec *specs, unsigned n, struct vd_rules **out,
		     char *err, size_t errlen);
void vd_rules_free(struct vd_rules *r);

/**
 * Allocate (or grow, when *s is not NULL) a scratch valid for r and for every set it was
 * valid for before. 0, or -ENOMEM leaving *s as it was (still valid for the old sets).
 * Control plane only, and never while a worker matches with the same scratch.
 */
int vd_rules_scratch_alloc(const struct vd_rules *r, struct vd_rules_scratch **s);
void vd_rules_scratch_free(struct vd_rules_scratch *s);

/**
 * Index of the first rule that matches the scanned request, or -1 if none (and for responses).
 * A missing header fails its condition; a header condition looks at the first occurrence only.
 * src may be NULL (then only rules without source prefixes can match); an IPv4-mapped IPv6
 * source is matched as IPv4. Hot path: no allocation. s may be NULL when the set has no regex;
 * otherwise it must have been allocated (or grown) for r, else -EINVAL.
 */
int vd_rules_match(const struct vd_rules *r, struct vd_rules_scratch *s,
		   const struct vd_sip_msg *msg, const union vd_sockaddr *src, unsigned listener);

/** The spec of rule i as compiled (for actions, logs and metrics). */
const struct vd_rule_spec *vd_rules_get(const struct vd_rules *r, unsigned i);
unsigned vd_rules_count(const struct vd_rules *r);

#endif
