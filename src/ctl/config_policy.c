/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The proxy's policy keys (struct vd_cfg_policy in include/viaduct/config.h): which
 * Proxy-Require option tags pass, the Server header of our replies, which next hops a Route
 * may name, and what happens to a request whose Route names anyone else. Names in
 * trusted_next_hops are resolved here, at load and reload (every address they have), so the
 * datapath never resolves anything.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "config_internal.h"
#include "viaduct/proxy.h"
#include "viaduct/rules.h"

const cyaml_schema_value_t cfg_policy_string_value = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

#define DEFAULT_SERVER_HEADER "viaduct"
#define TOKEN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~"

static int convert_option_tags(struct loader *ld, const struct raw_config *raw,
			       struct vd_cfg_policy *p)
{
	if (raw->n_proxy_require > VD_CFG_MAX_OPTION_TAGS)
		return cfg_bad(ld, "proxy_require", "%u option tags, at most %d",
			       raw->n_proxy_require, VD_CFG_MAX_OPTION_TAGS);
	for (unsigned i = 0; i < raw->n_proxy_require; i++) {
		const char *t = raw->proxy_require[i];
		size_t n = strlen(t);
		if (n == 0 || n >= VD_CFG_OPTION_TAG_MAX || strspn(t, TOKEN_CHARS) != n)
			return cfg_bad(ld, "proxy_require", "\"%s\" is not an option tag (a token "
							    "of at most %d characters, e.g. sec-agree)",
				       t, VD_CFG_OPTION_TAG_MAX - 1);
		memcpy(p->proxy_require[i], t, n + 1);
		p->n_proxy_require = i + 1;
	}
	return 0;
}

static int convert_server(struct loader *ld, const char *text, struct vd_cfg_policy *p)
{
	if (!text)
		text = DEFAULT_SERVER_HEADER;
	size_t n = strlen(text);
	if (n >= VD_CFG_SERVER_MAX)
		return cfg_bad(ld, "server_header", "%zu characters, at most %d", n,
			       VD_CFG_SERVER_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return cfg_bad(ld, "server_header", "control character at %zu", i);
	memcpy(p->server_header, text, n + 1);
	return 0;
}

static int add_prefix(struct loader *ld, struct vd_cfg_policy *p, const struct vd_prefix *c)
{
	if (p->n_trusted == VD_CFG_MAX_TRUSTED)
		return cfg_bad(ld, "trusted_next_hops", "more than %d prefixes (names count each "
							"of their addresses)",
			       VD_CFG_MAX_TRUSTED);
	p->trusted[p->n_trusted++] = *c;
	return 0;
}

/* A name: every address it resolves to now, as a host prefix. */
static int add_name(struct loader *ld, struct vd_cfg_policy *p, const char *name)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0 || !res)
		return cfg_bad(ld, "trusted_next_hops", "\"%s\" is not a prefix or an address, and "
							"cannot be resolved (%s)",
			       name, rc ? gai_strerror(rc) : "no address");
	for (struct addrinfo *a = res; a && !rc; a = a->ai_next) {
		struct vd_prefix c = { .family = (uint8_t)a->ai_family };
		if (a->ai_family == AF_INET) {
			c.bits = 32;
			memcpy(c.addr, &((struct sockaddr_in *)a->ai_addr)->sin_addr, 4);
		} else if (a->ai_family == AF_INET6) {
			c.bits = 128;
			memcpy(c.addr, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		bool dup = false;
		for (unsigned i = 0; i < p->n_trusted; i++)
			dup |= p->trusted[i].family == c.family && p->trusted[i].bits == c.bits &&
			       memcmp(p->trusted[i].addr, c.addr, 16) == 0;
		if (!dup)
			rc = add_prefix(ld, p, &c);
	}
	freeaddrinfo(res);
	return rc;
}

static int convert_trusted(struct loader *ld, const struct raw_config *raw,
			   struct vd_cfg_policy *p)
{
	for (unsigned i = 0; i < raw->n_trusted_next_hops; i++) {
		const char *t = raw->trusted_next_hops[i];
		struct vd_prefix c;
		int rc = vd_prefix_parse(t, &c) == 0 ? add_prefix(ld, p, &c) : add_name(ld, p, t);
		if (rc)
			return rc;
	}
	return 0;
}

#define BRANCH_KEY_MIN 16 /* characters of a configured passphrase */

/* The key of this process when the config names none: made on first use, kept for every later
 * load (a reload must not change the branches of running transactions). Control thread only. */
static int process_branch_key(uint8_t key[VD_BRANCH_KEY_LEN])
{
	static uint8_t made[VD_BRANCH_KEY_LEN];
	static bool have;
	if (!have) {
		if (sodium_init() < 0)
			return -1;
		randombytes_buf(made, sizeof(made));
		have = true;
	}
	memcpy(key, made, VD_BRANCH_KEY_LEN);
	return 0;
}

static int convert_branch_key(struct loader *ld, const char *text, struct vd_cfg_policy *p)
{
	_Static_assert(sizeof(p->branch_key) == VD_BRANCH_KEY_LEN, "key size");
	if (!text)
		return process_branch_key(p->branch_key) ? cfg_bad(ld, "branch_key", "libsodium "
									 "did not start: no "
									 "random key")
							 : 0;
	if (strlen(text) < BRANCH_KEY_MIN)
		return cfg_bad(ld, "branch_key", "%zu characters, at least %d (a shared secret)",
			       strlen(text), BRANCH_KEY_MIN);
	vd_branch_key_derive(text, p->branch_key);
	return 0;
}

int cfg_convert_policy(struct loader *ld, const struct raw_config *raw, struct vd_cfg_policy *p)
{
	memset(p, 0, sizeof(*p));
	ld->at[0] = '\0';
	int rc = convert_option_tags(ld, raw, p);
	if (!rc)
		rc = convert_server(ld, raw->server_header, p);
	if (!rc)
		rc = convert_trusted(ld, raw, p);
	if (!rc)
		rc = convert_branch_key(ld, raw->branch_key, p);
	if (rc)
		return rc;
	const char *u = raw->untrusted_route;
	if (!u || strcmp(u, "pool") == 0)
		p->untrusted_route = VD_UNTRUSTED_TO_POOL;
	else if (strcmp(u, "reject") == 0)
		p->untrusted_route = VD_UNTRUSTED_REJECT;
	else
		return cfg_bad(ld, "untrusted_route", "\"%s\" is not pool or reject", u);
	return 0;
}
