/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What viaduct tells systemd (sd_notify(3), Type=notify): READY=1 once every socket is bound
 * and every worker runs, STATUS= with the published snapshot's version, RELOADING=1 and
 * READY=1 around a reload, STOPPING=1 at shutdown, and WATCHDOG=1 from the control loop only
 * while every worker makes progress. Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
 *
 * The watchdog: each worker bumps a round counter once per loop round (the kernel workers
 * wake at least every VD_DP_POLL_MS even when idle, the DPDK lcores spin or sleep briefly),
 * so an idle worker still counts. The control loop samples the counters every half watchdog
 * interval (WATCHDOG_USEC, sd_watchdog_enabled(3)) and pings only when each one moved since
 * the previous sample: a worker stuck in a loop or a deadlock stops the pings, and systemd
 * restarts the service after WatchdogSec=.
 */
#ifndef VIADUCT_NOTIFY_H
#define VIADUCT_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "viaduct/config.h"
#include "viaduct/dpview.h"

/* Workers are sampled at half the watchdog interval, and an idle kernel worker completes a
 * round every VD_DP_POLL_MS (100 ms): intervals below this are raised to it (and warned). */
#define VD_NOTIFY_MIN_CHECK_MS 500

/** The watchdog's state: the control thread's alone. */
struct vd_watchdog {
	uint64_t check_ms;  /* sampling period: half of WATCHDOG_USEC; 0 = no watchdog */
	uint64_t next_ms;   /* next sample due (vd_now_ms clock) */
	unsigned n;         /* workers sampled */
	int stuck;          /* the worker reported stuck, -1 none: logged once per episode */
	uint64_t last[VD_CFG_MAX_WORKERS + 1]; /* at the previous sample (DPDK: + the TCP worker) */
};

/**
 * Read WATCHDOG_USEC (for this process) into wd; now_ms is the vd_now_ms clock. Returns the
 * sampling period in ms, 0 when systemd asked for no watchdog. Control thread.
 */
uint64_t vd_notify_watchdog_init(struct vd_watchdog *wd, uint64_t now_ms);

/**
 * Pure: given every worker's round counter now (n of them), did each move since the previous
 * call? Records them for the next call. Returns -1 when all moved (the first call: all did),
 * else the index of the first worker that did not.
 */
int vd_notify_stuck_worker(struct vd_watchdog *wd, const uint64_t *rounds, unsigned n);

/**
 * Called every control loop iteration: when a sample is due, read the workers' counters
 * through dp->worker_rounds and send WATCHDOG=1 if each moved; a stuck worker is logged
 * (once) and no ping sent. Returns ms until the next sample (for poll's timeout), or -1 with
 * no watchdog.
 */
int vd_notify_watchdog(struct vd_watchdog *wd, const struct vd_dp_view *dp, uint64_t now_ms);

/* How long start-up waits for every worker's first loop round before giving up. */
#define VD_NOTIFY_START_WAIT_MS 5000

/**
 * Once every worker of dp has completed a loop round (dp->worker_rounds; at once without it),
 * READY=1 and STATUS= (snapshot version, workers, datapath). Call when every socket is bound
 * (the admin API's included). 0, or -ETIMEDOUT (logged, nothing sent: systemd's
 * TimeoutStartSec= then fails the start) when one has not run within VD_NOTIFY_START_WAIT_MS.
 */
int vd_notify_ready(const struct vd_dp_view *dp, uint64_t version);
/** RELOADING=1 (with MONOTONIC_USEC=) and STATUS=. Any thread. */
void vd_notify_reloading(const char *why);
/** READY=1 again after a reload, STATUS= with the version now published (or refused). */
void vd_notify_reloaded(uint64_t version, bool ok);
/** STATUS= alone: e.g. after a member change published a snapshot. */
void vd_notify_status(uint64_t version);
/** STOPPING=1 and STATUS=. */
void vd_notify_stopping(const char *why);

#endif
