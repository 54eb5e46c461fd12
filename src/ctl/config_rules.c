/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing rules in the config: `rules:` is an ordered list; the first rule that matches a
 * request we route picks what happens to it. A rule has any combination of conditions
 * (methods, ruri, from, to, headers, source, listeners; all must hold) and one action
 * (route: POOL, reject: "CODE REASON", drop: true). The regexes are only checked for syntax
 * when the snapshot compiles them into one hyperscan database (vd_rules_compile), which
 * --check-config does too.
 *
 *   rules:
 *     - name: emergency
 *       methods: [INVITE, MESSAGE]
 *       ruri: '^sip:(\+1)?911@'
 *       route: emergency
 *     - name: block-test-range
 *       from: '^<sip:\+1555'
 *       reject: 403 Forbidden
 *     - name: default
 *       route: pcscf
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "viaduct/rules.h"
#include "viaduct/sip.h"


static const cyaml_schema_value_t string_value = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t header_fields[] = {
	STR_FIELD("name", 0, struct raw_header_cond, name),
	STR_FIELD("regex", 0, struct raw_header_cond, regex),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t header_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_header_cond, header_fields),
};

#define LIST_FIELD(key, member, count, value)                                               \
	CYAML_FIELD_SEQUENCE_COUNT(key, CYAML_FLAG_POINTER | OPT, struct raw_rule, member,   \
				   count, value, 0, CYAML_UNLIMITED)

static const cyaml_schema_field_t rule_fields[] = {
	STR_FIELD("name", OPT, struct raw_rule, name),
	LIST_FIELD("methods", methods, n_methods, &string_value),
	STR_FIELD("ruri", OPT, struct raw_rule, ruri),
	STR_FIELD("from", OPT, struct raw_rule, from),
	STR_FIELD("to", OPT, struct raw_rule, to),
	LIST_FIELD("headers", headers, n_headers, &header_value),
	LIST_FIELD("source", source, n_source, &string_value),
	LIST_FIELD("listeners", listeners, n_listeners, &string_value),
	STR_FIELD("route", OPT, struct raw_rule, route),
	STR_FIELD("reject", OPT, struct raw_rule, reject),
	STR_FIELD("drop", OPT, struct raw_rule, drop),
	CYAML_FIELD_END,
};

const cyaml_schema_value_t cfg_rule_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_rule, rule_fields),
};

static int dup_str(struct loader *ld, const char *s, const char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	char *d = strdup(s);
	if (!d) {
		cfg_put_err(ld, "out of memory");
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

static int rule_methods(struct loader *ld, const struct raw_rule *r, struct vd_rule_spec *s)
{
	for (unsigned i = 0; i < r->n_methods; i++) {
		enum vd_sip_method m = vd_sip_method_parse(r->methods[i], strlen(r->methods[i]));
		if (m == VD_M_UNKNOWN && strcmp(r->methods[i], "other") != 0)
			return cfg_bad(ld, "methods", "\"%s\" is not a method viaduct knows (use "
						      "\"other\" for extension methods)",
				       r->methods[i]);
		s->methods |= 1u << m;
	}
	return 0;
}

static int rule_action(struct loader *ld, const struct raw_rule *r, const struct vd_config *cfg,
		       struct vd_rule_spec *s)
{
	int n = (r->route != NULL) + (r->reject != NULL) + (r->drop != NULL);
	if (n != 1)
		return cfg_bad(ld, NULL, "needs exactly one action: route, reject or drop");
	if (r->route) {
		int p = vd_config_pool_index(cfg, r->route);
		if (p < 0)
			return cfg_bad(ld, "route", "no pool named \"%s\"", r->route);
		s->action = VD_ACTION_ROUTE;
		s->pool = (unsigned)p;
	} else if (r->reject) {
		unsigned code;
		int used = 0;
		if (sscanf(r->reject, "%u %n", &code, &used) != 1 || code < 400 || code > 699 ||
		    !r->reject[used] || strlen(r->reject + used) >= sizeof(s->reason))
			return cfg_bad(ld, "reject", "\"%s\" is not \"CODE REASON\" with a code of "
						     "400..699",
				       r->reject);
		s->action = VD_ACTION_REJECT;
		s->code = (uint16_t)code;
		snprintf(s->reason, sizeof(s->reason), "%s", r->reject + used);
	} else {
		if (strcmp(r->drop, "true") != 0)
			return cfg_bad(ld, "drop", "must be true (or leave it out)");
		s->action = VD_ACTION_DROP;
	}
	return 0;
}

static int rule_conditions(struct loader *ld, const struct raw_rule *r, const struct vd_config *cfg,
			   struct vd_rule_spec *s)
{
	int rc = dup_str(ld, r->ruri, &s->ruri);
	if (!rc)
		rc = dup_str(ld, r->from, &s->from);
	if (!rc)
		rc = dup_str(ld, r->to, &s->to);
	if (rc)
		return rc;
	if (r->n_headers > VD_RULE_MAX_HEADERS)
		return cfg_bad(ld, "headers", "%u conditions, at most %d", r->n_headers,
			       VD_RULE_MAX_HEADERS);
	for (unsigned i = 0; i < r->n_headers; i++) {
		if (!cfg_valid_name(r->headers[i].name))
			return cfg_bad(ld, "headers", "\"%s\" is not a header name",
				       r->headers[i].name);
		snprintf(s->headers[i].name, sizeof(s->headers[i].name), "%s", r->headers[i].name);
		s->n_headers = i + 1;
		rc = dup_str(ld, r->headers[i].regex, &s->headers[i].regex);
		if (rc)
			return rc;
	}
	if (r->n_source > VD_RULE_MAX_CIDRS)
		return cfg_bad(ld, "source", "%u prefixes, at most %d", r->n_source,
			       VD_RULE_MAX_CIDRS);
	for (unsigned i = 0; i < r->n_source; i++) {
		if (vd_prefix_parse(r->source[i], &s->cidrs[i]))
			return cfg_bad(ld, "source", "\"%s\" is not an address or a prefix",
				       r->source[i]);
		s->n_cidrs = i + 1;
	}
	for (unsigned i = 0; i < r->n_listeners; i++) {
		uint32_t idx;
		rc = cfg_get_uint(ld, "listeners", r->listeners[i], 0, cfg->n_listeners - 1, 0, &idx);
		if (rc)
			return rc;
		s->listeners |= 1u << idx;
	}
	return rule_methods(ld, r, s);
}

int cfg_convert_rules(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg)
{
	if (raw->n_rules == 0)
		return 0;
	unsigned base = cfg->n_rules;
	if (base + raw->n_rules > VD_CFG_MAX_RULES) {
		ld->at[0] = '\0';
		return cfg_bad(ld, "rules", "%u rules, at most %d", base + raw->n_rules,
			       VD_CFG_MAX_RULES);
	}
	struct vd_rule_spec *rules = realloc(cfg->rules, (base + raw->n_rules) * sizeof(*rules));
	if (!rules) {
		cfg_put_err(ld, "out of memory");
		return -ENOMEM;
	}
	memset(rules + base, 0, raw->n_rules * sizeof(*rules));
	cfg->rules = rules;
	for (unsigned i = 0; i < raw->n_rules; i++) {
		const struct raw_rule *r = &raw->rules[i];
		struct vd_rule_spec *s = &cfg->rules[base + i];
		cfg->n_rules = base + i + 1; /* so the strings are freed whatever happens */
		cfg_set_at(ld, "rules[%u]", i);
		if (r->name && (!cfg_valid_name(r->name) || strlen(r->name) >= sizeof(s->name)))
			return cfg_bad(ld, "name", "\"%s\" must be 1..%zu characters of A-Z a-z 0-9 "
						   "_ . -",
				       r->name, sizeof(s->name) - 1);
		snprintf(s->name, sizeof(s->name), "%s", r->name ? r->name : "");
		if (!r->name)
			snprintf(s->name, sizeof(s->name), "rule%u", base + i);
		int rc = rule_conditions(ld, r, cfg, s);
		if (!rc)
			rc = rule_action(ld, r, cfg, s);
		if (rc)
			return rc;
	}
	return 0;
}

