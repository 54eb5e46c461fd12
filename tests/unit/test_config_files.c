/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests for the YAML config loader on files: the shipped example, every default, every field
 * set, the conversions (ports in network order, IPv6 advertise in brackets, names resolved),
 * each bad config under tests/config/ rejected with a one-line error naming the offending
 * field, duplicates, and files that cannot be read. Shared helpers:
 * tests/support/config_fixture.h.
 */
#include "config_fixture.h"

#include <glob.h>

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
