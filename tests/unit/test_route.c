/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing snapshots made for member changes (src/route/route.c): nothing compiled again, the
 * config, the rules database and every unchanged pool shared by reference with the snapshot
 * they came from, only the changed pools copied; several changes in one snapshot; the
 * snapshot they came from untouched; every snapshot freed in any order (ASan in the suite
 * checks double frees and leaks).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viaduct/config_file.h"
#include "viaduct/route.h"

static struct vd_route *build(void)
{
	static const char yaml[] =
		"workers: 2\n"
		"listeners: [{address: 127.0.0.1, port: 25590}]\n"
		"pools:\n"
		"  - {name: a, members: [{host: 127.0.0.1, port: 5071}, {host: 127.0.0.1, port: 5072},"
		" {host: 127.0.0.1, port: 5073}]}\n"
		"  - {name: b, members: [{host: 127.0.0.1, port: 5081}, {host: 127.0.0.1, port: 5082}]}\n"
		"rules:\n"
		"  - {name: to-b, ruri: '^sip:\\+1', route: b}\n";
	char err[512];
	struct vd_config cfg;
	cr_assert_eq(vd_config_parse(yaml, sizeof(yaml) - 1, "route.yaml", &cfg, err, sizeof(err)),
		     0, "%s", err);
	struct vd_route *r = vd_route_build(&cfg, NULL, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	return r;
}

Test(route, a_member_change_shares_everything_but_the_changed_pool)
{
	struct vd_route *r1 = build();
	char err[256];
	struct vd_route *r2 = vd_route_with_member(r1, 0, 1, false, false, err, sizeof(err));
	cr_assert_not_null(r2, "%s", err);
	/* compiled once, shared: the rules database and its scratch, the config */
	cr_expect_eq(r2->px.rules, r1->px.rules);
	cr_expect_eq(r2->px.rules_scratch, r1->px.rules_scratch);
	cr_expect_eq(r2->cfg.pools, r1->cfg.pools);
	cr_expect_eq(r2->cfg.rules, r1->cfg.rules);
	/* the unchanged pool's tables shared, the changed pool's own */
	cr_expect_eq(r2->px.pools[1].groups, r1->px.pools[1].groups);
	cr_expect_neq(r2->px.pools[0].groups, r1->px.pools[0].groups);
	cr_expect_neq(r2->px.pools[0].up, r1->px.pools[0].up);
	/* the new state in the new snapshot only */
	cr_expect_not(r2->px.pools[0].up[1]);
	cr_expect(r1->px.pools[0].up[1], "the snapshot it came from is untouched");
	for (uint32_t i = 0; i < r2->px.pools[0].table_size; i++)
		cr_assert_neq(r2->px.pools[0].groups[0].fresh.entries[i], 1,
			      "the member that is down has no entry");
	/* a snapshot from a snapshot: still shared; freed in any order */
	struct vd_route *r3 = vd_route_with_member(r2, 1, 0, true, true, err, sizeof(err));
	cr_assert_not_null(r3, "%s", err);
	cr_expect_eq(r3->px.rules, r1->px.rules);
	cr_expect_eq(r3->px.pools[0].groups, r2->px.pools[0].groups);
	cr_expect(r3->px.pools[1].drained[0]);
	vd_route_free(r1);
	vd_route_free(r3);
	cr_expect_not(r2->px.pools[0].up[1], "r2 still whole after r1 and r3 are gone");
	vd_route_free(r2);
}

Test(route, several_changes_make_one_snapshot)
{
	struct vd_route *r1 = build();
	char err[256];
	const struct vd_member_change ch[] = {
		{ 0, 0, false, false, NULL }, { 0, 2, false, false, NULL },
		{ 1, 1, false, false, NULL },
	};
	struct vd_route *r2 = vd_route_with_members(r1, ch, 3, err, sizeof(err));
	cr_assert_not_null(r2, "%s", err);
	cr_expect_not(r2->px.pools[0].up[0]);
	cr_expect(r2->px.pools[0].up[1]);
	cr_expect_not(r2->px.pools[0].up[2]);
	cr_expect_not(r2->px.pools[1].up[1]);
	cr_expect_eq(r2->px.rules, r1->px.rules);
	/* every entry of pool a is its one member left up */
	for (uint32_t i = 0; i < r2->px.pools[0].table_size; i++)
		cr_assert_eq(r2->px.pools[0].groups[0].fresh.entries[i], 1);
	/* an index out of range: refused, nothing published */
	const struct vd_member_change bad = { 0, 9, false, false, NULL };
	cr_expect_null(vd_route_with_members(r1, &bad, 1, err, sizeof(err)));
	vd_route_free(r2);
	vd_route_free(r1);
}

/* A snapshot of yaml built after prev (a reload), or NULL with the reason in err. */
static struct vd_route *reload(const char *yaml, const struct vd_route *prev, char *err,
			       size_t errlen)
{
	struct vd_config cfg;
	cr_assert_eq(vd_config_parse(yaml, strlen(yaml), "hep.yaml", &cfg, err, errlen), 0, "%s",
		     err);
	return vd_route_build(&cfg, prev, err, errlen);
}

Test(route, hep_values_reload_its_presence_needs_a_restart)
{
#define HEP_BASE "listeners: [{address: 127.0.0.1, port: 25591}]\n" \
		 "pool: {name: a, members: [{host: 127.0.0.1, port: 5071}]}\n"
	char err[512];
	struct vd_route *r1 = reload(HEP_BASE "hep: {address: 127.0.0.1, id: 7, password: pw}\n",
				     NULL, err, sizeof(err));
	cr_assert_not_null(r1, "%s", err);
	cr_expect(r1->hep.enabled);
	cr_expect_eq(r1->hep.capture_id, 7);
	cr_expect_eq(r1->hep.sample, 100);
	cr_expect_eq(r1->hep.auth_len, 2);
	cr_expect_eq(memcmp(r1->hep.auth, "pw", 2), 0);
	/* every value reloads, the collector's family too */
	struct vd_route *r2 = reload(HEP_BASE "hep: {address: \"::1\", port: 9999, id: 8, "
					      "sample: 25}\n",
				     r1, err, sizeof(err));
	cr_assert_not_null(r2, "%s", err);
	cr_expect_eq(r2->hep.collector.sa.sa_family, AF_INET6);
	cr_expect_eq(r2->hep.capture_id, 8);
	cr_expect_eq(r2->hep.sample, 25);
	cr_expect_eq(r2->hep.auth_len, 0);
	/* a member change keeps them */
	struct vd_route *r3 = vd_route_with_member(r2, 0, 0, false, false, err, sizeof(err));
	cr_assert_not_null(r3, "%s", err);
	cr_expect_eq(r3->hep.sample, 25);
	cr_expect_eq(memcmp(&r3->hep, &r2->hep, sizeof(r2->hep)), 0);
	/* removing the section (or adding one) is refused: the workers' buffers are set at start */
	cr_expect_null(reload(HEP_BASE, r2, err, sizeof(err)));
	cr_expect(strstr(err, "hep (the section added or removed) changed: a restart is needed"),
		  "%s", err);
	struct vd_route *plain = reload(HEP_BASE, NULL, err, sizeof(err));
	cr_assert_not_null(plain, "%s", err);
	cr_expect_null(reload(HEP_BASE "hep: {address: 127.0.0.1}\n", plain, err, sizeof(err)));
	vd_route_free(plain);
	vd_route_free(r3);
	vd_route_free(r2);
	vd_route_free(r1);
#undef HEP_BASE
}
