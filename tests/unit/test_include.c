/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Config includes and Kamailio dispatcher.list import (tests/config/include/): pools from
 * globs and nested includes in order, the files list that reload watches, members of one
 * dispatcher set with weights and priority groups, and errors that name file, line and key.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viaduct/config_file.h"

#define DIR VD_SOURCE_ROOT "/tests/config/include/"

static struct vd_config cfg;
static char err[768];

__attribute__((destructor)) static void free_cfg(void)
{
	vd_config_free(&cfg);
}

static int port_of(const struct vd_cfg_member *m)
{
	const struct sockaddr_in *a = (const void *)&m->addr;
	const struct sockaddr_in6 *a6 = (const void *)&m->addr;
	return ntohs(m->addr.sa.sa_family == AF_INET6 ? a6->sin6_port : a->sin_port);
}

Test(include, pools_from_globs_nested_includes_and_a_dispatcher_list)
{
	cr_assert_eq(vd_config_load(DIR "main.yaml", &cfg, err, sizeof(err)), 0, "%s", err);
	static const char *const names[] = { "default", "a", "b", "c", "ds" };
	cr_assert_eq(cfg.n_pools, 5);
	for (unsigned i = 0; i < 5; i++)
		cr_expect_str_eq(cfg.pools[i].name, names[i], "pool %u", i);
	cr_expect_eq(cfg.pools[2].hash, VD_HASH_SOURCE_IP);
	cr_expect_eq(port_of(&cfg.pools[3].members[0]), 5073, "nested include, relative path");
	/* every file is listed for the reload watch, main first, the dispatcher.list too */
	cr_expect_eq(cfg.n_files, 6);
	bool ds = false;
	for (unsigned i = 0; i < cfg.n_files; i++)
		ds |= strstr(cfg.files[i], "include/dispatcher.list") != NULL;
	cr_expect(ds, "the dispatcher.list is watched");
	cr_expect(strstr(cfg.files[0], "main.yaml"));
	cr_expect(strstr(cfg.files[1], "pools/a.yaml"));
	cr_expect(strstr(cfg.files[3], "nested.yaml"));
}

Test(include, dispatcher_set_weights_and_priority_groups)
{
	cr_assert_eq(vd_config_load(DIR "main.yaml", &cfg, err, sizeof(err)), 0, "%s", err);
	const struct vd_cfg_pool *ds = &cfg.pools[4];
	cr_assert_eq(ds->n_members, 3, "only set 2");
	cr_expect_eq(port_of(&ds->members[0]), 5080);
	cr_expect_eq(ds->members[0].weight, 50);
	cr_expect_eq(ds->members[0].priority, 0, "Kamailio priority 10: the first group");
	cr_expect_eq(port_of(&ds->members[1]), 5081, "URI parameters are ignored");
	cr_expect_eq(ds->members[2].addr.sa.sa_family, AF_INET6);
	cr_expect_eq(port_of(&ds->members[2]), 5082);
	cr_expect_eq(ds->members[2].weight, 1, "no weight= attribute: 1");
	cr_expect_eq(ds->members[2].priority, 5, "Kamailio priority 5: five groups later");
}

/* Every process-wide key in an included file is an error, not silently ignored. */
Test(include, process_wide_keys_only_in_the_main_file)
{
	static const char *const keys[] = {
		"log_level: debug",
		"tcp: {max_connections: 10}",
		"tls_client: {ca: ca.pem}",
		"workers: 1",
		"admin: {address: 127.0.0.1, port: 8080}",
		"hep: {address: 127.0.0.1}",
	};
	char dir[] = "/tmp/vd-include-XXXXXX", main_path[64], inc_path[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(main_path, sizeof(main_path), "%s/main.yaml", dir);
	snprintf(inc_path, sizeof(inc_path), "%s/inc.yaml", dir);
	FILE *f = fopen(main_path, "w");
	cr_assert_not_null(f);
	fprintf(f, "listeners: [{address: 127.0.0.1}]\npool: {name: x, members: [{host: "
		   "127.0.0.1}]}\ninclude: [inc.yaml]\n");
	fclose(f);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char key[32];
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(keys[i], ":"), keys[i]);
		f = fopen(inc_path, "w");
		cr_assert_not_null(f);
		fprintf(f, "%s\n", keys[i]);
		fclose(f);
		cr_expect_eq(vd_config_load(main_path, &cfg, err, sizeof(err)), -EINVAL, "%s", key);
		cr_expect(strstr(err, "inc.yaml") && strstr(err, key) &&
				  strstr(err, "may only be set in the main config file"),
			  "%s: %s", key, err);
	}
	unlink(inc_path);
	unlink(main_path);
	rmdir(dir);
}

Test(include, errors_name_the_file_the_line_and_the_key)
{
	static const struct {
		const char *file, *want;
	} bad[] = {
		{ "bad/listeners-in-include.yaml",
		  "has-listeners.yaml: listeners: may only be set in the main config file" },
		{ "bad/cycle.yaml", "is included twice (or includes itself)" },
		{ "bad/missing.yaml", "include[0]: " },
		{ "bad/ds-bad-line.yaml", "bad.list:2: destination \"http://example.com\" is not a "
					  "sip:host[:port] URI" },
		{ "bad/ds-empty-set.yaml", "pool.setid: " },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[512];
		snprintf(path, sizeof(path), DIR "%s", bad[i].file);
		cr_expect_eq(vd_config_load(path, &cfg, err, sizeof(err)), -EINVAL, "%s",
			     bad[i].file);
		cr_expect(strstr(err, bad[i].want), "%s: %s", bad[i].file, err);
	}
}
