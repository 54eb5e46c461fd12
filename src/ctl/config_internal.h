/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal interface of the config loader's files: the intermediate tree libcyaml fills
 * (every scalar a string), the loader state that error messages are built from, and the
 * helpers the conversion files share. Not a public header.
 */
#ifndef VD_CONFIG_INTERNAL_H
#define VD_CONFIG_INTERNAL_H

#include <cyaml/cyaml.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "viaduct/config_file.h"

#define PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* Every scalar is loaded as a string (see config.c): the schema's one field shape. */
#define STR_FIELD(key, flags, type, member)                                                \
	CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | (flags), type, member, 0,          \
			       CYAML_UNLIMITED)
#define REQ 0
#define OPT CYAML_FLAG_OPTIONAL
#define CFG_PATH_MAX 96

/* ---- intermediate tree, as libcyaml fills it: every scalar a string, NULL when absent ---- */

struct raw_tls {
	char *certificate, *key, *ca, *verify_client, *verify_server;
};

struct raw_listener {
	char *address, *port, *advertise, *advertise_port, *transport;
	struct raw_tls *tls;
};

struct raw_member {
	char *host, *port, *weight, *priority, *transport;
};

struct raw_outlier {
	char *retry_after, *retry_after_max_s, *overload_control, *detection, *interval_ms,
		*min_requests, *min_success_percent, *stdev_permille, *ejection_ms,
		*max_ejection_ms, *max_ejection_percent, *slow_start_ms;
};

struct raw_pool {
	char *name, *hash, *table_size, *transport, *udp_max_bytes;
	struct raw_outlier *outlier;
	struct raw_member *members;
	unsigned n_members;
	char *dispatcher_list, *setid; /* members from a Kamailio dispatcher.list instead */
};

struct raw_health {
	char *enabled, *interval_ms, *timeout_ms, *down_after, *up_after;
};

struct raw_tcp {
	char *max_connections, *max_connections_per_ip, *header_timeout_ms, *idle_timeout_ms,
		*write_queue_bytes, *connect_timeout_ms;
};

struct raw_admin {
	char *address, *port;
};

struct raw_dpdk {
	char *enabled, *port, *exception, *mbufs, *rx_desc, *tx_desc, *gateway, *gateway6;
	char **eal;
	unsigned n_eal;
	char **networks;
	unsigned n_networks;
};

struct raw_header_cond {
	char *name, *regex;
};

struct raw_rule {
	char *name, *ruri, *from, *to, *route, *reject, *drop;
	char **methods;
	unsigned n_methods;
	struct raw_header_cond *headers;
	unsigned n_headers;
	char **source;
	unsigned n_source;
	char **listeners;
	unsigned n_listeners;
};

struct raw_acl {
	char *def;
	char **allow, **deny;
	unsigned n_allow, n_deny;
};

struct raw_method_limit {
	char *method, *rate, *burst;
};

struct raw_rate_limit {
	char *rate, *burst, *over, *ban_after, *ban_seconds, *sources;
	char **exempt;
	unsigned n_exempt;
	struct raw_method_limit *methods;
	unsigned n_methods;
};

struct raw_replies {
	char *rate, *burst;
};

struct raw_overload {
	char *shed, *after_ms;
};

struct raw_hep {
	char *address, *port, *id, *sample, *password;
};

struct raw_limits {
	char *max_message_size, *max_headers, *max_vias;
};

struct raw_config {
	char *workers, *batch, *retry_after, *log_level;
	struct raw_listener *listeners;
	unsigned n_listeners;
	struct raw_pool *pool;   /* a single pool, or: */
	struct raw_pool *pools;  /* a list of them */
	unsigned n_pools;
	struct raw_limits *limits;
	struct raw_health *health;
	struct raw_tcp *tcp;
	struct raw_tls *tls_client;
	struct raw_admin *admin;
	struct raw_dpdk *dpdk;
	char **include; /* glob patterns, relative to the including file */
	unsigned n_include;
	struct raw_rule *rules;
	unsigned n_rules;
	char **proxy_require;
	unsigned n_proxy_require;
	char *server_header;
	char **trusted_next_hops;
	unsigned n_trusted_next_hops;
	char *untrusted_route;
	char *branch_key;
	struct raw_acl *acl;
	struct raw_rate_limit *rate_limit;
	struct raw_replies *replies;
	struct raw_overload *overload;
	struct raw_hep *hep;
};

struct loader {
	const char *name; /* file name or caller's label, first word of every message */
	const char *dir;  /* directory that relative paths in this file start from */
	char *err;
	size_t errlen;
	char at[CFG_PATH_MAX]; /* path of the mapping being converted, e.g. "pools[1].members[3]" */
};

struct cy_log {
	char text[2048]; /* error-level lines, concatenated as libcyaml wrote them */
	size_t len;
	bool extra_docs;
};

/* ---- helpers (config.c) ---- */

/** Write "name: <formatted>" into ld->err as one line. */
PRINTF(2, 3) void cfg_put_err(struct loader *ld, const char *fmt, ...);
/** Report a problem with `field` of the mapping at ld->at; returns -EINVAL. */
PRINTF(3, 4) int cfg_bad(struct loader *ld, const char *field, const char *fmt, ...);
/** Set the path of the mapping being converted, e.g. "pools[1].members[3]". */
PRINTF(2, 3) void cfg_set_at(struct loader *ld, const char *fmt, ...);
/** Strict decimal in lo..hi; def when text is NULL. */
int cfg_get_uint(struct loader *ld, const char *field, const char *text, uint32_t lo,
		 uint32_t hi, uint32_t def, uint32_t *out);
bool cfg_is_prime(uint32_t n);
/** true/yes or false/no; def when text is NULL (config_pools.c). */
int cfg_get_bool(struct loader *ld, const char *field, const char *text, bool def, bool *out);
bool cfg_valid_name(const char *s);
/** A numeric address or a name resolved now (errors name `key`) with port into *ss. */
int cfg_resolve(struct loader *ld, const char *key, const char *host, uint16_t port,
		union vd_sockaddr *ss, socklen_t *len);

/** Read a whole file (capped); errors name the file. */
int cfg_read_file(struct loader *ld, const char *path, char **buf, size_t *len);
/** Parse YAML into the raw tree; errors through libcyaml's log become one line. */
int cfg_load_raw(struct loader *ld, const char *yaml, size_t len, struct raw_config **raw);
void cfg_free_raw(struct raw_config *raw);

/* ---- includes and dispatcher.list (config_include.c) ---- */
int cfg_convert_includes(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg,
			 unsigned depth);
int cfg_dispatcher_members(struct loader *ld, const char *at, const struct raw_pool *raw,
			   struct vd_cfg_pool *p);
int cfg_add_file(struct loader *ld, struct vd_config *cfg, const char *path);

/* ---- rules (config_rules.c) ---- */
extern const cyaml_schema_value_t cfg_rule_value;
/** Append the rules of raw to cfg (pools must be converted first: actions name them). */
int cfg_convert_rules(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg);

/* ---- libcyaml messages (config_cyaml.c) ---- */
void cfg_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args);
int cfg_cyaml_failed(struct loader *ld, cyaml_err_t cerr, struct cy_log *log);

/* ---- pools, health, admin (config_pools.c) ---- */
/** Append the pools of raw (pool: or pools:) to cfg; `required` when it must have one. */
int cfg_convert_pools(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg,
		      bool required);
int cfg_convert_health(struct loader *ld, const struct raw_health *raw, struct vd_cfg_health *h);
int cfg_convert_admin(struct loader *ld, const struct raw_admin *raw, struct vd_cfg_admin *a);
extern const cyaml_schema_value_t cfg_pool_value;
extern const cyaml_schema_field_t cfg_pool_fields[];
extern const cyaml_schema_field_t cfg_health_fields[];
extern const cyaml_schema_field_t cfg_admin_fields[];

struct vd_prefix;
/** A parsed prefix (rules' type) as the config stores it. */

/* ---- proxy_require, server_header, trusted_next_hops, untrusted_route (config_policy.c) ---- */
extern const cyaml_schema_value_t cfg_policy_string_value;
int cfg_convert_policy(struct loader *ld, const struct raw_config *raw, struct vd_cfg_policy *p);

/* ---- the dpdk: section (config_dpdk.c) ---- */
/* ---- config_tcp.c ---- */
extern const cyaml_schema_field_t cfg_tcp_fields[];
extern const cyaml_schema_field_t cfg_tls_fields[];
/** A listener's tls: (server) or the top-level tls_client: (client), field path in ld->at. */
int cfg_convert_tls(struct loader *ld, const struct raw_tls *raw, bool server,
		    struct vd_cfg_tls *t);
/** path made relative to the directory of the file being loaded (absolute ones as they are). */
void cfg_relative_path(const struct loader *ld, const char *path, char *out, size_t len);
int cfg_convert_tcp(struct loader *ld, const struct raw_tcp *raw, struct vd_cfg_tcp *t);
/** "udp" | "tcp" (NULL: def) into *out. */
int cfg_get_transport(struct loader *ld, const char *field, const char *text,
		      enum vd_transport def, enum vd_transport *out);

/* ---- acl, rate_limit, replies, overload (config_guard.c) ---- */
extern const cyaml_schema_field_t cfg_acl_fields[], cfg_rate_limit_fields[], cfg_replies_fields[],
	cfg_overload_fields[];
int cfg_convert_guard(struct loader *ld, const struct raw_config *raw, struct vd_cfg_guard *g);

/* ---- the hep: section (config_hep.c) ---- */
extern const cyaml_schema_field_t cfg_hep_fields[];
int cfg_convert_hep(struct loader *ld, const struct raw_hep *raw, struct vd_cfg_hep *h);

extern const cyaml_schema_field_t cfg_dpdk_fields[];
int cfg_convert_dpdk(struct loader *ld, const struct raw_dpdk *raw, struct vd_cfg_dpdk *d);

#endif
