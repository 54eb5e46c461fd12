/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the admin API serves (the callbacks of struct vd_admin_ops): metrics and status from
 * the workers' counters and the published routing snapshot, reload, drain and undrain.
 *
 * The callbacks run on libmicrohttpd's thread. /metrics and /status read the published
 * snapshot as RCU readers (vd_route_reader_begin/end): they never wait for a reload or a
 * member change, and a snapshot cannot be freed under them. Changes go through the same
 * functions the control thread uses (vd_control_reload, vd_control_member), outside any read
 * section.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/admin.h"
#include "viaduct/control.h"
#include "viaduct/health.h"
#include "viaduct/log.h"
#include "viaduct/metrics.h"
#include <urcu-qsbr.h>

#include "viaduct/route.h"

static const struct vd_dp_view *admin_dp;
static struct vd_admin *admin;

/* Passive health's counters (the control thread's: plain loads of monotonic counters, as
 * the reload counters are read). */
static void passive_metrics(struct vd_buf *b)
{
	const struct vd_control_stats *cs = &vd_control_stats;
	vd_prom_family(b, "viaduct_ejections_total", "counter",
		       "Members taken out of their pool by passive health, by reason.");
	for (int e = 1; e < VD_EJECT__COUNT; e++)
		vd_prom_sample(b, "viaduct_ejections_total", CTL_READ(cs->ejections[e]), "reason",
			       vd_eject_name((enum vd_eject)e), NULL);
	static const struct {
		const char *name, *help;
		size_t off;
	} one[] = {
		{ "viaduct_ejections_refused_total",
		  "Ejections not made: max_ejection_percent of the pool out already, or the last "
		  "member available.",
		  offsetof(struct vd_control_stats, ejections_refused) },
		{ "viaduct_ejection_returns_total", "Ejections over: the member may take traffic.",
		  offsetof(struct vd_control_stats, returns) },
		{ "viaduct_overload_changes_total",
		  "RFC 7339 overload control reductions applied, changed or ended.",
		  offsetof(struct vd_control_stats, overload_changes) },
		{ "viaduct_member_signals_total",
		  "Members' 503 Retry-After and overload control reports read from the workers.",
		  offsetof(struct vd_control_stats, signals) },
		{ "viaduct_member_signals_dropped_total",
		  "Members' reports not kept: more in one control loop iteration than it holds.",
		  offsetof(struct vd_control_stats, signals_dropped) },
	};
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		vd_prom_family(b, one[i].name, "counter", one[i].help);
		vd_prom_sample(b, one[i].name,
			       __atomic_load_n((const uint64_t *)((const char *)cs + one[i].off),
					       __ATOMIC_RELAXED),
			       NULL);
	}
	if (admin_dp->member_events_lost) {
		vd_prom_family(b, "viaduct_member_events_lost_total", "counter",
			       "Member events a worker could not queue for the control thread "
			       "(its ring full): failed connections, 503 Retry-After, overload.");
		vd_prom_sample(b, "viaduct_member_events_lost_total",
			       admin_dp->member_events_lost(admin_dp->dp), NULL);
	}
}

static void render_metrics(void *arg, struct vd_buf *b)
{
	(void)arg;
	unsigned n = admin_dp->workers(admin_dp->dp);
	struct vd_stats *copy = aligned_alloc(64, sizeof(*copy) * n);
	if (!copy) {
		b->oom = true;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		memset(&copy[i], 0, sizeof(copy[i]));
		vd_stats_add(&copy[i], admin_dp->worker_stats(admin_dp->dp, i));
	}
	vd_metrics_render_stats(b, copy, n);
	free(copy);

	if (admin_dp->kernel_drops) {
		vd_prom_family(b, "viaduct_kernel_rx_drops_total", "counter",
			       "Datagrams the kernel dropped at viaduct's sockets (receive buffer "
			       "full).");
		vd_prom_sample(b, "viaduct_kernel_rx_drops_total",
			       admin_dp->kernel_drops(admin_dp->dp), NULL);
	}
	if (admin_dp->metrics)
		admin_dp->metrics(admin_dp->dp, b);
	vd_prom_family(b, "viaduct_reloads_total", "counter", "Snapshots published from config changes.");
	vd_prom_sample(b, "viaduct_reloads_total", CTL_READ(vd_control_stats.reloads), NULL);
	vd_prom_family(b, "viaduct_reloads_failed_total", "counter",
		       "Configs refused; the previous snapshot kept serving.");
	vd_prom_sample(b, "viaduct_reloads_failed_total",
		       CTL_READ(vd_control_stats.reloads_failed), NULL);
	vd_prom_family(b, "viaduct_member_changes_total", "counter",
		       "Snapshots published for health or drain changes.");
	vd_prom_sample(b, "viaduct_member_changes_total",
		       CTL_READ(vd_control_stats.member_changes), NULL);
	passive_metrics(b);
	vd_route_reader_begin();
	const struct vd_route *r = vd_route_read();
	vd_prom_family(b, "viaduct_snapshot_version", "gauge", "Version of the routing snapshot.");
	vd_prom_sample(b, "viaduct_snapshot_version", r->version, NULL);
	vd_metrics_render_members(b, r->px.pools, r->px.n_pools);
	vd_route_reader_end();
}

/* "edge": each worker's hot sources, banned ones first, with how long their ban still runs
 * (by the worker's own clock, which its bans are in). */
static void render_edge(struct vd_buf *b)
{
	vd_buf_printf(b, ",\"edge\":{\"hot_sources\":[");
	unsigned n_out = 0;
	for (unsigned w = 0; admin_dp->worker_guard && w < admin_dp->workers(admin_dp->dp); w++) {
		const struct vd_guard *g = admin_dp->worker_guard(admin_dp->dp, w);
		struct vd_guard_hot hot[VD_GUARD_HOT];
		if (!g)
			continue;
		uint32_t now = __atomic_load_n(&g->now_ms, __ATOMIC_RELAXED);
		unsigned n = vd_guard_hot_read(g, hot, VD_GUARD_HOT);
		for (unsigned i = 0; i < n; i++) {
			char text[64];
			int32_t left = (int32_t)(hot[i].ban_until_ms - now);
			vd_guard_key_text(&hot[i], text, sizeof(text));
			vd_buf_printf(b, "%s{\"source\":", n_out++ ? "," : "");
			vd_buf_json_str(b, text);
			vd_buf_printf(b, ",\"worker\":%u,\"limited\":%u,\"banned\":%s,"
					 "\"ban_left_ms\":%d}",
				      w, hot[i].strikes, hot[i].ban_until_ms && left > 0 ? "true" : "false",
				      hot[i].ban_until_ms && left > 0 ? left : 0);
		}
	}
	vd_buf_printf(b, "]}");
}

static void render_status(void *arg, struct vd_buf *b)
{
	(void)arg;
	uint64_t now = vd_now_ms();
	vd_route_reader_begin();
	const struct vd_route *r = vd_route_read();
	/* workers: the running ones (DPDK may run fewer than configured: lcores, queues) */
	vd_buf_printf(b, "{\"version\":%lu,\"datapath\":\"%s\",\"workers\":%u,\"reloads\":%lu,"
			 "\"reloads_failed\":%lu,\"config_files\":[",
		      (unsigned long)r->version, admin_dp->name, admin_dp->workers(admin_dp->dp),
		      (unsigned long)CTL_READ(vd_control_stats.reloads),
		      (unsigned long)CTL_READ(vd_control_stats.reloads_failed));
	for (unsigned i = 0; i < r->cfg.n_files; i++) {
		vd_buf_printf(b, "%s", i ? "," : "");
		vd_buf_json_str(b, r->cfg.files[i]);
	}
	vd_buf_printf(b, "],\"pools\":[");
	for (unsigned pi = 0; pi < r->px.n_pools; pi++) {
		const struct vd_proxy_pool *p = &r->px.pools[pi];
		vd_buf_printf(b, "%s{\"name\":", pi ? "," : "");
		vd_buf_json_str(b, p->name);
		vd_buf_printf(b, ",\"hash\":\"%s\",\"members\":[", vd_hash_key_name(p->hash));
		for (unsigned mi = 0; mi < p->n_members; mi++) {
			vd_buf_printf(b, "%s{\"member\":", mi ? "," : "");
			vd_buf_json_str(b, p->member_names[mi]);
			const struct vd_member_passive *ps = &p->passive[mi];
			vd_buf_printf(b, ",\"weight\":%u,\"group\":%u,\"up\":%s,\"drained\":%s",
				      p->weights[mi], p->priorities[mi],
				      p->up[mi] ? "true" : "false",
				      p->drained[mi] ? "true" : "false");
			/* passive health: out and why, for how long still; the share of new
			 * dialogs (percent of its weight), what it asked for (oc), its ramp */
			uint64_t left = ps->ejected && ps->until_ms > now ? ps->until_ms - now : 0;
			vd_buf_printf(b, ",\"ejected\":\"%s\",\"ejected_for_ms\":%lu,"
					 "\"share\":%u.%02u,\"overload\":%u,\"slow_start\":%u,"
					 "\"ejections\":%u}",
				      vd_eject_name((enum vd_eject)ps->ejected),
				      (unsigned long)left,
				      ps->share / 100, ps->share % 100, ps->oc, ps->slow,
				      ps->ejections[VD_EJECT_RETRY_AFTER] +
					      ps->ejections[VD_EJECT_OUTLIER]);
		}
		vd_buf_printf(b, "]}");
	}
	vd_buf_printf(b, "]");
	render_edge(b);
	vd_buf_printf(b, "}\n");
	vd_route_reader_end();
}

static int do_reload(void *arg, char *msg, size_t msglen)
{
	(void)arg;
	return vd_control_reload("admin API", msg, msglen);
}

/* member is "host:port" as listed in /status, or an index. */
static int do_drain(void *arg, const char *pool, const char *member, bool drain, char *msg,
		    size_t msglen)
{
	(void)arg;
	int pi = -1, mi = -1;
	vd_route_lock();
	const struct vd_route *r = vd_route_published;
	for (unsigned i = 0; i < r->px.n_pools; i++)
		if (strcmp(r->px.pools[i].name, pool) == 0)
			pi = (int)i;
	if (pi >= 0) {
		const struct vd_proxy_pool *p = &r->px.pools[pi];
		char *end;
		long idx = strtol(member, &end, 10);
		for (unsigned i = 0; i < p->n_members; i++)
			if (strcmp(p->member_names[i], member) == 0 ||
			    (!*end && *member && idx == (long)i))
				mi = (int)i;
	}
	vd_route_unlock();
	if (pi < 0 || mi < 0) {
		snprintf(msg, msglen, "no member %s in pool %s", member, pool);
		return -ENOENT;
	}
	return vd_control_member((unsigned)pi, (unsigned)mi, -1, drain, "admin API", msg, msglen);
}

int vd_admin_ops_start(const struct vd_config *cfg, const struct vd_dp_view *dp)
{
	static const struct vd_admin_ops ops = { .metrics = render_metrics,
						 .status = render_status,
						 .reload = do_reload,
						 .drain = do_drain };
	char err[256];
	if (!cfg->admin.enabled)
		return 0;
	admin_dp = dp;
	admin = vd_admin_start(cfg->admin.address, cfg->admin.port, &ops, err, sizeof(err));
	if (!admin) {
		vd_log(VD_LOG_ERROR, "admin API: %s", err);
		return -EADDRNOTAVAIL;
	}
	vd_log(VD_LOG_INFO, "admin API: listening on %s%s%s:%u", strchr(cfg->admin.address, ':') ? "[" : "",
	       cfg->admin.address, strchr(cfg->admin.address, ':') ? "]" : "", vd_admin_port(admin));
	return 0;
}

void vd_admin_ops_stop(void)
{
	vd_admin_stop(admin);
	admin = NULL;
}
