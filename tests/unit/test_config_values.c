/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests for the YAML config loader on documents in memory: how values are written (IPv6
 * quoted or not, advertise forms, integers) and their bounds (table size, workers, limits,
 * members), one-line errors, small or missing error buffers, the length given, hash key names.
 * Shared helpers: tests/support/config_fixture.h.
 */
#include "config_fixture.h"

/* ---- in-memory documents ---- */

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

