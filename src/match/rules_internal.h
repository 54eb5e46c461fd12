/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal layout of compiled routing rules and of the per-worker matching scratch, shared by
 * rules_compile.c (builds them on the control plane) and rules.c (reads them per message). Not
 * a public header.
 *
 * The hot-path data is split from the specs: matching reads small dense arrays (8-12 bytes per
 * rule and per regex condition, plus the source prefixes), never the ~1.3 kB specs, which are
 * kept only so vd_rules_get() can hand the configured rule back.
 */
#ifndef VD_RULES_INTERNAL_H
#define VD_RULES_INTERNAL_H

#include <stdint.h>

#include <hs.h>

#include "viaduct/rules.h"

/* Upper bound on the number of rules: keeps every count, index and hyperscan pattern id (at
 * most 11 conditions per rule) far from overflow. Real rule sets are ~10^4. */
#define RULES_MAX (1u << 20)

/* Distinct fields (R-URI, From, To and header names) one rule set may scan. Each one costs a
 * hyperscan scan per message, so a set that needs more than this is a config mistake. */
#define RULES_FIELDS_MAX 128

/* Regex conditions one rule can have: ruri, from, to and its header conditions. */
#define RULES_CONDS_PER_RULE (3 + VD_RULE_MAX_HEADERS)

/* Where a field's value comes from in the scanned message. */
enum rules_field_src {
	FIELD_RURI = 0, /* msg->ruri */
	FIELD_KIND,	/* a header the scanner knows (msg->first[kind]): From, To, Subject */
	FIELD_NAME,	/* any other header, found by name with vd_sip_find() */
};

/*
 * A field some rule scans: the R-URI or the first occurrence of a header. Fields are interned
 * in rule order, so first_rule never decreases along vd_rules.fields: once fields 0..k are
 * scanned, every rule below fields[k + 1].first_rule is fully decided.
 */
struct rules_field {
	uint8_t src;	     /* enum rules_field_src */
	uint8_t kind;	     /* enum vd_sip_hdr when src is FIELD_KIND */
	uint16_t name_len;   /* FIELD_NAME */
	uint32_t first_rule; /* the first rule with a condition on this field */
	const char *name;    /* FIELD_NAME: the spec's copy of the header name */
};

/* Which part of its spec a condition came from, for error messages only. */
enum rules_cond_what { COND_RURI = 0, COND_FROM, COND_TO, COND_HEADER0 };

/* One regex condition = one hyperscan pattern; its pattern id is its index in vd_rules.conds. */
struct rules_cond {
	uint32_t rule;
	uint8_t field; /* index into vd_rules.fields: matches while scanning another are ignored */
	uint8_t need;  /* regex conditions of the rule; 1 lets the callback skip the counting */
	uint8_t what;  /* enum rules_cond_what (+ header index) */
	uint8_t anchored; /* compiled without its leading '^': only a match from 0 counts */
};

/* A source prefix as two 64-bit words of address and mask (IPv4 in the first 4 bytes), host
 * bits cleared, so a test is two XOR-ANDs whatever the family. */
struct rules_cidr {
	uint64_t net[2];
	uint64_t mask[2];
	uint8_t family;
};

/* What the walk checks for a rule besides its regexes. "Any" is stored as all ones. */
struct rules_rule {
	uint64_t listeners; /* spec bits; bit 63 stands for listener indexes >= 32 */
	uint32_t methods;
	uint32_t cidr_first; /* index into vd_rules.cidrs */
	uint8_t n_cidrs;
	uint8_t n_regex;
};

struct vd_rules {
	unsigned n_rules;
	unsigned n_conds;
	unsigned n_fields;
	unsigned n_plain;  /* rules without any regex condition */
	unsigned n_cidrs;  /* source prefixes over all rules */
	hs_database_t *db; /* NULL when no rule has a regex condition */
	struct rules_rule *rules;
	struct rules_cond *conds;
	struct rules_cidr *cidrs;
	uint32_t *plain;	    /* indexes of the rules without regex conditions, ascending */
	struct vd_rule_spec *specs; /* copies; their regex pointers point into `strings` */
	char *strings;
	struct rules_field fields[RULES_FIELDS_MAX];
};

/* Matched-condition count of a rule with several regex conditions, valid when gen matches. */
struct rules_hits {
	uint32_t gen;
	uint32_t count;
};

/*
 * Per-worker state. `cand` has one bit per rule whose regex conditions all matched in the
 * current message; only words lo..hi are ever set, and they are cleared after the walk, so a
 * message costs nothing for the words it did not touch. `hits` is reset by bumping `gen`.
 */
struct vd_rules_scratch {
	const struct vd_rules *cur; /* the rules being matched: the callback's view */
	uint32_t field;		    /* the field being scanned */
	uint32_t gen;
	uint32_t lo, hi;    /* candidate words touched; lo > hi when none */
	uint32_t cap_rules; /* rules `cand` and `hits` have room for */
	uint64_t *cand;
	struct rules_hits *hits;
	hs_scratch_t *hs; /* NULL until a rule set with regexes was seen */
};

#endif
