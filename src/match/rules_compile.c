/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing rules, control plane: validate the specs, copy them, and turn them into the lookup
 * structures rules.c reads per message.
 *
 * Every regex of every rule becomes one pattern of ONE hyperscan block-mode database; the
 * pattern id is the index of a condition record that names its rule and the field it applies
 * to (the R-URI, or the first occurrence of a header: From and To are headers like any other,
 * so a header condition on "From" or "f" shares the From scan). Fields are interned, so each
 * one is scanned at most once per message however many rules look at it. Rules without regex
 * conditions are listed apart: they need no scan at all. A rule set without any regex has no
 * database.
 *
 * The specs are copied (with the regex strings in one arena), so the caller may free its own
 * right after vd_rules_compile() returns; the copies are what vd_rules_get() hands back.
 */
#include "rules_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REJECT_CODE_MIN	  400
#define REJECT_CODE_MAX	  699
#define IPV4_BYTES	  4
#define IPV6_BYTES	  16
#define BITS_PER_BYTE	  8
#define PREFIX_DIGITS_MAX 3 /* "/128" */
#define ERR_DETAIL_MAX	  512
#define UNANCHOR_ABOVE	  128 /* see count_unanchorable() */
#define ALL_METHODS	  ((1u << VD_M__COUNT) - 1u)
#define ANY_LISTENER	  UINT64_MAX

/*
 * Pattern flags. DOTALL: a header value may contain folded lines (CRLF SP), which `.` must
 * cross. SINGLEMATCH: a condition holds or not, so one report per scan is all the walk needs,
 * and hyperscan can stop tracking a pattern once it fired. ALLOWEMPTY: `.*` and friends compile
 * and mean "the field is present".
 */
#define RULES_HS_FLAGS (HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY)

/* "rule <name>: <detail>" (or "rule #<index>" for an unnamed rule) into err; returns rc. */
static int rule_err(char *err, size_t errlen, int rc, const struct vd_rule_spec *s, unsigned i,
		    const char *fmt, ...)
{
	char detail[ERR_DETAIL_MAX];
	va_list ap;

	if (!err || !errlen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (s && s->name[0])
		snprintf(err, errlen, "rule %s: %s", s->name, detail);
	else
		snprintf(err, errlen, "rule #%u: %s", i, detail);
	return rc;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* RFC 3261 token characters: what a header name may be made of. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-.!%*_+`'~", c)))
			return false;
	}
	return true;
}

/* An empty regex is almost certainly a config mistake (it would match every value). */
static int check_regex(const struct vd_rule_spec *s, unsigned i, const char *field, const char *re,
		       char *err, size_t errlen)
{
	if (re && !re[0])
		return rule_err(err, errlen, -EINVAL, s, i, "%s: empty regex", field);
	return 0;
}

static int check_headers(const struct vd_rule_spec *s, unsigned i, char *err, size_t errlen)
{
	if (s->n_headers > VD_RULE_MAX_HEADERS)
		return rule_err(err, errlen, -EINVAL, s, i, "%u header conditions (max %d)",
				s->n_headers, VD_RULE_MAX_HEADERS);
	for (unsigned k = 0; k < s->n_headers; k++) {
		const struct vd_rule_header_cond *h = &s->headers[k];

		if (!terminated(h->name, sizeof(h->name)) || !is_token(h->name))
			return rule_err(err, errlen, -EINVAL, s, i, "headers[%u]: bad header name",
					k);
		if (!h->regex || !h->regex[0])
			return rule_err(err, errlen, -EINVAL, s, i, "header %s: missing regex",
					h->name);
	}
	return 0;
}

static int check_cidrs(const struct vd_rule_spec *s, unsigned i, char *err, size_t errlen)
{
	if (s->n_cidrs > VD_RULE_MAX_CIDRS)
		return rule_err(err, errlen, -EINVAL, s, i, "%u source prefixes (max %d)",
				s->n_cidrs, VD_RULE_MAX_CIDRS);
	for (unsigned k = 0; k < s->n_cidrs; k++) {
		const struct vd_prefix *c = &s->cidrs[k];
		unsigned max = c->family == AF_INET ? IPV4_BYTES * BITS_PER_BYTE
						    : IPV6_BYTES * BITS_PER_BYTE;

		if ((c->family != AF_INET && c->family != AF_INET6) || c->bits > max)
			return rule_err(err, errlen, -EINVAL, s, i, "sources[%u]: bad prefix", k);
	}
	return 0;
}

/* The reason goes into a locally built status line: no control bytes (CR/LF) allowed. */
static bool reason_ok(const char *r, size_t cap)
{
	if (!terminated(r, cap))
		return false;
	for (; *r; r++)
		if ((unsigned char)*r < 0x20 || *r == 0x7f)
			return false;
	return true;
}

static int check_action(const struct vd_rule_spec *s, unsigned i, char *err, size_t errlen)
{
	switch (s->action) {
	case VD_ACTION_ROUTE: /* the pool index is checked by the config, which knows the pools */
	case VD_ACTION_DROP:
		return 0;
	case VD_ACTION_REJECT:
		if (s->code < REJECT_CODE_MIN || s->code > REJECT_CODE_MAX)
			return rule_err(err, errlen, -EINVAL, s, i,
					"reject code %u is out of range %d..%d", s->code,
					REJECT_CODE_MIN, REJECT_CODE_MAX);
		if (!reason_ok(s->reason, sizeof(s->reason)))
			return rule_err(err, errlen, -EINVAL, s, i, "bad reject reason");
		return 0;
	}
	return rule_err(err, errlen, -EINVAL, s, i, "unknown action %d", (int)s->action);
}

static int check_spec(const struct vd_rule_spec *s, unsigned i, char *err, size_t errlen)
{
	int rc;

	if (!terminated(s->name, sizeof(s->name)))
		return rule_err(err, errlen, -EINVAL, NULL, i, "name is not terminated");
	if (s->methods & ~ALL_METHODS)
		return rule_err(err, errlen, -EINVAL, s, i, "methods: unknown method bit");
	if ((rc = check_regex(s, i, "ruri", s->ruri, err, errlen)) ||
	    (rc = check_regex(s, i, "from", s->from, err, errlen)) ||
	    (rc = check_regex(s, i, "to", s->to, err, errlen)) ||
	    (rc = check_headers(s, i, err, errlen)) || (rc = check_cidrs(s, i, err, errlen)))
		return rc;
	return check_action(s, i, err, errlen);
}

/* ---- copying ---- */

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static size_t spec_strings_size(const struct vd_rule_spec *s)
{
	size_t n = str_size(s->ruri) + str_size(s->from) + str_size(s->to);

	for (unsigned k = 0; k < s->n_headers; k++)
		n += str_size(s->headers[k].regex);
	return n;
}

static const char *put_str(char **at, const char *src)
{
	size_t n = str_size(src);
	char *p = *at;

	if (!src)
		return NULL;
	memcpy(p, src, n);
	*at += n;
	return p;
}

/* Bytes of a netmask of `prefix` bits over 16 bytes. */
static void prefix_mask(unsigned prefix, uint8_t mask[IPV6_BYTES])
{
	for (unsigned k = 0; k < IPV6_BYTES; k++) {
		unsigned bits = prefix > k * BITS_PER_BYTE ? prefix - k * BITS_PER_BYTE : 0;

		mask[k] = bits >= BITS_PER_BYTE ? 0xff : (uint8_t)(0xff00u >> bits);
	}
}

/* Copy one spec; strings into the arena, unused slots zeroed (no pointer into the caller's
 * memory survives). */
static void copy_spec(struct vd_rule_spec *d, const struct vd_rule_spec *s, char **at)
{
	*d = *s;
	d->ruri = put_str(at, s->ruri);
	d->from = put_str(at, s->from);
	d->to = put_str(at, s->to);
	for (unsigned k = 0; k < s->n_headers; k++)
		d->headers[k].regex = put_str(at, s->headers[k].regex);
	memset(&d->headers[s->n_headers], 0,
	       (VD_RULE_MAX_HEADERS - s->n_headers) * sizeof(d->headers[0]));
	memset(&d->cidrs[s->n_cidrs], 0, (VD_RULE_MAX_CIDRS - s->n_cidrs) * sizeof(d->cidrs[0]));
	for (unsigned k = 0; k < s->n_cidrs; k++)
		vd_prefix_canonical(&d->cidrs[k]);
}

static int copy_specs(struct vd_rules *r, const struct vd_rule_spec *specs, unsigned n)
{
	size_t total = 1; /* never malloc(0) */
	char *at;

	for (unsigned i = 0; i < n; i++)
		total += spec_strings_size(&specs[i]);
	r->strings = malloc(total);
	r->specs = calloc(n ? n : 1, sizeof(*r->specs));
	if (!r->strings || !r->specs)
		return -ENOMEM;
	at = r->strings;
	for (unsigned i = 0; i < n; i++)
		copy_spec(&r->specs[i], &specs[i], &at);
	r->n_rules = n;
	return 0;
}

/* ---- lookup structures ---- */

static unsigned spec_regex_count(const struct vd_rule_spec *s)
{
	return (s->ruri != NULL) + (s->from != NULL) + (s->to != NULL) + s->n_headers;
}

/* Index of the field, added if new; -1 when the rule set already has RULES_FIELDS_MAX. */
static int field_intern(struct vd_rules *r, unsigned rule, uint8_t src, uint8_t kind,
			const char *name)
{
	size_t len = name ? strlen(name) : 0;

	for (unsigned f = 0; f < r->n_fields; f++) {
		const struct rules_field *x = &r->fields[f];

		if (x->src == src && x->kind == kind &&
		    (src != FIELD_NAME || (x->name_len == len && !strncasecmp(x->name, name, len))))
			return (int)f;
	}
	if (r->n_fields == RULES_FIELDS_MAX)
		return -1;
	r->fields[r->n_fields] = (struct rules_field){src, kind, (uint16_t)len, rule, name};
	return (int)r->n_fields++;
}

/* A header condition scans the header's first occurrence: known headers (compact forms
 * included) by kind, so "From", "f" and the rule's `from` share one field. */
static int header_field(struct vd_rules *r, unsigned rule, const char *name)
{
	enum vd_sip_hdr kind = vd_sip_hdr_kind(name, strlen(name));

	if (kind != VD_H_OTHER)
		return field_intern(r, rule, FIELD_KIND, (uint8_t)kind, NULL);
	return field_intern(r, rule, FIELD_NAME, 0, name);
}

static int add_cond(struct vd_rules *r, unsigned i, uint8_t what, int field, unsigned need,
		    char *err, size_t errlen)
{
	if (field < 0)
		return rule_err(err, errlen, -EINVAL, &r->specs[i], i,
				"more than %d distinct fields (R-URI, From, To, header names) "
				"in the rule set",
				RULES_FIELDS_MAX);
	r->conds[r->n_conds++] = (struct rules_cond){
		.rule = i, .field = (uint8_t)field, .need = (uint8_t)need, .what = what};
	return 0;
}

static int add_conds(struct vd_rules *r, unsigned i, char *err, size_t errlen)
{
	const struct vd_rule_spec *s = &r->specs[i];
	unsigned need = spec_regex_count(s);
	int rc = 0;

	if (s->ruri)
		rc = add_cond(r, i, COND_RURI, field_intern(r, i, FIELD_RURI, 0, NULL), need, err,
			      errlen);
	if (!rc && s->from)
		rc = add_cond(r, i, COND_FROM, field_intern(r, i, FIELD_KIND, VD_H_FROM, NULL),
			      need, err, errlen);
	if (!rc && s->to)
		rc = add_cond(r, i, COND_TO, field_intern(r, i, FIELD_KIND, VD_H_TO, NULL), need,
			      err, errlen);
	for (unsigned k = 0; !rc && k < s->n_headers; k++)
		rc = add_cond(r, i, (uint8_t)(COND_HEADER0 + k),
			      header_field(r, i, s->headers[k].name), need, err, errlen);
	return rc;
}

static void cidr_compile(const struct vd_prefix *c, struct rules_cidr *out)
{
	uint8_t mask[IPV6_BYTES];

	/* the spec copy is canonical already: addr has no host bits */
	prefix_mask(c->bits, mask);
	memcpy(out->net, c->addr, IPV6_BYTES);
	memcpy(out->mask, mask, IPV6_BYTES);
	out->family = c->family;
}

static void add_rule(struct vd_rules *r, unsigned i)
{
	const struct vd_rule_spec *s = &r->specs[i];
	struct rules_rule *x = &r->rules[i];

	x->methods = s->methods ? s->methods : UINT32_MAX;
	x->listeners = s->listeners ? s->listeners : ANY_LISTENER;
	x->cidr_first = r->n_cidrs;
	x->n_cidrs = (uint8_t)s->n_cidrs;
	x->n_regex = (uint8_t)spec_regex_count(s);
	for (unsigned k = 0; k < s->n_cidrs; k++)
		cidr_compile(&s->cidrs[k], &r->cidrs[r->n_cidrs++]);
	if (!x->n_regex)
		r->plain[r->n_plain++] = i;
}

static int build_rules(struct vd_rules *r, char *err, size_t errlen)
{
	size_t conds = 0, cidrs = 0;
	int rc;

	for (unsigned i = 0; i < r->n_rules; i++) {
		conds += spec_regex_count(&r->specs[i]);
		cidrs += r->specs[i].n_cidrs;
	}
	/* +1: never calloc(0), whose NULL would read as a failure */
	r->rules = calloc(r->n_rules + 1, sizeof(*r->rules));
	r->plain = calloc(r->n_rules + 1, sizeof(*r->plain));
	r->conds = calloc(conds + 1, sizeof(*r->conds));
	r->cidrs = calloc(cidrs + 1, sizeof(*r->cidrs));
	if (!r->rules || !r->plain || !r->conds || !r->cidrs)
		return -ENOMEM;
	for (unsigned i = 0; i < r->n_rules; i++) {
		add_rule(r, i);
		if ((rc = add_conds(r, i, err, errlen)))
			return rc;
	}
	return 0;
}

/* ---- the hyperscan database ---- */

static const char *cond_regex(const struct vd_rules *r, const struct rules_cond *c)
{
	const struct vd_rule_spec *s = &r->specs[c->rule];

	switch (c->what) {
	case COND_RURI:
		return s->ruri;
	case COND_FROM:
		return s->from;
	case COND_TO:
		return s->to;
	}
	return s->headers[c->what - COND_HEADER0].regex;
}

/* "rule <name>: <field>: <hyperscan's message>", naming the pattern hyperscan refused. */
static int compile_err(const struct vd_rules *r, const hs_compile_error_t *ce, char *err,
		       size_t errlen)
{
	const char *msg = ce && ce->message ? ce->message : "hyperscan error";
	const struct rules_cond *c;
	const struct vd_rule_spec *s;

	if (!ce || ce->expression < 0 || (unsigned)ce->expression >= r->n_conds) {
		if (err && errlen)
			snprintf(err, errlen, "rules: %s", msg);
		return -EINVAL;
	}
	c = &r->conds[ce->expression];
	s = &r->specs[c->rule];
	switch (c->what) {
	case COND_RURI:
		return rule_err(err, errlen, -EINVAL, s, c->rule, "ruri: %s", msg);
	case COND_FROM:
		return rule_err(err, errlen, -EINVAL, s, c->rule, "from: %s", msg);
	case COND_TO:
		return rule_err(err, errlen, -EINVAL, s, c->rule, "to: %s", msg);
	}
	return rule_err(err, errlen, -EINVAL, s, c->rule, "header %s: %s",
			s->headers[c->what - COND_HEADER0].name, msg);
}

/* Is there a '|' outside parentheses and classes? Then a leading '^' binds only to the
 * first alternative, and the pattern is not anchored as a whole. Quoting (\Q...\E) and
 * comments ((?#...), '#' under (?x)) can hide a '(' from the depth count below, so a '|'
 * next to either counts as top-level: such a pattern is compiled as written. */
static bool top_level_alternation(const char *re)
{
	int depth = 0;

	if (strchr(re, '|') && (strstr(re, "\\Q") || strchr(re, '#')))
		return true;
	for (const char *p = re; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '[') { /* a class: skip to its ']' ("[]...]" and "[^]...]" too) */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p += (*p == '\\' && p[1]) ? 2 : 1;
			/* unbalanced: compiled as written, hyperscan reports it */
			if (!*p)
				return true;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			depth--;
		} else if (*p == '|' && depth == 0) {
			return true;
		}
	}
	return false;
}

/*
 * Hyperscan compiles many start-anchored patterns ("^sip:\+1212555") far more slowly than
 * the same patterns unanchored (10,000 prefix rules: about 7 s against 0.2 s here). A pattern
 * anchored as a whole and of fixed width is therefore compiled without its '^' and with
 * start-of-match reporting, and the match callback keeps only matches that start at 0. Fixed
 * width matters: then exactly one match can start at offset 0, so the condition is counted
 * once although start-of-match reporting excludes HS_FLAG_SINGLEMATCH. Anything else is
 * compiled as written.
 */
static bool unanchor(const char *re, unsigned flags)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *ce = NULL;
	bool ok = false;

	if (re[0] != '^' || top_level_alternation(re))
		return false;
	/* width 0 ("^$"): start-of-match cannot report empty matches, keep it as written */
	if (hs_expression_info(re + 1, flags, &info, &ce) == HS_SUCCESS && info &&
	    info->min_width == info->max_width && info->max_width != UINT_MAX &&
	    info->min_width > 0)
		ok = true;
	free(info);
	hs_free_compile_error(ce);
	return ok;
}

/*
 * Marks (conds[c].anchored) and counts the patterns unanchor() accepts. Only a set with more
 * than UNANCHOR_ABOVE of them is compiled unanchored. Measured with bench_rules (ns per request,
 * anchored against unanchored): 30 prefix rules 76 vs 106, 100: 78 vs 80, 300: 98 vs 89,
 * 1,000: ~104 vs ~86, 10,000: unanchored only (anchored compiles in 7-20 s instead of 0.6 s).
 * Small sets scan faster with hyperscan's anchored matcher; past ~100 patterns its tables grow
 * and the unanchored literal matcher wins, in spite of more instructions.
 */
static unsigned count_unanchorable(struct vd_rules *r, const char *const *exprs)
{
	unsigned n = 0;

	for (unsigned c = 0; c < r->n_conds; c++) {
		r->conds[c].anchored = unanchor(exprs[c], RULES_HS_FLAGS);
		n += r->conds[c].anchored;
	}
	return n;
}

static int build_db(struct vd_rules *r, char *err, size_t errlen)
{
	const char **exprs = calloc(r->n_conds, sizeof(*exprs));
	unsigned *flags = calloc(r->n_conds, sizeof(*flags));
	unsigned *ids = calloc(r->n_conds, sizeof(*ids));
	hs_compile_error_t *ce = NULL;
	int rc = -ENOMEM;

	if (!exprs || !flags || !ids)
		goto out;
	for (unsigned c = 0; c < r->n_conds; c++) {
		exprs[c] = cond_regex(r, &r->conds[c]);
		flags[c] = RULES_HS_FLAGS;
		ids[c] = c;
	}
	if (count_unanchorable(r, exprs) > UNANCHOR_ABOVE)
		for (unsigned c = 0; c < r->n_conds; c++) {
			if (!r->conds[c].anchored)
				continue;
			/* SOM_LEFTMOST excludes SINGLEMATCH; with a fixed width only one match
			 * can start at 0, so the condition is still counted once */
			exprs[c]++;
			flags[c] = (RULES_HS_FLAGS & ~HS_FLAG_SINGLEMATCH) | HS_FLAG_SOM_LEFTMOST;
		}
	else
		for (unsigned c = 0; c < r->n_conds; c++)
			r->conds[c].anchored = 0;
	rc = 0;
	if (hs_compile_multi(exprs, flags, ids, r->n_conds, HS_MODE_BLOCK, NULL, &r->db, &ce) !=
	    HS_SUCCESS) {
		rc = compile_err(r, ce, err, errlen);
		r->db = NULL;
	}
	hs_free_compile_error(ce);
out:
	free(exprs);
	free(flags);
	free(ids);
	return rc;
}

/* ---- public ---- */

int vd_rules_compile(const struct vd_rule_spec *specs, unsigned n, struct vd_rules **out, char *err,
		     size_t errlen)
{
	struct vd_rules *r = NULL;
	int rc = -EINVAL;

	*out = NULL;
	if (n > RULES_MAX || (n && !specs)) {
		if (err && errlen)
			snprintf(err, errlen, "rules: %u rules (max %u)", n, RULES_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++)
		if ((rc = check_spec(&specs[i], i, err, errlen)))
			return rc;
	rc = -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto fail;
	if ((rc = copy_specs(r, specs, n)) || (rc = build_rules(r, err, errlen)))
		goto fail;
	if (r->n_conds && (rc = build_db(r, err, errlen)))
		goto fail;
	*out = r;
	return 0;
fail:
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "rules: out of memory");
	vd_rules_free(r);
	return rc;
}

void vd_rules_free(struct vd_rules *r)
{
	if (!r)
		return;
	hs_free_database(r->db);
	free(r->rules);
	free(r->conds);
	free(r->cidrs);
	free(r->plain);
	free(r->specs);
	free(r->strings);
	free(r);
}

const struct vd_rule_spec *vd_rules_get(const struct vd_rules *r, unsigned i)
{
	return i < r->n_rules ? &r->specs[i] : NULL;
}

unsigned vd_rules_count(const struct vd_rules *r)
{
	return r->n_rules;
}

