/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's passive-health glue: one machine (passive.c) per pool of the
 * published config, fed with what the workers saw, its decisions turned into snapshot
 * changes that the flush (control_health.c) publishes with the health changes, once per loop
 * iteration.
 *
 * Inputs: the members' signals from the workers' event rings (a 503 with Retry-After, RFC
 * 7339 overload control), each naming the member by address: one address in several pools is
 * one server, and every pool that reads that signal takes it. The outlier windows read the
 * workers' cumulative per-member counters (struct vd_stats member_requests and
 * member_successes, relaxed loads), summed by address too. Pools past VD_STATS_POOLS have no
 * counters: no outlier detection there, signals still work.
 *
 * Every function here runs with the route lock held (the flush, a reload on the admin
 * thread), except vd_control_passive_event, which only appends to this iteration's list on the
 * control thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_internal.h"
#include "viaduct/log.h"

static void machines_free(struct vd_passive_pool *pp, unsigned n, union vd_sockaddr **addrs)
{
	for (unsigned i = 0; i < n; i++) {
		vd_passive_pool_free(&pp[i]);
		free(addrs ? addrs[i] : NULL);
	}
	free(pp);
	free(addrs);
}

/* The old machine's member at pool name `name`, address a, or NULL. */
static const struct vd_passive_member *old_member(const char *name, const union vd_sockaddr *a)
{
	for (unsigned p = 0; p < vd_ctl.n_passive; p++) {
		if (strcmp(vd_ctl.passive_names[p], name))
			continue;
		for (unsigned m = 0; m < vd_ctl.passive[p].n; m++)
			if (vd_sockaddr_equal(&vd_ctl.passive_addrs[p][m], a))
				return &vd_ctl.passive[p].m[m];
	}
	return NULL;
}

void vd_control_passive_members(const struct vd_route *r)
{
	unsigned n = r->px.n_pools;
	struct vd_passive_pool *pp = calloc(n ? n : 1, sizeof(*pp));
	char(*names)[VD_CFG_NAME_MAX] = calloc(n ? n : 1, sizeof(*names));
	union vd_sockaddr **addrs = calloc(n ? n : 1, sizeof(*addrs));
	if (!pp || !names || !addrs)
		goto oom;
	for (unsigned p = 0; p < n; p++) {
		const struct vd_proxy_pool *pool = &r->px.pools[p];
		if (vd_passive_pool_init(&pp[p], &r->cfg.pools[p].outlier, pool->n_members) ||
		    !(addrs[p] = calloc(pool->n_members ? pool->n_members : 1, sizeof(**addrs)))) {
			machines_free(pp, p + 1, addrs);
			pp = NULL;
			addrs = NULL;
			goto oom;
		}
		memcpy(names[p], pool->name, sizeof(names[p]));
		memcpy(addrs[p], pool->members, pool->n_members * sizeof(**addrs));
		/* a member that stays (same pool, same address) keeps what it earned: its
		 * ejection, backoff, oc and ramp; its window starts again (indexes moved) */
		for (unsigned m = 0; m < pool->n_members; m++) {
			const struct vd_passive_member *o =
				old_member(pool->name, &pool->members[m]);
			if (!o)
				continue;
			pp[p].m[m] = *o;
			pp[p].m[m].based = false;
			pp[p].m[m].ratio_pm = VD_PASSIVE_NONE;
		}
	}
	machines_free(vd_ctl.passive, vd_ctl.n_passive, vd_ctl.passive_addrs);
	free(vd_ctl.passive_names);
	vd_ctl.passive = pp;
	vd_ctl.n_passive = n;
	vd_ctl.passive_names = names;
	vd_ctl.passive_addrs = addrs;
	vd_ctl.passive_version = 0; /* step every pool at the next flush */
	__atomic_store_n(&vd_ctl.passive_next_ms, 0, __ATOMIC_RELAXED);
	return;
oom:
	free(pp);
	free(names);
	free(addrs);
	vd_log(VD_LOG_ERROR, "passive health: out of memory: following the previous pools");
}

void vd_control_passive_stop(void)
{
	machines_free(vd_ctl.passive, vd_ctl.n_passive, vd_ctl.passive_addrs);
	free(vd_ctl.passive_names);
	free(vd_ctl.mev);
	vd_ctl.passive = NULL;
	vd_ctl.passive_addrs = NULL;
	vd_ctl.passive_names = NULL;
	vd_ctl.n_passive = 0;
	vd_ctl.mev = NULL;
	vd_ctl.n_mev = 0;
	__atomic_store_n(&vd_ctl.passive_next_ms, UINT64_MAX, __ATOMIC_RELAXED);
}

void vd_control_passive_event(const struct vd_member_event *e)
{
	CTL_COUNT(vd_control_stats.signals, 1);
	if (!vd_ctl.mev && !(vd_ctl.mev = calloc(MEV_MAX, sizeof(*vd_ctl.mev)))) {
		CTL_COUNT(vd_control_stats.signals_dropped, 1);
		return;
	}
	if (vd_ctl.n_mev == MEV_MAX) { /* a member repeats itself: the next iteration hears it */
		CTL_COUNT(vd_control_stats.signals_dropped, 1);
		return;
	}
	vd_ctl.mev[vd_ctl.n_mev++] = *e;
}

/* ---- the step: signals, windows, time, then what differs from the snapshot ---- */

/* The pool as the snapshot has it, with this iteration's pending health changes applied to
 * `up` (so a member back up starts its slow start in the same publication). */
static struct vd_passive_view pool_view(const struct vd_route *cur, unsigned p, bool *up)
{
	const struct vd_proxy_pool *pool = &cur->px.pools[p];
	memcpy(up, pool->up, pool->n_members * sizeof(*up));
	for (unsigned i = 0; i < vd_ctl.n_pending; i++)
		if (vd_ctl.pending[i].pool == p && vd_ctl.pending[i].member < pool->n_members)
			up[vd_ctl.pending[i].member] = vd_ctl.pending[i].up;
	return (struct vd_passive_view){.weights = pool->weights,
					.priorities = pool->priorities,
					.up = up,
					.drained = pool->drained};
}

static void log_ejected(const struct vd_proxy_pool *pool, unsigned m, const char *why, uint64_t ms)
{
	vd_log(VD_LOG_WARN, "member %s/%s ejected (%s): out for %lu ms", pool->name,
	       pool->member_names[m], why, (unsigned long)ms);
}

static void log_refused(const struct vd_proxy_pool *pool, unsigned m, const char *why,
			const struct vd_passive_pool *pp)
{
	vd_log(VD_LOG_WARN,
	       "member %s/%s not ejected (%s): max_ejection_percent %u of %u "
	       "members, or the last one available: it keeps its traffic",
	       pool->name, pool->member_names[m], why, pp->cfg.max_ejection_percent, pp->n);
}

/* One member signal for every pool that has its address. */
static void apply_signal(const struct vd_route *cur, const struct vd_member_event *e,
			 uint64_t now_ms)
{
	bool up[VD_CFG_MAX_MEMBERS];
	for (unsigned p = 0; p < cur->px.n_pools && p < vd_ctl.n_passive; p++) {
		const struct vd_proxy_pool *pool = &cur->px.pools[p];
		struct vd_passive_pool *pp = &vd_ctl.passive[p];
		for (unsigned m = 0; m < pool->n_members && m < pp->n; m++) {
			if (!vd_sockaddr_equal(&pool->members[m], &e->addr))
				continue;
			struct vd_passive_view v = pool_view(cur, p, up);
			if (e->kind == VD_MEV_RETRY_AFTER) {
				bool said = pp->m[m].refused;
				enum vd_passive_result r =
					vd_passive_retry_after(pp, &v, m, e->value, now_ms);
				if (r == VD_PASSIVE_EJECTED) {
					CTL_COUNT(vd_control_stats.ejections[VD_EJECT_RETRY_AFTER],
						  1);
					log_ejected(pool, m, "503 Retry-After",
						    pp->m[m].until_ms - now_ms);
				} else if (r == VD_PASSIVE_REFUSED) {
					CTL_COUNT(vd_control_stats.ejections_refused, 1);
					if (!said)
						log_refused(pool, m, "503 Retry-After", pp);
				}
			} else if (e->kind == VD_MEV_OVERLOAD) {
				uint8_t before = pp->m[m].oc;
				if (vd_passive_overload(pp, m, e->oc, e->value, e->has_seq, e->seq,
							now_ms) != VD_PASSIVE_CHANGED)
					continue;
				CTL_COUNT(vd_control_stats.overload_changes, 1);
				vd_log(VD_LOG_WARN,
				       "member %s/%s overload control: new dialogs cut by "
				       "%u%% (was %u%%) for %u ms",
				       pool->name, pool->member_names[m], pp->m[m].oc, before,
				       pp->m[m].oc ? e->value : 0);
			}
		}
	}
}

/* Cumulative requests and successes per member address, summed over the workers and over
 * every pool it is in: req[x], ok[x] at x = base[p] + m of the address's first pool/member.
 * Pools past VD_STATS_POOLS count nothing. */
static void totals(const struct vd_route *cur, const unsigned *base, uint64_t *req, uint64_t *ok)
{
	const struct vd_dp_view *dp = vd_ctl.view;
	unsigned nw = dp && dp->worker_stats ? dp->workers(dp->dp) : 0;
	for (unsigned p = 0; p < cur->px.n_pools && p < VD_STATS_POOLS; p++) {
		const struct vd_proxy_pool *pool = &cur->px.pools[p];
		for (unsigned m = 0; m < pool->n_members; m++) {
			const struct vd_proxy_member_info *mi =
				vd_proxy_member_find(&cur->px, &pool->members[m]);
			if (!mi)
				continue;
			unsigned x = base[mi->pool] + mi->member;
			for (unsigned w = 0; w < nw; w++) {
				const struct vd_stats *st = dp->worker_stats(dp->dp, w);
				req[x] += __atomic_load_n(&st->member_requests[p][m],
							  __ATOMIC_RELAXED);
				ok[x] += __atomic_load_n(&st->member_successes[p][m],
							 __ATOMIC_RELAXED);
			}
		}
	}
}

/* The outlier windows that are due, over the totals (computed once for all of them). */
static void windows(const struct vd_route *cur, uint64_t now_ms)
{
	bool up[VD_CFG_MAX_MEMBERS];
	unsigned n = 0, *base = NULL;
	uint64_t *req = NULL, *ok = NULL, *r = NULL, *k = NULL;
	bool due = false;
	for (unsigned p = 0; p < vd_ctl.n_passive && p < cur->px.n_pools; p++) {
		const struct vd_passive_pool *pp = &vd_ctl.passive[p];
		due = due ||
		      (pp->cfg.detection && (!pp->window_started ||
					     now_ms >= pp->window_start_ms + pp->cfg.interval_ms));
	}
	if (!due)
		return;
	base = calloc(cur->px.n_pools, sizeof(*base));
	for (unsigned p = 0; base && p < cur->px.n_pools; p++) {
		base[p] = n;
		n += cur->px.pools[p].n_members;
	}
	req = calloc(n ? n : 1, sizeof(*req));
	ok = calloc(n ? n : 1, sizeof(*ok));
	r = calloc(VD_CFG_MAX_MEMBERS, sizeof(*r));
	k = calloc(VD_CFG_MAX_MEMBERS, sizeof(*k));
	if (!base || !req || !ok || !r || !k) {
		vd_log(VD_LOG_ERROR, "passive health: out of memory: outlier windows skipped");
		goto out;
	}
	totals(cur, base, req, ok);
	for (unsigned p = 0; p < vd_ctl.n_passive && p < cur->px.n_pools; p++) {
		struct vd_passive_pool *pp = &vd_ctl.passive[p];
		const struct vd_proxy_pool *pool = &cur->px.pools[p];
		if (!pp->cfg.detection)
			continue;
		for (unsigned m = 0; m < pool->n_members && m < pp->n; m++) {
			const struct vd_proxy_member_info *mi =
				vd_proxy_member_find(&cur->px, &pool->members[m]);
			unsigned x = mi ? base[mi->pool] + mi->member : 0;
			r[m] = mi ? req[x] : 0;
			k[m] = mi ? ok[x] : 0;
		}
		struct vd_passive_view v = pool_view(cur, p, up);
		uint32_t ejected_before[VD_CFG_MAX_MEMBERS];
		bool refused_before[VD_CFG_MAX_MEMBERS];
		unsigned refused;
		for (unsigned m = 0; m < pp->n; m++) {
			ejected_before[m] = pp->m[m].ejections[VD_EJECT_OUTLIER];
			refused_before[m] = pp->m[m].refused;
		}
		if (!vd_passive_window(pp, &v, r, k, now_ms, &refused) && !refused)
			continue;
		CTL_COUNT(vd_control_stats.ejections_refused, refused);
		for (unsigned m = 0; m < pp->n; m++) {
			const struct vd_passive_member *pm = &pp->m[m];
			char why[96];
			snprintf(why, sizeof(why), "outlier: success %u.%u%% over %u ms",
				 pm->ratio_pm / 10, pm->ratio_pm % 10, pp->cfg.interval_ms);
			if (pm->ejections[VD_EJECT_OUTLIER] != ejected_before[m]) {
				CTL_COUNT(vd_control_stats.ejections[VD_EJECT_OUTLIER], 1);
				log_ejected(pool, m, why, pm->until_ms - now_ms);
			} else if (pm->refused && !refused_before[m]) {
				log_refused(pool, m, why, pp);
			}
		}
	}
out:
	free(base);
	free(req);
	free(ok);
	free(r);
	free(k);
}

/* The time: ejections over, oc expired, ramps; the returns are logged. */
static void tick(const struct vd_route *cur, unsigned p, uint64_t now_ms)
{
	bool up[VD_CFG_MAX_MEMBERS], was_out[VD_CFG_MAX_MEMBERS], was_ramping[VD_CFG_MAX_MEMBERS];
	uint8_t was_oc[VD_CFG_MAX_MEMBERS];
	struct vd_passive_pool *pp = &vd_ctl.passive[p];
	const struct vd_proxy_pool *pool = &cur->px.pools[p];
	struct vd_passive_view v = pool_view(cur, p, up);
	for (unsigned m = 0; m < pp->n; m++) {
		was_out[m] = pp->m[m].ejected != VD_EJECT_NONE;
		was_ramping[m] = pp->m[m].ramping;
		was_oc[m] = pp->m[m].oc;
	}
	vd_passive_tick(pp, &v, now_ms);
	for (unsigned m = 0; m < pp->n; m++) {
		if (was_out[m] && !pp->m[m].ejected) {
			CTL_COUNT(vd_control_stats.returns, 1);
			vd_log(VD_LOG_WARN, "member %s/%s back: ejection over%s", pool->name,
			       pool->member_names[m],
			       up[m] ? "" : " (health: down, out until its probes say up)");
		}
		if (was_oc[m] && !pp->m[m].oc) {
			CTL_COUNT(vd_control_stats.overload_changes, 1);
			vd_log(VD_LOG_WARN,
			       "member %s/%s overload control over: its oc-validity "
			       "passed",
			       pool->name, pool->member_names[m]);
		}
		if (!was_ramping[m] && pp->m[m].ramping)
			vd_log(VD_LOG_INFO,
			       "member %s/%s slow start: %u%% of its weight, all of it "
			       "in %u ms",
			       pool->name, pool->member_names[m], pp->m[m].slow,
			       pp->cfg.slow_start_ms);
	}
}

static bool passive_differs(const struct vd_member_passive *a, const struct vd_member_passive *b)
{
	return a->ejected != b->ejected || a->share != b->share || a->oc != b->oc ||
	       a->slow != b->slow || a->until_ms != b->until_ms ||
	       memcmp(a->ejections, b->ejections, sizeof(a->ejections)) != 0;
}

unsigned vd_control_passive_step(const struct vd_route *cur, uint64_t now_ms,
				 struct vd_passive_change **outp)
{
	struct vd_member_passive st[VD_CFG_MAX_MEMBERS];
	bool up[VD_CFG_MAX_MEMBERS];
	unsigned n = 0, cap = 0;
	*outp = NULL;
	if (!vd_ctl.passive || vd_ctl.n_passive != cur->px.n_pools) {
		vd_ctl.n_mev = 0; /* not following this config (out of memory): nothing */
		__atomic_store_n(&vd_ctl.passive_next_ms, UINT64_MAX, __ATOMIC_RELAXED);
		return 0;
	}
	/* nothing new and nothing due: the common iteration costs this test */
	if (!vd_ctl.n_mev && !vd_ctl.n_pending && vd_ctl.passive_version == cur->version &&
	    now_ms < __atomic_load_n(&vd_ctl.passive_next_ms, __ATOMIC_RELAXED))
		return 0;
	for (unsigned p = 0; p < cur->px.n_pools; p++)
		cap += cur->px.pools[p].n_members;
	struct vd_passive_change *out = calloc(cap ? cap : 1, sizeof(*out));
	if (!out) {
		vd_log(VD_LOG_ERROR, "passive health: out of memory: step skipped");
		return 0;
	}
	*outp = out;
	for (unsigned i = 0; i < vd_ctl.n_mev; i++)
		apply_signal(cur, &vd_ctl.mev[i], now_ms);
	vd_ctl.n_mev = 0;
	windows(cur, now_ms);
	uint64_t next_ms = UINT64_MAX;
	for (unsigned p = 0; p < cur->px.n_pools; p++) {
		const struct vd_proxy_pool *pool = &cur->px.pools[p];
		tick(cur, p, now_ms);
		struct vd_passive_view v = pool_view(cur, p, up);
		vd_passive_states(&vd_ctl.passive[p], &v, st);
		for (unsigned m = 0; m < pool->n_members && n < cap; m++)
			if (passive_differs(&st[m], &pool->passive[m]))
				out[n++] = (struct vd_passive_change){
					.pool = p, .member = m, .st = st[m]};
		uint64_t next = vd_passive_next_ms(&vd_ctl.passive[p]);
		if (next < next_ms)
			next_ms = next;
	}
	vd_ctl.passive_version = cur->version;
	__atomic_store_n(&vd_ctl.passive_next_ms, next_ms, __ATOMIC_RELAXED);
	return n;
}

uint64_t vd_control_passive_next_ms(void)
{
	/* the control thread's poll timeout, without the route lock: a reload on the admin thread
	 * may set it meanwhile (to 0: step now) */
	return __atomic_load_n(&vd_ctl.passive_next_ms, __ATOMIC_RELAXED);
}
