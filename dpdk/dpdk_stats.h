/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK counters for the control plane (stats.c): printed "stats dpdk" lines and the
 * viaduct_dpdk_* Prometheus families. Both read live lcores with relaxed loads. Control plane.
 */
#ifndef VD_DPDK_STATS_H
#define VD_DPDK_STATS_H

#include <stdio.h>

struct vd_buf;
struct vd_lcore;

/** "stats dpdk k=v ..." for the total, then one "stats dpdk worker=i ..." per worker (n > 1). */
void vd_dpdk_stats_print(FILE *f, struct vd_lcore *const *lcores, unsigned n);
/** viaduct_dpdk_<metric>_total{worker} and viaduct_dpdk_drops_total{worker,reason}. */
void vd_dpdk_stats_metrics(struct vd_buf *b, struct vd_lcore *const *lcores, unsigned n);

#endif
