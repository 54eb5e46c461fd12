/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The up/down state machine of one probed member, apart from the sockets (health_state.c).
 * The prober (health.c, health_connect.c, health_members.c) feeds it events: a probe placed
 * in the schedule, a probe sent, a final reply to it, a connect's outcome, the probe's
 * deadline passing, a failed datapath connection. Each event returns what it did to the
 * member (nothing, judged, went down, went up); vd_health_sm_next_ms() says when the machine
 * next wants to hear the time. Time is always a parameter: the machine reads no clock, opens
 * no socket and calls nobody, so a unit test drives it with a fake clock alone
 * (tests/unit/test_health_state.c). Not a public header.
 */
#ifndef VD_HEALTH_STATE_H
#define VD_HEALTH_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "viaduct/health.h"

/* What an event did. Only the last two are state transitions, reported by the prober to its
 * change callback. */
enum vd_health_sm_result {
	VD_HEALTH_SM_IGNORED = 0, /* no outstanding probe it is about (none, a stale one, a 1xx,
				   * a deadline not reached): nothing changed */
	VD_HEALTH_SM_JUDGED,	  /* counted as a success or a failure; still up, or still down */
	VD_HEALTH_SM_DOWN,	  /* a failure, and the member went down */
	VD_HEALTH_SM_UP,	  /* a success, and the member went up */
};

/* One member. Plain data: copied as a whole when a reload keeps the member. */
struct vd_health_sm {
	struct vd_health_member_state st; /* what vd_health_state() shows */
	uint64_t next_probe_ms;		  /* valid once scheduled */
	uint64_t deadline_ms;		  /* valid while pending */
	uint64_t seq;			  /* probe number of the outstanding (or last) probe */
	bool scheduled;			  /* false until placed in the interval */
	bool pending;			  /* a probe is outstanding: at most one */
};

/*
 * The config the machine reads is a validated struct vd_health_config (see vd_health_new):
 * 1 <= timeout_ms <= interval_ms, down_after and up_after >= 1. Only those four fields are
 * used; cfg is passed to each event instead of being stored, so the state stays plain data.
 */

/** A new member: up, no probe yet, not scheduled (vd_health_sm_next_ms() is 0: place it). */
void vd_health_sm_init(struct vd_health_sm *sm);
/** Places the first probe at first_ms (the prober spreads members over an interval). */
void vd_health_sm_place(struct vd_health_sm *sm, uint64_t first_ms);
/** A probe is due at now_ms: placed, none outstanding, and its time has come. */
bool vd_health_sm_due(const struct vd_health_sm *sm, uint64_t now_ms);
/**
 * Probe number seq (prober-wide, never 0, never reused) was sent at now_ms, or tried: a
 * probe that could not be sent is outstanding all the same and times out. Precondition:
 * none outstanding (vd_health_sm_due() was true). Sets the deadline now_ms + timeout_ms and
 * the next probe one interval after the last (or after now_ms if that one is already past).
 */
void vd_health_sm_sent(struct vd_health_sm *sm, const struct vd_health_config *cfg, uint64_t seq,
		       uint64_t now_ms);
/** Whether probe seq is the outstanding one: what a reply must answer to be believed. */
bool vd_health_sm_awaits(const struct vd_health_sm *sm, uint64_t seq);
/**
 * A SIP response with this status to probe seq, at now_ms. A 5xx is a failure, any other
 * final status a success; a 1xx, or a reply to a probe that is not outstanding (timed out,
 * answered already, or older), is IGNORED. Its time is not compared with the deadline: a
 * probe is late only once vd_health_sm_expire() said so.
 */
enum vd_health_sm_result vd_health_sm_reply(struct vd_health_sm *sm,
					    const struct vd_health_config *cfg, uint64_t seq,
					    uint16_t status, uint64_t now_ms);
/** The outstanding probe of a stream member was a connect: it connected (ok, a success,
 * counted in replies) or was refused or unreachable (a failure, counted in timeouts).
 * IGNORED with no probe outstanding. */
enum vd_health_sm_result vd_health_sm_connect(struct vd_health_sm *sm,
					      const struct vd_health_config *cfg, bool ok,
					      uint64_t now_ms);
/** Expires the outstanding probe if now_ms has reached its deadline (a failure, counted in
 * timeouts); IGNORED if none is outstanding or its deadline is still ahead. */
enum vd_health_sm_result vd_health_sm_expire(struct vd_health_sm *sm,
					     const struct vd_health_config *cfg, uint64_t now_ms);
/** A datapath connection to the member failed at now_ms: counted in conn_failures and
 * judged as a failure, whether or not a probe is outstanding (which it leaves alone). */
enum vd_health_sm_result vd_health_sm_conn_failure(struct vd_health_sm *sm,
						   const struct vd_health_config *cfg,
						   uint64_t now_ms);
/** When the machine next has work: 0 if not placed yet, the deadline while a probe is
 * outstanding, else when the next probe is due. */
uint64_t vd_health_sm_next_ms(const struct vd_health_sm *sm);

#endif
