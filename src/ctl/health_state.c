/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The up/down state machine of one probed member (interface: health_state.h).
 *
 * A member is up or down. Consecutive failures (a timeout, a 5xx, a refused connect, a failed
 * datapath connection) take an up member down after down_after of them; consecutive successes
 * (any other final reply, a connect that connected) bring a down member up after up_after.
 * Each judgement resets the other run, so a member that flaps between the two never reaches
 * either threshold above 1. At most one probe is outstanding: it is identified by the
 * prober-wide number it was sent with, resolved once (by its reply, its connect or its
 * deadline), and anything later about it is ignored.
 *
 * The schedule keeps a member's cadence: each probe is one interval after the previous one,
 * not after the moment it happened to be sent, unless that moment is already gone.
 *
 * No I/O, no clock, no callback: the prober turns the results into socket work and change
 * reports, and the tests feed a fake clock.
 */
#include "health_state.h"

#include <string.h>

void vd_health_sm_init(struct vd_health_sm *sm)
{
	memset(sm, 0, sizeof(*sm));
	sm->st.up = true; /* members start up: a fresh pool must route at once */
}

void vd_health_sm_place(struct vd_health_sm *sm, uint64_t first_ms)
{
	sm->next_probe_ms = first_ms;
	sm->scheduled = true;
}

bool vd_health_sm_due(const struct vd_health_sm *sm, uint64_t now_ms)
{
	return sm->scheduled && !sm->pending && now_ms >= sm->next_probe_ms;
}

/* A tick that came more than an interval late skips the lost probes instead of sending them
 * in a burst. */
static void schedule_next(struct vd_health_sm *sm, const struct vd_health_config *cfg,
			  uint64_t now_ms)
{
	sm->next_probe_ms += cfg->interval_ms;
	if (sm->next_probe_ms <= now_ms)
		sm->next_probe_ms = now_ms + cfg->interval_ms;
}

void vd_health_sm_sent(struct vd_health_sm *sm, const struct vd_health_config *cfg, uint64_t seq,
		       uint64_t now_ms)
{
	sm->seq = seq;
	sm->pending = true;
	sm->deadline_ms = now_ms + cfg->timeout_ms;
	schedule_next(sm, cfg, now_ms);
	sm->st.probes++;
}

bool vd_health_sm_awaits(const struct vd_health_sm *sm, uint64_t seq)
{
	return sm->pending && sm->seq == seq;
}

static enum vd_health_sm_result change(struct vd_health_sm *sm, bool up, uint64_t now_ms)
{
	sm->st.up = up;
	sm->st.last_change_ms = now_ms;
	return up ? VD_HEALTH_SM_UP : VD_HEALTH_SM_DOWN;
}

/* The runs saturate instead of wrapping: a member answering for years stays "many". */
static enum vd_health_sm_result success(struct vd_health_sm *sm, const struct vd_health_config *cfg,
					uint64_t now_ms)
{
	struct vd_health_member_state *st = &sm->st;

	st->fails = 0;
	if (st->oks < UINT32_MAX)
		st->oks++;
	if (!st->up && st->oks >= cfg->up_after)
		return change(sm, true, now_ms);
	return VD_HEALTH_SM_JUDGED;
}

static enum vd_health_sm_result failure(struct vd_health_sm *sm, const struct vd_health_config *cfg,
					uint64_t now_ms)
{
	struct vd_health_member_state *st = &sm->st;

	st->oks = 0;
	if (st->fails < UINT32_MAX)
		st->fails++;
	if (st->up && st->fails >= cfg->down_after)
		return change(sm, false, now_ms);
	return VD_HEALTH_SM_JUDGED;
}

/* A 5xx means the member's SIP stack is up but refusing work (a P-CSCF in overload answers
 * 503): send it none. Anything else final, 6xx included, proves it processes requests. */
enum vd_health_sm_result vd_health_sm_reply(struct vd_health_sm *sm,
					    const struct vd_health_config *cfg, uint64_t seq,
					    uint16_t status, uint64_t now_ms)
{
	if (!vd_health_sm_awaits(sm, seq) || status < 200)
		return VD_HEALTH_SM_IGNORED; /* the final response or the deadline decides */
	sm->pending = false;
	sm->st.replies++;
	sm->st.last_status = status;
	if (status >= 500 && status < 600) {
		sm->st.errors_5xx++;
		return failure(sm, cfg, now_ms);
	}
	return success(sm, cfg, now_ms);
}

enum vd_health_sm_result vd_health_sm_connect(struct vd_health_sm *sm,
					      const struct vd_health_config *cfg, bool ok,
					      uint64_t now_ms)
{
	if (!sm->pending)
		return VD_HEALTH_SM_IGNORED;
	sm->pending = false;
	if (ok) {
		sm->st.replies++;
		return success(sm, cfg, now_ms);
	}
	sm->st.timeouts++; /* refused or unreachable: a failed probe, as a timeout is */
	return failure(sm, cfg, now_ms);
}

enum vd_health_sm_result vd_health_sm_expire(struct vd_health_sm *sm,
					     const struct vd_health_config *cfg, uint64_t now_ms)
{
	if (!sm->pending || now_ms < sm->deadline_ms)
		return VD_HEALTH_SM_IGNORED;
	sm->pending = false;
	sm->st.timeouts++;
	return failure(sm, cfg, now_ms);
}

enum vd_health_sm_result vd_health_sm_conn_failure(struct vd_health_sm *sm,
						   const struct vd_health_config *cfg,
						   uint64_t now_ms)
{
	sm->st.conn_failures++;
	return failure(sm, cfg, now_ms);
}

uint64_t vd_health_sm_next_ms(const struct vd_health_sm *sm)
{
	if (!sm->scheduled)
		return 0;
	/* an outstanding probe holds back the next one until it resolves */
	return sm->pending ? sm->deadline_ms : sm->next_probe_ms;
}
