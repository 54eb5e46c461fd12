/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's loop: signals (SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1 prints
 * the counters), config file changes (inotify) and, when configured, health probes. It is the
 * only writer of routing snapshots besides the admin thread (admin.h, started beside it), and
 * both go through vd_control_reload / vd_control_member.
 */
#ifndef VIADUCT_CONTROL_H
#define VIADUCT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viaduct/config.h"
#include "viaduct/dpview.h"

struct vd_route;

struct vd_control_stats {
	uint64_t reloads;        /* snapshots published from a config change */
	uint64_t reloads_failed; /* configs refused: the old snapshot kept serving */
	uint64_t member_changes; /* snapshots published for health, drain or passive health */
	/* passive health (what members' responses said) */
	uint64_t ejections[VD_EJECT__COUNT]; /* members taken out, by reason */
	uint64_t ejections_refused; /* ejections max_ejection_percent (or the last member
				     * available) did not allow */
	uint64_t returns;           /* ejections over */
	uint64_t overload_changes;  /* RFC 7339 reductions applied, changed or ended */
	uint64_t signals;           /* 503 Retry-After and overload events read */
	uint64_t signals_dropped;   /* ... not kept: more in one loop iteration than it holds */
};

extern struct vd_control_stats vd_control_stats;

/* The control plane counts (control thread, admin thread) while the admin thread and signal
 * handlers read: relaxed atomics, a few updates a second at most, and no data race. */
#define CTL_COUNT(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define CTL_READ(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/**
 * Set the control thread up over the published snapshot: signals, config file watches,
 * health probes. The signals must already be blocked in every thread. dp is the running
 * datapath (kernel or DPDK) as the control plane sees it; it must outlive vd_control_fini.
 * 0 or -errno. The admin API (admin.h) is started beside it, by the caller.
 */
int vd_control_init(const char *config_path, const struct vd_dp_view *dp);

/** The loop: until SIGTERM/SIGINT. */
void vd_control_run(void);

/** Stop probing, close what vd_control_init opened (after the admin API has stopped). */
void vd_control_fini(void);

/**
 * Load the config file at path and build a snapshot from it (vd_route_build): what start-up
 * and every reload do. NULL with the reason in err ("path: field: ...").
 */
struct vd_route *vd_control_build(const char *path, const struct vd_route *prev, char *err,
				  size_t errlen);

/** Reload now (SIGHUP, file change, admin). 0, or -errno with the reason in msg. */
int vd_control_reload(const char *why, char *msg, size_t msglen);

/**
 * Set a member's state and publish a snapshot: set_up (health) and set_drained (admin) are
 * 1, 0, or -1 to keep the current value. 0 (also when nothing changes), -ENOENT for an
 * unknown pool/member, -ENOMEM.
 */
int vd_control_member(unsigned pool, unsigned member, int set_up, int set_drained,
		      const char *why, char *msg, size_t msglen);

/** Print every worker's counters, the total and the datapath's extras to stderr. */
void vd_control_print_stats(const struct vd_dp_view *dp);

#endif
