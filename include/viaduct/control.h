/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's loop: signals (SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1 prints
 * the counters), config file changes (inotify) and, when configured, health probes and the
 * admin API. It is the only writer of routing snapshots besides the admin thread, and both
 * go through vd_control_reload / vd_control_member.
 */
#ifndef VIADUCT_CONTROL_H
#define VIADUCT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viaduct/config.h"
#include "viaduct/dpview.h"

struct vd_control_stats {
	uint64_t reloads;        /* snapshots published from a config change */
	uint64_t reloads_failed; /* configs refused: the old snapshot kept serving */
	uint64_t member_changes; /* snapshots published for health or drain */
};

extern struct vd_control_stats vd_control_stats;

/**
 * Run until SIGTERM/SIGINT. The signals must already be blocked in every thread. dp is the
 * running datapath (kernel or DPDK) as the control plane sees it; it must outlive the call.
 */
int vd_control_run(const char *config_path, const struct vd_dp_view *dp);

/** Reload now (SIGHUP, file change, admin). 0, or -errno with the reason in msg. */
int vd_control_reload(const char *why, char *msg, size_t msglen);

/**
 * Set a member's state and publish a snapshot: set_up (health) and set_drained (admin) are
 * 1, 0, or -1 to keep the current value. 0 (also when nothing changes), -ENOENT for an
 * unknown pool/member, -ENOMEM.
 */
int vd_control_member(unsigned pool, unsigned member, int set_up, int set_drained,
		      const char *why, char *msg, size_t msglen);

/** Start the admin API when the config has an admin section (control plane). */
int vd_admin_ops_start(const struct vd_config *cfg, const struct vd_dp_view *dp);
void vd_admin_ops_stop(void);

/** Print every worker's counters, the total and the datapath's extras to stderr. */
void vd_control_print_stats(const struct vd_dp_view *dp);

#endif
