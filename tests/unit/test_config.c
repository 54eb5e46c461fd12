/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests for the YAML config loader: the shipped example, every default, the conversions
 * (ports in network order, IPv6 advertise in brackets, names resolved), and that each bad
 * config under tests/config/ is rejected with a one-line error naming the offending field.
 */
#include <viaduct/config_file.h>
#include <viaduct/proxy.h> /* vd_branch_key_derive */

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef VD_SOURCE_ROOT
#error "VD_SOURCE_ROOT must be defined as the repository root, e.g. -DVD_SOURCE_ROOT=\"/src\""
#endif

#define CFG_DIR VD_SOURCE_ROOT "/tests/config/"

/* Big enough for 256 members; static so it never sits on a test's stack. */
static struct vd_config cfg;
static char err[512];

/* Every test runs in its own process (criterion forks): free what it loaded at exit. */
__attribute__((destructor)) static void free_cfg(void)
{
	vd_config_free(&cfg);
}

static int load(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", VD_SOURCE_ROOT, rel);
	vd_config_free(&cfg); /* the previous load's pools, if any */
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
	return vd_config_load(path, &cfg, err, sizeof(err));
}

static int parse(const char *yaml)
{
	vd_config_free(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
	return vd_config_parse(yaml, strlen(yaml), "mem.yaml", &cfg, err, sizeof(err));
}

static unsigned expected_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > VD_CFG_MAX_WORKERS ? VD_CFG_MAX_WORKERS : (unsigned)n;
}

static void assert_v4(const union vd_sockaddr *ss, socklen_t len, const char *ip,
		      uint16_t port)
{
	const struct sockaddr_in *sin = (const void *)ss;
	struct in_addr want;

	cr_assert_eq(inet_pton(AF_INET, ip, &want), 1);
	cr_assert_eq(ss->sa.sa_family, AF_INET, "family %d, want AF_INET for %s", ss->sa.sa_family, ip);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	cr_assert_eq(sin->sin_addr.s_addr, want.s_addr, "address mismatch for %s", ip);
	cr_assert_eq(sin->sin_port, htons(port), "port %u, want %u", ntohs(sin->sin_port), port);
}

static void assert_v6(const union vd_sockaddr *ss, socklen_t len, const char *ip,
		      uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	struct in6_addr want;

	cr_assert_eq(inet_pton(AF_INET6, ip, &want), 1);
	cr_assert_eq(ss->sa.sa_family, AF_INET6, "family %d, want AF_INET6 for %s", ss->sa.sa_family,
		     ip);
	cr_assert_eq(len, sizeof(struct sockaddr_in6));
	cr_assert(memcmp(&sin6->sin6_addr, &want, sizeof(want)) == 0, "address mismatch for %s",
		  ip);
	cr_assert_eq(sin6->sin6_port, htons(port), "port %u, want %u", ntohs(sin6->sin6_port),
		     port);
}

/* ---- good configs ---- */

Test(config, example_loads)
{
	cr_assert_eq(load("rules/example.yaml"), 0, "%s", err);
	cr_assert_eq(cfg.workers, expected_workers(), "workers: 0 means one per online core");
	cr_assert_eq(cfg.batch, 32);
	cr_assert_eq(cfg.retry_after, 5);

	cr_assert_eq(cfg.n_listeners, 3);
	assert_v4(&cfg.listeners[0].addr, cfg.listeners[0].addrlen, "127.0.0.1", 5060);
	cr_assert_eq(cfg.listeners[0].transport, VD_TP_UDP);
	assert_v4(&cfg.listeners[2].addr, cfg.listeners[2].addrlen, "127.0.0.1", 5060);
	cr_assert_eq(cfg.listeners[2].transport, VD_TP_TCP, "the TCP listener beside the UDP one");
	cr_assert_str_eq(cfg.listeners[0].advertise, "127.0.0.1");
	cr_assert_eq(cfg.listeners[0].advertise_port, 5060);
	assert_v6(&cfg.listeners[1].addr, cfg.listeners[1].addrlen, "::1", 5060);
	cr_assert_str_eq(cfg.listeners[1].advertise, "[::1]");
	cr_assert_eq(cfg.listeners[1].advertise_port, 5060);

	cr_assert_str_eq(cfg.pools[0].name, "pcscf");
	cr_assert_eq(cfg.pools[0].hash, VD_HASH_CALL_ID);
	cr_assert_eq(cfg.pools[0].table_size, 65537);
	cr_assert_eq(cfg.pools[0].n_members, 2);
	cr_assert_str_eq(cfg.pools[0].members[0].host, "127.0.0.1");
	assert_v4(&cfg.pools[0].members[0].addr, cfg.pools[0].members[0].addrlen, "127.0.0.1", 5070);
	cr_assert_eq(cfg.pools[0].members[0].weight, 1);
	assert_v4(&cfg.pools[0].members[1].addr, cfg.pools[0].members[1].addrlen, "127.0.0.1", 5080);
	cr_assert_eq(cfg.pools[0].members[1].weight, 1);

	cr_assert_eq(cfg.limits.max_message_size, 16384);
	cr_assert_eq(cfg.limits.max_headers, 96);
	cr_assert_eq(cfg.limits.max_vias, 70);
}

Test(config, defaults_applied)
{
	cr_assert_eq(load("tests/config/good-minimal.yaml"), 0, "%s", err);
	cr_assert_eq(cfg.workers, expected_workers());
	cr_assert_eq(cfg.batch, VD_CFG_DEFAULT_BATCH);
	cr_assert_eq(cfg.retry_after, VD_CFG_DEFAULT_RETRY_AFTER);

	cr_assert_eq(cfg.n_listeners, 1);
	assert_v4(&cfg.listeners[0].addr, cfg.listeners[0].addrlen, "127.0.0.1",
		  VD_CFG_DEFAULT_PORT);
	cr_assert_str_eq(cfg.listeners[0].advertise, "127.0.0.1");
	cr_assert_eq(cfg.listeners[0].advertise_port, VD_CFG_DEFAULT_PORT);

	cr_assert_eq(cfg.pools[0].hash, VD_HASH_CALL_ID);
	cr_assert_eq(cfg.pools[0].table_size, VD_CFG_DEFAULT_TABLE_SIZE);
	cr_assert_eq(cfg.pools[0].n_members, 1);
	assert_v4(&cfg.pools[0].members[0].addr, cfg.pools[0].members[0].addrlen, "127.0.0.2",
		  VD_CFG_DEFAULT_PORT);
	cr_assert_eq(cfg.pools[0].members[0].weight, VD_CFG_DEFAULT_WEIGHT);

	cr_assert_eq(cfg.limits.max_message_size, VD_CFG_DEFAULT_MAX_MESSAGE);
	cr_assert_eq(cfg.limits.max_headers, VD_CFG_DEFAULT_MAX_HEADERS);
	cr_assert_eq(cfg.limits.max_vias, VD_CFG_DEFAULT_MAX_VIAS);
}

Test(config, every_field_set)
{
	cr_assert_eq(load("tests/config/good-full.yaml"), 0, "%s", err);
	const struct vd_cfg_member *m = cfg.pools[0].members;
	cr_assert_eq(cfg.workers, 3);
	cr_assert_eq(cfg.batch, 64);
	cr_assert_eq(cfg.retry_after, 30);

	cr_assert_eq(cfg.n_listeners, 3);
	assert_v4(&cfg.listeners[0].addr, cfg.listeners[0].addrlen, "127.0.0.1", 5062);
	cr_assert_str_eq(cfg.listeners[0].advertise, "sip.example.com");
	cr_assert_eq(cfg.listeners[0].advertise_port, 5099);
	assert_v6(&cfg.listeners[1].addr, cfg.listeners[1].addrlen, "::1", 5062);
	cr_assert_str_eq(cfg.listeners[1].advertise, "[2001:db8::5]", "bare IPv6 gets brackets");
	cr_assert_eq(cfg.listeners[1].advertise_port, 5062, "advertise_port defaults to port");
	assert_v4(&cfg.listeners[2].addr, cfg.listeners[2].addrlen, "0.0.0.0", 5064);
	cr_assert_str_eq(cfg.listeners[2].advertise, "192.0.2.10");

	cr_assert_eq(cfg.pools[0].hash, VD_HASH_SOURCE_IP);
	cr_assert_eq(cfg.pools[0].table_size, 251);
	cr_assert_eq(cfg.pools[0].n_members, 3);
	assert_v4(&m[0].addr, m[0].addrlen, "192.0.2.1", 5070);
	cr_assert_eq(m[0].weight, 10);
	assert_v6(&m[1].addr, m[1].addrlen, "2001:db8::1", VD_CFG_DEFAULT_PORT);
	cr_assert_eq(m[1].weight, 1000);
	cr_assert_str_eq(m[2].host, "localhost", "host keeps the name as written");
	if (m[2].addr.sa.sa_family == AF_INET)
		assert_v4(&m[2].addr, m[2].addrlen, "127.0.0.1", 5090);
	else
		assert_v6(&m[2].addr, m[2].addrlen, "::1", 5090);

	cr_assert_eq(cfg.limits.max_message_size, VD_CFG_MAX_MESSAGE_CEIL);
	cr_assert_eq(cfg.limits.max_headers, 8);
	cr_assert_eq(cfg.limits.max_vias, VD_CFG_MAX_VIAS_CEIL);
}

Test(config, ipv6_listener_advertise_default)
{
	cr_assert_eq(load("tests/config/good-ipv6.yaml"), 0, "%s", err);
	assert_v6(&cfg.listeners[0].addr, cfg.listeners[0].addrlen, "::1", 5070);
	cr_assert_str_eq(cfg.listeners[0].advertise, "[::1]");
	cr_assert_eq(cfg.listeners[0].advertise_port, 5070);
	assert_v6(&cfg.pools[0].members[0].addr, cfg.pools[0].members[0].addrlen, "::1", 5080);
}

/* ---- bad configs: every tests/config/bad-*.yaml must be listed here ---- */

static const struct {
	const char *file;
	const char *want; /* substring of the error, after "<path>: " */
} bad_configs[] = {
	{ "bad-address-name.yaml",
	  "listeners[0].address: \"localhost\" is not a numeric IPv4 or IPv6 address" },
	{ "bad-advertise-port.yaml", "listeners[0].advertise_port: 0 is out of range 1..65535" },
	{ "bad-advertise.yaml", "listeners[0].advertise: \"my host\" is not a host name" },
	{ "bad-batch.yaml", "batch: 0 is out of range 1..1024" },
	{ "bad-dup-key.yaml", "batch: key appears more than once (near line" },
	{ "bad-dup-listener.yaml", "listeners[2]: same address, port and transport as listeners[0]" },
	{ "bad-dup-member.yaml", "pool.members[2]: same address and port as pool.members[0]" },
	{ "bad-empty.yaml", "config is empty" },
	{ "bad-hash.yaml", "pool.hash: \"md5\" is not one of call-id, source-ip" },
	{ "bad-listeners-scalar.yaml", "listeners: expected a list, got a single value" },
	{ "bad-max-headers.yaml", "limits.max_headers: 7 is out of range 8..256" },
	{ "bad-max-message.yaml", "limits.max_message_size: 100 is out of range 512..65507" },
	{ "bad-max-vias.yaml", "limits.max_vias: 256 is out of range 1..255" },
	{ "bad-missing-address.yaml", "listeners[1].address: required field is missing" },
	{ "bad-missing-host.yaml", "pool.members[1].host: required field is missing" },
	{ "bad-missing-listeners.yaml", "listeners: at least one listener is required" },
	{ "bad-missing-pool.yaml", "pools: at least one pool is required (pool: or pools:)" },
	{ "bad-no-listeners.yaml", "listeners: at least one listener is required" },
	{ "bad-no-members.yaml", "pool.members: at least one member is required" },
	{ "bad-not-mapping.yaml", "expected a mapping, got a list" },
	{ "bad-pool-name-long.yaml", "pool.name: \"pppppppp" },
	{ "bad-pool-name.yaml", "pool.name: \"p cscf\" must be 1..63 characters" },
	{ "bad-port-hex.yaml", "pool.members[0].port: \"0x13c4\" is not an integer" },
	{ "bad-port-junk.yaml", "listeners[0].port: \"50x60\" is not an integer" },
	{ "bad-port-list.yaml", "listeners[0].port: expected a single value, got a list" },
	{ "bad-port-range.yaml", "listeners[0].port: 70000 is out of range 1..65535" },
	{ "bad-resolve.yaml", "pool.members[1].host: cannot resolve \"nohost.invalid\"" },
	{ "bad-retry-after.yaml", "retry_after: -1 is out of range 0..86400" },
	{ "bad-syntax.yaml", "libyaml: did not find expected ',' or ']' (near line 3" },
	{ "bad-table-not-prime.yaml", "pool.table_size: 65536 is not prime" },
	{ "bad-table-small.yaml", "pool.table_size: 3 must be larger than the number of members" },
	{ "bad-table-too-big.yaml", "pool.table_size: 1000033 is out of range 1..1000003" },
	{ "bad-too-many-listeners.yaml", "listeners: 17 listeners, at most 16 are allowed" },
	{ "bad-two-docs.yaml", "only one YAML document is allowed" },
	{ "bad-unknown-key.yaml", "worker: unknown key" },
	{ "bad-unknown-member-key.yaml", "pool.members[1].wieght: unknown key" },
	{ "bad-weight-float.yaml", "pool.members[1].weight: \"1.5\" is not an integer" },
	{ "bad-weight.yaml", "pool.members[0].weight: 0 is out of range 1..1000" },
	{ "bad-wildcard-advertise.yaml", "listeners[0].advertise: is required when address is" },
	{ "bad-workers.yaml", "workers: 257 is out of range 0..256" },
};

#define N_BAD (sizeof(bad_configs) / sizeof(bad_configs[0]))

Test(config, bad_configs_rejected_with_field_path)
{
	char rel[128], prefix[512];

	for (size_t i = 0; i < N_BAD; i++) {
		snprintf(rel, sizeof(rel), "tests/config/%s", bad_configs[i].file);
		snprintf(prefix, sizeof(prefix), "%s/%s: ", VD_SOURCE_ROOT, rel);
		cr_expect_eq(load(rel), -EINVAL, "%s: loaded, or wrong error code", rel);
		cr_expect(strncmp(err, prefix, strlen(prefix)) == 0,
			  "%s: error lacks file name: %s", rel, err);
		cr_expect(strstr(err, bad_configs[i].want) != NULL, "%s:\n  got  %s\n  want %s",
			  rel, err, bad_configs[i].want);
		cr_expect(strchr(err, '\n') == NULL, "%s: error is not one line", rel);
	}
}

/* A bad file added to tests/config/ without a row above would otherwise go untested. */
Test(config, bad_table_covers_every_bad_file)
{
	glob_t g;

	cr_assert_eq(glob(CFG_DIR "bad-*.yaml", 0, NULL, &g), 0);
	cr_expect_eq(g.gl_pathc, N_BAD, "%zu bad-*.yaml files, %zu table rows", g.gl_pathc,
		     N_BAD);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *base = g.gl_pathv[i] + strlen(CFG_DIR);
		bool found = false;

		for (size_t j = 0; j < N_BAD && !found; j++)
			found = strcmp(bad_configs[j].file, base) == 0;
		cr_expect(found, "%s has no row in bad_configs[]", base);
	}
	globfree(&g);
}

Test(config, unknown_key_names_the_key)
{
	cr_assert_eq(load("tests/config/bad-unknown-member-key.yaml"), -EINVAL);
	cr_assert(strstr(err, "wieght") != NULL, "%s", err);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.1}], colour: blue}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "mem.yaml: pool.colour: unknown key") != NULL, "%s", err);
}

Test(config, duplicate_listener_rejected)
{
	cr_assert_eq(load("tests/config/bad-dup-listener.yaml"), -EINVAL);
	cr_assert(strstr(err, "listeners[2]") != NULL, "%s", err);
	/* Same address, different port: two sockets, allowed. */
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}, {address: 127.0.0.1, port: 5062}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.1}]}\n"),
		     0, "%s", err);
	/* Two spellings of one IPv6 address are the same socket. */
	cr_assert_eq(parse("listeners: [{address: '::1'}, {address: '0:0::1'}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.1}]}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "listeners[1]: same address, port and transport as listeners[0]"), "%s", err);
}

/* Where "localhost" lands (127.0.0.1 or ::1) depends on the host, so ask the loader. */
static void localhost_ip(char *ip, size_t len)
{
	const union vd_sockaddr *ss;

	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n"
			   "pool: {name: p, members: [{host: localhost}]}\n"),
		     0, "%s", err);
	ss = &cfg.pools[0].members[0].addr;
	if (ss->sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, len);
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, len);
}

Test(config, duplicate_member_rejected)
{
	char ip[INET6_ADDRSTRLEN], doc[256];

	cr_assert_eq(load("tests/config/bad-dup-member.yaml"), -EINVAL);
	cr_assert(strstr(err, "pool.members[2]") != NULL, "%s", err);
	/* A name and a number that resolve to the same place are duplicates too. */
	localhost_ip(ip, sizeof(ip));
	snprintf(doc, sizeof(doc),
		 "listeners: [{address: 127.0.0.1}]\n"
		 "pool: {name: p, members: [{host: '%s', port: 5070},\n"
		 "  {host: localhost, port: 5070}]}\n",
		 ip);
	cr_assert_eq(parse(doc), -EINVAL, "%s", doc);
	cr_assert(strstr(err, "pool.members[1]: same address and port as pool.members[0]"), "%s",
		  err);
}

Test(config, missing_file_is_enoent)
{
	cr_assert_eq(load("tests/config/no-such-file.yaml"), -ENOENT);
	cr_assert(strstr(err, "no-such-file.yaml: cannot open: No such file or directory"), "%s",
		  err);
}

Test(config, directory_is_read_error)
{
	cr_assert_eq(load("tests/config"), -EISDIR);
	cr_assert(strstr(err, "tests/config: cannot read:") != NULL, "%s", err);
}

Test(config, failed_load_leaves_output_untouched)
{
	static struct vd_config before;

	memset(&cfg, 0xa5, sizeof(cfg));
	before = cfg;
	cr_assert_eq(vd_config_load(CFG_DIR "bad-table-not-prime.yaml", &cfg, err, sizeof(err)),
		     -EINVAL);
	cr_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
	memset(&cfg, 0, sizeof(cfg)); /* nothing to free: it was never loaded */
}

/* ---- in-memory documents ---- */

#define POOL "pool: {name: p, members: [{host: 127.0.0.1, port: 5070}]}\n"

Test(config_parse, ipv6_quoted_or_not)
{
	static const char *const docs[] = {
		"listeners:\n  - address: ::1\n" POOL,
		"listeners:\n  - address: \"::1\"\n" POOL,
		"listeners:\n  - address: '::1'\n" POOL,
		"listeners: [{address: \"::1\"}]\n" POOL,
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		cr_assert_eq(parse(docs[i]), 0, "doc %zu: %s", i, err);
		assert_v6(&cfg.listeners[0].addr, cfg.listeners[0].addrlen, "::1", 5060);
		cr_assert_str_eq(cfg.listeners[0].advertise, "[::1]");
	}
}

Test(config_parse, advertise_forms)
{
	static const struct {
		const char *advertise, *want; /* want NULL: rejected */
	} cases[] = {
		{ "sip.example.com", "sip.example.com" },
		{ "192.0.2.1", "192.0.2.1" },
		{ "\"2001:db8::1\"", "[2001:db8::1]" },
		{ "\"[2001:db8::1]\"", "[2001:db8::1]" },
		{ "\"[sip.example.com]\"", NULL },
		{ "\"[2001:db8::1\"", NULL },
		{ "\"a b\"", NULL },
		{ "\"\"", NULL },
	};
	char doc[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(doc, sizeof(doc),
			 "listeners: [{address: 127.0.0.1, advertise: %s}]\n" POOL,
			 cases[i].advertise);
		if (cases[i].want) {
			cr_expect_eq(parse(doc), 0, "%s: %s", cases[i].advertise, err);
			cr_expect_str_eq(cfg.listeners[0].advertise, cases[i].want);
		} else {
			cr_expect_eq(parse(doc), -EINVAL, "%s accepted", cases[i].advertise);
			cr_expect(strstr(err, "listeners[0].advertise:") != NULL, "%s", err);
		}
	}
}

Test(config_parse, integer_forms)
{
	static const struct {
		const char *port;
		int rc;
		uint16_t want;
	} cases[] = {
		{ "5070", 0, 5070 },	  { "'5070'", 0, 5070 },  { "05070", 0, 5070 },
		{ "1", 0, 1 },		  { "65535", 0, 65535 },  { "0", -EINVAL, 0 },
		{ "65536", -EINVAL, 0 },  { "-5", -EINVAL, 0 },	  { "+5", -EINVAL, 0 },
		{ "5070.0", -EINVAL, 0 }, { "1e3", -EINVAL, 0 },  { "0x10", -EINVAL, 0 },
		{ "\" 5\"", -EINVAL, 0 }, { "\"\"", -EINVAL, 0 }, { "null", -EINVAL, 0 },
		{ "99999999999999999999", -EINVAL, 0 },
	};
	char doc[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(doc, sizeof(doc),
			 "listeners: [{address: 127.0.0.1}]\n"
			 "pool: {name: p, members: [{host: 127.0.0.1, port: %s}]}\n",
			 cases[i].port);
		cr_expect_eq(parse(doc), cases[i].rc, "port %s: %s", cases[i].port, err);
		if (cases[i].rc == 0) {
			const struct sockaddr_in *sin = (const void *)&cfg.pools[0].members[0].addr;

			cr_expect_eq(ntohs(sin->sin_port), cases[i].want, "port %s", cases[i].port);
		} else {
			cr_expect(strstr(err, "pool.members[0].port:") != NULL, "%s", err);
		}
	}
}

Test(config_parse, table_size_bounds)
{
	static const struct {
		const char *size;
		int rc;
	} cases[] = {
		{ "2", 0 },	    { "3", 0 },		 { "1000003", 0 }, { "65537", 0 },
		{ "1", -EINVAL }, { "0", -EINVAL }, { "4", -EINVAL }, { "1000001", -EINVAL },
	};
	char doc[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(doc, sizeof(doc),
			 "listeners: [{address: 127.0.0.1}]\n"
			 "pool: {name: p, table_size: %s, members: [{host: 127.0.0.1}]}\n",
			 cases[i].size);
		cr_expect_eq(parse(doc), cases[i].rc, "table_size %s: %s", cases[i].size, err);
		if (cases[i].rc)
			cr_expect(strstr(err, "pool.table_size:") != NULL, "%s", err);
	}
}

Test(config_parse, workers_zero_means_online_cores)
{
	cr_assert_eq(parse("workers: 0\nlisteners: [{address: 127.0.0.1}]\n" POOL), 0, "%s", err);
	cr_assert_eq(cfg.workers, expected_workers());
	cr_assert_eq(parse("workers: 256\nlisteners: [{address: 127.0.0.1}]\n" POOL), 0, "%s",
		     err);
	cr_assert_eq(cfg.workers, 256);
}

Test(config_parse, limits_bounds)
{
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL
			   "limits: {max_message_size: 512, max_headers: 256, max_vias: 1}\n"),
		     0, "%s", err);
	cr_assert_eq(cfg.limits.max_message_size, 512);
	cr_assert_eq(cfg.limits.max_headers, VD_CFG_MAX_HEADERS_CEIL);
	cr_assert_eq(cfg.limits.max_vias, 1);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL
			   "limits: {max_message_size: 65508}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "limits.max_message_size: 65508 is out of range 512..65507"), "%s",
		  err);
}

Test(config_parse, error_is_one_line)
{
	/* A quoted newline in a value must not split the message. */
	cr_assert_eq(parse("listeners: [{address: \"bad\\naddr\"}]\n" POOL), -EINVAL);
	cr_assert(strchr(err, '\n') == NULL, "%s", err);
	cr_assert(strstr(err, "listeners[0].address: \"bad addr\"") != NULL, "%s", err);
	/* libcyaml's multi-line backtrace is folded into one line too. */
	cr_assert_eq(parse("listeners:\n  - address: 127.0.0.1\n    port: [1]\n" POOL), -EINVAL);
	cr_assert(strchr(err, '\n') == NULL, "%s", err);
	cr_assert(strstr(err, "mem.yaml: listeners[0].port: expected a single value") != NULL, "%s",
		  err);
}

Test(config_parse, small_or_missing_error_buffer)
{
	char tiny[8];
	const char *doc = "batch: 0\nlisteners: [{address: 127.0.0.1}]\n" POOL;

	cr_assert_eq(vd_config_parse(doc, strlen(doc), "mem.yaml", &cfg, tiny, sizeof(tiny)),
		     -EINVAL);
	cr_assert_str_eq(tiny, "mem.yam");
	cr_assert_eq(vd_config_parse(doc, strlen(doc), "mem.yaml", &cfg, NULL, 0), -EINVAL);
	cr_assert_eq(vd_config_parse(doc, strlen(doc), NULL, &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strncmp(err, "config: batch:", 14) == 0, "%s", err);
}

Test(config_parse, length_is_respected)
{
	/* Only the first document's bytes count: the junk after len is never read. */
	const char *doc = "listeners: [{address: 127.0.0.1}]\n" POOL "junk: [";
	size_t len = strlen(doc) - strlen("junk: [");

	cr_assert_eq(vd_config_parse(doc, len, "mem.yaml", &cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config_parse, too_many_members)
{
	static char doc[VD_CFG_MAX_MEMBERS * 40 + 256];
	size_t n;

	n = (size_t)snprintf(doc, sizeof(doc),
			     "listeners: [{address: 127.0.0.1}]\npool:\n  name: p\n  members:\n");
	for (unsigned i = 0; i <= VD_CFG_MAX_MEMBERS; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "    - {host: 10.0.%u.%u}\n",
				      i / 250, i % 250 + 1);
	cr_assert_eq(parse(doc), -EINVAL);
	cr_assert(strstr(err, "pool.members: 257 members, at most 256 are allowed"), "%s", err);
}

Test(config_parse, max_members_accepted)
{
	static char doc[VD_CFG_MAX_MEMBERS * 40 + 256];
	size_t n;

	n = (size_t)snprintf(doc, sizeof(doc),
			     "listeners: [{address: 127.0.0.1}]\npool:\n  name: p\n  members:\n");
	for (unsigned i = 0; i < VD_CFG_MAX_MEMBERS; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "    - {host: 10.0.%u.%u}\n",
				      i / 250, i % 250 + 1);
	cr_assert_eq(parse(doc), 0, "%s", err);
	cr_assert_eq(cfg.pools[0].n_members, VD_CFG_MAX_MEMBERS);
	assert_v4(&cfg.pools[0].members[255].addr, cfg.pools[0].members[255].addrlen, "10.0.1.6", 5060);
}

Test(config, hash_key_names)
{
	cr_assert_str_eq(vd_hash_key_name(VD_HASH_CALL_ID), "call-id");
	cr_assert_str_eq(vd_hash_key_name(VD_HASH_SOURCE_IP), "source-ip");
}

/* ---- the dpdk: section ---- */

#define DPDK_BASE                                                                          \
	"listeners:\n  - {address: 10.200.0.2, port: 5060}\n"                              \
	"pool: {name: p, members: [{host: 10.200.0.3, port: 5070}]}\n"

Test(config_parse, dpdk_absent_means_kernel_datapath)
{
	cr_assert_eq(parse(DPDK_BASE), 0, "%s", err);
	cr_expect_not(cfg.dpdk.enabled);
	cr_expect_eq(cfg.dpdk.n_eal, 0);
	cr_expect_eq(cfg.dpdk.n_networks, 0);
	cr_expect_eq(cfg.dpdk.gateway4.sa.sa_family, 0);
}

Test(config_parse, dpdk_every_field)
{
	cr_assert_eq(parse(DPDK_BASE
			   "dpdk:\n"
			   "  eal: [\"-l\", \"0-1\", \"--no-huge\", \"--vdev=net_tap0,iface=vd0\"]\n"
			   "  port: net_tap0\n  exception: net_tap1\n"
			   "  mbufs: 16383\n  rx_desc: 512\n  tx_desc: 2048\n"
			   "  networks: [10.200.0.0/24, \"fd00:200::/64\", 10.9.8.7/8]\n"
			   "  gateway: 10.200.0.1\n  gateway6: \"fd00:200::1\"\n"),
		     0, "%s", err);
	const struct vd_cfg_dpdk *d = &cfg.dpdk;
	cr_expect(d->enabled);
	cr_assert_eq(d->n_eal, 4);
	cr_expect_str_eq(d->eal[1], "0-1");
	cr_expect_str_eq(d->eal[3], "--vdev=net_tap0,iface=vd0");
	cr_expect_str_eq(d->port, "net_tap0");
	cr_expect_str_eq(d->exception, "net_tap1");
	cr_expect_eq(d->mbufs, 16383);
	cr_expect_eq(d->rx_desc, 512);
	cr_expect_eq(d->tx_desc, 2048);
	cr_assert_eq(d->n_networks, 3);
	cr_expect_eq(d->networks[0].family, AF_INET);
	cr_expect_eq(d->networks[0].bits, 24);
	cr_expect_eq(d->networks[1].family, AF_INET6);
	cr_expect_eq(d->networks[1].bits, 64);
	cr_expect_eq(d->networks[1].addr[0], 0xfd);
	/* host bits are cleared: 10.9.8.7/8 is 10.0.0.0/8 */
	cr_expect_eq(d->networks[2].addr[0], 10);
	cr_expect_eq(d->networks[2].addr[1], 0);
	const struct sockaddr_in *g4 = (const struct sockaddr_in *)&d->gateway4;
	const struct sockaddr_in6 *g6 = (const struct sockaddr_in6 *)&d->gateway6;
	cr_expect_eq(g4->sin_family, AF_INET);
	cr_expect_eq(g4->sin_addr.s_addr, htonl(0x0ac80001));
	cr_expect_eq(g6->sin6_family, AF_INET6);
	cr_expect_eq(g6->sin6_addr.s6_addr[15], 1);
}

Test(config_parse, dpdk_empty_section_and_disabled)
{
	cr_assert_eq(parse(DPDK_BASE "dpdk: {}\n"), 0, "%s", err);
	cr_expect(cfg.dpdk.enabled, "an empty dpdk: section selects the DPDK datapath");
	cr_assert_eq(parse(DPDK_BASE "dpdk: {enabled: false, eal: [\"-l\", \"0\"]}\n"), 0, "%s",
		     err);
	cr_expect_not(cfg.dpdk.enabled);
	cr_expect_eq(cfg.dpdk.n_eal, 2, "kept for a later --dpdk run");
}

Test(config_parse, dpdk_bad_values_name_the_field)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{"dpdk: {enabled: maybe}\n", "dpdk.enabled: \"maybe\" is not true or false"},
		{"dpdk: {gateway: \"fd00::1\"}\n", "dpdk.gateway: \"fd00::1\" is not a numeric IPv4"},
		{"dpdk: {gateway6: 10.0.0.1}\n", "dpdk.gateway6: \"10.0.0.1\" is not a numeric IPv6"},
		{"dpdk: {networks: [10.0.0.0/33]}\n", "dpdk.networks: \"10.0.0.0/33\" is not a prefix"},
		{"dpdk: {networks: [lan]}\n", "dpdk.networks: \"lan\" is not a prefix"},
		{"dpdk: {mbufs: 100}\n", "dpdk.mbufs: 100 is too few"},
		{"dpdk: {rx_desc: 8}\n", "dpdk.rx_desc: 8 is too few"},
		{"dpdk: {tx_desc: 40000}\n", "dpdk.tx_desc: 40000 is out of range"},
		{"dpdk: {port: \"net tap\"}\n", "dpdk.port: \"net tap\" is not a DPDK device name"},
		{"dpdk: {port: net_tap0, exception: net_tap0}\n",
		 "dpdk.exception: \"net_tap0\" is also the data port"},
		{"dpdk: {eal: \"-l 0\"}\n", "dpdk.eal: expected a list"},
		{"dpdk: {lcores: 2}\n", "dpdk.lcores: unknown key"},
	};
	char doc[1024];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "%s%s", DPDK_BASE, bad[i].yaml);
		cr_expect_eq(parse(doc), -EINVAL, "accepted: %s", bad[i].yaml);
		cr_expect(strstr(err, bad[i].want) != NULL, "%s  got  %s\n  want %s", bad[i].yaml,
			  err, bad[i].want);
	}
}

Test(config_parse, dpdk_too_many_networks)
{
	char doc[2048];
	int n = snprintf(doc, sizeof(doc), "%sdpdk:\n  networks:\n", DPDK_BASE);
	for (int i = 0; i <= VD_CFG_DPDK_MAX_NETS; i++)
		n += snprintf(doc + n, sizeof(doc) - (size_t)n, "    - 10.%d.0.0/16\n", i);
	cr_expect_eq(parse(doc), -EINVAL);
	cr_expect(strstr(err, "dpdk.networks: 17 prefixes, at most 16") != NULL, "%s", err);
}

Test(config_parse, policy_keys_and_their_defaults)
{
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL), 0, "%s", err);
	cr_expect_str_eq(cfg.policy.server_header, "viaduct");
	cr_expect_eq(cfg.policy.n_proxy_require, 0);
	cr_expect_eq(cfg.policy.n_trusted, 0);
	cr_expect_eq(cfg.policy.untrusted_route, VD_UNTRUSTED_TO_POOL);
	cr_expect_eq(cfg.limits.max_vias, 70, "a 20+ Via path is legitimate (RFC 3261 8.1.1.6)");
	vd_config_free(&cfg);

	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL
			   "proxy_require: [sec-agree, path]\nserver_header: ''\n"
			   "trusted_next_hops: [192.0.2.0/24, '2001:db8::1', localhost]\n"
			   "untrusted_route: reject\n"),
		     0, "%s", err);
	cr_expect_eq(cfg.policy.n_proxy_require, 2);
	cr_expect_str_eq(cfg.policy.proxy_require[1], "path");
	cr_expect_str_eq(cfg.policy.server_header, "", "empty: no Server header");
	cr_expect_geq(cfg.policy.n_trusted, 3, "a name adds each of its addresses");
	cr_expect_eq(cfg.policy.trusted[0].bits, 24);
	cr_expect_eq(cfg.policy.trusted[1].bits, 128);
	cr_expect_eq(cfg.policy.untrusted_route, VD_UNTRUSTED_REJECT);
	vd_config_free(&cfg);

	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{ "proxy_require: ['sec agree']\n", "proxy_require: \"sec agree\" is not an option tag" },
		{ "untrusted_route: relay\n", "untrusted_route: \"relay\" is not pool or reject" },
		{ "trusted_next_hops: [no-such-host.invalid]\n",
		  "trusted_next_hops: \"no-such-host.invalid\" is not a prefix or an address" },
		{ "server_header: \"a\\tb\"\n", "server_header: control character at 1" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char doc[512];
		snprintf(doc, sizeof(doc), "listeners: [{address: 127.0.0.1}]\n" POOL "%s",
			 bad[i].yaml);
		cr_expect_eq(parse(doc), -EINVAL, "case %zu", i);
		cr_expect(strstr(err, bad[i].want), "case %zu: %s", i, err);
	}
}

Test(config_parse, branch_key_is_shared_when_configured_and_kept_across_loads_when_not)
{
	uint8_t a[16], b[16], c[16];
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL), 0, "%s", err);
	memcpy(a, cfg.policy.branch_key, 16);
	vd_config_free(&cfg);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL), 0, "%s", err);
	cr_expect(memcmp(a, cfg.policy.branch_key, 16) == 0, "a reload keeps the process's key");
	static const uint8_t zero[16];
	cr_expect(memcmp(a, zero, 16) != 0, "a random key, not zeroes");
	vd_config_free(&cfg);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL
			   "branch_key: a shared secret of ours\n"),
		     0, "%s", err);
	memcpy(b, cfg.policy.branch_key, 16);
	vd_config_free(&cfg);
	vd_branch_key_derive("a shared secret of ours", c);
	cr_expect(memcmp(b, c, 16) == 0, "every instance derives the same key from the text");
	cr_expect(memcmp(a, b, 16) != 0);
	cr_expect_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL "branch_key: short\n"),
		     -EINVAL);
	cr_expect(strstr(err, "branch_key: 5 characters, at least 16"), "%s", err);
}

/* Transports: a UDP and a TCP listener share address and port; pools and members choose
 * theirs (a member inherits its pool's); the tcp: limits have safe defaults and bounds. */
Test(config, transports_and_tcp_limits)
{
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}, {address: 127.0.0.1, transport: tcp}]\n"
			   "pools: [{name: p, transport: tcp, udp_max_bytes: 1300,\n"
			   "  members: [{host: 127.0.0.2}, {host: 127.0.0.3, transport: udp}]}]\n"
			   "tcp: {max_connections: 500, header_timeout_ms: 250}\n"),
		     0, "%s", err);
	cr_assert_eq(cfg.listeners[0].transport, VD_TP_UDP);
	cr_assert_eq(cfg.listeners[1].transport, VD_TP_TCP);
	cr_assert_eq(cfg.pools[0].transport, VD_TP_TCP);
	cr_assert_eq(cfg.pools[0].udp_max_bytes, 1300);
	cr_assert_eq(cfg.pools[0].members[0].transport, VD_TP_TCP);
	cr_assert_eq(cfg.pools[0].members[1].transport, VD_TP_UDP);
	cr_assert_eq(cfg.tcp.max_connections, 500);
	cr_assert_eq(cfg.tcp.header_timeout_ms, 250);
	cr_assert_eq(cfg.tcp.max_connections_per_ip, VD_CFG_DEFAULT_TCP_MAX_PER_IP);
	cr_assert_eq(cfg.tcp.idle_timeout_ms, VD_CFG_DEFAULT_TCP_IDLE_TIMEOUT_MS);
	cr_assert_eq(cfg.tcp.write_queue_bytes, VD_CFG_DEFAULT_TCP_WRITE_QUEUE);
	vd_config_free(&cfg);

	cr_assert_eq(parse("listeners: [{address: 127.0.0.1, transport: sctp}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.2}]}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "listeners[0].transport: \"sctp\" is not one of udp, tcp"), "%s", err);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.2, transport: ws}]}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "pool.members[0].transport:"), "%s", err);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.2}]}\n"
			   "tcp: {write_queue_bytes: 10}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "tcp.write_queue_bytes: 10 is out of range"), "%s", err);
}
