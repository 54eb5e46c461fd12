/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Passive health of a pool's members (interface: passive.h): Envoy-style outlier detection,
 * 503 Retry-After, RFC 7339 overload control and slow start, as one plain-data machine per
 * pool with the time as a parameter.
 *
 * Ejection. A member is out (in no Maglev table) for Retry-After seconds when it answers 503
 * with one, or, with detection on, for ejection_ms times its consecutive outlier ejections
 * (at most max_ejection_ms) when a window judged it an outlier. An outlier is a member with
 * at least min_requests requests in the window whose success ratio (final non-5xx responses /
 * requests: a 5xx and silence both count against it) is below min_success_percent, or, with
 * VD_PASSIVE_MIN_JUDGED members judged, below mean - stdev_permille/1000 standard deviations
 * and VD_CFG_OUTLIER_MIN_GAP points under the mean (the gap keeps a pool of near-identical
 * members from ejecting on noise). A window in which a member is judged healthy takes one off
 * its multiplier. It comes back when the time is over, and takes traffic again only if its
 * health probes say up (an ejected member that is also down stays out).
 *
 * The cap. Whatever the reason, at most max_ejection_percent of the pool's members are out
 * at once, rounded down but at least one (0: never eject), and never the last member that
 * takes new dialogs: a bad signal (every member relaying a downstream 503, a broken counter)
 * cannot empty a pool. Outliers are ejected worst first, so the cap keeps the best.
 *
 * Shares. Slow start ramps a member that became available again (its ejection over, or its
 * health back up) from VD_CFG_SLOW_START_FIRST percent of its weight to all of it in at most
 * VD_PASSIVE_SLOW_STEPS steps at least VD_PASSIVE_SLOW_STEP_MS apart (each step is a table
 * rebuild). RFC 7339 oc reduces the member's traffic by oc percent (the loss algorithm) for
 * oc-validity; the newest oc-seq wins. Both are a weight in the snapshot, nothing per call.
 */
#include "passive.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int vd_passive_pool_init(struct vd_passive_pool *pp, const struct vd_cfg_outlier *cfg, unsigned n)
{
	memset(pp, 0, sizeof(*pp));
	pp->cfg = *cfg;
	pp->m = calloc(n ? n : 1, sizeof(*pp->m));
	if (!pp->m)
		return -ENOMEM;
	pp->n = n;
	for (unsigned i = 0; i < n; i++) {
		pp->m[i].slow = 100;
		pp->m[i].ratio_pm = VD_PASSIVE_NONE;
	}
	return 0;
}

void vd_passive_pool_free(struct vd_passive_pool *pp)
{
	free(pp->m);
	memset(pp, 0, sizeof(*pp));
}

/* Takes new dialogs: up, not ejected, not drained. */
static bool available(const struct vd_passive_pool *pp, const struct vd_passive_view *v, unsigned i)
{
	return v->up[i] && !pp->m[i].ejected && !v->drained[i];
}

/* The cap: may member i be ejected now? */
static bool may_eject(const struct vd_passive_pool *pp, const struct vd_passive_view *v, unsigned i)
{
	unsigned out = 0, avail = 0;
	for (unsigned k = 0; k < pp->n; k++) {
		out += pp->m[k].ejected != VD_EJECT_NONE;
		avail += available(pp, v, k);
	}
	unsigned pct = pp->cfg.max_ejection_percent;
	unsigned max = pp->n * pct / 100;
	if (pct && max == 0)
		max = 1;
	if (out >= max)
		return false;
	return !available(pp, v, i) || avail > 1; /* never the last one */
}

static void eject(struct vd_passive_member *m, enum vd_eject why, uint64_t until_ms)
{
	m->ejected = (uint8_t)why;
	m->until_ms = until_ms;
	m->ejections[why]++;
	m->refused = false;
}

enum vd_passive_result vd_passive_retry_after(struct vd_passive_pool *pp,
					      const struct vd_passive_view *v, unsigned i,
					      uint32_t secs, uint64_t now_ms)
{
	if (!pp->cfg.retry_after || i >= pp->n || secs == 0)
		return VD_PASSIVE_IGNORED;
	if (secs > pp->cfg.retry_after_max_s)
		secs = pp->cfg.retry_after_max_s;
	struct vd_passive_member *m = &pp->m[i];
	uint64_t until = now_ms + (uint64_t)secs * 1000;
	if (m->ejected) {
		/* responses to requests sent before it went out say it again: extend only when it
		 * asks for clearly longer (each extension is a publication) */
		if (until <= m->until_ms + VD_PASSIVE_EXTEND_MIN_MS)
			return VD_PASSIVE_IGNORED;
		m->until_ms = until;
		m->ejected = VD_EJECT_RETRY_AFTER;
		return VD_PASSIVE_REFRESHED;
	}
	if (!may_eject(pp, v, i)) {
		m->refused = true;
		return VD_PASSIVE_REFUSED;
	}
	eject(m, VD_EJECT_RETRY_AFTER, until);
	return VD_PASSIVE_EJECTED;
}

enum vd_passive_result vd_passive_overload(struct vd_passive_pool *pp, unsigned i, uint8_t oc,
					   uint32_t validity_ms, bool has_seq, uint64_t seq,
					   uint64_t now_ms)
{
	if (!pp->cfg.overload_control || i >= pp->n)
		return VD_PASSIVE_IGNORED;
	struct vd_passive_member *m = &pp->m[i];
	if (has_seq) {
		if (m->oc_seq_set && seq < m->oc_seq)
			return VD_PASSIVE_IGNORED; /* reordered: older news than what applies */
		m->oc_seq = seq;
		m->oc_seq_set = true;
	}
	uint8_t before = m->oc;
	if (oc > 100)
		oc = 100;
	if (validity_ms == 0 || oc == 0) { /* RFC 7339: validity 0 stops overload control */
		m->oc = 0;
		m->oc_until_ms = 0;
	} else {
		m->oc = oc;
		m->oc_until_ms = now_ms + validity_ms;
	}
	if (m->oc != before)
		return VD_PASSIVE_CHANGED;
	return m->oc ? VD_PASSIVE_REFRESHED : VD_PASSIVE_IGNORED;
}

/* Success ratio in per mille of a window's deltas, or VD_PASSIVE_NONE (too few requests, a
 * counter that went back). */
static uint32_t window_ratio(const struct vd_passive_pool *pp, const struct vd_passive_member *m,
			     uint64_t req, uint64_t ok)
{
	if (!m->based || req < m->req0 || ok < m->ok0)
		return VD_PASSIVE_NONE;
	uint64_t dr = req - m->req0, dk = ok - m->ok0;
	if (dr < pp->cfg.min_requests)
		return VD_PASSIVE_NONE;
	/* responses to requests of the window before may come in: never above 1 */
	return dk >= dr ? 1000u : (uint32_t)(dk * 1000 / dr);
}

/* Which judged members are outliers: flags in out[] (zeroed by the caller), count returned. */
static unsigned outliers(const struct vd_passive_pool *pp, bool *out)
{
	double sum = 0, sq = 0;
	unsigned judged = 0, n_out = 0;
	for (unsigned i = 0; i < pp->n; i++)
		if (pp->m[i].ratio_pm != VD_PASSIVE_NONE) {
			sum += pp->m[i].ratio_pm;
			sq += (double)pp->m[i].ratio_pm * pp->m[i].ratio_pm;
			judged++;
		}
	double mean = judged ? sum / judged : 0;
	double sd = judged ? sqrt(fmax(0, sq / judged - mean * mean)) : 0;
	double bar = mean - sd * pp->cfg.stdev_permille / 1000.0;
	for (unsigned i = 0; i < pp->n; i++) {
		uint32_t r = pp->m[i].ratio_pm;
		if (r == VD_PASSIVE_NONE)
			continue;
		bool absolute = r < pp->cfg.min_success_percent * 10;
		bool relative = judged >= VD_PASSIVE_MIN_JUDGED && r < bar &&
				mean - r >= VD_CFG_OUTLIER_MIN_GAP * 10;
		out[i] = absolute || relative;
		n_out += out[i];
	}
	return n_out;
}

unsigned vd_passive_window(struct vd_passive_pool *pp, const struct vd_passive_view *v,
			   const uint64_t *req, const uint64_t *ok, uint64_t now_ms,
			   unsigned *refused)
{
	unsigned ejected = 0;
	bool cand[VD_CFG_MAX_MEMBERS], was[VD_CFG_MAX_MEMBERS];
	*refused = 0;
	if (!pp->cfg.detection)
		return 0;
	if (pp->window_started && now_ms < pp->window_start_ms + pp->cfg.interval_ms)
		return 0;
	memset(cand, 0, sizeof(cand));
	for (unsigned i = 0; pp->window_started && i < pp->n; i++) {
		struct vd_passive_member *m = &pp->m[i];
		m->ratio_pm = v->up[i] && !m->ejected ? window_ratio(pp, m, req[i], ok[i])
						      : VD_PASSIVE_NONE;
	}
	if (pp->window_started)
		outliers(pp, cand);
	memcpy(was, cand, sizeof(was));
	for (;;) { /* worst first: the cap keeps the best of them */
		unsigned worst = pp->n;
		for (unsigned i = 0; i < pp->n; i++)
			if (cand[i] &&
			    (worst == pp->n || pp->m[i].ratio_pm < pp->m[worst].ratio_pm))
				worst = i;
		if (worst == pp->n)
			break;
		cand[worst] = false;
		struct vd_passive_member *m = &pp->m[worst];
		if (!may_eject(pp, v, worst)) {
			m->refused = true;
			++*refused;
			continue;
		}
		m->times++;
		uint64_t ms = (uint64_t)pp->cfg.ejection_ms * m->times;
		eject(m, VD_EJECT_OUTLIER,
		      now_ms + (ms < pp->cfg.max_ejection_ms ? ms : pp->cfg.max_ejection_ms));
		ejected++;
	}
	for (unsigned i = 0; i < pp->n; i++) {
		struct vd_passive_member *m = &pp->m[i];
		if (m->ratio_pm != VD_PASSIVE_NONE && !was[i]) {
			if (m->times) /* a healthy window earns back one step of the backoff */
				m->times--;
			m->refused = false;
		}
		m->req0 = req[i];
		m->ok0 = ok[i];
		m->based = true;
	}
	pp->window_start_ms = now_ms;
	pp->window_started = true;
	return ejected;
}

/* The ramp's percent at now: whole steps only, so it changes at most once a step. */
static void ramp(const struct vd_passive_pool *pp, struct vd_passive_member *m, uint64_t now_ms)
{
	uint64_t len = pp->cfg.slow_start_ms, step = len / VD_PASSIVE_SLOW_STEPS;
	if (step < VD_PASSIVE_SLOW_STEP_MS)
		step = VD_PASSIVE_SLOW_STEP_MS;
	uint64_t done = (now_ms - m->ramp_start_ms) / step * step;
	if (done >= len) {
		m->ramping = false;
		m->slow = 100;
		return;
	}
	m->ramp_next_ms = m->ramp_start_ms + done + step;
	m->slow = (uint8_t)(VD_CFG_SLOW_START_FIRST + (100 - VD_CFG_SLOW_START_FIRST) * done / len);
}

unsigned vd_passive_tick(struct vd_passive_pool *pp, const struct vd_passive_view *v,
			 uint64_t now_ms)
{
	unsigned back = 0;
	for (unsigned i = 0; i < pp->n; i++) {
		struct vd_passive_member *m = &pp->m[i];
		if (m->ejected && now_ms >= m->until_ms) {
			m->ejected = VD_EJECT_NONE;
			back++;
		}
		if (m->oc && now_ms >= m->oc_until_ms)
			m->oc = 0;
		bool avail = v->up[i] && !m->ejected;
		if (m->seen && avail && !m->avail && pp->cfg.slow_start_ms) {
			m->ramping = true;
			m->ramp_start_ms = now_ms;
		}
		if (!avail)
			m->ramping = false;
		m->avail = avail;
		m->seen = true;
		if (m->ramping)
			ramp(pp, m, now_ms);
		else
			m->slow = 100;
	}
	return back;
}

void vd_passive_states(const struct vd_passive_pool *pp, const struct vd_passive_view *v,
		       struct vd_member_passive *out)
{
	for (unsigned i = 0; i < pp->n; i++) {
		const struct vd_passive_member *m = &pp->m[i];
		struct vd_member_passive *o = &out[i];
		memset(o, 0, sizeof(*o));
		o->ejected = m->ejected;
		o->until_ms = m->ejected ? m->until_ms : 0;
		o->oc = m->oc;
		o->slow = m->slow;
		memcpy(o->ejections, m->ejections, sizeof(o->ejections));
		o->share = (uint32_t)((uint64_t)VD_SHARE_WHOLE * m->slow * (100u - m->oc) / 10000u);
	}
	/* what the reduced members of a group give up goes to the others, by weight: per group,
	 * U = the unreduced members' weight (x slow start), R = what the reduced ones shed */
	for (unsigned i = 0; i < pp->n; i++) {
		uint64_t unreduced = 0, shed = 0;
		bool first = true;
		for (unsigned k = 0; k < pp->n && first; k++)
			first = !(v->priorities[k] == v->priorities[i] && k < i);
		if (!first)
			continue; /* each group once, at its first member */
		for (unsigned k = i; k < pp->n; k++) {
			if (v->priorities[k] != v->priorities[i] || !available(pp, v, k))
				continue;
			uint64_t b = (uint64_t)v->weights[k] * pp->m[k].slow;
			if (pp->m[k].oc)
				shed += b * pp->m[k].oc;
			else
				unreduced += b * 100;
		}
		if (!shed || !unreduced)
			continue; /* nobody reduced, or everybody: shares as they are */
		for (unsigned k = i; k < pp->n; k++) {
			if (v->priorities[k] != v->priorities[i] || !available(pp, v, k) ||
			    pp->m[k].oc)
				continue;
			uint64_t s = (uint64_t)VD_SHARE_WHOLE * pp->m[k].slow * (unreduced + shed) /
				     (100 * unreduced);
			out[k].share = s > VD_SHARE_MAX ? VD_SHARE_MAX : (uint32_t)s;
		}
	}
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t vd_passive_next_ms(const struct vd_passive_pool *pp)
{
	uint64_t next = UINT64_MAX;
	if (pp->cfg.detection && pp->window_started)
		next = pp->window_start_ms + pp->cfg.interval_ms;
	for (unsigned i = 0; i < pp->n; i++) {
		const struct vd_passive_member *m = &pp->m[i];
		if (m->ejected)
			next = earliest(next, m->until_ms);
		if (m->oc)
			next = earliest(next, m->oc_until_ms);
		if (m->ramping)
			next = earliest(next, m->ramp_next_ms);
	}
	return next;
}
