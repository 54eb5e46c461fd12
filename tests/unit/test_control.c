/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane without a datapath (src/ctl/control*.c): building a snapshot from a
 * config file, reloads (a good file publishes, a bad one keeps the running snapshot),
 * member changes (drain, undrain, unknown members), and health changes found in one loop
 * iteration published together. The control state is one struct (vd_ctl), set up by
 * vd_control_init over a datapath view that has no workers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control_internal.h"
#include "viaduct/config_file.h"
#include "viaduct/control.h"
#include "viaduct/route.h"

static char path[64];

static const char base_yaml[] =
	"workers: 1\n"
	"listeners: [{address: 127.0.0.1, port: 25690}]\n"
	"pools:\n"
	"  - {name: a, transport: tcp, members: [{host: 127.0.0.1, port: 25691},"
	" {host: 127.0.0.1, port: 25692}, {host: 127.0.0.1, port: 25693},"
	" {host: 127.0.0.1, port: 25694}]}\n"
	"  - {name: b, members: [{host: 127.0.0.1, port: 25695}]}\n"
	"health: {interval_ms: 60000, timeout_ms: 500, down_after: 2, up_after: 1}\n";

static unsigned no_workers(const void *dp)
{
	(void)dp;
	return 0;
}

static const struct vd_dp_view view = { .name = "none", .workers = no_workers,
					.member_events_fd = -1 };

static void write_config(const char *yaml)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(yaml, f);
	cr_assert_eq(fclose(f), 0);
}

/* The published snapshot from base_yaml, the control plane set up over it. */
static void setup(void)
{
	char err[768];
	snprintf(path, sizeof(path), "/tmp/test_control.%d.yaml", (int)getpid());
	write_config(base_yaml);
	struct vd_route *r = vd_control_build(path, NULL, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	vd_route_publish(r);
	cr_assert_eq(vd_control_init(path, &view), 0);
	memset(&vd_control_stats, 0, sizeof(vd_control_stats));
}

static void teardown(void)
{
	vd_control_fini();
	unlink(path);
}

TestSuite(control, .init = setup, .fini = teardown);

Test(control, build_names_the_file_and_the_field)
{
	char err[768];
	write_config("listeners: [{address: 127.0.0.1, port: 70000}]\n"
		     "pool: {name: p, members: [{host: 127.0.0.1}]}\n");
	cr_assert_null(vd_control_build(path, NULL, err, sizeof(err)));
	cr_expect(strstr(err, path) && strstr(err, "port"), "%s", err);
}

Test(control, build_refuses_a_change_that_needs_a_restart)
{
	char err[768], yaml[sizeof(base_yaml) + 16];
	snprintf(yaml, sizeof(yaml), "%s", base_yaml);
	memcpy(strstr(yaml, "25690"), "25699", 5); /* another listener port */
	write_config(yaml);
	cr_assert_null(vd_control_build(path, vd_route_published, err, sizeof(err)));
	cr_expect(strncmp(err, path, strlen(path)) == 0 && strstr(err, "restart"), "%s", err);
}

Test(control, a_good_reload_publishes_a_bad_one_keeps_the_running_snapshot)
{
	char msg[768];
	uint64_t v = vd_route_published->version;
	write_config("workers: 1\n"
		     "listeners: [{address: 127.0.0.1, port: 25690}]\n"
		     "pools:\n"
		     "  - {name: a, transport: tcp, members: [{host: 127.0.0.1, port: 25691}]}\n"
		     "  - {name: c, members: [{host: 127.0.0.1, port: 25696}]}\n");
	cr_assert_eq(vd_control_reload("test", msg, sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(vd_route_published->version, v + 1);
	cr_expect_eq(vd_route_published->px.n_pools, 2);
	cr_expect_str_eq(vd_route_published->px.pools[1].name, "c");
	cr_expect_eq(vd_control_stats.reloads, 1);

	write_config("pools: [{name: a, members: [{host: 127.0.0.1}]}]\n"); /* no listener */
	cr_assert_eq(vd_control_reload("test", msg, sizeof(msg)), -EINVAL);
	cr_expect(strstr(msg, path), "the reason names the file: %s", msg);
	cr_expect_eq(vd_route_published->version, v + 1, "the running snapshot keeps serving");
	cr_expect_str_eq(vd_route_published->px.pools[1].name, "c");
	cr_expect_eq(vd_control_stats.reloads_failed, 1);
}

/* What is started once (the prober's timing, TCP limits, the admin socket, the per-source
 * table) is kept by a reload, which publishes the rest and says which key needs a restart. */
Test(control, a_reload_names_a_start_only_change_it_cannot_apply)
{
	static const struct {
		const char *extra, *key;
	} cases[] = {
		{ "", "health" }, /* the section removed */
		{ "health: {interval_ms: 1000, timeout_ms: 500, down_after: 2, up_after: 1}\n",
		  "health" },
		{ "health: {interval_ms: 60000, timeout_ms: 500, down_after: 2, up_after: 1}\n"
		  "tcp: {idle_timeout_ms: 1000}\n",
		  "tcp" },
		{ "health: {interval_ms: 60000, timeout_ms: 500, down_after: 2, up_after: 1}\n"
		  "admin: {address: 127.0.0.1, port: 25697}\n",
		  "admin" },
		{ "health: {interval_ms: 60000, timeout_ms: 500, down_after: 2, up_after: 1}\n"
		  "rate_limit: {sources: 1024}\n",
		  "rate_limit.sources" },
	};
	const char *head = "workers: 1\n"
			   "listeners: [{address: 127.0.0.1, port: 25690}]\n"
			   "pools: [{name: a, members: [{host: 127.0.0.1, port: 25691}]}]\n";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[512], msg[768], want[64];
		uint64_t v = vd_route_published->version;
		snprintf(yaml, sizeof(yaml), "%s%s", head, cases[i].extra);
		write_config(yaml);
		cr_assert_eq(vd_control_reload("test", msg, sizeof(msg)), 0, "%s", msg);
		cr_expect_eq(vd_route_published->version, v + 1, "%s: published", cases[i].key);
		snprintf(want, sizeof(want), "(%s changed: needs a restart", cases[i].key);
		cr_expect(strstr(msg, want), "%s: %s", cases[i].key, msg);
		write_config(base_yaml); /* back to what was started */
		cr_assert_eq(vd_control_reload("test", msg, sizeof(msg)), 0, "%s", msg);
		cr_expect_null(strstr(msg, "restart"), "%s", msg);
	}
}

Test(control, drain_undrain_and_unknown_members)
{
	char msg[256];
	uint64_t v = vd_route_published->version;
	cr_assert_eq(vd_control_member(0, 2, -1, 1, "test", msg, sizeof(msg)), 0, "%s", msg);
	cr_expect(vd_route_published->px.pools[0].drained[2]);
	cr_expect(vd_route_published->px.pools[0].up[2], "draining leaves health alone");
	cr_expect_eq(vd_route_published->version, v + 1);
	cr_expect_str_eq(msg, "a/127.0.0.1:25693 drained");

	cr_assert_eq(vd_control_member(0, 2, -1, 1, "test", msg, sizeof(msg)), 0);
	cr_expect_str_eq(msg, "unchanged");
	cr_expect_eq(vd_route_published->version, v + 1, "nothing changed: nothing published");

	cr_assert_eq(vd_control_member(0, 2, -1, 0, "test", msg, sizeof(msg)), 0);
	cr_expect_not(vd_route_published->px.pools[0].drained[2]);
	cr_expect_eq(vd_control_stats.member_changes, 2);

	cr_expect_eq(vd_control_member(0, 4, -1, 1, "test", msg, sizeof(msg)), -ENOENT);
	cr_expect_eq(vd_control_member(2, 0, -1, 1, "test", msg, sizeof(msg)), -ENOENT);
	cr_expect_eq(vd_route_published->version, v + 2);
}

static union vd_sockaddr member(uint16_t port)
{
	union vd_sockaddr a = { .in = { .sin_family = AF_INET, .sin_port = htons(port),
					.sin_addr = { htonl(INADDR_LOOPBACK) } } };
	return a;
}

Test(control, health_changes_of_one_iteration_are_one_publication)
{
	cr_assert_not_null(vd_ctl.prober, "health: configured, so a prober runs");
	cr_assert_eq(vd_ctl.n_probed, 5);
	uint64_t v = vd_route_published->version;
	/* three TCP members' connections fail twice (down_after) in one loop iteration */
	for (int round = 0; round < 2; round++)
		for (uint16_t port = 25691; port <= 25693; port++) {
			union vd_sockaddr a = member(port);
			vd_control_on_conn_failure(NULL, &a, VD_TP_TCP);
		}
	cr_expect_eq(vd_route_published->version, v, "nothing published before the flush");
	vd_control_flush();
	const struct vd_proxy_pool *p = &vd_route_published->px.pools[0];
	cr_expect_eq(vd_route_published->version, v + 1, "one snapshot for the three");
	cr_expect(!p->up[0] && !p->up[1] && !p->up[2] && p->up[3]);
	cr_expect(vd_route_published->px.pools[1].up[0]);
	cr_expect_eq(vd_control_stats.member_changes, 1);

	/* a failure of a UDP member's address over TCP is not that member's */
	union vd_sockaddr b = member(25695);
	vd_control_on_conn_failure(NULL, &b, VD_TP_TCP);
	vd_control_on_conn_failure(NULL, &b, VD_TP_TCP);
	vd_control_flush();
	cr_expect_eq(vd_route_published->version, v + 1);
	cr_expect(vd_route_published->px.pools[1].up[0]);
}

Test(control, health_flush_skips_changes_a_reload_made_stale)
{
	char msg[768];
	union vd_sockaddr a = member(25694);
	vd_control_on_conn_failure(NULL, &a, VD_TP_TCP);
	vd_control_on_conn_failure(NULL, &a, VD_TP_TCP); /* member 3 of pool a: pending down */
	write_config("workers: 1\n"
		     "listeners: [{address: 127.0.0.1, port: 25690}]\n"
		     "pools: [{name: a, transport: tcp, members: [{host: 127.0.0.1, port: 25691}]}]\n");
	cr_assert_eq(vd_control_reload("test", msg, sizeof(msg)), 0, "%s", msg);
	uint64_t v = vd_route_published->version;
	vd_control_flush(); /* pool a has one member now: the change names none */
	cr_expect_eq(vd_route_published->version, v);
	cr_expect(vd_route_published->px.pools[0].up[0]);
}
