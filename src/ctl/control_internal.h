/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's files (control.c, control_health.c, control_watch.c): their one state
 * and what they call of each other. Not a public header.
 */
#ifndef VD_CONTROL_INTERNAL_H
#define VD_CONTROL_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "passive.h"
#include "viaduct/control.h"
#include "viaduct/health.h"
#include "viaduct/notify.h"
#include "viaduct/route.h"

#define WATCH_MAX 64

#define MEV_MAX 4096 /* member signals kept per loop iteration (each worker's ring holds 256) */

/* A member's new passive-health state, found by a flush. */
struct vd_passive_change {
	unsigned pool, member;
	struct vd_member_passive st;
};

/* Everything the control thread keeps between loop iterations. */
/* The keys read once at start, as they were then: what a reload compares against. */
struct vd_started_keys {
	struct vd_cfg_health health;
	struct vd_cfg_tcp tcp;
	struct vd_cfg_admin admin;
	uint32_t sources; /* rate_limit.sources */
	struct vd_cfg_dpdk dpdk;
};

struct vd_control {
	const char *config_path;
	struct vd_started_keys started;
	/* the running datapath, set by vd_control_run before anything else starts */
	const struct vd_dp_view *view;
	/* health probing: one prober over the members of every pool, flattened in pool order */
	struct vd_health *prober;
	unsigned n_probed;
	uint16_t *probed_pool, *probed_member;
	/* health changes of one loop iteration, applied together (one publication) */
	struct vd_member_change *pending;
	unsigned n_pending;
	/* passive health (control_passive.c): one machine per pool of the published config,
	 * with what re-keys it after a reload (pool names, member addresses) */
	struct vd_passive_pool *passive;
	unsigned n_passive;
	char (*passive_names)[VD_CFG_NAME_MAX];
	union vd_sockaddr **passive_addrs;
	uint64_t passive_version;	/* snapshot the machines were last stepped against */
	uint64_t passive_next_ms;	/* when time alone next changes one */
	struct vd_member_event *mev;	/* this iteration's member signals, for the flush */
	unsigned n_mev;
	/* the directories of the config files, watched */
	struct {
		int wd;
		char dir[PATH_MAX];
	} watches[WATCH_MAX];
	unsigned n_watches;
	int signal_fd, inotify_fd; /* -1 when not open */
	struct vd_watchdog watchdog; /* systemd's (notify.h); check_ms 0 when not asked for */
};

extern struct vd_control vd_ctl;

/* control_health.c */
void vd_control_health_start(const struct vd_route *r);
void vd_control_health_stop(void);
/** Follow the members of snapshot r (called with the route lock). */
void vd_control_health_members(const struct vd_route *r);
/** Replies that came through the datapath (DPDK). */
void vd_control_health_poll(void);
/** Publish what this iteration changed, health and passive health, in one snapshot: at now
 * (vd_control_flush: the clock; tests pass a fake one). */
void vd_control_flush(void);
void vd_control_flush_at(uint64_t now_ms);
/** A datapath failure of a connection to a member (VD_MEV_CONN_FAILED). */
void vd_control_on_conn_failure(void *arg, const union vd_sockaddr *a, uint8_t transport);
/** The datapath's member events (struct vd_dp_view member_events): failed connections go to
 * the prober, members' signals are kept for the flush. */
void vd_control_on_member_event(void *arg, const struct vd_member_event *e);

/* control_passive.c */
/** Follow the pools of snapshot r, keeping each member's state by pool name and address
 * (called with the route lock: start, reload). */
void vd_control_passive_members(const struct vd_route *r);
void vd_control_passive_stop(void);
/** Keep a member's signal (Retry-After, overload) for the next flush. */
void vd_control_passive_event(const struct vd_member_event *e);
/** The passive-health part of a flush (route lock held): this iteration's signals, the
 * windows due, the time, over cur with the pending health changes applied. Each member
 * whose state differs from cur's gets an entry (pool, member, state) in *out (allocated,
 * the caller frees it; NULL when none); returns how many. Nothing new and nothing due costs
 * a few tests. */
unsigned vd_control_passive_step(const struct vd_route *cur, uint64_t now_ms,
				 struct vd_passive_change **out);
/** When passive health next needs a flush by time alone (UINT64_MAX: never). */
uint64_t vd_control_passive_next_ms(void);

/* control_watch.c */
void vd_control_watch(int ifd);
bool vd_control_touched(int ifd);

#endif
