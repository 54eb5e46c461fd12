/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pools, members, hash keys, health probing and the admin API: the parts of the config that
 * say where requests go. A config has either one `pool:` or a list `pools:`; pools[0] takes
 * the requests that no rule routes elsewhere. Members carry a weight and a priority group:
 * the lowest group with a member up takes the traffic.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "viaduct/sip.h"

#define CFG_TABLE_SIZE_MAX 1000003u
#define CFG_WEIGHT_MAX 1000u
#define CFG_PRIORITY_MAX 1000u
#define CFG_HEALTH_MS_MAX 3600000u
#define CFG_HEALTH_COUNT_MAX 100u
#define CFG_OUTLIER_MS_MAX 86400000u /* a day */


static const cyaml_schema_field_t member_fields[] = {
	STR_FIELD("host", REQ, struct raw_member, host),
	STR_FIELD("port", OPT, struct raw_member, port),
	STR_FIELD("weight", OPT, struct raw_member, weight),
	STR_FIELD("priority", OPT, struct raw_member, priority),
	STR_FIELD("transport", OPT, struct raw_member, transport),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t member_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_member, member_fields),
};

static const cyaml_schema_field_t outlier_fields[] = {
	STR_FIELD("retry_after", OPT, struct raw_outlier, retry_after),
	STR_FIELD("retry_after_max_s", OPT, struct raw_outlier, retry_after_max_s),
	STR_FIELD("overload_control", OPT, struct raw_outlier, overload_control),
	STR_FIELD("detection", OPT, struct raw_outlier, detection),
	STR_FIELD("interval_ms", OPT, struct raw_outlier, interval_ms),
	STR_FIELD("min_requests", OPT, struct raw_outlier, min_requests),
	STR_FIELD("min_success_percent", OPT, struct raw_outlier, min_success_percent),
	STR_FIELD("stdev_permille", OPT, struct raw_outlier, stdev_permille),
	STR_FIELD("ejection_ms", OPT, struct raw_outlier, ejection_ms),
	STR_FIELD("max_ejection_ms", OPT, struct raw_outlier, max_ejection_ms),
	STR_FIELD("max_ejection_percent", OPT, struct raw_outlier, max_ejection_percent),
	STR_FIELD("slow_start_ms", OPT, struct raw_outlier, slow_start_ms),
	CYAML_FIELD_END,
};

/* Sequence bounds are checked by us, not libcyaml, so the message can say what is wrong. */
const cyaml_schema_field_t cfg_pool_fields[] = {
	STR_FIELD("name", REQ, struct raw_pool, name),
	STR_FIELD("hash", OPT, struct raw_pool, hash),
	STR_FIELD("table_size", OPT, struct raw_pool, table_size),
	STR_FIELD("transport", OPT, struct raw_pool, transport),
	STR_FIELD("udp_max_bytes", OPT, struct raw_pool, udp_max_bytes),
	CYAML_FIELD_MAPPING_PTR("outlier", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_pool, outlier, outlier_fields),
	CYAML_FIELD_SEQUENCE_COUNT("members", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_pool, members, n_members, &member_value, 0,
				   CYAML_UNLIMITED),
	STR_FIELD("dispatcher_list", OPT, struct raw_pool, dispatcher_list),
	STR_FIELD("setid", OPT, struct raw_pool, setid),
	CYAML_FIELD_END,
};

const cyaml_schema_value_t cfg_pool_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_pool, cfg_pool_fields),
};

const cyaml_schema_field_t cfg_health_fields[] = {
	STR_FIELD("enabled", OPT, struct raw_health, enabled),
	STR_FIELD("interval_ms", OPT, struct raw_health, interval_ms),
	STR_FIELD("timeout_ms", OPT, struct raw_health, timeout_ms),
	STR_FIELD("down_after", OPT, struct raw_health, down_after),
	STR_FIELD("up_after", OPT, struct raw_health, up_after),
	CYAML_FIELD_END,
};

const cyaml_schema_field_t cfg_admin_fields[] = {
	STR_FIELD("address", REQ, struct raw_admin, address),
	STR_FIELD("port", OPT, struct raw_admin, port),
	CYAML_FIELD_END,
};

static int convert_member(struct loader *ld, const struct raw_member *r, struct vd_cfg_member *m,
			  enum vd_transport pool_transport)
{
	uint32_t port;
	int rc;

	if (!r->host[0])
		return cfg_bad(ld, "host", "must not be empty");
	if (strlen(r->host) >= sizeof(m->host))
		return cfg_bad(ld, "host", "is longer than %zu characters", sizeof(m->host) - 1);
	snprintf(m->host, sizeof(m->host), "%s", r->host);
	rc = cfg_get_uint(ld, "port", r->port, 1, 65535, VD_CFG_DEFAULT_PORT, &port);
	if (!rc)
		rc = cfg_get_uint(ld, "weight", r->weight, 1, CFG_WEIGHT_MAX, VD_CFG_DEFAULT_WEIGHT,
			      &m->weight);
	if (!rc)
		rc = cfg_get_uint(ld, "priority", r->priority, 0, CFG_PRIORITY_MAX, 0, &m->priority);
	if (!rc)
		rc = cfg_get_transport(ld, "transport", r->transport, pool_transport, &m->transport);
	if (!rc)
		rc = cfg_resolve(ld, "host", r->host, (uint16_t)port, &m->addr, &m->addrlen);
	return rc;
}

/* `at` is the pool's path ("pool" or "pools[2]"), for messages. */
static int convert_members(struct loader *ld, const char *at, const struct raw_pool *raw,
			   struct vd_cfg_pool *p)
{
	int rc;

	cfg_set_at(ld, "%s", at);
	if (raw->dispatcher_list && raw->n_members)
		return cfg_bad(ld, "dispatcher_list", "give either members or dispatcher_list");
	if (raw->dispatcher_list)
		return cfg_dispatcher_members(ld, at, raw, p);
	if (raw->setid)
		return cfg_bad(ld, "setid", "only with dispatcher_list");
	if (raw->n_members == 0)
		return cfg_bad(ld, "members", "at least one member is required");
	if (raw->n_members > VD_CFG_MAX_MEMBERS)
		return cfg_bad(ld, "members", "%u members, at most %d are allowed", raw->n_members,
			       VD_CFG_MAX_MEMBERS);
	p->members = calloc(raw->n_members, sizeof(*p->members));
	if (!p->members) {
		cfg_put_err(ld, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < raw->n_members; i++) {
		cfg_set_at(ld, "%s.members[%u]", at, i);
		rc = convert_member(ld, &raw->members[i], &p->members[i], p->transport);
		if (rc)
			return rc;
		for (unsigned j = 0; j < i; j++)
			if (vd_sockaddr_equal_scoped(&p->members[i].addr, &p->members[j].addr))
				return cfg_bad(ld, NULL, "same address and port as %s.members[%u]",
					       at, j);
	}
	p->n_members = raw->n_members;
	return 0;
}

#define HEADER_PREFIX "header:"

static int convert_hash(struct loader *ld, const char *text, struct vd_cfg_pool *p)
{
	static const struct {
		const char *name;
		enum vd_hash_key key;
	} keys[] = {
		{ "call-id", VD_HASH_CALL_ID },	    { "source-ip", VD_HASH_SOURCE_IP },
		{ "from-user", VD_HASH_FROM_USER }, { "to-user", VD_HASH_TO_USER },
		{ "ruri-user", VD_HASH_RURI_USER },
	};
	if (!text) {
		p->hash = VD_HASH_CALL_ID;
		return 0;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(text, keys[i].name) == 0) {
			p->hash = keys[i].key;
			return 0;
		}
	if (strncmp(text, HEADER_PREFIX, strlen(HEADER_PREFIX)) == 0) {
		const char *name = text + strlen(HEADER_PREFIX);
		if (!cfg_valid_name(name))
			return cfg_bad(ld, "hash", "\"%s\": the header name must be 1..%d "
						   "characters of A-Z a-z 0-9 _ . -",
				       text, VD_CFG_NAME_MAX - 1);
		p->hash = VD_HASH_HEADER;
		snprintf(p->hash_header, sizeof(p->hash_header), "%s", name);
		return 0;
	}
	return cfg_bad(ld, "hash",
		       "\"%s\" is not one of call-id, source-ip, from-user, to-user, ruri-user, "
		       "header:NAME",
		       text);
}

/* The pool's outlier: section; absent, every default (Retry-After and oc honoured, no
 * detection, no slow start). `at` is the pool's path. */
static int convert_outlier(struct loader *ld, const char *at, const struct raw_outlier *raw,
			   struct vd_cfg_outlier *o)
{
	static const struct raw_outlier none;
	int rc;

	cfg_set_at(ld, "%s.outlier", at);
	if (!raw)
		raw = &none;
	rc = cfg_get_bool(ld, "retry_after", raw->retry_after, true, &o->retry_after);
	if (!rc)
		rc = cfg_get_uint(ld, "retry_after_max_s", raw->retry_after_max_s, 1,
				  VD_SIP_RETRY_AFTER_MAX, VD_CFG_DEFAULT_RETRY_AFTER_MAX_S,
				  &o->retry_after_max_s);
	if (!rc)
		rc = cfg_get_bool(ld, "overload_control", raw->overload_control, true,
				  &o->overload_control);
	if (!rc)
		rc = cfg_get_bool(ld, "detection", raw->detection, false, &o->detection);
	if (!rc)
		rc = cfg_get_uint(ld, "interval_ms", raw->interval_ms, 100, CFG_OUTLIER_MS_MAX,
				  VD_CFG_DEFAULT_OUTLIER_INTERVAL_MS, &o->interval_ms);
	if (!rc)
		rc = cfg_get_uint(ld, "min_requests", raw->min_requests, 1, 1000000000u,
				  VD_CFG_DEFAULT_OUTLIER_MIN_REQUESTS, &o->min_requests);
	if (!rc)
		rc = cfg_get_uint(ld, "min_success_percent", raw->min_success_percent, 0, 100,
				  VD_CFG_DEFAULT_OUTLIER_MIN_SUCCESS, &o->min_success_percent);
	if (!rc)
		rc = cfg_get_uint(ld, "stdev_permille", raw->stdev_permille, 0, 100000,
				  VD_CFG_DEFAULT_OUTLIER_STDEV, &o->stdev_permille);
	if (!rc)
		rc = cfg_get_uint(ld, "ejection_ms", raw->ejection_ms, 100, CFG_OUTLIER_MS_MAX,
				  VD_CFG_DEFAULT_EJECTION_MS, &o->ejection_ms);
	if (!rc)
		rc = cfg_get_uint(ld, "max_ejection_ms", raw->max_ejection_ms, 100,
				  CFG_OUTLIER_MS_MAX,
				  o->ejection_ms > VD_CFG_DEFAULT_MAX_EJECTION_MS
					  ? o->ejection_ms
					  : VD_CFG_DEFAULT_MAX_EJECTION_MS,
				  &o->max_ejection_ms);
	if (!rc)
		rc = cfg_get_uint(ld, "max_ejection_percent", raw->max_ejection_percent, 0, 100,
				  VD_CFG_DEFAULT_MAX_EJECTION_PERCENT, &o->max_ejection_percent);
	if (!rc)
		rc = cfg_get_uint(ld, "slow_start_ms", raw->slow_start_ms, 0, CFG_OUTLIER_MS_MAX, 0,
				  &o->slow_start_ms);
	if (!rc && o->max_ejection_ms < o->ejection_ms)
		rc = cfg_bad(ld, "max_ejection_ms", "%u is shorter than ejection_ms (%u)",
			     o->max_ejection_ms, o->ejection_ms);
	return rc;
}

static int convert_pool(struct loader *ld, const char *at, const struct raw_pool *raw,
			struct vd_cfg_pool *p)
{
	int rc;

	cfg_set_at(ld, "%s", at);
	if (!cfg_valid_name(raw->name))
		return cfg_bad(ld, "name", "\"%s\" must be 1..%d characters of A-Z a-z 0-9 _ . -",
			       raw->name, VD_CFG_NAME_MAX - 1);
	snprintf(p->name, sizeof(p->name), "%s", raw->name);
	rc = convert_hash(ld, raw->hash, p);
	if (!rc)
		rc = cfg_get_transport(ld, "transport", raw->transport, VD_TP_UDP, &p->transport);
	if (!rc)
		rc = cfg_get_uint(ld, "udp_max_bytes", raw->udp_max_bytes, 0, 1u << 20, 0,
				  &p->udp_max_bytes);
	if (!rc)
		rc = convert_outlier(ld, at, raw->outlier, &p->outlier);
	if (!rc)
		rc = convert_members(ld, at, raw, p);
	if (rc)
		return rc;
	/* Checked after the members, since the table must outnumber them. */
	cfg_set_at(ld, "%s", at);
	rc = cfg_get_uint(ld, "table_size", raw->table_size, 1, CFG_TABLE_SIZE_MAX,
			  VD_CFG_DEFAULT_TABLE_SIZE, &p->table_size);
	if (rc)
		return rc;
	if (!cfg_is_prime(p->table_size))
		return cfg_bad(ld, "table_size", "%u is not prime", p->table_size);
	if (p->table_size <= p->n_members)
		return cfg_bad(ld, "table_size",
			       "%u must be larger than the number of members (%u)", p->table_size,
			       p->n_members);
	return 0;
}

int cfg_convert_pools(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg,
		      bool required)
{
	unsigned n = raw->pool ? 1 : raw->n_pools, base = cfg->n_pools;
	char at[32];
	int rc;

	ld->at[0] = '\0';
	if (raw->pool && raw->pools)
		return cfg_bad(ld, "pools", "give either pool or pools, not both");
	if (n == 0 && required)
		return cfg_bad(ld, "pools", "at least one pool is required (pool: or pools:)");
	if (base + n > VD_CFG_MAX_POOLS)
		return cfg_bad(ld, "pools", "%u pools, at most %d are allowed", base + n,
			       VD_CFG_MAX_POOLS);
	if (n == 0)
		return 0;
	struct vd_cfg_pool *pools = realloc(cfg->pools, (base + n) * sizeof(*pools));
	if (!pools) {
		cfg_put_err(ld, "out of memory");
		return -ENOMEM;
	}
	memset(pools + base, 0, n * sizeof(*pools));
	cfg->pools = pools;
	for (unsigned i = 0; i < n; i++) {
		struct vd_cfg_pool *p = &cfg->pools[base + i];
		if (raw->pool)
			snprintf(at, sizeof(at), "pool");
		else
			snprintf(at, sizeof(at), "pools[%u]", i);
		cfg->n_pools = base + i + 1; /* so vd_config_free sees it, whatever happens */
		const struct raw_pool *rp = raw->pool ? raw->pool : &raw->pools[i];
		rc = convert_pool(ld, at, rp, p);
		if (rc)
			return rc;
		if (rp->dispatcher_list) { /* watched like an included file: editing it reloads */
			char path[PATH_MAX];
			cfg_relative_path(ld, rp->dispatcher_list, path, sizeof(path));
			if (cfg_add_file(ld, cfg, path))
				return -ENOMEM;
		}
		for (unsigned j = 0; j < base + i; j++)
			if (strcmp(cfg->pools[j].name, p->name) == 0) {
				cfg_set_at(ld, "%s", at);
				if (j < base)
					return cfg_bad(ld, "name", "\"%s\" is also the name of a "
								   "pool in an earlier file",
						       p->name);
				return cfg_bad(ld, "name", "\"%s\" is also the name of pools[%u]",
					       p->name, j - base);
			}
	}
	return 0;
}

int cfg_get_bool(struct loader *ld, const char *field, const char *text, bool def, bool *out)
{
	if (!text)
		*out = def;
	else if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0)
		*out = true;
	else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0)
		*out = false;
	else
		return cfg_bad(ld, field, "\"%s\" is not true or false", text);
	return 0;
}

int cfg_convert_health(struct loader *ld, const struct raw_health *raw, struct vd_cfg_health *h)
{
	static const struct raw_health none;
	int rc;

	cfg_set_at(ld, "health");
	/* probing is on when the section is there, unless it says enabled: false */
	rc = cfg_get_bool(ld, "enabled", raw ? raw->enabled : NULL, raw != NULL, &h->enabled);
	if (!raw)
		raw = &none;
	if (!rc)
		rc = cfg_get_uint(ld, "interval_ms", raw->interval_ms, 10, CFG_HEALTH_MS_MAX,
				  VD_CFG_DEFAULT_HEALTH_INTERVAL_MS, &h->interval_ms);
	/* the default timeout never exceeds the interval: only interval_ms: 200 must work */
	uint32_t def_timeout = VD_CFG_DEFAULT_HEALTH_TIMEOUT_MS < h->interval_ms
				       ? VD_CFG_DEFAULT_HEALTH_TIMEOUT_MS
				       : h->interval_ms;
	if (!rc)
		rc = cfg_get_uint(ld, "timeout_ms", raw->timeout_ms, 1, CFG_HEALTH_MS_MAX,
				  def_timeout, &h->timeout_ms);
	if (!rc)
		rc = cfg_get_uint(ld, "down_after", raw->down_after, 1, CFG_HEALTH_COUNT_MAX,
				  VD_CFG_DEFAULT_DOWN_AFTER, &h->down_after);
	if (!rc)
		rc = cfg_get_uint(ld, "up_after", raw->up_after, 1, CFG_HEALTH_COUNT_MAX,
				  VD_CFG_DEFAULT_UP_AFTER, &h->up_after);
	if (!rc && h->timeout_ms > h->interval_ms)
		rc = cfg_bad(ld, "timeout_ms", "%u is longer than interval_ms (%u)", h->timeout_ms,
			     h->interval_ms);
	return rc;
}

int cfg_convert_admin(struct loader *ld, const struct raw_admin *raw, struct vd_cfg_admin *a)
{
	uint32_t port;
	unsigned char buf[16];

	a->enabled = raw != NULL;
	if (!raw)
		return 0;
	cfg_set_at(ld, "admin");
	if (inet_pton(AF_INET, raw->address, buf) != 1 && inet_pton(AF_INET6, raw->address, buf) != 1)
		return cfg_bad(ld, "address", "\"%s\" is not a numeric IPv4 or IPv6 address",
			       raw->address);
	snprintf(a->address, sizeof(a->address), "%s", raw->address);
	int rc = cfg_get_uint(ld, "port", raw->port, 0, 65535, 0, &port);
	a->port = (uint16_t)port;
	return rc;
}
