/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * systemd notifications through libsystemd's sd_notify (include/viaduct/notify.h says what
 * is sent when). sd_notify is a no-op without NOTIFY_SOCKET, so a viaduct run from a terminal
 * or a test pays one getenv per call; none of these calls is on the datapath.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "viaduct/log.h"
#include "viaduct/notify.h"

uint64_t vd_notify_watchdog_init(struct vd_watchdog *wd, uint64_t now_ms)
{
	uint64_t usec = 0;
	*wd = (struct vd_watchdog){ .stuck = -1 };
	/* 0 (not asked), > 0 (asked, usec set) or < 0 (bad WATCHDOG_USEC): only > 0 arms it;
	 * the environment is kept: sd_notify needs NOTIFY_SOCKET again for every ping */
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	wd->check_ms = usec / 2000; /* systemd's advice: ping at half the interval */
	if (wd->check_ms < VD_NOTIFY_MIN_CHECK_MS) {
		vd_log(VD_LOG_WARN, "WatchdogSec=%" PRIu64 " ms is too short to sample the workers: "
				    "checking every %d ms (use WatchdogSec=%ds or more)",
		       usec / 1000, VD_NOTIFY_MIN_CHECK_MS, 2 * VD_NOTIFY_MIN_CHECK_MS / 1000);
		wd->check_ms = VD_NOTIFY_MIN_CHECK_MS;
	}
	wd->next_ms = now_ms + wd->check_ms;
	vd_log(VD_LOG_INFO, "systemd watchdog: %" PRIu64 " ms, workers sampled every %" PRIu64
			    " ms",
	       usec / 1000, wd->check_ms);
	return wd->check_ms;
}

int vd_notify_stuck_worker(struct vd_watchdog *wd, const uint64_t *rounds, unsigned n)
{
	int stuck = -1;
	unsigned max = sizeof(wd->last) / sizeof(wd->last[0]);
	if (n > max)
		n = max;
	bool first = wd->n != n; /* the first sample (or the worker count changed) */
	for (unsigned i = 0; i < n; i++) {
		if (!first && stuck < 0 && rounds[i] == wd->last[i])
			stuck = (int)i;
		wd->last[i] = rounds[i];
	}
	wd->n = n;
	return stuck;
}

int vd_notify_watchdog(struct vd_watchdog *wd, const struct vd_dp_view *dp, uint64_t now_ms)
{
	if (!wd->check_ms)
		return -1;
	if (now_ms < wd->next_ms)
		return (int)(wd->next_ms - now_ms);
	uint64_t rounds[sizeof(wd->last) / sizeof(wd->last[0])];
	unsigned n = dp->worker_rounds ? dp->workers(dp->dp) : 0;
	if (n > sizeof(rounds) / sizeof(rounds[0]))
		n = sizeof(rounds) / sizeof(rounds[0]);
	for (unsigned i = 0; i < n; i++)
		rounds[i] = dp->worker_rounds(dp->dp, i);
	int stuck = vd_notify_stuck_worker(wd, rounds, n);
	if (stuck < 0) {
		if (wd->stuck >= 0)
			vd_log(VD_LOG_WARN, "watchdog: worker %d makes progress again", wd->stuck);
		wd->stuck = -1;
		sd_notify(0, "WATCHDOG=1");
	} else if (wd->stuck != stuck) {
		vd_log(VD_LOG_ERROR, "watchdog: worker %d made no progress in %" PRIu64 " ms: not "
				     "telling systemd we are alive (it restarts us after "
				     "WatchdogSec=)",
		       stuck, wd->check_ms);
		wd->stuck = stuck;
	}
	/* from now, not from when it was due: a late loop does not sample twice in a row */
	wd->next_ms = now_ms + wd->check_ms;
	return (int)wd->check_ms;
}

int vd_notify_ready(const struct vd_dp_view *dp, uint64_t version)
{
	unsigned n = dp->workers(dp->dp);
	for (unsigned i = 0, waited = 0; dp->worker_rounds && i < n;) {
		if (dp->worker_rounds(dp->dp, i)) {
			i++;
			continue;
		}
		if (waited++ >= VD_NOTIFY_START_WAIT_MS) {
			vd_log(VD_LOG_ERROR, "worker %u has not started in %d ms: not ready", i,
			       VD_NOTIFY_START_WAIT_MS);
			return -ETIMEDOUT;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	sd_notifyf(0, "READY=1\nSTATUS=serving: snapshot %" PRIu64 ", %u worker(s), %s datapath",
		   version, n, dp->name ? dp->name : "?");
	return 0;
}

void vd_notify_reloading(const char *why)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* MONOTONIC_USEC: what systemd >= 253 wants with RELOADING=1; older ones ignore it */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading (%s)",
		   (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000, why);
}

void vd_notify_reloaded(uint64_t version, bool ok)
{
	sd_notifyf(0, "READY=1\nSTATUS=serving: snapshot %" PRIu64 "%s", version,
		   ok ? "" : " (the last reload was refused: see the log)");
}

void vd_notify_status(uint64_t version)
{
	sd_notifyf(0, "STATUS=serving: snapshot %" PRIu64, version);
}

void vd_notify_stopping(const char *why)
{
	sd_notifyf(0, "STOPPING=1\nSTATUS=stopping (%s)", why);
}
