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
#include <viaduct/config.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <cyaml/cyaml.h>
#include <errno.h>
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
#define CFG_PATH_MAX 96

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

#define PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* ---- intermediate tree, as libcyaml fills it: every scalar a string, NULL when absent ---- */

struct raw_listener {
	char *address, *port, *advertise, *advertise_port;
};

struct raw_member {
	char *host, *port, *weight;
};

struct raw_pool {
	char *name, *hash, *table_size;
	struct raw_member *members;
	unsigned n_members;
};

struct raw_limits {
	char *max_message_size, *max_headers, *max_vias;
};

struct raw_config {
	char *workers, *batch, *retry_after;
	struct raw_listener *listeners;
	unsigned n_listeners;
	struct raw_pool *pool;
	struct raw_limits *limits;
};

#define STR_FIELD(key, flags, type, member)                                                \
	CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | (flags), type, member, 0,          \
			       CYAML_UNLIMITED)
#define REQ 0
#define OPT CYAML_FLAG_OPTIONAL

static const cyaml_schema_field_t listener_fields[] = {
	STR_FIELD("address", REQ, struct raw_listener, address),
	STR_FIELD("port", OPT, struct raw_listener, port),
	STR_FIELD("advertise", OPT, struct raw_listener, advertise),
	STR_FIELD("advertise_port", OPT, struct raw_listener, advertise_port),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t listener_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_listener, listener_fields),
};

static const cyaml_schema_field_t member_fields[] = {
	STR_FIELD("host", REQ, struct raw_member, host),
	STR_FIELD("port", OPT, struct raw_member, port),
	STR_FIELD("weight", OPT, struct raw_member, weight),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t member_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_member, member_fields),
};

/* Sequence bounds are checked by us, not libcyaml, so the message can say what is wrong. */
static const cyaml_schema_field_t pool_fields[] = {
	STR_FIELD("name", REQ, struct raw_pool, name),
	STR_FIELD("hash", OPT, struct raw_pool, hash),
	STR_FIELD("table_size", OPT, struct raw_pool, table_size),
	CYAML_FIELD_SEQUENCE_COUNT("members", CYAML_FLAG_POINTER, struct raw_pool, members,
				   n_members, &member_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t limits_fields[] = {
	STR_FIELD("max_message_size", OPT, struct raw_limits, max_message_size),
	STR_FIELD("max_headers", OPT, struct raw_limits, max_headers),
	STR_FIELD("max_vias", OPT, struct raw_limits, max_vias),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t config_fields[] = {
	STR_FIELD("workers", OPT, struct raw_config, workers),
	STR_FIELD("batch", OPT, struct raw_config, batch),
	STR_FIELD("retry_after", OPT, struct raw_config, retry_after),
	CYAML_FIELD_SEQUENCE_COUNT("listeners", CYAML_FLAG_POINTER, struct raw_config, listeners,
				   n_listeners, &listener_value, 0, CYAML_UNLIMITED),
	CYAML_FIELD_MAPPING_PTR("pool", CYAML_FLAG_POINTER, struct raw_config, pool, pool_fields),
	CYAML_FIELD_MAPPING_PTR("limits", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
				struct raw_config, limits, limits_fields),
	CYAML_FIELD_END,
};

static const cyaml_schema_value_t config_value = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_config, config_fields),
};

/* ---- error reporting ---- */

struct loader {
	const char *name; /* file name or caller's label, first word of every message */
	char *err;
	size_t errlen;
	char at[CFG_PATH_MAX]; /* path of the mapping being converted, e.g. "pool.members[3]" */
};

/* Writes "name: <formatted>" as one line: config values may carry newlines or escapes. */
static PRINTF(2, 3) void put_err(struct loader *ld, const char *fmt, ...)
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
static PRINTF(3, 4) int bad(struct loader *ld, const char *field, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!field)
		field = "";
	put_err(ld, "%s%s%s: %s", ld->at, *ld->at && *field ? "." : "", field, msg);
	return -EINVAL;
}

static PRINTF(2, 3) void set_at(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->at, sizeof(ld->at), fmt, ap);
	va_end(ap);
}

/* ---- libcyaml messages ---- */

struct cy_log {
	char text[2048]; /* error-level lines, concatenated as libcyaml wrote them */
	size_t len;
	bool extra_docs;
};

static void cy_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct cy_log *log = ctx;
	int n;

	/* libcyaml silently drops a second document; an operator would expect it to apply. */
	if (level < CYAML_LOG_ERROR && strstr(fmt, "documents after first"))
		log->extra_docs = true;
	if (level < CYAML_LOG_ERROR || log->len >= sizeof(log->text) - 1)
		return;
	n = vsnprintf(log->text + log->len, sizeof(log->text) - log->len, fmt, args);
	if (n > 0)
		log->len += (size_t)n;
	if (log->len >= sizeof(log->text))
		log->len = sizeof(log->text) - 1;
}

/* One frame of libcyaml's backtrace: "in mapping field 'k'", "in sequence entry 'n'" or
 * "in mapping", each with the line and column it was at. */
struct cy_frame {
	char key[64]; /* empty for a sequence entry or a bare mapping */
	unsigned entry; /* 1-based, as libcyaml counts */
	size_t line, col;
};

#define CY_MAX_FRAMES 16

static bool parse_frame(const char *s, struct cy_frame *f)
{
	memset(f, 0, sizeof(*f));
	return sscanf(s, " in mapping field '%63[^']' (line: %zu, column: %zu)", f->key, &f->line,
		      &f->col) == 3 ||
	       sscanf(s, " in sequence entry '%u' (line: %zu, column: %zu)", &f->entry, &f->line,
		      &f->col) == 3 ||
	       sscanf(s, " in mapping (line: %zu, column: %zu)", &f->line, &f->col) == 2;
}

/* Splits the captured log into the first error message and the backtrace frames. */
static unsigned split_log(char *text, char *msg, size_t msglen, struct cy_frame *frames)
{
	unsigned n = 0;
	char *save = NULL;

	*msg = '\0';
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (n < CY_MAX_FRAMES && parse_frame(line, &frames[n]))
			n++;
		else if (!*msg && strncmp(line, "Load: ", 6) == 0 && !strstr(line, "Backtrace:"))
			snprintf(msg, msglen, "%s", line + 6);
	}
	return n;
}

/* Frames run innermost first; the path reads outermost first. */
static void frames_to_path(const struct cy_frame *frames, unsigned n, char *path, size_t len)
{
	size_t used = 0;

	*path = '\0';
	while (n-- > 0 && used < len) {
		const struct cy_frame *f = &frames[n];
		int w = 0;

		if (f->key[0])
			w = snprintf(path + used, len - used, "%s%s", used ? "." : "", f->key);
		else if (f->entry)
			w = snprintf(path + used, len - used, "[%u]", f->entry - 1);
		used += w > 0 ? (size_t)w : 0;
	}
}

static const char *node_kind(const char *cyaml_name)
{
	static const char *const kinds[][2] = {
		{ "STRING", "a single value" },	 { "SCALAR", "a single value" },
		{ "SEQUENCE", "a list" },	 { "SEQUENCE_START", "a list" },
		{ "MAPPING", "a mapping" },	 { "MAPPING_START", "a mapping" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i][0], cyaml_name) == 0)
			return kinds[i][1];
	return cyaml_name;
}

/* Makes `key` the innermost path element: a bare "in mapping" frame gets a child frame, a
 * "mapping field" frame is renamed, since at that point it names whichever field came last. */
static void name_inner(struct cy_frame *frames, unsigned *n, const char *key)
{
	if (*n == 0)
		return;
	if (!frames[0].key[0] && *n < CY_MAX_FRAMES) {
		memmove(frames + 1, frames, *n * sizeof(*frames));
		(*n)++;
	}
	snprintf(frames[0].key, sizeof(frames[0].key), "%s", key);
}

/* Rewrites the libcyaml messages an operator is likely to meet; the rest pass verbatim. */
static void rewrite_msg(char *msg, size_t len, struct cy_frame *frames, unsigned *n)
{
	char a[64], b[64];

	if (sscanf(msg, "Missing required mapping field: %63s", a) == 1) {
		name_inner(frames, n, a);
		snprintf(msg, len, "required field is missing");
	} else if (sscanf(msg, "Unexpected key: %63[^\n]", a) == 1) {
		name_inner(frames, n, a);
		snprintf(msg, len, "unknown key");
	} else if (strncmp(msg, "Mapping field already seen:", 27) == 0) {
		snprintf(msg, len, "key appears more than once");
	} else if (sscanf(msg, "Expecting %63s got event: %63s", a, b) == 2) {
		a[strcspn(a, ",")] = '\0';
		snprintf(msg, len, "expected %s, got %s", node_kind(a), node_kind(b));
	}
}

static int cyaml_failed(struct loader *ld, cyaml_err_t cerr, struct cy_log *log)
{
	struct cy_frame frames[CY_MAX_FRAMES];
	char msg[256], path[CFG_PATH_MAX + 64];
	unsigned n;

	log->text[log->len] = '\0';
	n = split_log(log->text, msg, sizeof(msg), frames);
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s", cyaml_strerror(cerr));
	rewrite_msg(msg, sizeof(msg), frames, &n);
	frames_to_path(frames, n, path, sizeof(path));
	if (cerr == CYAML_ERR_OOM) {
		put_err(ld, "out of memory");
		return -ENOMEM;
	}
	if (n == 0)
		put_err(ld, "%s", msg);
	else
		put_err(ld, "%s%s%s (near line %zu, column %zu)", path, path[0] ? ": " : "", msg,
			frames[0].line, frames[0].col);
	return -EINVAL;
}

/* ---- scalars ---- */

/* Strict decimal: no sign other than '-', no spaces, no hex or octal, no trailing junk. */
static int get_uint(struct loader *ld, const char *field, const char *text, uint32_t lo,
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
		return bad(ld, field, "\"%s\" is not an integer", text);
	errno = 0;
	v = strtoll(text, &end, 10);
	if (*end)
		return bad(ld, field, "\"%s\" is not an integer", text);
	if (errno == ERANGE || v < (long long)lo || v > (long long)hi)
		return bad(ld, field, "%s is out of range %u..%u", text, lo, hi);
	*out = (uint32_t)v;
	return 0;
}

static bool is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t d = 2; d <= n / d; d++)
		if (n % d == 0)
			return false;
	return true;
}

static bool valid_name(const char *s)
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

static bool numeric_addr(const char *text, uint16_t port, struct sockaddr_storage *ss,
			 socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return true;
	}
	return false;
}

/* Names are resolved once, here: the datapath never does DNS. AI_ADDRCONFIG stays off so a
 * host with only loopback configured (tests, containers) still gets answers. */
static int resolve(struct loader *ld, const char *host, uint16_t port,
		   struct sockaddr_storage *ss, socklen_t *len)
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
		return bad(ld, "host", "cannot resolve \"%s\" (%s)", host,
			   rc ? gai_strerror(rc) : "no usable address");
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	freeaddrinfo(res);
	return 0;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port && a6->sin6_scope_id == b6->sin6_scope_id &&
	       memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* ---- conversion, one mapping at a time ---- */

/* Bare IPv6 is bracketed so the result can be pasted into a Via or URI as is. */
static int listener_advertise(struct loader *ld, const struct raw_listener *r,
			      struct vd_cfg_listener *l)
{
	const char *adv = r->advertise ? r->advertise : r->address;
	struct in6_addr a6;

	if (!r->advertise && is_wildcard(&l->addr))
		return bad(ld, "advertise", "is required when address is the wildcard %s",
			   r->address);
	if (inet_pton(AF_INET6, adv, &a6) == 1)
		snprintf(l->advertise, sizeof(l->advertise), "[%s]", adv);
	else if (valid_via_host(adv))
		snprintf(l->advertise, sizeof(l->advertise), "%s", adv);
	else
		return bad(ld, "advertise", "\"%s\" is not a host name or IP address", adv);
	return 0;
}

static int convert_listener(struct loader *ld, const struct raw_listener *r,
			    struct vd_cfg_listener *l)
{
	uint32_t port, adv_port;
	int rc;

	rc = get_uint(ld, "port", r->port, 1, 65535, VD_CFG_DEFAULT_PORT, &port);
	if (rc)
		return rc;
	if (!numeric_addr(r->address, (uint16_t)port, &l->addr, &l->addrlen))
		return bad(ld, "address", "\"%s\" is not a numeric IPv4 or IPv6 address",
			   r->address);
	rc = get_uint(ld, "advertise_port", r->advertise_port, 1, 65535, port, &adv_port);
	if (rc)
		return rc;
	l->advertise_port = (uint16_t)adv_port;
	return listener_advertise(ld, r, l);
}

static int convert_listeners(struct loader *ld, const struct raw_config *raw,
			     struct vd_config *cfg)
{
	int rc;

	if (raw->n_listeners == 0)
		return bad(ld, "listeners", "at least one listener is required");
	if (raw->n_listeners > VD_CFG_MAX_LISTENERS)
		return bad(ld, "listeners", "%u listeners, at most %d are allowed",
			   raw->n_listeners, VD_CFG_MAX_LISTENERS);
	for (unsigned i = 0; i < raw->n_listeners; i++) {
		set_at(ld, "listeners[%u]", i);
		rc = convert_listener(ld, &raw->listeners[i], &cfg->listeners[i]);
		if (rc)
			return rc;
		for (unsigned j = 0; j < i; j++)
			if (same_addr(&cfg->listeners[i].addr, &cfg->listeners[j].addr))
				return bad(ld, NULL, "same address and port as listeners[%u]", j);
	}
	cfg->n_listeners = raw->n_listeners;
	return 0;
}

static int convert_member(struct loader *ld, const struct raw_member *r, struct vd_cfg_member *m)
{
	uint32_t port;
	int rc;

	if (!r->host[0])
		return bad(ld, "host", "must not be empty");
	if (strlen(r->host) >= sizeof(m->host))
		return bad(ld, "host", "is longer than %zu characters", sizeof(m->host) - 1);
	snprintf(m->host, sizeof(m->host), "%s", r->host);
	rc = get_uint(ld, "port", r->port, 1, 65535, VD_CFG_DEFAULT_PORT, &port);
	if (!rc)
		rc = get_uint(ld, "weight", r->weight, 1, CFG_WEIGHT_MAX, VD_CFG_DEFAULT_WEIGHT,
			      &m->weight);
	if (!rc)
		rc = resolve(ld, r->host, (uint16_t)port, &m->addr, &m->addrlen);
	return rc;
}

static int convert_members(struct loader *ld, const struct raw_pool *raw, struct vd_cfg_pool *p)
{
	int rc;

	set_at(ld, "pool");
	if (raw->n_members == 0)
		return bad(ld, "members", "at least one member is required");
	if (raw->n_members > VD_CFG_MAX_MEMBERS)
		return bad(ld, "members", "%u members, at most %d are allowed", raw->n_members,
			   VD_CFG_MAX_MEMBERS);
	for (unsigned i = 0; i < raw->n_members; i++) {
		set_at(ld, "pool.members[%u]", i);
		rc = convert_member(ld, &raw->members[i], &p->members[i]);
		if (rc)
			return rc;
		for (unsigned j = 0; j < i; j++)
			if (same_addr(&p->members[i].addr, &p->members[j].addr))
				return bad(ld, NULL, "same address and port as pool.members[%u]",
					   j);
	}
	p->n_members = raw->n_members;
	return 0;
}

static int convert_hash(struct loader *ld, const char *text, enum vd_hash_key *out)
{
	if (!text || strcmp(text, "call-id") == 0)
		*out = VD_HASH_CALL_ID;
	else if (strcmp(text, "source-ip") == 0)
		*out = VD_HASH_SOURCE_IP;
	else
		return bad(ld, "hash", "\"%s\" is not one of call-id, source-ip", text);
	return 0;
}

static int convert_pool(struct loader *ld, const struct raw_pool *raw, struct vd_cfg_pool *p)
{
	int rc;

	set_at(ld, "pool");
	if (!valid_name(raw->name))
		return bad(ld, "name", "\"%s\" must be 1..%d characters of A-Z a-z 0-9 _ . -",
			   raw->name, VD_CFG_NAME_MAX - 1);
	snprintf(p->name, sizeof(p->name), "%s", raw->name);
	rc = convert_hash(ld, raw->hash, &p->hash);
	if (!rc)
		rc = convert_members(ld, raw, p);
	if (rc)
		return rc;
	/* Checked after the members, since the table must outnumber them. */
	set_at(ld, "pool");
	rc = get_uint(ld, "table_size", raw->table_size, 1, CFG_TABLE_SIZE_MAX,
		      VD_CFG_DEFAULT_TABLE_SIZE, &p->table_size);
	if (rc)
		return rc;
	if (!is_prime(p->table_size))
		return bad(ld, "table_size", "%u is not prime", p->table_size);
	if (p->table_size <= p->n_members)
		return bad(ld, "table_size", "%u must be larger than the number of members (%u)",
			   p->table_size, p->n_members);
	return 0;
}

static int convert_limits(struct loader *ld, const struct raw_limits *raw,
			  struct vd_cfg_limits *lim)
{
	static const struct raw_limits none;
	int rc;

	if (!raw)
		raw = &none;
	set_at(ld, "limits");
	rc = get_uint(ld, "max_message_size", raw->max_message_size, 512,
		      VD_CFG_MAX_MESSAGE_CEIL, VD_CFG_DEFAULT_MAX_MESSAGE, &lim->max_message_size);
	if (!rc)
		rc = get_uint(ld, "max_headers", raw->max_headers, 8, VD_CFG_MAX_HEADERS_CEIL,
			      VD_CFG_DEFAULT_MAX_HEADERS, &lim->max_headers);
	if (!rc)
		rc = get_uint(ld, "max_vias", raw->max_vias, 1, VD_CFG_MAX_VIAS_CEIL,
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
	rc = get_uint(ld, "workers", raw->workers, 0, VD_CFG_MAX_WORKERS, 0, &workers);
	if (!rc)
		rc = get_uint(ld, "batch", raw->batch, 1, CFG_BATCH_MAX, VD_CFG_DEFAULT_BATCH,
			      &batch);
	if (!rc)
		rc = get_uint(ld, "retry_after", raw->retry_after, 0, CFG_RETRY_AFTER_MAX,
			      VD_CFG_DEFAULT_RETRY_AFTER, &cfg->retry_after);
	if (rc)
		return rc;
	cfg->workers = workers ? workers : online_cores();
	cfg->batch = batch;
	return 0;
}

static int convert(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg)
{
	int rc;

	rc = convert_top(ld, raw, cfg);
	if (!rc)
		rc = convert_listeners(ld, raw, cfg);
	if (!rc)
		rc = convert_pool(ld, raw->pool, &cfg->pool);
	if (!rc)
		rc = convert_limits(ld, raw->limits, &cfg->limits);
	return rc;
}

/* ---- entry points ---- */

int vd_config_parse(const char *yaml, size_t len, const char *name, struct vd_config *out,
		    char *err, size_t errlen)
{
	struct loader ld = { .name = name ? name : "config", .err = err, .errlen = errlen };
	struct cy_log log = { .len = 0 };
	const cyaml_config_t cy = {
		.log_fn = cy_log_fn,
		.log_ctx = &log,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_WARNING,
		.flags = CYAML_CFG_DEFAULT,
	};
	struct raw_config *raw = NULL;
	struct vd_config *cfg = NULL;
	cyaml_err_t cerr;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!yaml) {
		yaml = "";
		len = 0;
	}
	cerr = cyaml_load_data((const uint8_t *)yaml, len, &cy, &config_value, (void **)&raw,
			       NULL);
	if (cerr != CYAML_OK) {
		rc = cyaml_failed(&ld, cerr, &log);
		goto fail;
	}
	rc = -EINVAL;
	if (!raw) {
		put_err(&ld, "config is empty");
		goto fail;
	}
	if (log.extra_docs) {
		put_err(&ld, "only one YAML document is allowed, found a second after \"---\"");
		goto fail;
	}
	/* ~100 KiB: kept off the stack, and built aside so *out changes only on success. */
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		rc = -ENOMEM;
		put_err(&ld, "out of memory");
		goto fail;
	}
	rc = convert(&ld, raw, cfg);
	if (rc == 0)
		*out = *cfg;
fail:
	free(cfg);
	if (raw)
		cyaml_free(&cy, &config_value, raw, 0);
	return rc;
}

/* Reads the whole file so that open/read failures keep their errno, which libcyaml's
 * cyaml_load_file would flatten into CYAML_ERR_FILE_OPEN. */
static int read_file(struct loader *ld, const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n;
	int rc = -ENOMEM;

	if (!f) {
		rc = -errno;
		put_err(ld, "cannot open: %s", strerror(-rc));
		return rc;
	}
	data = malloc(CFG_FILE_MAX + 1);
	if (!data) {
		put_err(ld, "out of memory");
		goto fail;
	}
	errno = 0;
	n = fread(data, 1, CFG_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		put_err(ld, "cannot read: %s", strerror(-rc));
		goto fail;
	}
	if (n > CFG_FILE_MAX) {
		rc = -EFBIG;
		put_err(ld, "file is larger than %d bytes", CFG_FILE_MAX);
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
	struct loader ld = { .name = path, .err = err, .errlen = errlen };
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(&ld, path, &buf, &len);
	if (rc)
		return rc;
	rc = vd_config_parse(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
}

const char *vd_hash_key_name(enum vd_hash_key key)
{
	switch (key) {
	case VD_HASH_CALL_ID:
		return "call-id";
	case VD_HASH_SOURCE_IP:
		return "source-ip";
	}
	return "unknown";
}
