/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK datapath's own counters (struct vd_dpdk_counters, one per worker lcore) as the
 * control plane shows them: the "stats dpdk" lines (SIGUSR1 and exit) and the viaduct_dpdk_*
 * Prometheus families of /metrics, one series per worker:
 *
 *   viaduct_dpdk_rx_packets_total{worker="0"} 1234
 *   viaduct_dpdk_drops_total{worker="0",reason="neigh_unresolved"} 2
 *
 * Fields come from VD_DPDK_COUNTER_FIELDS and drop reasons from enum vd_dpdk_drop /
 * vd_dpdk_drop_names, so adding a counter or a reason is one line there, none here.
 * The lcores keep writing while we read: every field is read once with a relaxed load into a
 * snapshot, and the total is summed from the snapshots (the per-worker lines add up to it).
 * Control plane only.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "dpdk_internal.h"
#include "dpdk_stats.h"
#include "viaduct/metrics.h"

#define NAME_LEN  96 /* "viaduct_dpdk_" + a metric name + "_total" */
#define LABEL_LEN 24 /* a worker index, "reason_<n>" */

struct field {
	const char *key, *metric, *help;
	size_t off;
};

static const struct field fields[] = {
#define VD_FIELD(f, key, metric, help) { key, metric, help, offsetof(struct vd_dpdk_counters, f) },
	VD_DPDK_COUNTER_FIELDS(VD_FIELD)
#undef VD_FIELD
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static uint64_t *at(struct vd_dpdk_counters *c, size_t off)
{
	return (uint64_t *)((char *)c + off);
}

static const uint64_t *at_c(const struct vd_dpdk_counters *c, size_t off)
{
	return (const uint64_t *)((const char *)c + off);
}

/* Relaxed copy of the exported fields of one lcore's live counters. */
static void snapshot(struct vd_dpdk_counters *dst, const struct vd_dpdk_counters *src)
{
	for (size_t k = 0; k < N_FIELDS; k++)
		*at(dst, fields[k].off) = __atomic_load_n(at_c(src, fields[k].off), __ATOMIC_RELAXED);
	for (unsigned k = 0; k < VD_DPDK_DROP__COUNT; k++)
		dst->drop[k] = __atomic_load_n(&src->drop[k], __ATOMIC_RELAXED);
}

static const char *reason(unsigned k, char *tmp, size_t len)
{
	if (vd_dpdk_drop_names[k])
		return vd_dpdk_drop_names[k];
	snprintf(tmp, len, "reason_%u", k); /* a new reason still without a name */
	return tmp;
}

static void print_line(FILE *f, const char *label, struct vd_dpdk_counters *c)
{
	char tmp[LABEL_LEN];
	fprintf(f, "stats dpdk%s%s", label ? " " : "", label ? label : "");
	for (size_t k = 0; k < N_FIELDS; k++)
		fprintf(f, " %s=%" PRIu64, fields[k].key, *at(c, fields[k].off));
	for (unsigned k = 0; k < VD_DPDK_DROP__COUNT; k++)
		fprintf(f, " drop_%s=%" PRIu64, reason(k, tmp, sizeof(tmp)), c->drop[k]);
	fputc('\n', f);
}

void vd_dpdk_stats_print(FILE *f, struct vd_lcore *const *lcores, unsigned n)
{
	struct vd_dpdk_counters *w = calloc(n ? n : 1, sizeof(*w)), total = { 0 };
	if (!w) {
		fprintf(f, "stats dpdk: out of memory\n");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		snapshot(&w[i], &lcores[i]->c);
		for (size_t k = 0; k < N_FIELDS; k++)
			*at(&total, fields[k].off) += *at(&w[i], fields[k].off);
		for (unsigned k = 0; k < VD_DPDK_DROP__COUNT; k++)
			total.drop[k] += w[i].drop[k];
	}
	/* the total first and unlabelled: scripts read the first "stats dpdk " line */
	print_line(f, NULL, &total);
	for (unsigned i = 0; n > 1 && i < n; i++) {
		char label[LABEL_LEN];
		snprintf(label, sizeof(label), "worker=%u", i);
		print_line(f, label, &w[i]);
	}
	free(w);
}

void vd_dpdk_stats_metrics(struct vd_buf *b, struct vd_lcore *const *lcores, unsigned n)
{
	struct vd_dpdk_counters *w = calloc(n ? n : 1, sizeof(*w));
	char name[NAME_LEN], worker[LABEL_LEN], tmp[LABEL_LEN];
	if (!w) {
		b->oom = true;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		snapshot(&w[i], &lcores[i]->c);
	for (size_t k = 0; k < N_FIELDS; k++) {
		snprintf(name, sizeof(name), "viaduct_dpdk_%s_total", fields[k].metric);
		vd_prom_family(b, name, "counter", fields[k].help);
		for (unsigned i = 0; i < n; i++) {
			snprintf(worker, sizeof(worker), "%u", i);
			vd_prom_sample(b, name, *at(&w[i], fields[k].off), "worker", worker, NULL);
		}
	}
	vd_prom_family(b, "viaduct_dpdk_drops_total", "counter",
		       "Frames the DPDK datapath dropped outside the SIP core, by reason.");
	for (unsigned i = 0; i < n; i++) {
		snprintf(worker, sizeof(worker), "%u", i);
		for (unsigned k = 0; k < VD_DPDK_DROP__COUNT; k++)
			vd_prom_sample(b, "viaduct_dpdk_drops_total", w[i].drop[k], "worker", worker,
				       "reason", reason(k, tmp, sizeof(tmp)), NULL);
	}
	free(w);
}
