/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Passive health through the control plane (src/ctl/control_passive.c with the flush of
 * control_health.c), without a datapath: members' signals arrive as the workers' events
 * would (vd_control_on_member_event), the workers' counters are one fake worker's, and every
 * flush gets a fake time. What is checked is the published snapshot: ejections and returns
 * in one publication each, the tables (an ejected member has no entry, an oc member fewer in
 * the table of new dialogs and all of its own in the dialog one), a reload that keeps what a
 * member earned, and an outlier window over the counters.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control_internal.h"
#include "viaduct/config_file.h"
#include "viaduct/control.h"
#include "viaduct/route.h"

static char path[64];
static struct vd_stats fake; /* the one worker's counters */

static const char base_yaml[] =
	"workers: 1\n"
	"listeners: [{address: 127.0.0.1, port: 25790}]\n"
	"pools:\n"
	"  - name: a\n"
	"    table_size: 1009\n"
	"    outlier: {detection: true, interval_ms: 1000, min_requests: 10}\n"
	"    members: [{host: 127.0.0.1, port: 25791}, {host: 127.0.0.1, port: 25792},\n"
	"              {host: 127.0.0.1, port: 25793}, {host: 127.0.0.1, port: 25794}]\n"
	"  - {name: b, members: [{host: 127.0.0.1, port: 25795}]}\n";

static unsigned one_worker(const void *dp)
{
	(void)dp;
	return 1;
}

static const struct vd_stats *fake_stats(const void *dp, unsigned i)
{
	(void)dp;
	(void)i;
	return &fake;
}

static const struct vd_dp_view view = {
	.name = "none", .workers = one_worker, .worker_stats = fake_stats, .member_events_fd = -1};

static void write_config(const char *yaml)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(yaml, f);
	cr_assert_eq(fclose(f), 0);
}

static void setup(void)
{
	char err[768];
	snprintf(path, sizeof(path), "/tmp/test_control_passive.%d.yaml", (int)getpid());
	write_config(base_yaml);
	struct vd_route *r = vd_control_build(path, NULL, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	vd_route_publish(r);
	cr_assert_eq(vd_control_init(path, &view), 0);
	memset(&vd_control_stats, 0, sizeof(vd_control_stats));
	memset(&fake, 0, sizeof(fake));
}

static void teardown(void)
{
	vd_control_fini();
	unlink(path);
}

TestSuite(control_passive, .init = setup, .fini = teardown);

static struct vd_member_event event(uint16_t port, uint8_t kind, uint32_t value)
{
	struct vd_member_event e;
	memset(&e, 0, sizeof(e));
	e.addr.in = (struct sockaddr_in){.sin_family = AF_INET,
					 .sin_port = htons(port),
					 .sin_addr = {htonl(INADDR_LOOPBACK)}};
	e.kind = kind;
	e.value = value;
	return e;
}

static const struct vd_proxy_pool *pool_a(void)
{
	return &vd_route_published->px.pools[0];
}

/* Entries of member m in group 0's table (fresh or dialog) of pool a. */
static unsigned entries(unsigned m, bool fresh)
{
	const struct vd_proxy_group *g = &pool_a()->groups[0];
	const struct vd_maglev *t = fresh ? &g->fresh : &g->dialog;
	unsigned n = 0;
	for (uint32_t i = 0; i < pool_a()->table_size; i++)
		n += t->entries[i] == m;
	return n;
}

Test(control_passive, retry_after_ejects_in_one_publication_and_the_member_returns)
{
	uint64_t t = vd_now_ms(), v = vd_route_published->version;
	vd_control_flush_at(t); /* the first step starts the outlier window: nothing to publish */
	cr_expect_eq(vd_route_published->version, v);
	struct vd_member_event e = event(25792, VD_MEV_RETRY_AFTER, 2);
	vd_control_on_member_event(NULL, &e);
	vd_control_on_member_event(NULL, &e); /* a worker's repeat */
	vd_control_flush_at(t + 10);
	cr_expect_eq(vd_route_published->version, v + 1);
	cr_expect_eq(pool_a()->passive[1].ejected, VD_EJECT_RETRY_AFTER);
	cr_expect_eq(pool_a()->passive[1].until_ms, t + 2010);
	cr_expect(pool_a()->up[1], "health is another matter");
	cr_expect_eq(entries(1, true), 0, "in no table");
	cr_expect_eq(entries(1, false), 0);
	cr_expect_eq(vd_control_stats.ejections[VD_EJECT_RETRY_AFTER], 1);
	cr_expect_eq(vd_control_stats.signals, 2);

	/* max_ejection_percent 10 of 4: one; a second member's 503 is refused */
	struct vd_member_event e2 = event(25793, VD_MEV_RETRY_AFTER, 2);
	vd_control_on_member_event(NULL, &e2);
	vd_control_flush_at(t + 20);
	cr_expect_eq(vd_route_published->version, v + 1);
	cr_expect_eq(vd_control_stats.ejections_refused, 1);
	cr_expect_eq(pool_a()->passive[2].ejected, VD_EJECT_NONE);

	vd_control_flush_at(t + 2009);
	cr_expect_eq(vd_route_published->version, v + 1, "not yet");
	vd_control_flush_at(t + 2010);
	cr_expect_eq(vd_route_published->version, v + 2);
	cr_expect_eq(pool_a()->passive[1].ejected, VD_EJECT_NONE);
	cr_expect_gt(entries(1, true), 0, "back in the table");
	cr_expect_eq(pool_a()->passive[1].ejections[VD_EJECT_RETRY_AFTER], 1, "its history kept");
	cr_expect_eq(vd_control_stats.returns, 1);
}

Test(control_passive, oc_halves_a_members_new_dialogs_and_leaves_running_ones)
{
	uint64_t t = vd_now_ms();
	vd_control_flush_at(t);
	struct vd_member_event e = event(25793, VD_MEV_OVERLOAD, 1000);
	e.oc = 50;
	vd_control_on_member_event(NULL, &e);
	vd_control_flush_at(t + 1);
	cr_expect_eq(pool_a()->passive[2].oc, 50);
	cr_expect_eq(pool_a()->passive[2].share, VD_SHARE_WHOLE / 2);
	/* 4 equal members: a quarter each; cut by half: an eighth of the table */
	unsigned fresh = entries(2, true), dialog = entries(2, false);
	cr_expect(fresh > 1009 / 8 - 20 && fresh < 1009 / 8 + 20, "fresh entries %u", fresh);
	cr_expect(dialog > 1009 / 4 - 20 && dialog < 1009 / 4 + 20, "dialog entries %u", dialog);
	cr_expect_eq(vd_control_stats.overload_changes, 1);
	vd_control_flush_at(t + 1001);
	cr_expect_eq(pool_a()->passive[2].oc, 0, "expired");
	cr_expect_eq(pool_a()->passive[2].share, VD_SHARE_WHOLE);
	cr_expect_eq(pool_a()->groups[0].fresh.entries, pool_a()->groups[0].dialog.entries,
		     "one table again");
}

Test(control_passive, a_reload_keeps_an_ejection_and_its_end)
{
	char msg[768];
	uint64_t t = vd_now_ms();
	vd_control_flush_at(t);
	struct vd_member_event e = event(25794, VD_MEV_RETRY_AFTER, 5);
	vd_control_on_member_event(NULL, &e);
	vd_control_flush_at(t + 1);
	cr_assert_eq(pool_a()->passive[3].ejected, VD_EJECT_RETRY_AFTER);
	/* member 25794 moves to index 0 of pool a, pool b goes */
	write_config(
		"workers: 1\n"
		"listeners: [{address: 127.0.0.1, port: 25790}]\n"
		"pools:\n"
		"  - name: a\n"
		"    table_size: 1009\n"
		"    members: [{host: 127.0.0.1, port: 25794}, {host: 127.0.0.1, port: 25791}]\n");
	cr_assert_eq(vd_control_reload("test", msg, sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(pool_a()->passive[0].ejected, VD_EJECT_RETRY_AFTER, "carried by address");
	cr_expect_eq(pool_a()->passive[0].until_ms, t + 5001);
	cr_expect_eq(entries(0, true), 0);
	vd_control_flush_at(t + 5001);
	cr_expect_eq(pool_a()->passive[0].ejected, VD_EJECT_NONE, "and the machine ends it");
	cr_expect_gt(entries(0, true), 0);
}

Test(control_passive, an_outlier_window_over_the_workers_counters)
{
	uint64_t t = vd_now_ms(), v = vd_route_published->version;
	vd_control_flush_at(t); /* the window starts */
	for (unsigned m = 0; m < 4; m++) {
		fake.member_requests[0][m] = 100;
		fake.member_successes[0][m] = m == 3 ? 10 : 99;
	}
	vd_control_flush_at(t + 999);
	cr_expect_eq(vd_route_published->version, v, "the window is not over");
	vd_control_flush_at(t + 1000);
	cr_expect_eq(vd_route_published->version, v + 1);
	cr_expect_eq(pool_a()->passive[3].ejected, VD_EJECT_OUTLIER);
	cr_expect_eq(pool_a()->passive[3].until_ms, t + 1000 + VD_CFG_DEFAULT_EJECTION_MS);
	cr_expect_eq(vd_control_stats.ejections[VD_EJECT_OUTLIER], 1);
	cr_expect_eq(pool_a()->passive[0].ejected, VD_EJECT_NONE);
}

Test(control_passive, health_back_up_starts_slow_start_in_the_same_snapshot)
{
	char msg[768];
	write_config(
		"workers: 1\n"
		"listeners: [{address: 127.0.0.1, port: 25790}]\n"
		"pools:\n"
		"  - name: a\n"
		"    table_size: 1009\n"
		"    outlier: {slow_start_ms: 10000}\n"
		"    members: [{host: 127.0.0.1, port: 25791}, {host: 127.0.0.1, port: 25792}]\n");
	cr_assert_eq(vd_control_reload("test", msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(vd_control_member(0, 1, 0, -1, "test", msg, sizeof(msg)), 0);
	uint64_t t = vd_now_ms();
	vd_control_flush_at(t);
	/* the prober's change, as on_health_change queues it */
	vd_ctl.pending = vd_ctl.pending ? vd_ctl.pending
					: calloc(VD_HEALTH_MAX_MEMBERS, sizeof(*vd_ctl.pending));
	cr_assert_not_null(vd_ctl.pending);
	vd_ctl.pending[vd_ctl.n_pending++] =
		(struct vd_member_change){.pool = 0, .member = 1, .up = true};
	uint64_t v = vd_route_published->version;
	vd_control_flush_at(t + 10);
	cr_expect_eq(vd_route_published->version, v + 1, "one snapshot for both");
	cr_expect(pool_a()->up[1]);
	cr_expect_eq(pool_a()->passive[1].slow, VD_CFG_SLOW_START_FIRST);
	unsigned fresh = entries(1, true), dialog = entries(1, false);
	cr_expect(fresh > 1009 / 11 - 20 && fresh < 1009 / 11 + 20, "10 : 100: %u", fresh);
	cr_expect(dialog > 1009 / 11 - 20 && dialog < 1009 / 11 + 20,
		  "in-dialog requests ramp with it: %u", dialog);
	vd_control_flush_at(t + 1010);
	cr_expect_eq(pool_a()->passive[1].slow, 19);
	vd_control_flush_at(t + 10010);
	cr_expect_eq(pool_a()->passive[1].slow, 100);
	cr_expect_eq(pool_a()->passive[1].share, VD_SHARE_WHOLE);
}
