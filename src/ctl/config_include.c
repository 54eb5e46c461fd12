/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Config files that come from other files:
 *
 * - `include: [pattern, ...]`: glob patterns relative to the including file. An included
 *   file may hold pools (pool:/pools:), rules and further includes, nothing else: listeners,
 *   workers and limits belong to the main file. Pools are appended in include order (glob
 *   order within a pattern); a file included twice, or includes nested deeper than
 *   INCLUDE_DEPTH_MAX, are errors.
 *
 * - `dispatcher_list: FILE` (with `setid: N`) in a pool: the members of one set of a Kamailio
 *   dispatcher.list, so an operator can migrate without rewriting it. Each line is
 *   "setid destination [flags [priority [attributes]]]"; `weight=N` in the attributes is the
 *   member's weight; Kamailio tries a higher priority first, viaduct a lower group first, so
 *   group = (highest priority in the set) - priority.
 */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define INCLUDE_DEPTH_MAX 8
#define DS_WEIGHT_MAX 1000u

int cfg_add_file(struct loader *ld, struct vd_config *cfg, const char *path)
{
	char **files = realloc(cfg->files, (cfg->n_files + 1) * sizeof(*files));
	if (!files || !(files[cfg->n_files] = strdup(path))) {
		if (files)
			cfg->files = files;
		cfg_put_err(ld, "out of memory");
		return -ENOMEM;
	}
	cfg->files = files;
	cfg->n_files++;
	return 0;
}

void cfg_relative_path(const struct loader *ld, const char *path, char *out, size_t len)
{
	if (path[0] == '/' || !ld->dir)
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%s/%s", ld->dir, path);
}

/* Keys an included file may not set (they belong to the main file). */
static const char *main_only_key(const struct raw_config *r)
{
	if (r->n_listeners)
		return "listeners";
	if (r->workers)
		return "workers";
	if (r->batch)
		return "batch";
	if (r->retry_after)
		return "retry_after";
	if (r->limits)
		return "limits";
	if (r->health)
		return "health";
	if (r->admin)
		return "admin";
	if (r->dpdk)
		return "dpdk";
	if (r->acl)
		return "acl";
	if (r->rate_limit)
		return "rate_limit";
	if (r->replies)
		return "replies";
	if (r->overload)
		return "overload";
	if (r->proxy_require)
		return "proxy_require";
	if (r->server_header)
		return "server_header";
	if (r->trusted_next_hops)
		return "trusted_next_hops";
	if (r->untrusted_route)
		return "untrusted_route";
	if (r->branch_key)
		return "branch_key";
	if (r->log_level)
		return "log_level";
	if (r->tcp)
		return "tcp";
	if (r->tls_client)
		return "tls_client";
	if (r->hep)
		return "hep";
	return NULL;
}

static bool already_loaded(const struct vd_config *cfg, const char *path)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (!realpath(path, a))
		return false;
	for (unsigned i = 0; i < cfg->n_files; i++)
		if (realpath(cfg->files[i], b) && strcmp(a, b) == 0)
			return true;
	return false;
}

static int include_file(struct loader *parent, const char *path, struct vd_config *cfg,
			unsigned depth)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	struct loader ld = { .name = path, .dir = dir, .err = parent->err,
			     .errlen = parent->errlen };
	struct raw_config *raw = NULL;
	char *buf = NULL;
	size_t len = 0;

	if (already_loaded(cfg, path))
		return cfg_bad(parent, "include", "%s is included twice (or includes itself)", path);
	int rc = cfg_read_file(&ld, path, &buf, &len);
	if (!rc)
		rc = cfg_load_raw(&ld, buf, len, &raw);
	free(buf);
	if (rc)
		return rc;
	const char *key = main_only_key(raw);
	if (key) {
		ld.at[0] = '\0';
		rc = cfg_bad(&ld, key, "may only be set in the main config file");
	}
	if (!rc)
		rc = cfg_add_file(&ld, cfg, path);
	if (!rc)
		rc = cfg_convert_pools(&ld, raw, cfg, false);
	if (!rc)
		rc = cfg_convert_includes(&ld, raw, cfg, depth + 1);
	if (!rc)
		rc = cfg_convert_rules(&ld, raw, cfg);
	cfg_free_raw(raw);
	return rc;
}

int cfg_convert_includes(struct loader *ld, const struct raw_config *raw, struct vd_config *cfg,
			 unsigned depth)
{
	char pattern[PATH_MAX];
	for (unsigned i = 0; i < raw->n_include; i++) {
		ld->at[0] = '\0';
		if (depth >= INCLUDE_DEPTH_MAX)
			return cfg_bad(ld, "include", "nested deeper than %d files",
				       INCLUDE_DEPTH_MAX);
		cfg_relative_path(ld, raw->include[i], pattern, sizeof(pattern));
		glob_t g;
		int grc = glob(pattern, 0, NULL, &g); /* an absent directory matches nothing */
		if (grc == GLOB_NOMATCH) {
			/* a wildcard may match nothing (an empty rules directory); a name must */
			if (strpbrk(raw->include[i], "*?["))
				continue;
			cfg_set_at(ld, "include[%u]", i);
			return cfg_bad(ld, NULL, "%s: no such file", pattern);
		}
		if (grc) {
			cfg_set_at(ld, "include[%u]", i);
			return cfg_bad(ld, NULL, "%s: cannot read the directory", pattern);
		}
		int rc = 0;
		for (size_t k = 0; !rc && k < g.gl_pathc; k++)
			rc = include_file(ld, g.gl_pathv[k], cfg, depth);
		globfree(&g);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- dispatcher.list ---- */

struct ds_entry {
	unsigned setid;
	long priority;
	uint32_t weight;
	char host[VD_CFG_HOST_MAX];
	uint16_t port;
	unsigned line;
};

/* "sip:host[:port][;params]": host (IPv6 in brackets, kept without them) and port. */
static bool ds_uri(const char *uri, char *host, size_t hostlen, uint16_t *port)
{
	const char *p;
	if (strncmp(uri, "sip:", 4) == 0)
		p = uri + 4;
	else if (strncmp(uri, "sips:", 5) == 0)
		p = uri + 5;
	else
		return false;
	const char *at = strchr(p, '@');
	if (at)
		p = at + 1;
	const char *end;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end || (size_t)(end - p - 1) >= hostlen)
			return false;
		snprintf(host, hostlen, "%.*s", (int)(end - p - 1), p + 1);
		end++;
	} else {
		end = p + strcspn(p, ":;>");
		if (end == p || (size_t)(end - p) >= hostlen)
			return false;
		snprintf(host, hostlen, "%.*s", (int)(end - p), p);
	}
	*port = VD_CFG_DEFAULT_PORT;
	if (*end == ':') {
		char *e;
		long v = strtol(end + 1, &e, 10);
		if (e == end + 1 || v < 1 || v > 65535 || (*e && *e != ';'))
			return false;
		*port = (uint16_t)v;
	}
	return true;
}

/* weight=N among "k=v;k=v" attributes; 1 when absent. */
static int ds_weight(const char *attrs, uint32_t *w)
{
	*w = 1;
	for (const char *p = attrs; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL)
		if (strncmp(p, "weight=", 7) == 0) {
			char *e;
			long v = strtol(p + 7, &e, 10);
			if (e == p + 7 || v < 1 || v > (long)DS_WEIGHT_MAX || (*e && *e != ';'))
				return -1;
			*w = (uint32_t)v;
		}
	return 0;
}

/* One line; 1 = an entry, 0 = blank/comment, <0 = error (message written). */
static int ds_line(struct loader *ld, const char *path, char *line, unsigned n,
		   struct ds_entry *e)
{
	char *save, *tok[5] = { 0 };
	unsigned k = 0;
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	for (char *t = strtok_r(line, " \t\r\n", &save); t && k < 5;
	     t = strtok_r(NULL, " \t\r\n", &save))
		tok[k++] = t;
	if (k == 0)
		return 0;
	char *end;
	long setid = strtol(tok[0], &end, 10);
	if (*end || setid < 0 || k < 2) {
		cfg_put_err(ld, "%s:%u: expected \"setid destination [flags [priority [attrs]]]\"",
			    path, n);
		return -EINVAL;
	}
	e->setid = (unsigned)setid;
	e->line = n;
	e->priority = tok[3] ? strtol(tok[3], &end, 10) : 0;
	if (tok[3] && *end) {
		cfg_put_err(ld, "%s:%u: priority \"%s\" is not an integer", path, n, tok[3]);
		return -EINVAL;
	}
	if (!ds_uri(tok[1], e->host, sizeof(e->host), &e->port)) {
		cfg_put_err(ld, "%s:%u: destination \"%s\" is not a sip:host[:port] URI", path, n,
			    tok[1]);
		return -EINVAL;
	}
	if (ds_weight(tok[4], &e->weight)) {
		cfg_put_err(ld, "%s:%u: weight in \"%s\" must be 1..%u", path, n, tok[4],
			    DS_WEIGHT_MAX);
		return -EINVAL;
	}
	return 1;
}

static int ds_read(struct loader *ld, const char *path, unsigned setid, struct ds_entry *out,
		   unsigned *n_out)
{
	char line[1024];
	unsigned n = 0, count = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		cfg_put_err(ld, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		struct ds_entry e;
		int rc = ds_line(ld, path, line, ++n, &e);
		if (rc < 0) {
			fclose(f);
			return rc;
		}
		if (rc == 0 || e.setid != setid)
			continue;
		if (count == VD_CFG_MAX_MEMBERS) {
			fclose(f);
			cfg_put_err(ld, "%s:%u: more than %d members in set %u", path, n,
				    VD_CFG_MAX_MEMBERS, setid);
			return -EINVAL;
		}
		out[count++] = e;
	}
	fclose(f);
	*n_out = count;
	return 0;
}

int cfg_dispatcher_members(struct loader *ld, const char *at, const struct raw_pool *raw,
			   struct vd_cfg_pool *p)
{
	static struct ds_entry entries[VD_CFG_MAX_MEMBERS]; /* control plane, one load at once */
	char path[PATH_MAX];
	uint32_t setid;
	unsigned n = 0;
	int rc = cfg_get_uint(ld, "setid", raw->setid, 0, INT32_MAX, 1, &setid);
	if (rc)
		return rc;
	cfg_relative_path(ld, raw->dispatcher_list, path, sizeof(path));
	rc = ds_read(ld, path, setid, entries, &n);
	if (rc)
		return rc;
	if (n == 0)
		return cfg_bad(ld, "setid", "%s has no destination in set %u", path, setid);
	long top = entries[0].priority;
	for (unsigned i = 1; i < n; i++)
		if (entries[i].priority > top)
			top = entries[i].priority;
	p->members = calloc(n, sizeof(*p->members));
	if (!p->members) {
		cfg_put_err(ld, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		struct vd_cfg_member *m = &p->members[i];
		cfg_set_at(ld, "%s.dispatcher_list(%s:%u)", at, path, entries[i].line);
		snprintf(m->host, sizeof(m->host), "%s", entries[i].host);
		m->weight = entries[i].weight;
		m->priority = (uint32_t)(top - entries[i].priority);
		m->transport = p->transport;
		rc = cfg_resolve(ld, "host", m->host, entries[i].port, &m->addr, &m->addrlen);
		if (rc)
			return rc;
		for (unsigned j = 0; j < i; j++)
			if (vd_sockaddr_equal_scoped(&m->addr, &p->members[j].addr))
				return cfg_bad(ld, NULL, "same address and port as line %u",
					       entries[j].line);
		p->n_members = i + 1;
	}
	return 0;
}
