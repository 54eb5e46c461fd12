/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's health glue: the prober over the members of the published snapshot,
 * the changes it reports (and the datapath's failed connections) published together with
 * passive health's (control_passive.c) once per loop iteration, and its counters on SIGUSR1
 * and at exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control_internal.h"
#include "viaduct/dpview.h"
#include "viaduct/log.h"
#include "viaduct/stats.h"

/* The datapath's connection to a member failed: a failed probe for the prober. */
void vd_control_on_conn_failure(void *arg, const union vd_sockaddr *a, uint8_t transport)
{
	(void)arg;
	vd_health_on_conn_failure(vd_ctl.prober, a, transport, vd_now_ms());
}

static uint64_t vd_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}


static void on_health_change(void *arg, unsigned i, bool up)
{
	(void)arg;
	if (i >= vd_ctl.n_probed || vd_ctl.n_pending >= VD_HEALTH_MAX_MEMBERS)
		return;
	if (!vd_ctl.pending && !(vd_ctl.pending = calloc(VD_HEALTH_MAX_MEMBERS, sizeof(*vd_ctl.pending))))
		return;
	vd_ctl.pending[vd_ctl.n_pending++] = (struct vd_member_change){ .pool = vd_ctl.probed_pool[i],
							  .member = vd_ctl.probed_member[i], .up = up };
}

/* The state a change leaves member (pool, m) in: cur's, plus what changes[0..n) set. */
static struct vd_member_change *change_of(struct vd_member_change *changes, unsigned *n,
					  const struct vd_route *cur, unsigned pool, unsigned m)
{
	for (unsigned i = 0; i < *n; i++)
		if (changes[i].pool == pool && changes[i].member == m)
			return &changes[i];
	const struct vd_proxy_pool *p = &cur->px.pools[pool];
	changes[*n] = (struct vd_member_change){ .pool = pool, .member = m, .up = p->up[m],
						 .drained = p->drained[m] };
	return &changes[(*n)++];
}

static void log_changes(const struct vd_route *r, const struct vd_member_change *c, unsigned n,
			const bool *health)
{
	for (unsigned i = 0; i < n; i++) {
		if (!health[i])
			continue;
		const struct vd_proxy_pool *p = &r->px.pools[c[i].pool];
		vd_log(VD_LOG_WARN, "member %s/%s %s (health: %s): snapshot %lu", p->name,
		       p->member_names[c[i].member], c[i].up ? "up" : "down",
		       c[i].up ? "answering again" : "failing", (unsigned long)r->version);
	}
}

/*
 * One snapshot for everything this iteration changed: the prober's up/down (drain kept as it
 * is) and passive health (its step sees the health changes, so a member back up starts its
 * slow start in the same snapshot). A change a reload made stale (its index gone) is skipped.
 */
void vd_control_flush_at(uint64_t now_ms)
{
	char err[512];
	vd_route_lock();
	const struct vd_route *cur = vd_route_published;
	struct vd_passive_change *pc = NULL;
	unsigned n_pc = vd_control_passive_step(cur, now_ms, &pc);
	if (!vd_ctl.n_pending && !n_pc) {
		vd_route_unlock();
		free(pc);
		return;
	}
	struct vd_member_change *ch = calloc(vd_ctl.n_pending + n_pc + 1, sizeof(*ch));
	bool *health = calloc(vd_ctl.n_pending + n_pc + 1, sizeof(*health));
	unsigned n = 0;
	for (unsigned i = 0; ch && health && i < vd_ctl.n_pending; i++) {
		const struct vd_member_change *c = &vd_ctl.pending[i];
		if (c->pool >= cur->px.n_pools || c->member >= cur->px.pools[c->pool].n_members)
			continue; /* a reload changed the pools meanwhile */
		if (cur->px.pools[c->pool].up[c->member] == c->up)
			continue;
		struct vd_member_change *x = change_of(ch, &n, cur, c->pool, c->member);
		x->up = c->up;
		health[x - ch] = true;
	}
	for (unsigned i = 0; ch && health && i < n_pc; i++)
		change_of(ch, &n, cur, pc[i].pool, pc[i].member)->passive = &pc[i].st;
	vd_ctl.n_pending = 0;
	if (!n) {
		vd_route_unlock();
		if (!ch || !health)
			vd_log(VD_LOG_ERROR, "members: out of memory: changes not applied");
		free(ch);
		free(health);
		free(pc);
		return;
	}
	uint64_t t0 = vd_now_us();
	struct vd_route *r = vd_route_with_members(cur, ch, n, err, sizeof(err));
	if (!r) {
		vd_route_unlock();
		vd_log(VD_LOG_ERROR, "members: %u change(s) not applied: %s", n, err);
		free(ch);
		free(health);
		free(pc);
		return;
	}
	uint64_t built = vd_now_us() - t0;
	uint64_t grace = vd_route_publish(r);
	/* snapshots, as its help text says: n changes in one */
	CTL_COUNT(vd_control_stats.member_changes, 1);
	log_changes(r, ch, n, health);
	vd_log(VD_LOG_INFO, "members: %u change(s) in snapshot %lu (built in %lu us, every "
			    "worker on it within %lu us)",
	       n, (unsigned long)r->version, (unsigned long)built, (unsigned long)grace);
	vd_route_unlock();
	free(ch);
	free(health);
	free(pc);
}

void vd_control_flush(void)
{
	vd_control_flush_at(vd_now_ms());
}

void vd_control_on_member_event(void *arg, const struct vd_member_event *e)
{
	if (e->kind == VD_MEV_CONN_FAILED) {
		if (vd_ctl.prober)
			vd_control_on_conn_failure(arg, &e->addr, e->transport);
		return;
	}
	vd_control_passive_event(e);
}

/* The prober follows the members of the published snapshot, each with its transport (how it
 * is probed). Called with the route lock. */
void vd_control_health_members(const struct vd_route *r)
{
	if (!vd_ctl.prober)
		return;
	unsigned n = 0;
	for (unsigned p = 0; p < r->px.n_pools; p++)
		n += r->px.pools[p].n_members;
	union vd_sockaddr *addrs = calloc(n ? n : 1, sizeof(*addrs));
	uint8_t *tps = calloc(n ? n : 1, sizeof(*tps));
	uint16_t *pools = calloc(n ? n : 1, sizeof(*pools));
	uint16_t *members = calloc(n ? n : 1, sizeof(*members));
	if (!addrs || !tps || !pools || !members) {
		vd_log(VD_LOG_ERROR, "health: out of memory: probing the previous member list");
		free(addrs);
		free(tps);
		free(pools);
		free(members);
		return;
	}
	n = 0;
	for (unsigned p = 0; p < r->px.n_pools; p++)
		for (unsigned m = 0; m < r->px.pools[p].n_members; m++) {
			addrs[n] = r->px.pools[p].members[m];
			tps[n] = r->px.pools[p].transports[m];
			pools[n] = (uint16_t)p;
			members[n++] = (uint16_t)m;
		}
	if (vd_health_set_members(vd_ctl.prober, addrs, tps, n) == 0) {
		free(vd_ctl.probed_pool);
		free(vd_ctl.probed_member);
		vd_ctl.probed_pool = pools;
		vd_ctl.probed_member = members;
		vd_ctl.n_probed = n;
	} else {
		free(pools);
		free(members);
	}
	free(addrs);
	free(tps);
}

void vd_control_health_start(const struct vd_route *r)
{
	const struct vd_config *c = &r->cfg;
	struct vd_health_config hc = { .interval_ms = c->health.interval_ms,
				       .timeout_ms = c->health.timeout_ms,
				       .down_after = c->health.down_after,
				       .up_after = c->health.up_after };
	char err[256];
	/* a datapath that owns our addresses (DPDK) carries the probes; else kernel sockets */
	bool via_dp = vd_ctl.view && vd_ctl.view->probe_send && vd_ctl.view->probe_recv;
	uint16_t port = via_dp ? vd_ctl.view->probe_port : 0; /* 0: ephemeral */
	if (!c->health.enabled)
		return;
	/* probes leave from the first listener address of each family */
	for (unsigned i = 0; i < r->px.n_listeners; i++) {
		union vd_sockaddr a = r->px.listeners[i].bind;
		union vd_sockaddr *slot = a.sa.sa_family == AF_INET6 ? &hc.bind_v6 : &hc.bind_v4;
		if (slot->sa.sa_family)
			continue;
		if (a.sa.sa_family == AF_INET6)
			a.in6.sin6_port = htons(port);
		else
			a.in.sin_port = htons(port);
		*slot = a;
	}
	if (via_dp) {
		/* same signature: the view's probe_send is the transport's send */
		struct vd_health_transport t = { .send = vd_ctl.view->probe_send,
						 .arg = vd_ctl.view->dp,
						 .src_v4 = hc.bind_v4,
						 .src_v6 = hc.bind_v6 };
		vd_ctl.prober = vd_health_new_transport(&hc, &t, on_health_change, NULL, err, sizeof(err));
	} else {
		vd_ctl.prober = vd_health_new(&hc, on_health_change, NULL, err, sizeof(err));
	}
	if (!vd_ctl.prober) {
		vd_log(VD_LOG_ERROR, "health probing disabled: %s", err);
		return;
	}
	vd_route_lock();
	vd_control_health_members(r);
	vd_route_unlock();
	vd_log(VD_LOG_INFO,
	       "health: probing %u member(s) every %u ms, down after %u, up after %u%s",
	       vd_ctl.n_probed, hc.interval_ms, hc.down_after, hc.up_after,
	       via_dp ? ", through the datapath" : "");
}

/* Replies the datapath took at our probe port (no descriptor to poll: once per loop
 * iteration). Without a prober they are only freed. */
#define HEALTH_DP_RX_MAX 256 /* per iteration: a flood cannot hold the control thread */

static void on_probe_reply(void *arg, const void *buf, size_t len, const union vd_sockaddr *src)
{
	(void)arg;
	if (vd_ctl.prober)
		vd_health_on_datagram(vd_ctl.prober, buf, len, src, vd_now_ms());
}

void vd_control_health_poll(void)
{
	if (vd_ctl.view->probe_recv)
		vd_ctl.view->probe_recv(vd_ctl.view->dp, on_probe_reply, NULL, HEALTH_DP_RX_MAX);
}

/* One "stats health" line per member at exit (with the other exit counters, on stderr). */
static void health_print(void)
{
	char name[VD_CFG_NAME_MAX + VD_CFG_HOST_MAX + 16];
	const struct vd_health_counters *hc = vd_health_counters(vd_ctl.prober);
	vd_route_lock();
	const struct vd_route *r = vd_route_published;
	for (unsigned i = 0; i < vd_ctl.n_probed; i++) {
		const struct vd_health_member_state *st = vd_health_state(vd_ctl.prober, i);
		unsigned p = vd_ctl.probed_pool[i], m = vd_ctl.probed_member[i];
		if (!st || p >= r->px.n_pools || m >= r->px.pools[p].n_members)
			continue;
		snprintf(name, sizeof(name), "%s/%s", r->px.pools[p].name,
			 r->px.pools[p].member_names[m]);
		fprintf(stderr,
			"stats health member=%s up=%d probes=%lu replies=%lu timeouts=%lu "
			"errors_5xx=%lu conn_failures=%lu\n",
			name, st->up ? 1 : 0, (unsigned long)st->probes, (unsigned long)st->replies,
			(unsigned long)st->timeouts, (unsigned long)st->errors_5xx,
			(unsigned long)st->conn_failures);
	}
	vd_route_unlock();
	fprintf(stderr,
		"stats health rx=%lu garbage=%lu stray=%lu provisional=%lu rx_errors=%lu "
		"tx_errors=%lu\n",
		(unsigned long)hc->rx, (unsigned long)hc->garbage, (unsigned long)hc->stray,
		(unsigned long)hc->provisional, (unsigned long)hc->rx_errors,
		(unsigned long)hc->tx_errors);
	fflush(stderr);
}

void vd_control_health_stop(void)
{
	if (vd_ctl.prober)
		health_print();
	vd_health_free(vd_ctl.prober);
	vd_ctl.prober = NULL;
	free(vd_ctl.probed_pool);
	free(vd_ctl.probed_member);
	vd_ctl.probed_pool = vd_ctl.probed_member = NULL;
	vd_ctl.n_probed = 0;
	free(vd_ctl.pending);
	vd_ctl.pending = NULL;
	vd_ctl.n_pending = 0;
}
