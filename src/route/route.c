/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building and publishing routing snapshots (see include/viaduct/route.h).
 *
 * Publication is liburcu's QSBR flavour: the writer swaps the pointer, then
 * synchronize_rcu() returns once every registered worker has passed a quiescent state (one
 * per batch, or offline while idle in poll), after which nobody can still hold the old
 * snapshot and it is freed. Readers pay nothing but a load.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>

#include "viaduct/route.h"
#include "viaduct/tls.h"

struct vd_route *vd_route_published;
#if defined(__SANITIZE_THREAD__)
int vd_route_grace;
#endif
static uint64_t next_version = 1;
static pthread_mutex_t builders = PTHREAD_MUTEX_INITIALIZER;
static unsigned workers_override;

void vd_route_set_workers_override(unsigned workers)
{
	workers_override = workers;
}

/* The reader threads' registration with liburcu, undone by the key's destructor when such
 * a thread exits (a registered thread that is gone would stall every grace period). */
static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_exit(void *unused)
{
	(void)unused;
	rcu_unregister_thread();
}

static void reader_key_init(void)
{
	pthread_key_create(&reader_key, reader_exit);
}

void vd_route_reader_begin(void)
{
	pthread_once(&reader_once, reader_key_init);
	if (!pthread_getspecific(reader_key)) {
		rcu_register_thread(); /* online from here */
		pthread_setspecific(reader_key, (void *)1);
		return;
	}
	rcu_thread_online();
}

void vd_route_reader_end(void)
{
#if defined(__SANITIZE_THREAD__)
	__tsan_release(&vd_route_grace); /* what this section read happens before the free */
#endif
	rcu_thread_offline();
}

void vd_route_lock(void)
{
	pthread_mutex_lock(&builders);
}

void vd_route_unlock(void)
{
	pthread_mutex_unlock(&builders);
}

void vd_route_free(struct vd_route *r)
{
	if (!r)
		return;
	vd_proxy_fini(&r->px);
	if (!r->cfg_refs || --*r->cfg_refs == 0) {
		vd_config_free(&r->cfg);
		free(r->cfg_refs);
	}
	vd_tls_unref(r->tls);
	free(r);
}

static bool same_sockaddr(const union vd_sockaddr *a, const union vd_sockaddr *b)
{
	return a->sa.sa_family == b->sa.sa_family && memcmp(a, b, vd_sockaddr_len(b)) == 0;
}

/* What a reload cannot change: the sockets and buffers the workers own. */
static int restart_needed(const struct vd_config *old, const struct vd_config *new, char *err,
			  size_t errlen)
{
	const char *what = NULL;
	if (old->n_listeners != new->n_listeners)
		what = "listeners";
	for (unsigned i = 0; !what && i < new->n_listeners; i++)
		if (old->listeners[i].addrlen != new->listeners[i].addrlen ||
		    memcmp(&old->listeners[i].addr, &new->listeners[i].addr,
			   new->listeners[i].addrlen) ||
		    strcmp(old->listeners[i].advertise, new->listeners[i].advertise) ||
		    old->listeners[i].advertise_port != new->listeners[i].advertise_port ||
		    old->listeners[i].transport != new->listeners[i].transport)
			what = "listeners";
	if (!what && old->workers != new->workers)
		what = "workers";
	if (!what && old->batch != new->batch)
		what = "batch";
	if (!what && old->limits.max_message_size != new->limits.max_message_size)
		what = "limits.max_message_size";
	/* the workers' capture buffers and sockets exist only when hep: was there at start;
	 * its values (collector, id, sample, password) reload */
	if (!what && old->hep.enabled != new->hep.enabled)
		what = "hep (the section added or removed)";
	if (!what)
		return 0;
	snprintf(err, errlen, "%s changed: a restart is needed to apply it (the running config "
			      "keeps serving)",
		 what);
	return -EINVAL;
}

/* Members in both snapshots (same pool name, same address) keep up/drained and their
 * passive-health state (an ejection, a share), so a reload does not bring back a member a
 * 503 took out. */
static int carry_state(struct vd_route *r, const struct vd_route *prev)
{
	for (unsigned p = 0; p < r->px.n_pools; p++) {
		const struct vd_proxy_pool *np = &r->px.pools[p];
		int op = vd_config_pool_index(&prev->cfg, np->name);
		if (op < 0)
			continue;
		const struct vd_proxy_pool *pp = &prev->px.pools[op];
		for (unsigned m = 0; m < np->n_members; m++)
			for (unsigned k = 0; k < pp->n_members; k++) {
				if (!same_sockaddr(&r->cfg.pools[p].members[m].addr,
						   &pp->members[k]))
					continue;
				int rc = vd_proxy_member_set(&r->px, p, m, pp->up[k],
							     pp->drained[k]);
				if (!rc)
					rc = vd_proxy_member_passive(&r->px, p, m, &pp->passive[k]);
				if (rc)
					return rc;
			}
	}
	return vd_proxy_pools_rebuild(&r->px); /* each changed pool once */
}

static void ip_compile(struct vd_route_ip *ip, const struct vd_cfg_dpdk *d)
{
	memset(ip, 0, sizeof(*ip));
	ip->n_networks = d->n_networks;
	memcpy(ip->networks, d->networks, sizeof(ip->networks));
	if (d->gateway4.sa.sa_family == AF_INET) {
		memcpy(ip->gateway4, &d->gateway4.in.sin_addr, 4);
		ip->has_gateway4 = true;
	}
	if (d->gateway6.sa.sa_family == AF_INET6) {
		memcpy(ip->gateway6, &d->gateway6.in6.sin6_addr, 16);
		ip->has_gateway6 = true;
	}
}

static void hep_compile(struct vd_hep_params *h, const struct vd_cfg_hep *c)
{
	_Static_assert(VD_CFG_HEP_PASSWORD_MAX == VD_HEP_AUTH_MAX, "password sizes");
	memset(h, 0, sizeof(*h));
	h->enabled = c->enabled;
	h->collector = c->addr;
	h->capture_id = c->id;
	h->sample = c->sample;
	h->auth_len = (uint16_t)strlen(c->password);
	memcpy(h->auth, c->password, h->auth_len);
}

struct vd_route *vd_route_build(struct vd_config *cfg, const struct vd_route *prev, char *err,
				size_t errlen)
{
	struct vd_route *r = calloc(1, sizeof(*r));
	if (!r) {
		vd_config_free(cfg);
		memset(cfg, 0, sizeof(*cfg));
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (!(r->cfg_refs = calloc(1, sizeof(*r->cfg_refs)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*r->cfg_refs = 1;
	ip_compile(&r->ip, &r->cfg.dpdk);
	hep_compile(&r->hep, &r->cfg.hep);
	if (workers_override)
		r->cfg.workers = workers_override;
	if (prev && restart_needed(&prev->cfg, &r->cfg, err, errlen))
		goto fail;
	if (vd_proxy_init(&r->px, &r->cfg, err, errlen) < 0)
		goto fail;
	/* certificates and keys are read again at every load: a reload takes renewed ones */
	if (vd_tls_build(&r->cfg, &r->tls, err, errlen) < 0)
		goto fail;
	if (prev && carry_state(r, prev)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return r;
fail:
	vd_route_free(r);
	return NULL;
}

struct vd_route *vd_route_with_members(const struct vd_route *prev,
				       const struct vd_member_change *changes, unsigned n,
				       char *err, size_t errlen)
{
	struct vd_route *r = calloc(1, sizeof(*r));
	if (!r || vd_proxy_clone(&r->px, &prev->px)) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* the same config (its pools, rules and files): shared, not copied or reloaded */
	r->cfg = prev->cfg;
	r->cfg_refs = prev->cfg_refs;
	if (r->cfg_refs)
		++*r->cfg_refs;
	r->tls = vd_tls_ref(prev->tls); /* the same files: the same contexts */
	r->ip = prev->ip;
	r->hep = prev->hep;
	for (unsigned i = 0; i <= n; i++) {
		/* every change first, then each changed pool's tables built once */
		int rc = i < n ? vd_proxy_member_set(&r->px, changes[i].pool, changes[i].member,
						     changes[i].up, changes[i].drained)
			       : vd_proxy_pools_rebuild(&r->px);
		if (!rc && i < n && changes[i].passive)
			rc = vd_proxy_member_passive(&r->px, changes[i].pool, changes[i].member,
						     changes[i].passive);
		if (rc) {
			snprintf(err, errlen, "%s", rc == -EINVAL ? "no such member" : "out of memory");
			vd_route_free(r);
			return NULL;
		}
	}
	return r;
}

struct vd_route *vd_route_with_member(const struct vd_route *prev, unsigned pool,
				      unsigned member, bool up, bool drained, char *err,
				      size_t errlen)
{
	const struct vd_member_change c = { pool, member, up, drained, NULL };
	return vd_route_with_members(prev, &c, 1, err, errlen);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t vd_route_publish(struct vd_route *r)
{
	struct vd_route *old = vd_route_published;
	r->version = next_version++;
	uint64_t t0 = now_us();
#if defined(__SANITIZE_THREAD__)
	__atomic_store_n(&vd_route_published, r, __ATOMIC_RELEASE);
	synchronize_rcu();
	__tsan_acquire(&vd_route_grace);
#else
	rcu_assign_pointer(vd_route_published, r);
	synchronize_rcu(); /* every worker has passed a quiescent state: nobody holds `old` */
#endif
	uint64_t grace = now_us() - t0;
	vd_route_free(old);
	return grace;
}
