/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration as data (include/viaduct/config.h): what a loaded config owns, its deep
 * copy, lookups and the names of its enums. No file, no YAML: loading is the control plane's
 * job (src/ctl/config*.c, include/viaduct/config_file.h); every layer above reads this.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/config.h"
#include "viaduct/rules.h"

const char *vd_transport_name(enum vd_transport t)
{
	static const char *const names[VD_TP__COUNT] = { "udp", "tcp", "tls" };
	return (unsigned)t < VD_TP__COUNT ? names[t] : "?";
}

static void spec_free(struct vd_rule_spec *s)
{
	free((char *)s->ruri);
	free((char *)s->from);
	free((char *)s->to);
	for (unsigned h = 0; h < s->n_headers; h++)
		free((char *)s->headers[h].regex);
}

static void rules_free(struct vd_config *cfg)
{
	for (unsigned i = 0; cfg->rules && i < cfg->n_rules; i++)
		spec_free(&cfg->rules[i]);
	free(cfg->rules);
	cfg->rules = NULL;
	cfg->n_rules = 0;
}

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	*oom = *oom || !d;
	return d;
}

static int rules_dup(struct vd_config *dst, const struct vd_config *src)
{
	bool oom = false;
	dst->rules = NULL;
	dst->n_rules = 0;
	if (!src->n_rules)
		return 0;
	dst->rules = calloc(src->n_rules, sizeof(*dst->rules));
	if (!dst->rules)
		return -ENOMEM;
	for (unsigned i = 0; i < src->n_rules; i++) {
		struct vd_rule_spec *d = &dst->rules[i];
		*d = src->rules[i];
		dst->n_rules = i + 1;
		d->ruri = dup_or_null(src->rules[i].ruri, &oom);
		d->from = dup_or_null(src->rules[i].from, &oom);
		d->to = dup_or_null(src->rules[i].to, &oom);
		for (unsigned h = 0; h < d->n_headers; h++)
			d->headers[h].regex = dup_or_null(src->rules[i].headers[h].regex, &oom);
	}
	return oom ? -ENOMEM : 0;
}

void vd_config_free(struct vd_config *cfg)
{
	rules_free(cfg);
	free(cfg->guard.acl);
	free(cfg->guard.exempt);
	cfg->guard.acl = NULL;
	cfg->guard.exempt = NULL;
	cfg->guard.n_acl = cfg->guard.n_exempt = 0;
	for (unsigned i = 0; cfg->files && i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	cfg->files = NULL;
	cfg->n_files = 0;
	for (unsigned i = 0; cfg->pools && i < cfg->n_pools; i++)
		free(cfg->pools[i].members);
	free(cfg->pools);
	cfg->pools = NULL;
	cfg->n_pools = 0;
}

/* a copy of n elements of size sz (NULL for none); *oom set when it fails */
static void *dup_array(const void *a, size_t n, size_t sz, bool *oom)
{
	if (!n)
		return NULL;
	void *d = malloc(n * sz);
	if (!d)
		*oom = true;
	else
		memcpy(d, a, n * sz);
	return d;
}

int vd_config_dup(struct vd_config *dst, const struct vd_config *src)
{
	bool oom = false;
	*dst = *src;
	dst->guard.acl = dup_array(src->guard.acl, src->guard.n_acl, sizeof(*src->guard.acl), &oom);
	dst->guard.exempt = dup_array(src->guard.exempt, src->guard.n_exempt,
				      sizeof(*src->guard.exempt), &oom);
	if (!dst->guard.acl)
		dst->guard.n_acl = 0;
	if (!dst->guard.exempt)
		dst->guard.n_exempt = 0;
	dst->rules = NULL;
	dst->n_rules = 0;
	dst->pools = NULL;
	dst->n_pools = 0;
	dst->files = NULL;
	dst->n_files = 0;
	dst->pools = calloc(src->n_pools ? src->n_pools : 1, sizeof(*dst->pools));
	dst->files = calloc(src->n_files ? src->n_files : 1, sizeof(*dst->files));
	if (oom)
		goto oom;
	if (!dst->pools || !dst->files)
		goto oom;
	for (unsigned p = 0; p < src->n_pools; p++) {
		size_t n = src->pools[p].n_members * sizeof(struct vd_cfg_member);
		dst->pools[p] = src->pools[p];
		dst->pools[p].members = malloc(n ? n : 1);
		dst->n_pools = p + 1;
		if (!dst->pools[p].members) {
			dst->pools[p].n_members = 0;
			goto oom;
		}
		memcpy(dst->pools[p].members, src->pools[p].members, n);
	}
	for (unsigned i = 0; i < src->n_files; i++) {
		dst->files[i] = strdup(src->files[i]);
		dst->n_files = i + 1;
		if (!dst->files[i])
			goto oom;
	}
	if (rules_dup(dst, src))
		goto oom;
	return 0;
oom:
	vd_config_free(dst);
	return -ENOMEM;
}

int vd_config_pool_index(const struct vd_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n_pools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *vd_hash_key_name(enum vd_hash_key key)
{
	switch (key) {
	case VD_HASH_CALL_ID:
		return "call-id";
	case VD_HASH_SOURCE_IP:
		return "source-ip";
	case VD_HASH_FROM_USER:
		return "from-user";
	case VD_HASH_TO_USER:
		return "to-user";
	case VD_HASH_RURI_USER:
		return "ruri-user";
	case VD_HASH_HEADER:
		return "header";
	}
	return "unknown";
}
