/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The edge's admission keys (struct vd_cfg_guard in include/viaduct/config.h):
 *
 *   acl:        { default: allow|deny, allow: [CIDR...], deny: [CIDR...] }
 *   rate_limit: { rate, burst, over: drop|reply, ban_after, ban_seconds, exempt: [CIDR...],
 *                 sources, methods: [{method, rate, burst}...] }
 *   replies:    { rate, burst }        local replies per source (0 = no budget)
 *   overload:   { shed: drop|reply|off, after_ms }
 *
 * Defaults: no acl, no per-source limit, 100 replies/s per source (burst 200), shed: drop
 * after 50 ms behind,
 * 262,144 source entries (32 bytes each over all workers: 8 MiB). The main file only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "viaduct/sip.h"

#define RATE_MAX 100000000u	 /* messages per second */
#define BAN_SECONDS_MAX 86400u
#define OVERLOAD_MS_MAX 60000u
#define SOURCES_MIN 1024u
#define SOURCES_MAX (1u << 28) /* 8 GiB of table: more is a typo */

static const cyaml_schema_value_t cidr_value = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

const cyaml_schema_field_t cfg_acl_fields[] = {
	STR_FIELD("default", OPT, struct raw_acl, def),
	CYAML_FIELD_SEQUENCE_COUNT("allow", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_acl,
				   allow, n_allow, &cidr_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE_COUNT("deny", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_acl,
				   deny, n_deny, &cidr_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t method_limit_fields[] = {
	STR_FIELD("method", REQ, struct raw_method_limit, method),
	STR_FIELD("rate", REQ, struct raw_method_limit, rate),
	STR_FIELD("burst", OPT, struct raw_method_limit, burst),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t method_limit_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_method_limit, method_limit_fields),
};

const cyaml_schema_field_t cfg_rate_limit_fields[] = {
	STR_FIELD("rate", OPT, struct raw_rate_limit, rate),
	STR_FIELD("burst", OPT, struct raw_rate_limit, burst),
	STR_FIELD("over", OPT, struct raw_rate_limit, over),
	STR_FIELD("ban_after", OPT, struct raw_rate_limit, ban_after),
	STR_FIELD("ban_seconds", OPT, struct raw_rate_limit, ban_seconds),
	STR_FIELD("sources", OPT, struct raw_rate_limit, sources),
	CYAML_FIELD_SEQUENCE_COUNT("exempt", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_rate_limit, exempt, n_exempt, &cidr_value, 0,
				   CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE_COUNT("methods", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_rate_limit, methods, n_methods, &method_limit_value,
				   0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};

const cyaml_schema_field_t cfg_replies_fields[] = {
	STR_FIELD("rate", OPT, struct raw_replies, rate),
	STR_FIELD("burst", OPT, struct raw_replies, burst),
	CYAML_FIELD_END,
};

const cyaml_schema_field_t cfg_overload_fields[] = {
	STR_FIELD("shed", OPT, struct raw_overload, shed),
	STR_FIELD("after_ms", OPT, struct raw_overload, after_ms),
	CYAML_FIELD_END,
};

/* A list of CIDRs (or bare addresses) into out[]; field names the list in errors. */
static int prefixes(struct loader *ld, const char *field, char **text, unsigned n,
		    struct vd_prefix *out)
{
	for (unsigned i = 0; i < n; i++)
		if (vd_prefix_parse(text[i], &out[i]))
			return cfg_bad(ld, field, "\"%s\" is not a prefix or an address "
						  "(10.0.0.0/8, 2001:db8::/32, 192.0.2.1)",
				       text[i]);
	return 0;
}

static int convert_acl(struct loader *ld, const struct raw_acl *raw, struct vd_cfg_guard *g)
{
	if (!raw)
		return 0;
	cfg_set_at(ld, "acl");
	if (raw->def && strcmp(raw->def, "allow") && strcmp(raw->def, "deny"))
		return cfg_bad(ld, "default", "\"%s\": allow or deny", raw->def);
	g->acl_default_deny = raw->def && !strcmp(raw->def, "deny");
	unsigned n = raw->n_allow + raw->n_deny;
	struct vd_prefix *p = calloc(n ? n : 1, sizeof(*p));
	g->acl = calloc(n ? n : 1, sizeof(*g->acl));
	if (!p || !g->acl) {
		free(p);
		return cfg_bad(ld, NULL, "out of memory");
	}
	int rc = prefixes(ld, "allow", raw->allow, raw->n_allow, p);
	if (!rc)
		rc = prefixes(ld, "deny", raw->deny, raw->n_deny, p + raw->n_allow);
	for (unsigned i = 0; !rc && i < n; i++)
		g->acl[i] = (struct vd_cfg_acl_entry){ p[i], i >= raw->n_allow };
	g->n_acl = rc ? 0 : n;
	free(p);
	return rc;
}

static int convert_methods(struct loader *ld, const struct raw_rate_limit *raw,
			   struct vd_cfg_guard *g)
{
	for (unsigned i = 0; i < raw->n_methods; i++) {
		const struct raw_method_limit *m = &raw->methods[i];
		cfg_set_at(ld, "rate_limit.methods[%u]", i);
		enum vd_sip_method k = vd_sip_method_parse(m->method, strlen(m->method));
		if (k == VD_M_UNKNOWN || k >= VD_CFG_GUARD_METHODS)
			return cfg_bad(ld, "method", "\"%s\" is not a SIP method viaduct knows "
						     "(INVITE, REGISTER, SUBSCRIBE, ...)",
				       m->method);
		if (g->method_rate[k])
			return cfg_bad(ld, "method", "%s has a limit already", m->method);
		int rc = cfg_get_uint(ld, "rate", m->rate, 1, RATE_MAX, 0, &g->method_rate[k]);
		if (!rc)
			rc = cfg_get_uint(ld, "burst", m->burst, 1, RATE_MAX, g->method_rate[k],
					  &g->method_burst[k]);
		if (rc)
			return rc;
	}
	return 0;
}

static int convert_rate_limit(struct loader *ld, const struct raw_rate_limit *raw,
			      struct vd_cfg_guard *g)
{
	static const struct raw_rate_limit none;
	if (!raw)
		raw = &none;
	cfg_set_at(ld, "rate_limit");
	int rc = cfg_get_uint(ld, "rate", raw->rate, 0, RATE_MAX, 0, &g->rate);
	if (!rc)
		rc = cfg_get_uint(ld, "burst", raw->burst, 1, RATE_MAX, g->rate ? 2 * g->rate : 1,
				  &g->burst);
	if (!rc && raw->over && strcmp(raw->over, "drop") && strcmp(raw->over, "reply"))
		rc = cfg_bad(ld, "over", "\"%s\": drop or reply (503 with Retry-After)", raw->over);
	g->over = raw->over && !strcmp(raw->over, "reply") ? VD_OVER_REPLY : VD_OVER_DROP;
	if (!rc)
		rc = cfg_get_uint(ld, "ban_after", raw->ban_after, 0, UINT32_MAX, 0, &g->ban_after);
	if (!rc)
		rc = cfg_get_uint(ld, "ban_seconds", raw->ban_seconds, 1, BAN_SECONDS_MAX,
				  VD_CFG_DEFAULT_BAN_SECONDS, &g->ban_seconds);
	if (!rc)
		rc = cfg_get_uint(ld, "sources", raw->sources, SOURCES_MIN, SOURCES_MAX,
				  VD_CFG_DEFAULT_SOURCES, &g->sources);
	if (!rc && raw->n_exempt) {
		g->exempt = calloc(raw->n_exempt, sizeof(*g->exempt));
		if (!g->exempt)
			return cfg_bad(ld, NULL, "out of memory");
		rc = prefixes(ld, "exempt", raw->exempt, raw->n_exempt, g->exempt);
		g->n_exempt = rc ? 0 : raw->n_exempt;
	}
	if (!rc && g->ban_after && !g->rate)
		rc = cfg_bad(ld, "ban_after", "needs a rate (a ban follows messages over it)");
	return rc ? rc : convert_methods(ld, raw, g);
}

int cfg_convert_guard(struct loader *ld, const struct raw_config *raw, struct vd_cfg_guard *g)
{
	memset(g, 0, sizeof(*g));
	int rc = convert_acl(ld, raw->acl, g);
	if (!rc)
		rc = convert_rate_limit(ld, raw->rate_limit, g);
	if (rc)
		return rc;
	static const struct raw_replies no_replies;
	const struct raw_replies *r = raw->replies ? raw->replies : &no_replies;
	cfg_set_at(ld, "replies");
	rc = cfg_get_uint(ld, "rate", r->rate, 0, RATE_MAX, VD_CFG_DEFAULT_REPLY_RATE,
			  &g->reply_rate);
	if (!rc)
		rc = cfg_get_uint(ld, "burst", r->burst, 1, RATE_MAX,
				  r->rate ? 2 * g->reply_rate : VD_CFG_DEFAULT_REPLY_BURST,
				  &g->reply_burst);
	if (rc)
		return rc;
	cfg_set_at(ld, "overload");
	const char *shed = raw->overload ? raw->overload->shed : NULL;
	if (!shed || !strcmp(shed, "drop"))
		g->shed = VD_SHED_DROP;
	else if (!strcmp(shed, "reply"))
		g->shed = VD_SHED_REPLY;
	else if (!strcmp(shed, "off"))
		g->shed = VD_SHED_OFF;
	else
		return cfg_bad(ld, "shed", "\"%s\": drop, reply (503 with Retry-After) or off", shed);
	return cfg_get_uint(ld, "after_ms", raw->overload ? raw->overload->after_ms : NULL, 1,
			    OVERLOAD_MS_MAX, VD_CFG_DEFAULT_OVERLOAD_MS, &g->overload_ms);
}
