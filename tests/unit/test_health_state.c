/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the health state machine (src/ctl/health_state.c) alone: no sockets, and a
 * fake clock (every time is T0 plus an offset in ms). Scripts of events, each step with the
 * result and the up/down state it must give, walk the transitions: down after down_after
 * failures, up after up_after successes, 5xx and the other status classes, connect outcomes,
 * the datapath's connection failures between probes, flapping, thresholds of 1. Timing edges
 * (the deadline and 1 ms before it, late ticks, timeout == interval) and replies to probes
 * that are no longer outstanding are checked step by step. Every step also checks the
 * invariants: at most one of the two runs is non-zero, an up member is below down_after, a
 * down one below up_after, last_change_ms moves exactly on a transition.
 */
#include "health_state.h"

#include <stdint.h>
#include <stdio.h>

#include <criterion/criterion.h>

#define T0	   1000000u /* fake clock start: far from 0, which means "not placed" */
#define INTERVAL   1000u
#define TIMEOUT	   400u
#define DOWN_AFTER 3u
#define UP_AFTER   2u
#define FLAPS	   20u

#define IGN  VD_HEALTH_SM_IGNORED
#define JUD  VD_HEALTH_SM_JUDGED
#define DOWN VD_HEALTH_SM_DOWN
#define UP   VD_HEALTH_SM_UP

static const char *const result_name[] = {"IGNORED", "JUDGED", "DOWN", "UP"};

/* One member and what the prober would keep around it. */
struct rig {
	struct vd_health_config cfg;
	struct vd_health_sm sm;
	uint64_t seq;	       /* last probe number sent; 0 is never a probe */
	unsigned n_down, n_up; /* transitions, as the change callback would see them */
};

enum op {
	SEND,	   /* probe ++seq sent */
	REPLY,	   /* a response with `status` to the last probe */
	STALE,	   /* a response with `status` to the probe before it */
	CONN_OK,   /* the last probe's connect connected */
	CONN_REF,  /* ... was refused */
	EXPIRE,	   /* a tick: the deadline check */
	CONN_FAIL, /* the datapath's connection failed */
};

struct step {
	enum op op;
	uint32_t at; /* ms after T0 */
	uint16_t status;
	enum vd_health_sm_result want; /* SEND returns nothing: IGN */
	bool up;		       /* after the step */
};

static struct rig rig_new(uint32_t down_after, uint32_t up_after)
{
	struct rig r = {
		.cfg = {.interval_ms = INTERVAL,
			.timeout_ms = TIMEOUT,
			.down_after = down_after,
			.up_after = up_after},
	};

	vd_health_sm_init(&r.sm);
	return r;
}

static enum vd_health_sm_result apply(struct rig *r, enum op op, uint16_t status, uint64_t now)
{
	switch (op) {
	case SEND:
		vd_health_sm_sent(&r->sm, &r->cfg, ++r->seq, now);
		return IGN;
	case REPLY:
		return vd_health_sm_reply(&r->sm, &r->cfg, r->seq, status, now);
	case STALE:
		return vd_health_sm_reply(&r->sm, &r->cfg, r->seq - 1, status, now);
	case CONN_OK:
	case CONN_REF:
		return vd_health_sm_connect(&r->sm, &r->cfg, op == CONN_OK, now);
	case EXPIRE:
		return vd_health_sm_expire(&r->sm, &r->cfg, now);
	case CONN_FAIL:
		return vd_health_sm_conn_failure(&r->sm, &r->cfg, now);
	}
	cr_assert_fail("unknown op %d", op);
	return IGN;
}

static void check_invariants(const struct rig *r, const char *what)
{
	const struct vd_health_member_state *st = &r->sm.st;

	cr_assert(st->fails == 0 || st->oks == 0, "%s: fails %u and oks %u", what, st->fails,
		  st->oks);
	if (st->up)
		cr_assert_lt(st->fails, r->cfg.down_after, "%s: up with %u fails", what, st->fails);
	else
		cr_assert_lt(st->oks, r->cfg.up_after, "%s: down with %u oks", what, st->oks);
}

/* Feeds one event at T0 + at and checks its result, the state and the invariants. */
static enum vd_health_sm_result feed(struct rig *r, enum op op, uint32_t at, uint16_t status,
				     enum vd_health_sm_result want, bool up, const char *what)
{
	uint64_t before = r->sm.st.last_change_ms;
	enum vd_health_sm_result got = apply(r, op, status, T0 + at);

	cr_assert_eq(got, want, "%s: %s, want %s", what, result_name[got], result_name[want]);
	cr_assert_eq(r->sm.st.up, up, "%s: up %d, want %d", what, r->sm.st.up, up);
	if (got == DOWN || got == UP) {
		r->n_down += got == DOWN;
		r->n_up += got == UP;
		cr_assert_eq(r->sm.st.last_change_ms, T0 + at, "%s: last_change_ms", what);
	} else {
		cr_assert_eq(r->sm.st.last_change_ms, before, "%s: changed without a transition",
			     what);
	}
	check_invariants(r, what);
	return got;
}

static void run(struct rig *r, const struct step *s, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++) {
		char what[64];

		snprintf(what, sizeof(what), "%s step %zu", name, k);
		feed(r, s[k].op, s[k].at, s[k].status, s[k].want, s[k].up, what);
	}
}

#define RUN(r, script) run(r, script, sizeof(script) / sizeof(script[0]), #script)

Test(health_state, initial_state_is_up_idle_and_unplaced)
{
	struct rig r = rig_new(DOWN_AFTER, UP_AFTER);
	const struct vd_health_member_state *st = &r.sm.st;

	cr_assert(st->up, "members start up");
	cr_assert_eq(st->fails + st->oks, 0);
	cr_assert_eq(st->probes + st->replies + st->timeouts + st->errors_5xx + st->conn_failures,
		     0);
	cr_assert_eq(st->last_status, 0);
	cr_assert_eq(st->last_change_ms, 0);
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), 0, "not placed: wants a tick now");
	cr_assert_not(vd_health_sm_due(&r.sm, T0), "not placed: nothing is due");
	cr_assert_not(vd_health_sm_awaits(&r.sm, 0), "0 is never a probe");
	feed(&r, EXPIRE, 0, 0, IGN, true, "expire with no probe");
	feed(&r, REPLY, 0, 200, IGN, true, "reply with no probe");
	feed(&r, CONN_OK, 0, 0, IGN, true, "connect with no probe");
	cr_assert_eq(st->replies + st->timeouts + st->oks, 0);

	vd_health_sm_place(&r.sm, T0 + 250);
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), T0 + 250);
	cr_assert_not(vd_health_sm_due(&r.sm, T0 + 249));
	cr_assert(vd_health_sm_due(&r.sm, T0 + 250));
	cr_assert(vd_health_sm_due(&r.sm, T0 + 5 * INTERVAL), "late is still due");
}

/* Silence takes it down after exactly DOWN_AFTER timeouts, each at its deadline and not 1 ms
 * before; replies bring it back after exactly UP_AFTER. */
Test(health_state, down_after_n_timeouts_up_after_m_successes)
{
	static const struct step script[] = {
		{SEND, 0, 0, IGN, true},
		{EXPIRE, TIMEOUT - 1, 0, IGN, true},
		{EXPIRE, TIMEOUT, 0, JUD, true},
		{SEND, 1000, 0, IGN, true},
		{EXPIRE, 1000 + TIMEOUT - 1, 0, IGN, true},
		{EXPIRE, 1000 + TIMEOUT, 0, JUD, true},
		{SEND, 2000, 0, IGN, true},
		{EXPIRE, 2000 + TIMEOUT - 1, 0, IGN, true},
		{EXPIRE, 2000 + TIMEOUT, 0, DOWN, false},
		{SEND, 3000, 0, IGN, false},
		{EXPIRE, 3000 + TIMEOUT, 0, JUD, false}, /* down stays down: one report */
		{SEND, 4000, 0, IGN, false},
		{REPLY, 4005, 200, JUD, false},
		{SEND, 5000, 0, IGN, false},
		{REPLY, 5005, 200, UP, true},
		{SEND, 6000, 0, IGN, true},
		{REPLY, 6005, 200, JUD, true}, /* up stays up: one report */
	};
	struct rig r = rig_new(DOWN_AFTER, UP_AFTER);

	vd_health_sm_place(&r.sm, T0);
	RUN(&r, script);
	cr_assert_eq(r.n_down, 1);
	cr_assert_eq(r.n_up, 1);
	cr_assert_eq(r.sm.st.probes, 7);
	cr_assert_eq(r.sm.st.timeouts, 4);
	cr_assert_eq(r.sm.st.replies, 3);
	cr_assert_eq(r.sm.st.oks, 3);
	cr_assert_eq(r.sm.st.fails, 0);
	cr_assert_eq(r.sm.st.last_change_ms, T0 + 5005);
}

/* Each threshold is met exactly at its count, for several pairs, 1 included. */
Test(health_state, thresholds_are_exact)
{
	static const uint32_t pairs[][2] = {{1, 1}, {1, 3}, {2, 1}, {3, 2}, {5, 4}};

	for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
		struct rig r = rig_new(pairs[p][0], pairs[p][1]);
		uint32_t at = 0;
		char what[64];

		for (uint32_t k = 1; k <= r.cfg.down_after; k++, at += INTERVAL) {
			snprintf(what, sizeof(what), "down_after %u: failure %u", r.cfg.down_after,
				 k);
			feed(&r, SEND, at, 0, IGN, true, what);
			feed(&r, EXPIRE, at + TIMEOUT, 0, k < r.cfg.down_after ? JUD : DOWN,
			     k < r.cfg.down_after, what);
		}
		for (uint32_t k = 1; k <= r.cfg.up_after; k++, at += INTERVAL) {
			snprintf(what, sizeof(what), "up_after %u: success %u", r.cfg.up_after, k);
			feed(&r, SEND, at, 0, IGN, false, what);
			feed(&r, REPLY, at + 1, 200, k < r.cfg.up_after ? JUD : UP,
			     k == r.cfg.up_after, what);
		}
		cr_assert_eq(r.n_down + r.n_up, 2, "pair %zu", p);
	}
}

/* With thresholds of 1 every judgement that disagrees with the state is a transition, by
 * every kind of failure and success. */
Test(health_state, thresholds_of_one_turn_on_every_event)
{
	/* one step a line, as in the other scripts */
	/* clang-format off */
	static const struct step script[] = {
		{SEND, 0, 0, IGN, true},
		{EXPIRE, TIMEOUT, 0, DOWN, false},
		{SEND, 1000, 0, IGN, false},
		{REPLY, 1001, 200, UP, true},
		{SEND, 2000, 0, IGN, true},
		{REPLY, 2001, 503, DOWN, false},
		{SEND, 3000, 0, IGN, false},
		{CONN_OK, 3001, 0, UP, true},
		{SEND, 4000, 0, IGN, true},
		{CONN_REF, 4001, 0, DOWN, false},
		{CONN_FAIL, 4500, 0, JUD, false},
		{SEND, 5000, 0, IGN, false},
		{REPLY, 5001, 404, UP, true},
		{CONN_FAIL, 5500, 0, DOWN, false},
		{SEND, 6000, 0, IGN, false},
		{REPLY, 6001, 603, UP, true},
	};
	/* clang-format on */
	struct rig r = rig_new(1, 1);

	RUN(&r, script);
	cr_assert_eq(r.n_down, 4);
	cr_assert_eq(r.n_up, 4);
}

/* Alternating results reset each other's run: above 1 no threshold is ever reached, up or
 * down; a success and two failures, over and over, stay up; at 1 every flip is reported. */
Test(health_state, flapping)
{
	struct rig r = rig_new(DOWN_AFTER, UP_AFTER);
	struct rig one = rig_new(1, 1);
	uint32_t at = 0;

	for (unsigned k = 0; k < FLAPS; k++, at += INTERVAL) {
		feed(&r, SEND, at, 0, IGN, true, "flap up");
		feed(&r, REPLY, at + 1, k % 2 ? 503 : 200, JUD, true, "flap up");
	}
	for (unsigned k = 0; k < 3 * FLAPS; k++, at += INTERVAL) {
		feed(&r, SEND, at, 0, IGN, true, "ok fail fail");
		feed(&r, k % 3 == 0 ? CONN_OK : CONN_REF, at + 1, 0, JUD, true, "ok fail fail");
	}
	cr_assert_eq(r.n_down, 0);
	cr_assert_eq(r.sm.st.fails, 2, "one short");
	feed(&r, SEND, at, 0, IGN, true, "reset");
	feed(&r, REPLY, at + 1, 200, JUD, true, "reset");
	at += INTERVAL;
	for (unsigned k = 0; k < DOWN_AFTER; k++, at += INTERVAL)
		feed(&r, CONN_FAIL, at, 0, k + 1 < DOWN_AFTER ? JUD : DOWN, k + 1 < DOWN_AFTER,
		     "take down");
	for (unsigned k = 0; k < FLAPS; k++, at += INTERVAL) {
		feed(&r, SEND, at, 0, IGN, false, "flap down");
		if (k % 2)
			feed(&r, EXPIRE, at + TIMEOUT, 0, JUD, false, "flap down");
		else
			feed(&r, REPLY, at + 1, 200, JUD, false, "flap down");
	}
	cr_assert_eq(r.n_down, 1);
	cr_assert_eq(r.n_up, 0);

	at = 0;
	for (unsigned k = 0; k < FLAPS; k++, at += INTERVAL) {
		feed(&one, SEND, at, 0, IGN, k % 2 == 0, "flap at 1");
		feed(&one, REPLY, at + 1, k % 2 ? 200 : 500, k % 2 ? UP : DOWN, k % 2 == 1,
		     "flap at 1");
	}
	cr_assert_eq(one.n_down, FLAPS / 2);
	cr_assert_eq(one.n_up, FLAPS / 2);
}

/* The datapath's failed connections count with the probes' failures, between probes or
 * while one is outstanding (which they leave alone); successes in between reset them. */
Test(health_state, conn_failures_between_probes)
{
	static const struct step script[] = {
		{CONN_FAIL, 10, 0, JUD, true},
		{CONN_FAIL, 20, 0, JUD, true},
		{SEND, 1000, 0, IGN, true},
		{REPLY, 1005, 200, JUD, true}, /* resets the run: 2 + 2 failures is not 3 */
		{CONN_FAIL, 1100, 0, JUD, true},
		{CONN_FAIL, 1200, 0, JUD, true},
		{SEND, 2000, 0, IGN, true},
		{CONN_FAIL, 2100, 0, DOWN, false}, /* the third, with a probe outstanding */
		{REPLY, 2200, 200, JUD, false},	   /* that probe still counts */
		{CONN_FAIL, 2300, 0, JUD, false},  /* down stays down; the run starts again */
		{SEND, 3000, 0, IGN, false},
		{REPLY, 3005, 200, JUD, false},
		{SEND, 4000, 0, IGN, false},
		{REPLY, 4005, 200, UP, true}, /* the probes bring it back */
		{CONN_FAIL, 4100, 0, JUD, true},
		{SEND, 5000, 0, IGN, true},
		{EXPIRE, 5000 + TIMEOUT, 0, JUD, true},
		{CONN_FAIL, 5500, 0, DOWN, false}, /* timeouts and conn failures add up */
	};
	struct rig r = rig_new(DOWN_AFTER, UP_AFTER);
	uint64_t next;

	vd_health_sm_place(&r.sm, T0 + 1000);
	next = vd_health_sm_next_ms(&r.sm);
	feed(&r, CONN_FAIL, 0, 0, JUD, true, "before any probe");
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), next, "the schedule is not touched");
	cr_assert_not(r.sm.pending);
	r = rig_new(DOWN_AFTER, UP_AFTER);
	vd_health_sm_place(&r.sm, T0 + 1000);
	RUN(&r, script);
	cr_assert_eq(r.sm.st.conn_failures, 8);
	cr_assert_eq(r.sm.st.timeouts, 1);
	cr_assert_eq(r.sm.st.replies, 4);
	cr_assert_eq(r.sm.st.probes, 5);
	cr_assert_eq(r.n_down, 2);
	cr_assert_eq(r.n_up, 1);

	/* a conn failure during a probe leaves its deadline and its number alone */
	feed(&r, SEND, 6000, 0, IGN, false, "probe");
	feed(&r, CONN_FAIL, 6100, 0, JUD, false, "during the probe");
	cr_assert(vd_health_sm_awaits(&r.sm, r.seq));
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), T0 + 6000 + TIMEOUT);
	feed(&r, EXPIRE, 6000 + TIMEOUT - 1, 0, IGN, false, "not yet");
	feed(&r, EXPIRE, 6000 + TIMEOUT, 0, JUD, false, "its own deadline");
}

/* Status classes: 5xx fails, every other final status succeeds, 1xx leaves the probe
 * outstanding (its final reply then decides). Thresholds of 1 make each judgement visible. */
Test(health_state, status_classes)
{
	static const struct {
		uint16_t status;
		int verdict; /* -1 failure, 0 ignored (1xx), 1 success */
	} table[] = {
		{100, 0},  {180, 0},  {183, 0},	 {199, 0},  {200, 1}, {202, 1}, {299, 1},
		{300, 1},  {302, 1},  {400, 1},	 {404, 1},  {408, 1}, {486, 1}, {499, 1},
		{500, -1}, {503, -1}, {504, -1}, {599, -1}, {600, 1}, {603, 1}, {699, 1},
	};

	for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
		struct rig r = rig_new(1, 1);
		uint16_t status = table[k].status;
		int v = table[k].verdict;
		char what[64];

		snprintf(what, sizeof(what), "status %u", status);
		vd_health_sm_place(&r.sm, T0);
		feed(&r, SEND, 0, 0, IGN, true, what);
		feed(&r, REPLY, 5, status, v < 0 ? DOWN : v > 0 ? JUD : IGN, v >= 0, what);
		cr_assert_eq(r.sm.st.replies, v != 0, "%s", what);
		cr_assert_eq(r.sm.st.errors_5xx, v < 0, "%s", what);
		cr_assert_eq(r.sm.st.last_status, v ? status : 0, "%s", what);
		cr_assert_eq(r.sm.st.timeouts, 0, "%s", what);
		cr_assert_eq(vd_health_sm_awaits(&r.sm, r.seq), v == 0, "%s", what);
		if (v == 0) { /* still outstanding: its deadline stands, a final reply decides */
			cr_assert_eq(vd_health_sm_next_ms(&r.sm), T0 + TIMEOUT, "%s", what);
			feed(&r, REPLY, 6, 503, DOWN, false, what);
			cr_assert_eq(r.sm.st.last_status, 503, "%s", what);
		}
	}
}

/* A probe is resolved once. A reply to a probe that timed out, to an older probe while a
 * newer one is outstanding, to a number never sent, or a second reply, is ignored; so is a
 * connect outcome with nothing outstanding. */
Test(health_state, late_and_stale_replies_are_ignored)
{
	struct rig r = rig_new(DOWN_AFTER, UP_AFTER);

	feed(&r, SEND, 0, 0, IGN, true, "probe 1");
	feed(&r, EXPIRE, TIMEOUT, 0, JUD, true, "probe 1 times out");
	cr_assert_not(vd_health_sm_awaits(&r.sm, 1));
	feed(&r, REPLY, TIMEOUT + 1, 200, IGN, true, "late reply to probe 1");
	cr_assert_eq(r.sm.st.replies, 0);
	cr_assert_eq(r.sm.st.fails, 1, "the timeout stands");
	cr_assert_eq(r.sm.st.last_status, 0);

	feed(&r, SEND, 1000, 0, IGN, true, "probe 2");
	feed(&r, STALE, 1001, 200, IGN, true, "reply to probe 1 during probe 2");
	feed(&r, STALE, 1002, 503, IGN, true, "5xx to probe 1 during probe 2");
	cr_assert(vd_health_sm_awaits(&r.sm, 2), "probe 2 still outstanding");
	cr_assert_not(vd_health_sm_awaits(&r.sm, 3), "never sent");
	cr_assert_eq(vd_health_sm_reply(&r.sm, &r.cfg, 3, 200, T0 + 1003), IGN);
	cr_assert_eq(vd_health_sm_reply(&r.sm, &r.cfg, 0, 200, T0 + 1003), IGN);
	cr_assert_eq(r.sm.st.replies + r.sm.st.errors_5xx, 0);
	feed(&r, REPLY, 1005, 200, JUD, true, "probe 2 answered");
	feed(&r, REPLY, 1006, 503, IGN, true, "second reply to probe 2");
	feed(&r, CONN_REF, 1007, 0, IGN, true, "a connect outcome with nothing outstanding");
	feed(&r, EXPIRE, 1000 + TIMEOUT, 0, IGN, true, "an answered probe does not expire");
	cr_assert_eq(r.sm.st.replies, 1);
	cr_assert_eq(r.sm.st.errors_5xx, 0);
	cr_assert_eq(r.sm.st.timeouts, 1);
	cr_assert_eq(r.sm.st.oks, 1);
}

/* The deadline is inclusive: expired at deadline, not at deadline - 1. A reply is not
 * timed: one that arrives at or after the deadline, before the tick expired the probe,
 * counts (the prober resolves connects and replies before it expires). */
Test(health_state, deadline_edges)
{
	struct rig r = rig_new(DOWN_AFTER, UP_AFTER);
	const uint32_t s = 250; /* placed a quarter interval in */

	vd_health_sm_place(&r.sm, T0 + s);
	feed(&r, SEND, s, 0, IGN, true, "sent");
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), T0 + s + TIMEOUT, "pending: its deadline");
	cr_assert_not(vd_health_sm_due(&r.sm, T0 + s + INTERVAL), "pending holds the next back");
	feed(&r, EXPIRE, s + TIMEOUT - 1, 0, IGN, true, "1 ms before");
	cr_assert(vd_health_sm_awaits(&r.sm, r.seq));
	feed(&r, EXPIRE, s + TIMEOUT, 0, JUD, true, "at the deadline");
	cr_assert_eq(r.sm.st.timeouts, 1);
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), T0 + s + INTERVAL, "resolved: the next probe");
	feed(&r, EXPIRE, s + TIMEOUT + 1, 0, IGN, true, "expired once");

	feed(&r, SEND, s + INTERVAL, 0, IGN, true, "sent");
	feed(&r, REPLY, s + INTERVAL + TIMEOUT - 1, 200, JUD, true, "1 ms before");
	feed(&r, EXPIRE, s + INTERVAL + TIMEOUT, 0, IGN, true, "answered in time");

	feed(&r, SEND, s + 2 * INTERVAL, 0, IGN, true, "sent");
	feed(&r, REPLY, s + 2 * INTERVAL + TIMEOUT, 200, JUD, true, "at the deadline, first");
	feed(&r, EXPIRE, s + 2 * INTERVAL + TIMEOUT, 0, IGN, true, "nothing left to expire");

	feed(&r, SEND, s + 3 * INTERVAL, 0, IGN, true, "sent");
	feed(&r, CONN_OK, s + 3 * INTERVAL + TIMEOUT + 3, 0, JUD, true, "after it, unexpired");
	cr_assert_eq(r.sm.st.timeouts, 1);
	cr_assert_eq(r.sm.st.replies, 3);
}

/* The schedule keeps the cadence of the first placement; a tick late by more than an
 * interval skips the lost probes; with timeout == interval a probe expires and the next is
 * due in the same ms. */
Test(health_state, schedule)
{
	struct rig r = rig_new(DOWN_AFTER, UP_AFTER);
	struct rig eq = rig_new(DOWN_AFTER, UP_AFTER);

	vd_health_sm_place(&r.sm, T0);
	feed(&r, SEND, 30, 0, IGN, true, "sent 30 ms late");
	cr_assert_eq(r.sm.deadline_ms, T0 + 30 + TIMEOUT, "the deadline runs from sending");
	feed(&r, REPLY, 35, 200, JUD, true, "answered");
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), T0 + INTERVAL, "the cadence, not +30");
	cr_assert_not(vd_health_sm_due(&r.sm, T0 + INTERVAL - 1));
	cr_assert(vd_health_sm_due(&r.sm, T0 + INTERVAL));

	feed(&r, SEND, 2 * INTERVAL + 10, 0, IGN, true, "a tick an interval late");
	feed(&r, REPLY, 2 * INTERVAL + 15, 200, JUD, true, "answered");
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), T0 + 3 * INTERVAL + 10, "no burst to catch up");
	feed(&r, SEND, 3 * INTERVAL + 10, 0, IGN, true, "on the new cadence");
	feed(&r, REPLY, 3 * INTERVAL + 11, 200, JUD, true, "answered");
	cr_assert_eq(vd_health_sm_next_ms(&r.sm), T0 + 4 * INTERVAL + 10);
	cr_assert_eq(r.sm.st.probes, 3);

	eq.cfg.timeout_ms = INTERVAL;
	vd_health_sm_place(&eq.sm, T0);
	feed(&eq, SEND, 0, 0, IGN, true, "sent");
	cr_assert_not(vd_health_sm_due(&eq.sm, T0 + INTERVAL), "still outstanding");
	feed(&eq, EXPIRE, INTERVAL, 0, JUD, true, "expired");
	cr_assert(vd_health_sm_due(&eq.sm, T0 + INTERVAL), "and the next is due, same ms");
	feed(&eq, SEND, INTERVAL, 0, IGN, true, "sent");
	cr_assert_eq(vd_health_sm_next_ms(&eq.sm), T0 + 2 * INTERVAL);
}

/* The runs saturate at UINT32_MAX instead of wrapping to 0 (which would read as "no run"). */
Test(health_state, runs_saturate)
{
	struct rig r = rig_new(DOWN_AFTER, UP_AFTER);

	r.sm.st.up = false;
	r.sm.st.fails = UINT32_MAX - 1;
	feed(&r, CONN_FAIL, 0, 0, JUD, false, "to the top");
	cr_assert_eq(r.sm.st.fails, UINT32_MAX);
	feed(&r, CONN_FAIL, 1, 0, JUD, false, "at the top");
	cr_assert_eq(r.sm.st.fails, UINT32_MAX);

	r = rig_new(DOWN_AFTER, UP_AFTER);
	r.sm.st.oks = UINT32_MAX - 1;
	for (uint32_t k = 0; k < 2; k++) {
		feed(&r, SEND, k * INTERVAL, 0, IGN, true, "probe");
		feed(&r, CONN_OK, k * INTERVAL + 1, 0, JUD, true, "success");
		cr_assert_eq(r.sm.st.oks, UINT32_MAX);
	}
	feed(&r, CONN_FAIL, 2 * INTERVAL, 0, JUD, true, "one failure ends the run");
	cr_assert_eq(r.sm.st.oks, 0);
}
