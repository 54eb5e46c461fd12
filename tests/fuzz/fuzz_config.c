/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over the config loader: the input as a YAML config file, loaded with
 * vd_config_load() (which reads it and hands it to the parser of vd_config_parse), with the
 * files it may name (include: patterns, a pool's dispatcher_list:) written from the input
 * too, so the Kamailio dispatcher.list parser is fuzzed through the loader's own path. A
 * config that loads is copied (vd_config_dup) and both are freed: LSan reports any leak, on
 * success or on any error path.
 *
 * Input: up to three parts split by FUZZ_SPLIT (a YAML comment line, so a config file is a
 * valid input as it is):
 *
 *   main.yaml  FUZZ_SPLIT  dispatcher.list  FUZZ_SPLIT  inc.yaml
 *
 * The files live in a sandbox directory (made at start, removed at exit; the process keeps its
 * working directory, where libFuzzer may have relative paths) where every part is written to
 * its file before each run (an absent part: an empty file), next to two fixed include files,
 * pools/a.yaml and pools/b.yaml. The loader must not reach anything else: this binary is
 * linked with --wrap for fopen, glob and getaddrinfo (tests/fuzz/meson.build), and the
 * wrappers below refuse, while a load runs, a path outside the sandbox or with a ".."
 * component, and resolve host names without the network: deterministic answers from a hash
 * of the name, so every input replays alike.
 */
#include <errno.h>
#include <glob.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "viaduct/config_file.h"
#include "viaduct/proxy.h"

#define FUZZ_SPLIT     "\n#@@\n"
#define FUZZ_SPLIT_LEN 5

static bool sandboxed; /* a load is running: the wrappers enforce the sandbox */
static char sandbox[256], main_path[300];
static size_t sandbox_len;

/* ---- the wrapped calls ---- */

FILE *__real_fopen64(const char *path, const char *mode);
FILE *__real_fopen(const char *path, const char *mode);
int __real_glob64(const char *pattern, int flags, int (*errfunc)(const char *, int), glob64_t *g);
int __real_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g);

/* In the sandbox, and no component is ".." or (for a glob) could match it. */
static bool inside(const char *path, bool pattern)
{
	if (strncmp(path, sandbox, sandbox_len) != 0 || path[sandbox_len] != '/')
		return false;
	path += sandbox_len + 1;
	for (const char *c = path; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
			return false;
		/* ".?" or ".*" match ".."; a leading "\." or "[" could spell it too */
		if (pattern &&
		    ((c[0] == '.' && c[1] != '/' && c[1] != '\0') || c[0] == '\\' || c[0] == '['))
			return false;
	}
	return true;
}

FILE *__wrap_fopen64(const char *path, const char *mode)
{
	if (sandboxed && !inside(path, false)) {
		errno = EACCES;
		return NULL;
	}
	return __real_fopen64(path, mode);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	if (sandboxed && !inside(path, false)) {
		errno = EACCES;
		return NULL;
	}
	return __real_fopen(path, mode);
}

int __wrap_glob64(const char *pattern, int flags, int (*errfunc)(const char *, int), glob64_t *g)
{
	if (sandboxed && !inside(pattern, true)) {
		memset(g, 0, sizeof(*g));
		return GLOB_NOMATCH;
	}
	return __real_glob64(pattern, flags, errfunc, g);
}

int __wrap_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
	if (sandboxed && !inside(pattern, true)) {
		memset(g, 0, sizeof(*g));
		return GLOB_NOMATCH;
	}
	return __real_glob(pattern, flags, errfunc, g);
}

struct fake_ai {
	struct addrinfo ai;
	struct sockaddr_in6 sa; /* large enough for either family */
};

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct addrinfo *fake_ai(int family, uint32_t h)
{
	struct fake_ai *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->ai.ai_family = family;
	f->ai.ai_socktype = SOCK_DGRAM;
	f->ai.ai_addr = (struct sockaddr *)&f->sa;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&f->sa;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(0xc0000200u | (h & 0xff)); /* 192.0.2.x */
		f->ai.ai_addrlen = sizeof(*in);
	} else {
		f->sa.sin6_family = AF_INET6;
		f->sa.sin6_addr.s6_addr[0] = 0x20;
		f->sa.sin6_addr.s6_addr[1] = 0x01;
		f->sa.sin6_addr.s6_addr[2] = 0x0d;
		f->sa.sin6_addr.s6_addr[3] = 0xb8; /* 2001:db8::x */
		f->sa.sin6_addr.s6_addr[15] = (uint8_t)h;
		f->ai.ai_addrlen = sizeof(f->sa);
	}
	return &f->ai;
}

/* No DNS: "localhost" is 127.0.0.1 and ::1, a name ending in ".invalid" (RFC 6761) does not
 * resolve, any other plain host name gets an IPv4 address, an IPv6 one, both or none, as a
 * hash of the name says. */
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	(void)service;
	*res = NULL;
	if (!node || !*node)
		return EAI_NONAME;
	size_t n = strlen(node);
	if (n > 253 || strspn(node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789-.") != n)
		return EAI_NONAME;
	if (n >= 8 && strcmp(node + n - 8, ".invalid") == 0)
		return EAI_NONAME;
	uint32_t h = strcmp(node, "localhost") == 0 ? 3u << 8 : fnv1a(node);
	int want = hints ? hints->ai_family : AF_UNSPEC;
	bool v4 = (h >> 8) & 1, v6 = (h >> 9) & 1;
	if (strcmp(node, "localhost") == 0)
		h = 1; /* 192.0.2.1 would do, but let it look like what it is */
	if (want == AF_INET)
		v6 = false;
	if (want == AF_INET6)
		v4 = false;
	if (!v4 && !v6)
		return EAI_NONAME;
	struct addrinfo *a = v4 ? fake_ai(AF_INET, h) : NULL, *b = v6 ? fake_ai(AF_INET6, h) : NULL;
	if ((v4 && !a) || (v6 && !b)) {
		free(a);
		free(b);
		return EAI_MEMORY;
	}
	if (a && strcmp(node, "localhost") == 0)
		((struct sockaddr_in *)a->ai_addr)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (b && strcmp(node, "localhost") == 0)
		((struct sockaddr_in6 *)b->ai_addr)->sin6_addr = in6addr_loopback;
	if (a)
		a->ai_next = b;
	*res = a ? a : b;
	return 0;
}

/* Every addrinfo in this binary comes from the wrapper above. */
void __wrap_freeaddrinfo(struct addrinfo *ai)
{
	while (ai) {
		struct addrinfo *next = ai->ai_next;
		free(ai); /* the first member of its struct fake_ai */
		ai = next;
	}
}

/* ---- the sandbox ---- */

static void put_file(const char *name, const char *p, size_t len)
{
	char path[320];
	snprintf(path, sizeof(path), "%s/%s", sandbox, name);
	FILE *f = __real_fopen(path, "wb");
	if (!f || (len && fwrite(p, 1, len, f) != len) || fclose(f))
		abort();
}

static void remove_sandbox(void)
{
	static const char *const names[] = { "main.yaml", "dispatcher.list", "inc.yaml",
					     "pools/a.yaml", "pools/b.yaml", "pools" };
	char path[320];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sandbox, names[i]);
		remove(path);
	}
	rmdir(sandbox);
}

static void init(void)
{
	const char *tmp = getenv("TMPDIR");
	char pools[320];
	snprintf(sandbox, sizeof(sandbox), "%s/viaduct-fuzz-config.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(sandbox))
		abort();
	sandbox_len = strlen(sandbox);
	snprintf(main_path, sizeof(main_path), "%s/main.yaml", sandbox);
	snprintf(pools, sizeof(pools), "%s/pools", sandbox);
	if (mkdir(pools, 0700))
		abort();
	atexit(remove_sandbox);
	static const char a[] = "pools: [{name: inc-a, members: [{host: 127.0.0.1, port: 5171}]}]\n"
				"rules: [{name: inc-a, methods: [OPTIONS], route: inc-a}]\n";
	static const char b[] =
		"pool: {name: inc-b, hash: source-ip, members: [{host: \"::1\"}]}\n";
	put_file("pools/a.yaml", a, sizeof(a) - 1);
	put_file("pools/b.yaml", b, sizeof(b) - 1);
}

/* The next part of the input: [*p, split) and *p moved past the split (or to the end). */
static size_t part(const char **p, const char *end)
{
	const char *s = memmem(*p, (size_t)(end - *p), FUZZ_SPLIT, FUZZ_SPLIT_LEN);
	size_t n = (size_t)((s ? s : end) - *p);
	*p = s ? s + FUZZ_SPLIT_LEN : end;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	const char *p = (const char *)data, *end = p + size;
	const char *yaml = p;
	size_t yaml_len = part(&p, end);
	const char *ds = p;
	size_t ds_len = part(&p, end);
	const char *inc = p;
	size_t inc_len = part(&p, end);
	put_file("main.yaml", yaml, yaml_len);
	put_file("dispatcher.list", ds, ds_len);
	put_file("inc.yaml", inc, inc_len);

	struct vd_config cfg, copy;
	char err[512];
	memset(&cfg, 0, sizeof(cfg));
	sandboxed = true;
	int rc = vd_config_load(main_path, &cfg, err, sizeof(err));
	sandboxed = false;
	if (rc > 0 || (rc < 0 && !memchr(err, '\0', sizeof(err))))
		abort(); /* 0 or a negative errno, with a message */
	if (rc == 0) {
		if (cfg.n_listeners == 0 || cfg.n_pools == 0)
			abort();
		if (vd_config_dup(&copy, &cfg) == 0) {
			/* a deep copy: the same pools, members, rules and files */
			if (copy.n_pools != cfg.n_pools || copy.n_rules != cfg.n_rules ||
			    copy.n_files != cfg.n_files)
				abort();
			for (unsigned i = 0; i < cfg.n_pools; i++)
				if (copy.pools[i].n_members != cfg.pools[i].n_members ||
				    memcmp(copy.pools[i].members, cfg.pools[i].members,
					   cfg.pools[i].n_members * sizeof(*cfg.pools[i].members)))
					abort();
			vd_config_free(&copy);
		}
		/* what a snapshot compiles from it: rules into hyperscan, the edge's prefix
		 * tables, Maglev tables (--check-config does the same) */
		struct vd_proxy px;
		if (vd_proxy_init(&px, &cfg, err, sizeof(err)) == 0)
			vd_proxy_fini(&px);
		vd_config_free(&cfg);
	}
	return 0;
}
