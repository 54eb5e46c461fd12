/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of passive health's machine (src/ctl/passive.c) alone: no datapath, no
 * snapshot, a fake clock (every time is T0 plus an offset in ms). Each rule on its own: a 503
 * Retry-After ejects and the member returns when it is over (capped, extended only when
 * clearly longer); max_ejection_percent and the last member available keep a pool from
 * emptying; outlier windows eject by the absolute and the relative rule, worst first, with a
 * backoff that grows and shrinks; slow start ramps in whole steps; RFC 7339 oc reduces a
 * member's traffic by its percent (the rest going to the others of its group), expires, and
 * the newest oc-seq wins.
 */
#include "passive.h"

#include <criterion/criterion.h>
#include <string.h>

#define T0    1000000u /* fake clock start */
#define N_MAX 16

/* A pool of n members and the snapshot view it is judged against. */
struct rig {
	struct vd_passive_pool pp;
	uint32_t weights[N_MAX], priorities[N_MAX];
	bool up[N_MAX], drained[N_MAX];
	struct vd_passive_view v;
	uint64_t req[N_MAX], ok[N_MAX]; /* cumulative counters */
	struct vd_member_passive st[N_MAX];
};

static struct vd_cfg_outlier defaults(void)
{
	return (struct vd_cfg_outlier){
		.retry_after = true,
		.overload_control = true,
		.detection = false,
		.retry_after_max_s = VD_CFG_DEFAULT_RETRY_AFTER_MAX_S,
		.interval_ms = 10000,
		.min_requests = 10,
		.min_success_percent = VD_CFG_DEFAULT_OUTLIER_MIN_SUCCESS,
		.stdev_permille = VD_CFG_DEFAULT_OUTLIER_STDEV,
		.ejection_ms = 30000,
		.max_ejection_ms = 300000,
		.max_ejection_percent = 10,
		.slow_start_ms = 0,
	};
}

static void rig_init(struct rig *r, unsigned n, const struct vd_cfg_outlier *cfg)
{
	memset(r, 0, sizeof(*r));
	cr_assert_leq(n, N_MAX);
	cr_assert_eq(vd_passive_pool_init(&r->pp, cfg, n), 0);
	for (unsigned i = 0; i < n; i++) {
		r->weights[i] = 1;
		r->up[i] = true;
	}
	r->v = (struct vd_passive_view){r->weights, r->priorities, r->up, r->drained};
	vd_passive_tick(&r->pp, &r->v, T0); /* the first tick learns who is available */
}

static void rig_fini(struct rig *r)
{
	vd_passive_pool_free(&r->pp);
}

static void states(struct rig *r)
{
	vd_passive_states(&r->pp, &r->v, r->st);
}

static enum vd_passive_result ra(struct rig *r, unsigned i, uint32_t secs, uint32_t at)
{
	return vd_passive_retry_after(&r->pp, &r->v, i, secs, T0 + at);
}

/* ---- 503 Retry-After ---- */

Test(passive, retry_after_ejects_for_that_long_and_the_member_returns)
{
	struct vd_cfg_outlier c = defaults();
	struct rig r;
	rig_init(&r, 3, &c);
	cr_expect_eq(ra(&r, 1, 2, 100), VD_PASSIVE_EJECTED);
	states(&r);
	cr_expect_eq(r.st[1].ejected, VD_EJECT_RETRY_AFTER);
	cr_expect_eq(r.st[1].until_ms, T0 + 2100);
	cr_expect_eq(r.st[1].ejections[VD_EJECT_RETRY_AFTER], 1);
	cr_expect_eq(r.st[0].ejected, VD_EJECT_NONE);
	cr_expect_eq(vd_passive_next_ms(&r.pp), T0 + 2100, "the machine wants the clock then");
	cr_expect_eq(vd_passive_tick(&r.pp, &r.v, T0 + 2099), 0, "1 ms early: still out");
	cr_expect_eq(vd_passive_tick(&r.pp, &r.v, T0 + 2100), 1, "over: back");
	states(&r);
	cr_expect_eq(r.st[1].ejected, VD_EJECT_NONE);
	cr_expect_eq(r.st[1].share, VD_SHARE_WHOLE, "no slow start configured: all of it");
	cr_expect_eq(r.st[1].ejections[VD_EJECT_RETRY_AFTER], 1, "counted once");
	cr_expect_eq(vd_passive_next_ms(&r.pp), UINT64_MAX);
	rig_fini(&r);
}

Test(passive, retry_after_is_capped_zero_ignored_and_off_when_disabled)
{
	struct vd_cfg_outlier c = defaults();
	c.retry_after_max_s = 30;
	struct rig r;
	rig_init(&r, 3, &c);
	cr_expect_eq(ra(&r, 0, 0, 0), VD_PASSIVE_IGNORED, "Retry-After: 0 asks for nothing");
	cr_expect_eq(ra(&r, 0, 86400, 0), VD_PASSIVE_EJECTED);
	cr_expect_eq(r.pp.m[0].until_ms, T0 + 30000, "cut to retry_after_max_s");
	cr_expect_eq(ra(&r, 9, 5, 0), VD_PASSIVE_IGNORED, "no member 9");
	rig_fini(&r);

	c.retry_after = false;
	rig_init(&r, 3, &c);
	cr_expect_eq(ra(&r, 0, 5, 0), VD_PASSIVE_IGNORED);
	cr_expect_eq(r.pp.m[0].ejected, VD_EJECT_NONE);
	rig_fini(&r);
}

Test(passive, an_ejection_is_extended_only_when_asked_clearly_longer)
{
	struct vd_cfg_outlier c = defaults();
	struct rig r;
	rig_init(&r, 3, &c);
	cr_assert_eq(ra(&r, 2, 2, 0), VD_PASSIVE_EJECTED);
	/* responses to requests sent before it went out repeat it */
	cr_expect_eq(ra(&r, 2, 2, 500), VD_PASSIVE_IGNORED);
	cr_expect_eq(r.pp.m[2].until_ms, T0 + 2000);
	cr_expect_eq(ra(&r, 2, 10, 500), VD_PASSIVE_REFRESHED);
	cr_expect_eq(r.pp.m[2].until_ms, T0 + 10500);
	cr_expect_eq(r.pp.m[2].ejections[VD_EJECT_RETRY_AFTER], 1, "one ejection, extended");
	rig_fini(&r);
}

/* ---- the cap ---- */

Test(passive, max_ejection_percent_rounds_down_but_allows_one)
{
	struct vd_cfg_outlier c = defaults();
	struct rig r;
	c.max_ejection_percent = 20; /* of 10: two */
	rig_init(&r, 10, &c);
	cr_expect_eq(ra(&r, 0, 5, 0), VD_PASSIVE_EJECTED);
	cr_expect_eq(ra(&r, 1, 5, 0), VD_PASSIVE_EJECTED);
	cr_expect_eq(ra(&r, 2, 5, 0), VD_PASSIVE_REFUSED);
	cr_expect(r.pp.m[2].refused);
	cr_expect_eq(r.pp.m[2].ejected, VD_EJECT_NONE);
	vd_passive_tick(&r.pp, &r.v, T0 + 5000); /* both back: room again */
	cr_expect_eq(ra(&r, 2, 5, 5000), VD_PASSIVE_EJECTED);
	rig_fini(&r);

	c.max_ejection_percent = 10; /* of 3: 0.3, rounded down, but one at least */
	rig_init(&r, 3, &c);
	cr_expect_eq(ra(&r, 0, 5, 0), VD_PASSIVE_EJECTED);
	cr_expect_eq(ra(&r, 1, 5, 0), VD_PASSIVE_REFUSED);
	rig_fini(&r);

	c.max_ejection_percent = 0; /* never */
	rig_init(&r, 3, &c);
	cr_expect_eq(ra(&r, 0, 5, 0), VD_PASSIVE_REFUSED);
	rig_fini(&r);
}

Test(passive, the_last_member_taking_new_dialogs_is_never_ejected)
{
	struct vd_cfg_outlier c = defaults();
	c.max_ejection_percent = 100;
	struct rig r;
	rig_init(&r, 3, &c);
	r.up[0] = false;     /* down by health */
	r.drained[1] = true; /* drained by the operator */
	cr_expect_eq(ra(&r, 2, 5, 0), VD_PASSIVE_REFUSED, "the only one left");
	cr_expect_eq(ra(&r, 0, 5, 0), VD_PASSIVE_EJECTED, "a member that is down: no loss");
	r.up[0] = true;
	cr_expect_eq(ra(&r, 2, 5, 0), VD_PASSIVE_REFUSED, "0 is out, 1 drained: 2 stays");
	rig_fini(&r);
}

/* ---- outlier detection ---- */

/* One window: member i got req[i] more requests and ok[i] more successes, at `at`. */
static unsigned window(struct rig *r, const uint32_t *req, const uint32_t *ok, uint32_t at,
		       unsigned *refused)
{
	for (unsigned i = 0; i < r->pp.n; i++) {
		r->req[i] += req[i];
		r->ok[i] += ok[i];
	}
	return vd_passive_window(&r->pp, &r->v, r->req, r->ok, T0 + at, refused);
}

Test(passive, a_member_far_below_the_others_is_ejected_with_a_growing_backoff)
{
	struct vd_cfg_outlier c = defaults();
	c.detection = true;
	c.max_ejection_percent = 50;
	struct rig r;
	unsigned refused;
	rig_init(&r, 5, &c);
	static const uint32_t req[5] = {100, 100, 100, 100, 100};
	static const uint32_t good[5] = {99, 98, 99, 97, 100};
	static const uint32_t bad[5] = {99, 98, 99, 97, 40};
	cr_expect_eq(window(&r, req, good, 0, &refused), 0, "the first call starts the window");
	cr_expect_eq(window(&r, req, bad, 9999, &refused), 0, "not over yet: nothing judged");
	cr_expect_eq(window(&r, req, good, 10000, &refused), 1);
	cr_expect_eq(r.pp.m[4].ejected, VD_EJECT_OUTLIER);
	cr_expect_eq(r.pp.m[4].ratio_pm, 700, "(40 + 100) / 200 over the window");
	cr_expect_eq(r.pp.m[4].until_ms, T0 + 10000 + 30000, "ejection_ms x 1");
	cr_expect_eq(r.pp.m[4].times, 1);
	cr_expect_eq(r.pp.m[0].ejected, VD_EJECT_NONE);

	/* out (it gets no requests): not judged; back, and bad again: twice as long */
	static const uint32_t req_out[5] = {125, 125, 125, 125, 0},
			      good_out[5] = {124, 123, 124, 122, 0};
	cr_expect_eq(window(&r, req_out, good_out, 20000, &refused), 0);
	cr_expect_eq(r.pp.m[4].ratio_pm, VD_PASSIVE_NONE);
	vd_passive_tick(&r.pp, &r.v, T0 + 40000);
	cr_expect_eq(r.pp.m[4].ejected, VD_EJECT_NONE);
	window(&r, req_out, good_out, 40000, &refused); /* a window starts with it back */
	cr_expect_eq(window(&r, req, bad, 50000, &refused), 1);
	cr_expect_eq(r.pp.m[4].until_ms, T0 + 50000 + 60000, "ejection_ms x 2");
	cr_expect_eq(r.pp.m[4].ejections[VD_EJECT_OUTLIER], 2);

	/* healthy windows take the multiplier back down */
	vd_passive_tick(&r.pp, &r.v, T0 + 110000);
	window(&r, req, good, 110000, &refused);
	cr_expect_eq(r.pp.m[4].times, 1);
	window(&r, req, good, 120000, &refused);
	cr_expect_eq(r.pp.m[4].times, 0);
	window(&r, req, good, 130000, &refused);
	cr_expect_eq(r.pp.m[4].times, 0, "never below 0");
	rig_fini(&r);
}

Test(passive, near_identical_members_are_never_outliers_and_few_requests_are_not_judged)
{
	struct vd_cfg_outlier c = defaults();
	c.detection = true;
	c.max_ejection_percent = 100;
	struct rig r;
	unsigned refused;
	rig_init(&r, 4, &c);
	/* a tiny spread: 97.0% is more than 1.9 deviations under the mean, but only 1.6
	 * points: the gap rule keeps it */
	static const uint32_t req[4] = {1000, 1000, 1000, 1000};
	static const uint32_t ok[4] = {1000, 990, 985, 970};
	window(&r, req, ok, 0, &refused);
	cr_expect_eq(window(&r, req, ok, 10000, &refused), 0);
	cr_expect_eq(r.pp.m[3].ratio_pm, 970);
	/* all failing, but below min_requests: no data, no judgement */
	static const uint32_t few[4] = {9, 9, 9, 9}, none[4] = {0, 0, 0, 0};
	cr_expect_eq(window(&r, few, none, 20000, &refused), 0);
	cr_expect_eq(r.pp.m[0].ratio_pm, VD_PASSIVE_NONE);
	rig_fini(&r);
}

Test(passive, the_absolute_rule_works_in_a_pool_of_two_and_respects_the_cap)
{
	struct vd_cfg_outlier c = defaults();
	c.detection = true; /* max_ejection_percent 10: one of two */
	struct rig r;
	unsigned refused;
	rig_init(&r, 2, &c);
	static const uint32_t req[2] = {100, 100}, ok[2] = {100, 30};
	window(&r, req, ok, 0, &refused);
	cr_expect_eq(window(&r, req, ok, 10000, &refused), 1, "30% < min_success_percent 50");
	cr_expect_eq(r.pp.m[1].ejected, VD_EJECT_OUTLIER);
	rig_fini(&r);

	/* both failing (a downstream outage every member relays): the worse one out, the other
	 * kept by the cap, counted as refused */
	rig_init(&r, 2, &c);
	static const uint32_t ok2[2] = {20, 10};
	window(&r, req, ok2, 0, &refused);
	cr_expect_eq(window(&r, req, ok2, 10000, &refused), 1);
	cr_expect_eq(refused, 1);
	cr_expect_eq(r.pp.m[1].ejected, VD_EJECT_OUTLIER, "the worst first");
	cr_expect_eq(r.pp.m[0].ejected, VD_EJECT_NONE);
	cr_expect(r.pp.m[0].refused);
	rig_fini(&r);
}

Test(passive, counters_that_go_back_are_no_data_and_detection_off_judges_nothing)
{
	struct vd_cfg_outlier c = defaults();
	c.detection = true;
	struct rig r;
	unsigned refused;
	rig_init(&r, 3, &c);
	static const uint32_t req[3] = {100, 100, 100}, ok[3] = {0, 0, 0};
	window(&r, req, ok, 0, &refused);
	r.req[0] = 5; /* a reload renumbered the members: member 0's counter is another's */
	cr_expect_eq(window(&r, req, ok, 10000, &refused), 1, "members 1 and 2 fail; one out");
	cr_expect_eq(r.pp.m[0].ratio_pm, VD_PASSIVE_NONE);
	rig_fini(&r);

	c.detection = false;
	rig_init(&r, 3, &c);
	window(&r, req, ok, 0, &refused);
	cr_expect_eq(window(&r, req, ok, 10000, &refused), 0);
	cr_expect_eq(vd_passive_next_ms(&r.pp), UINT64_MAX, "no window to wait for");
	rig_fini(&r);
}

/* ---- slow start ---- */

Test(passive, slow_start_ramps_in_whole_steps_after_health_comes_back)
{
	struct vd_cfg_outlier c = defaults();
	c.slow_start_ms = 10000; /* ten steps of 1 s */
	struct rig r;
	rig_init(&r, 2, &c);
	cr_expect_not(r.pp.m[0].ramping, "members there at start do not ramp");
	r.up[0] = false;
	vd_passive_tick(&r.pp, &r.v, T0 + 100);
	r.up[0] = true;
	vd_passive_tick(&r.pp, &r.v, T0 + 1000);
	static const struct {
		uint32_t at;
		uint8_t slow;
	} steps[] = {
		{1000, 10}, {1999, 10},	 {2000, 19},   {2500, 19},
		{6000, 55}, {10999, 91}, {11000, 100},
	};
	unsigned changes = 0;
	uint8_t last = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		vd_passive_tick(&r.pp, &r.v, T0 + steps[i].at);
		cr_expect_eq(r.pp.m[0].slow, steps[i].slow, "at +%u ms: %u%%, want %u%%",
			     steps[i].at, r.pp.m[0].slow, steps[i].slow);
		if (i > 0 && r.pp.m[0].ramping)
			cr_expect_eq(vd_passive_next_ms(&r.pp),
				     T0 + 1000 + (steps[i].at - 1000) / 1000 * 1000 + 1000,
				     "the next whole step");
		changes += r.pp.m[0].slow != last;
		last = r.pp.m[0].slow;
	}
	cr_expect_not(r.pp.m[0].ramping);
	cr_expect_leq(changes, VD_PASSIVE_SLOW_STEPS + 1, "at most a rebuild a step");
	states(&r);
	cr_expect_eq(r.st[0].share, VD_SHARE_WHOLE);
	rig_fini(&r);
}

Test(passive, a_long_ramp_takes_ten_steps_and_a_returning_ejected_member_ramps_too)
{
	struct vd_cfg_outlier c = defaults();
	c.slow_start_ms = 60000; /* steps of 6 s */
	struct rig r;
	rig_init(&r, 3, &c);
	cr_assert_eq(ra(&r, 1, 2, 0), VD_PASSIVE_EJECTED);
	vd_passive_tick(&r.pp, &r.v, T0 + 1000);
	cr_expect_eq(r.pp.m[1].slow, 100, "out: nothing to ramp");
	vd_passive_tick(&r.pp, &r.v, T0 + 2000);
	cr_expect(r.pp.m[1].ramping);
	states(&r);
	cr_expect_eq(r.st[1].slow, 10);
	cr_expect_eq(r.st[1].share, VD_SHARE_WHOLE / 10);
	vd_passive_tick(&r.pp, &r.v, T0 + 2000 + 5999);
	cr_expect_eq(r.pp.m[1].slow, 10);
	vd_passive_tick(&r.pp, &r.v, T0 + 2000 + 6000);
	cr_expect_eq(r.pp.m[1].slow, 19);
	/* down in the middle of the ramp: it starts over when it is back */
	r.up[1] = false;
	vd_passive_tick(&r.pp, &r.v, T0 + 20000);
	cr_expect_not(r.pp.m[1].ramping);
	r.up[1] = true;
	vd_passive_tick(&r.pp, &r.v, T0 + 30000);
	cr_expect_eq(r.pp.m[1].slow, 10);
	rig_fini(&r);
}

/* ---- RFC 7339 overload control ---- */

static enum vd_passive_result oc(struct rig *r, unsigned i, uint8_t pct, uint32_t validity,
				 uint64_t seq, uint32_t at)
{
	return vd_passive_overload(&r->pp, i, pct, validity, true, seq, T0 + at);
}

Test(passive, oc_halves_a_members_traffic_and_expires)
{
	struct vd_cfg_outlier c = defaults();
	struct rig r;
	rig_init(&r, 2, &c);
	cr_expect_eq(oc(&r, 1, 50, 1000, 100, 0), VD_PASSIVE_CHANGED);
	states(&r);
	/* fair share 1/2; cut by half: 1/4, the other 3/4 */
	cr_expect_eq(r.st[1].oc, 50);
	cr_expect_eq(r.st[1].share, VD_SHARE_WHOLE / 2);
	cr_expect_eq(r.st[0].share, VD_SHARE_WHOLE * 3 / 2);
	cr_expect_eq(vd_passive_next_ms(&r.pp), T0 + 1000);
	vd_passive_tick(&r.pp, &r.v, T0 + 999);
	cr_expect_eq(r.pp.m[1].oc, 50);
	vd_passive_tick(&r.pp, &r.v, T0 + 1000);
	states(&r);
	cr_expect_eq(r.st[1].oc, 0);
	cr_expect_eq(r.st[1].share, VD_SHARE_WHOLE);
	cr_expect_eq(r.st[0].share, VD_SHARE_WHOLE);
	rig_fini(&r);
}

Test(passive, the_newest_oc_seq_wins_a_repeat_refreshes_and_validity_zero_stops)
{
	struct vd_cfg_outlier c = defaults();
	struct rig r;
	rig_init(&r, 3, &c);
	cr_expect_eq(oc(&r, 0, 30, 5000, 200, 0), VD_PASSIVE_CHANGED);
	cr_expect_eq(oc(&r, 0, 80, 5000, 150, 10), VD_PASSIVE_IGNORED, "older: stale");
	cr_expect_eq(r.pp.m[0].oc, 30);
	cr_expect_eq(oc(&r, 0, 30, 5000, 200, 4000), VD_PASSIVE_REFRESHED, "the same, again");
	cr_expect_eq(r.pp.m[0].oc_until_ms, T0 + 9000, "validity restarts");
	cr_expect_eq(oc(&r, 0, 60, 5000, 201, 4100), VD_PASSIVE_CHANGED);
	cr_expect_eq(r.pp.m[0].oc, 60);
	cr_expect_eq(oc(&r, 0, 60, 0, 202, 4200), VD_PASSIVE_CHANGED, "validity 0: stop");
	cr_expect_eq(r.pp.m[0].oc, 0);
	cr_expect_eq(vd_passive_overload(&r.pp, 1, 40, 1000, false, 0, T0), VD_PASSIVE_CHANGED,
		     "no oc-seq: taken as newest");
	cr_expect_eq(vd_passive_overload(&r.pp, 1, 40, 1000, true, 1, T0), VD_PASSIVE_REFRESHED);
	rig_fini(&r);

	c.overload_control = false;
	rig_init(&r, 3, &c);
	cr_expect_eq(oc(&r, 0, 50, 5000, 1, 0), VD_PASSIVE_IGNORED);
	rig_fini(&r);
}

Test(passive, shed_traffic_goes_to_the_members_of_the_group_that_take_new_dialogs)
{
	struct vd_cfg_outlier c = defaults();
	struct rig r;
	rig_init(&r, 5, &c);
	/* group 0: weights 1, 1, 2 and a drained member; group 1: a standby */
	r.weights[2] = 2;
	r.drained[3] = true;
	r.priorities[4] = 1;
	oc(&r, 0, 50, 1000, 1, 0);
	states(&r);
	/* fair: 1/4, 1/4, 1/2; member 0 cut to 1/8: the 1/8 goes 1:2 to the others */
	uint64_t w0 = r.st[0].share, w1 = r.st[1].share, w2 = (uint64_t)r.st[2].share * 2;
	uint64_t sum = w0 + w1 + w2;
	cr_expect_eq(r.st[0].share, VD_SHARE_WHOLE / 2);
	cr_expect(w0 * 1000 / sum >= 124 && w0 * 1000 / sum <= 126, "%lu / %lu", (unsigned long)w0,
		  (unsigned long)sum);
	cr_expect_eq(r.st[1].share, r.st[2].share, "by weight: the same share of each's weight");
	cr_expect_eq(r.st[3].share, VD_SHARE_WHOLE, "drained: not in the sum");
	cr_expect_eq(r.st[4].share, VD_SHARE_WHOLE, "another group: untouched");
	/* everybody of the group asks for a cut: relative only (viaduct sheds nothing) */
	oc(&r, 1, 50, 1000, 1, 0);
	oc(&r, 2, 50, 1000, 1, 0);
	states(&r);
	cr_expect_eq(r.st[0].share, VD_SHARE_WHOLE / 2);
	cr_expect_eq(r.st[2].share, VD_SHARE_WHOLE / 2);
	/* oc 100: out of the table of new dialogs */
	oc(&r, 0, 100, 1000, 2, 0);
	states(&r);
	cr_expect_eq(r.st[0].share, 0);
	rig_fini(&r);
}

Test(passive, slow_start_and_oc_multiply)
{
	struct vd_cfg_outlier c = defaults();
	c.slow_start_ms = 10000;
	struct rig r;
	rig_init(&r, 2, &c);
	r.up[0] = false;
	vd_passive_tick(&r.pp, &r.v, T0 + 1);
	r.up[0] = true;
	vd_passive_tick(&r.pp, &r.v, T0 + 2);
	oc(&r, 0, 50, 100000, 1, 3);
	states(&r);
	cr_expect_eq(r.st[0].slow, 10);
	cr_expect_eq(r.st[0].share, VD_SHARE_WHOLE / 20, "10% of its weight, halved");
	rig_fini(&r);
}
