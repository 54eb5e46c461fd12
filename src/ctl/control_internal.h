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

#include "viaduct/control.h"
#include "viaduct/health.h"
#include "viaduct/notify.h"
#include "viaduct/route.h"

#define WATCH_MAX 64

/* Everything the control thread keeps between loop iterations. */
struct vd_control {
	const char *config_path;
	/* the running datapath, set by vd_control_run before anything else starts */
	const struct vd_dp_view *view;
	/* health probing: one prober over the members of every pool, flattened in pool order */
	struct vd_health *prober;
	unsigned n_probed;
	uint16_t *probed_pool, *probed_member;
	/* health changes of one loop iteration, applied together (one publication) */
	struct vd_member_change *pending;
	unsigned n_pending;
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
/** Publish the health changes of this iteration in one snapshot. */
void vd_control_health_flush(void);
/** A datapath failure of a connection to a member (struct vd_dp_view member_failures). */
void vd_control_on_conn_failure(void *arg, const union vd_sockaddr *a, uint8_t transport);

/* control_watch.c */
void vd_control_watch(int ifd);
bool vd_control_touched(int ifd);

#endif
