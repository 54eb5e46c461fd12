/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * YAML config loader: file -> libcyaml intermediate tree -> validated struct vd_config.
 *
 * libcyaml only checks the document's shape (which keys exist, what is a mapping or a list).
 * Every scalar, integers included, is loaded as a string and converted here, because libcyaml
 * 1.3 accepts "5060x" or "1.5" as integers without complaint, and because our own checks can
 * name the field and the offending value. libcyaml's own errors (unknown key, wrong node type,
 * YAML syntax) arrive through its log callback; we keep them and turn its backtrace into the
 * same "name: field.path: problem" line that our checks produce.
 */
#include "config_internal.h"
#include "viaduct/log.h"
#include "viaduct/rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <cyaml/cyaml.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A config is a few KiB; the cap only stops a wrong path (a log, a device) being slurped. */
#define CFG_FILE_MAX (1024 * 1024)
#define CFG_TABLE_SIZE_MAX 1000003u
#define CFG_BATCH_MAX 1024u
#define CFG_RETRY_AFTER_MAX 86400u
#define CFG_WEIGHT_MAX 1000u

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"



static const cyaml_schema_field_t listener_fields[] = {
	STR_FIELD("address", REQ, struct raw_listener, address),
	STR_FIELD("port", OPT, struct raw_listener, port),
	STR_FIELD("advertise", OPT, struct raw_listener, advertise),
	STR_FIELD("advertise_port", OPT, struct raw_listener, advertise_port),
	STR_FIELD("transport", OPT, struct raw_listener, transport),
	CYAML_FIELD_MAPPING_PTR("tls", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_listener, tls, cfg_tls_fields),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t listener_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_listener, listener_fields),
};

static const cyaml_schema_field_t limits_fields[] = {
	STR_FIELD("max_message_size", OPT, struct raw_limits, max_message_size),
	STR_FIELD("max_headers", OPT, struct raw_limits, max_headers),
	STR_FIELD("max_vias", OPT, struct raw_limits, max_vias),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t include_value = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t config_fields[] = {
	STR_FIELD("workers", OPT, struct raw_config, workers),
	STR_FIELD("batch", OPT, struct raw_config, batch),
	STR_FIELD("retry_after", OPT, struct raw_config, retry_after),
	STR_FIELD("log_level", OPT, struct raw_config, log_level),
	/* optional for libcyaml (included files have none); the main file's check says why */
	CYAML_FIELD_SEQUENCE_COUNT("listeners", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_config, listeners, n_listeners, &listener_value, 0,
				   CYAML_UNLIMITED),
	CYAML_FIELD_MAPPING_PTR("pool", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, pool, cfg_pool_fields),
	CYAML_FIELD_SEQUENCE_COUNT("pools", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_config, pools, n_pools, &cfg_pool_value, 0,
				   CYAML_UNLIMITED),
	CYAML_FIELD_MAPPING_PTR("limits", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, limits, limits_fields),
	CYAML_FIELD_MAPPING_PTR("health", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, health, cfg_health_fields),
	CYAML_FIELD_MAPPING_PTR("tcp", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, tcp, cfg_tcp_fields),
	CYAML_FIELD_MAPPING_PTR("tls_client", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, tls_client, cfg_tls_fields),
	CYAML_FIELD_MAPPING_PTR("admin", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, admin, cfg_admin_fields),
	CYAML_FIELD_MAPPING_PTR("dpdk", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, dpdk, cfg_dpdk_fields),
	CYAML_FIELD_SEQUENCE_COUNT("include", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_config, include, n_include, &include_value, 0,
				   CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE_COUNT("rules", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_config, rules, n_rules, &cfg_rule_value, 0,
				   CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE_COUNT("proxy_require", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_config, proxy_require, n_proxy_require,
				   &cfg_policy_string_value, 0, CYAML_UNLIMITED),
	STR_FIELD("server_header", OPT, struct raw_config, server_header),
	CYAML_FIELD_SEQUENCE_COUNT("trusted_next_hops", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				   struct raw_config, trusted_next_hops, n_trusted_next_hops,
				   &cfg_policy_string_value, 0, CYAML_UNLIMITED),
	STR_FIELD("untrusted_route", OPT, struct raw_config, untrusted_route),
	STR_FIELD("branch_key", OPT, struct raw_config, branch_key),
	CYAML_FIELD_MAPPING_PTR("acl", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, acl, cfg_acl_fields),
	CYAML_FIELD_MAPPING_PTR("rate_limit", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, rate_limit, cfg_rate_limit_fields),
	CYAML_FIELD_MAPPING_PTR("replies", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, replies, cfg_replies_fields),
	CYAML_FIELD_MAPPING_PTR("overload", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, overload, cfg_overload_fields),
	CYAML_FIELD_MAPPING_PTR("hep", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, hep, cfg_hep_fields),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t config_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_config, config_fields),
};

/* ---- error reporting ---- */

/* Writes "name: <formatted>" as one line: config values may carry newlines or escapes. */
PRINTF(2, 3) void cfg_put_err(struct loader *ld, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ld->err || ld->errlen == 0)
		return;
	n = snprintf(ld->err, ld->errlen, "%s: ", ld->name);
	if (n >= 0 && (size_t)n < ld->errlen) {
		va_start(ap, fmt);
		vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	for (char *p = ld->err; *p; p++)
		if (iscntrl((unsigned char)*p))
			*p = ' ';
}

/* Reports a problem with `field` of the mapping at ld->at (field NULL: the mapping itself). */
PRINTF(3, 4) int cfg_bad(struct loader *ld, const char *field, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!field)
		field = "";
	cfg_put_err(ld, "%s%s%s: %s", ld->at, *ld->at && *field ? "." : "", field, msg);
	return -EINVAL;
}

PRINTF(2, 3) void cfg_set_at(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->at, sizeof(ld->at), fmt, ap);
	va_end(ap);
}

/* ---- scalars ---- */

/* Strict decimal: no sign other than '-', no spaces, no hex or octal, no trailing junk. */
int cfg_get_uint(struct loader *ld, const char *field, const char *text, uint32_t lo,
		    uint32_t hi, uint32_t def, uint32_t *out)
{
	const char *p = text;
	char *end;
	long long v;

	if (!text) {
		*out = def;
		return 0;
	}
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return cfg_bad(ld, field, "\"%s\" is not an integer", text);
	errno = 0;
	v = strtoll(text, &end, 10);
	if (*end)
		return cfg_bad(ld, field, "\"%s\" is not an integer", text);
	if (errno == ERANGE || v < (long long)lo || v > (long long)hi)
		return cfg_bad(ld, field, "%s is out of range %u..%u", text, lo, hi);
	*out = (uint32_t)v;
	return 0;
}

bool cfg_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t d = 2; d <= n / d; d++)
		if (n % d == 0)
			return false;
	return true;
}

bool cfg_valid_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= VD_CFG_NAME_MAX)
		return false;
	return strspn(s, ALNUM "_.-") == len;
}

/* What may stand as the host in a Via: a DNS name, an IPv4 address or a bracketed IPv6 one. */
static bool valid_via_host(const char *s)
{
	size_t len = strlen(s);
	struct in6_addr a6;
	char inner[INET6_ADDRSTRLEN];

	if (len == 0 || len >= VD_CFG_HOST_MAX)
		return false;
	if (s[0] == '[') {
		if (len < 3 || len - 2 >= sizeof(inner) || s[len - 1] != ']')
			return false;
		memcpy(inner, s + 1, len - 2);
		inner[len - 2] = '\0';
		return inet_pton(AF_INET6, inner, &a6) == 1;
	}
	return strspn(s, ALNUM ".-") == len;
}

/* ---- addresses ---- */

/* A numeric address (no brackets: YAML keeps IPv6 bare) and its length. */
static bool numeric_addr(const char *text, uint16_t port, union vd_sockaddr *ss,
			 socklen_t *len)
{
	if (!text || text[0] == '[' || vd_sockaddr_parse(text, port, ss))
		return false;
	*len = vd_sockaddr_len(ss);
	return true;
}

/* Names are resolved once, here: the datapath never does DNS. AI_ADDRCONFIG stays off so a
 * host with only loopback configured (tests, containers) still gets answers. */
int cfg_resolve(struct loader *ld, const char *key, const char *host, uint16_t port,
		union vd_sockaddr *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	int rc;

	if (numeric_addr(host, port, ss, len))
		return 0;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res || res->ai_addrlen > sizeof(*ss)) {
		if (res)
			freeaddrinfo(res);
		return cfg_bad(ld, key, "cannot resolve \"%s\" (%s)", host,
			   rc ? gai_strerror(rc) : "no usable address");
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	if (ss->sa.sa_family == AF_INET)
		ss->in.sin_port = htons(port);
	else
		ss->in6.sin6_port = htons(port);
	freeaddrinfo(res);
	return 0;
}

static bool is_wildcard(const union vd_sockaddr *ss)
{
	if (ss->sa.sa_family == AF_INET)
		return ss->in.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&ss->in6.sin6_addr);
}

/* ---- conversion, one mapping at a time ---- */

/* Bare IPv6 is bracketed so the result can be pasted into a Via or URI as is. */
static int listener_advertise(struct loader *ld, const struct raw_listener *r,
			      struct vd_cfg_listener *l)
{
	const char *adv = r->advertise ? r->advertise : r->address;
	struct in6_addr a6;

	if (!r->advertise && is_wildcard(&l->addr))
		return cfg_bad(ld, "advertise", "is required when address is the wildcard %s",
			   r->address);
	if (inet_pton(AF_INET6, adv, &a6) == 1)
		snprintf(l->advertise, sizeof(l->advertise), "[%s]", adv);
	else if (valid_via_host(adv))
		snprintf(l->advertise, sizeof(l->advertise), "%s", adv);
	else
		return cfg_bad(ld, "advertise", "\"%s\" is not a host name or IP address", adv);
	return 0;
}

static int convert_listener(struct loader *ld, const struct raw_listener *r,
			    struct vd_cfg_listener *l)
{
	uint32_t port, adv_port;
	int rc;

	rc = cfg_get_uint(ld, "port", r->port, 1, 65535, VD_CFG_DEFAULT_PORT, &port);
	if (rc)
		return rc;
	if (!numeric_addr(r->address, (uint16_t)port, &l->addr, &l->addrlen))
		return cfg_bad(ld, "address", "\"%s\" is not a numeric IPv4 or IPv6 address",
			   r->address);
	rc = cfg_get_uint(ld, "advertise_port", r->advertise_port, 1, 65535, port, &adv_port);
	if (rc)
		return rc;
	l->advertise_port = (uint16_t)adv_port;
	rc = cfg_get_transport(ld, "transport", r->transport, VD_TP_UDP, &l->transport);
	if (rc)
		return rc;
	if (l->transport == VD_TP_TLS) {
		char at[sizeof(ld->at)];
		snprintf(at, sizeof(at), "%s", ld->at);
		cfg_set_at(ld, "%s.tls", at);
		rc = cfg_convert_tls(ld, r->tls, true, &l->tls);
		cfg_set_at(ld, "%s", at);
		if (rc)
			return rc;
	} else if (r->tls) {
		return cfg_bad(ld, "tls", "only for transport: tls");
	}
	return listener_advertise(ld, r, l);
}

static int convert_listeners(struct loader *ld, const struct raw_config *raw,
			     struct vd_config *cfg)
{
	int rc;

	if (raw->n_listeners == 0)
		return cfg_bad(ld, "listeners", "at least one listener is required");
	if (raw->n_listeners > VD_CFG_MAX_LISTENERS)
		return cfg_bad(ld, "listeners", "%u listeners, at most %d are allowed",
			   raw->n_listeners, VD_CFG_MAX_LISTENERS);
	for (unsigned i = 0; i < raw->n_listeners; i++) {
		cfg_set_at(ld, "listeners[%u]", i);
		rc = convert_listener(ld, &raw->listeners[i], &cfg->listeners[i]);
		if (rc)
			return rc;
		for (unsigned j = 0; j < i; j++)
			if (vd_sockaddr_equal_scoped(&cfg->listeners[i].addr, &cfg->listeners[j].addr) &&
			    cfg->listeners[i].transport == cfg->listeners[j].transport)
				return cfg_bad(ld, NULL, "same address, port and transport as "
							 "listeners[%u]", j);
	}
	cfg->n_listeners = raw->n_listeners;
	return 0;
}

static int convert_limits(struct loader *ld, const struct raw_limits *raw,
			  struct vd_cfg_limits *lim)
{
	static const struct raw_limits none;
	int rc;

	if (!raw)
		raw = &none;
	cfg_set_at(ld, "limits");
	rc = cfg_get_uint(ld, "max_message_size", raw->max_message_size, 512,
		      VD_CFG_MAX_MESSAGE_CEIL, VD_CFG_DEFAULT_MAX_MESSAGE, &lim->max_message_size);
	if (!rc)
		rc = cfg_get_uint(ld, "max_headers", raw->max_headers, 8, VD_CFG_MAX_HEADERS_CEIL,
			      VD_CFG_DEFAULT_MAX_HEADERS, &lim->max_headers);
	if (!rc)
		rc = cfg_get_uint(ld, "max_vias", raw->max_vias, 1, VD_CFG_MAX_VIAS_CEIL,
			      VD_CFG_DEFAULT_MAX_VIAS, &lim->max_vias);
	return rc;
}

static unsigned online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > VD_CFG_MAX_WORKERS ? VD_CFG_MAX_WORKERS : (unsigned)n;
}

static int convert_top(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg)
{
	uint32_t workers, batch;
	int rc;

	ld->at[0] = '\0';
	rc = cfg_get_uint(ld, "workers", raw->workers, 0, VD_CFG_MAX_WORKERS, 0, &workers);
	if (!rc)
		rc = cfg_get_uint(ld, "batch", raw->batch, 1, CFG_BATCH_MAX, VD_CFG_DEFAULT_BATCH,
			      &batch);
	if (!rc)
		rc = cfg_get_uint(ld, "retry_after", raw->retry_after, 0, CFG_RETRY_AFTER_MAX,
			      VD_CFG_DEFAULT_RETRY_AFTER, &cfg->retry_after);
	if (rc)
		return rc;
	int level = raw->log_level ? vd_log_level_parse(raw->log_level) : VD_LOG_INFO;
	if (level < 0)
		return cfg_bad(ld, "log_level", "\"%s\": error, warn (or warning), info or debug",
			       raw->log_level);
	cfg->log_level = (unsigned)level;
	cfg->workers = workers ? workers : online_cores();
	cfg->batch = batch;
	return 0;
}

/* Certificates, keys and CA bundles are watched like config files: renewing one reloads. */
static int add_tls_files(struct loader *ld, struct vd_config *cfg, const struct vd_cfg_tls *t)
{
	const char *paths[] = { t->certificate, t->key, t->ca };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (paths[i][0] && cfg_add_file(ld, cfg, paths[i]))
			return -ENOMEM;
	return 0;
}

static int convert(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg)
{
	int rc;

	rc = convert_top(ld, raw, cfg);
	if (!rc)
		rc = convert_listeners(ld, raw, cfg);
	if (!rc)
		rc = cfg_convert_pools(ld, raw, cfg, raw->n_include == 0);
	if (!rc)
		rc = convert_limits(ld, raw->limits, &cfg->limits);
	if (!rc)
		rc = cfg_convert_tcp(ld, raw->tcp, &cfg->tcp);
	if (!rc) {
		cfg_set_at(ld, "tls_client");
		rc = cfg_convert_tls(ld, raw->tls_client, false, &cfg->tls_client);
	}
	if (!rc)
		rc = cfg_convert_health(ld, raw->health, &cfg->health);
	if (!rc)
		rc = cfg_convert_admin(ld, raw->admin, &cfg->admin);
	if (!rc)
		rc = cfg_convert_dpdk(ld, raw->dpdk, &cfg->dpdk);
	if (!rc)
		rc = cfg_convert_policy(ld, raw, &cfg->policy);
	if (!rc)
		rc = cfg_convert_guard(ld, raw, &cfg->guard);
	if (!rc)
		rc = cfg_convert_hep(ld, raw->hep, &cfg->hep);
	if (!rc && cfg->hep.enabled && cfg->dpdk.enabled) {
		ld->at[0] = '\0';
		rc = cfg_bad(ld, "hep", "HEP capture is not supported with the DPDK datapath "
					"(dpdk:): remove one of them");
	}
	if (!rc)
		rc = cfg_convert_includes(ld, raw, cfg, 0);
	/* rules after every pool is known. Included files' rules come first (in include order),
	 * then this file's own: a default rule at the end of the main file stays the last */
	if (!rc)
		rc = cfg_convert_rules(ld, raw, cfg);
	for (unsigned i = 0; !rc && i < cfg->n_listeners; i++)
		if (cfg->listeners[i].transport == VD_TP_TLS)
			rc = add_tls_files(ld, cfg, &cfg->listeners[i].tls);
	if (!rc && raw->tls_client)
		rc = add_tls_files(ld, cfg, &cfg->tls_client);
	if (!rc && cfg->n_pools == 0) {
		ld->at[0] = '\0';
		rc = cfg_bad(ld, "pools", "at least one pool is required (pool: or pools:, here "
					  "or in an included file)");
	}
	return rc;
}

/* ---- entry points ---- */

void cfg_free_raw(struct raw_config *raw)
{
	const cyaml_config_t cy = { .mem_fn = cyaml_mem, .log_level = CYAML_LOG_ERROR };
	if (raw)
		cyaml_free(&cy, &config_value, raw, 0);
}

int cfg_load_raw(struct loader *ld, const char *yaml, size_t len, struct raw_config **raw)
{
	struct cy_log log = { .len = 0 };
	const cyaml_config_t cy = {
		.log_fn = cfg_cyaml_log,
		.log_ctx = &log,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_WARNING,
		.flags = CYAML_CFG_DEFAULT,
	};
	*raw = NULL;
	if (!yaml) {
		yaml = "";
		len = 0;
	}
	cyaml_err_t cerr = cyaml_load_data((const uint8_t *)yaml, len, &cy, &config_value,
					   (void **)raw, NULL);
	if (cerr != CYAML_OK)
		return cfg_cyaml_failed(ld, cerr, &log);
	if (!*raw) {
		cfg_put_err(ld, "config is empty");
		return -EINVAL;
	}
	if (log.extra_docs) {
		cfg_put_err(ld, "only one YAML document is allowed, found a second after \"---\"");
		cfg_free_raw(*raw);
		*raw = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Parse with a loader whose name and directory are set (file or in-memory). */
static int parse_with(struct loader *ld, const char *yaml, size_t len, struct vd_config *out)
{
	struct raw_config *raw = NULL;
	struct vd_config *cfg = NULL;
	int rc;

	if (ld->err && ld->errlen)
		ld->err[0] = '\0';
	rc = cfg_load_raw(ld, yaml, len, &raw);
	if (rc)
		return rc;
	/* built aside so *out changes only on success */
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		rc = -ENOMEM;
		cfg_put_err(ld, "out of memory");
		goto fail;
	}
	rc = cfg_add_file(ld, cfg, ld->name);
	if (!rc)
		rc = convert(ld, raw, cfg);
	if (rc == 0)
		*out = *cfg; /* ownership of pools, members and files moves to *out */
	else
		vd_config_free(cfg);
fail:
	free(cfg);
	cfg_free_raw(raw);
	return rc;
}

int vd_config_parse(const char *yaml, size_t len, const char *name, struct vd_config *out,
		    char *err, size_t errlen)
{
	struct loader ld = { .name = name ? name : "config", .dir = ".", .err = err,
			     .errlen = errlen };
	return parse_with(&ld, yaml, len, out);
}

/* Reads the whole file so that open/read failures keep their errno, which libcyaml's
 * cyaml_load_file would flatten into CYAML_ERR_FILE_OPEN. */
int cfg_read_file(struct loader *ld, const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n;
	int rc = -ENOMEM;

	if (!f) {
		rc = -errno;
		cfg_put_err(ld, "cannot open: %s", strerror(-rc));
		return rc;
	}
	data = malloc(CFG_FILE_MAX + 1);
	if (!data) {
		cfg_put_err(ld, "out of memory");
		goto fail;
	}
	errno = 0;
	n = fread(data, 1, CFG_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		cfg_put_err(ld, "cannot read: %s", strerror(-rc));
		goto fail;
	}
	if (n > CFG_FILE_MAX) {
		rc = -EFBIG;
		cfg_put_err(ld, "file is larger than %d bytes", CFG_FILE_MAX);
		goto fail;
	}
	fclose(f);
	*buf = data;
	*len = n;
	return 0;
fail:
	fclose(f);
	free(data);
	return rc;
}

int vd_config_load(const char *path, struct vd_config *out, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct loader ld = { .name = path, .dir = dir, .err = err, .errlen = errlen };
	char *buf = NULL;
	size_t len = 0;
	int rc;

	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp)); /* includes are relative to the file */
	rc = cfg_read_file(&ld, path, &buf, &len);
	if (rc)
		return rc;
	rc = parse_with(&ld, buf, len, out);
	free(buf);
	return rc;
}

