/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing snapshot and its publication.
 *
 * A snapshot is everything the workers read: the compiled proxy (listeners, pools, Maglev
 * tables) plus the config it came from. It is immutable once published. The control plane
 * builds a new one aside (config load, reload) or derives one from the published snapshot (a
 * member going up or down, a drain: the config, rules and unchanged pools shared by reference,
 * only the changed pools copied) and publishes it with rcu_assign_pointer; workers (liburcu QSBR) pick it up at their next
 * batch and never take a lock; the old one is freed after a grace period. A failed build
 * leaves the published snapshot serving: traffic never stops.
 *
 * Every function here is control plane only, serialised by the caller (the control thread,
 * and the admin thread through vd_route_lock).
 */
#ifndef VIADUCT_ROUTE_H
#define VIADUCT_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "viaduct/config.h"
#include "viaduct/hep.h"
#include "viaduct/proxy.h"

struct vd_tls;

/* Next hops for a datapath that resolves its own neighbours (DPDK), compiled from the
 * config's dpdk: networks and gateways: workers read this, never the config. */
struct vd_route_ip {
	unsigned n_networks; /* on-link prefixes; none = every destination is on-link */
	struct vd_prefix networks[VD_CFG_DPDK_MAX_NETS];
	uint8_t gateway4[4], gateway6[16];
	bool has_gateway4, has_gateway6;
};

struct vd_route {
	struct vd_proxy px;
	struct vd_config cfg; /* its heap parts shared by the snapshots of one config load */
	unsigned *cfg_refs;   /* how many snapshots share them (control plane only) */
	struct vd_tls *tls; /* TLS contexts (include/viaduct/tls.h), NULL without TLS */
	struct vd_route_ip ip;
	struct vd_hep_params hep; /* HEP capture: where copies go (the config's hep:, compiled) */
	uint64_t version; /* 1 for the first snapshot, +1 per publication */
};

/** The published snapshot; workers read it with vd_route_read(). */
extern struct vd_route *vd_route_published;

/*
 * ThreadSanitizer does not see liburcu's ordering (its barriers are asm, and the grace period
 * is a protocol, not a lock). In TSan builds only, the publication uses release/acquire
 * atomics and the grace period is modelled for TSan: every worker's quiescent state releases
 * vd_route_grace, the writer acquires it after synchronize_rcu(). Normal builds are the plain
 * liburcu calls.
 */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
extern int vd_route_grace;
#define vd_route_read() __atomic_load_n(&vd_route_published, __ATOMIC_ACQUIRE)
#define vd_route_quiescent()                    \
	do {                                    \
		__tsan_release(&vd_route_grace); \
		rcu_quiescent_state();          \
	} while (0)
#else
#define vd_route_read() rcu_dereference(vd_route_published)
#define vd_route_quiescent() rcu_quiescent_state()
#endif

/**
 * Compile a loaded config into a new snapshot, which takes *cfg over (also on failure: *cfg
 * is then freed; either way the caller's struct is left empty). When `prev` is given, members
 * present in both (same pool name, same address) keep their up/drained/passive state, and a change
 * that needs a restart (listeners, workers, batch, max_message_size, adding or removing hep:)
 * is refused. NULL with a
 * message in err on failure.
 */
struct vd_route *vd_route_build(struct vd_config *cfg, const struct vd_route *prev, char *err,
				size_t errlen);

/** A member's new state (health, drain; passive health when `passive` is not NULL). */
struct vd_member_change {
	unsigned pool, member;
	bool up, drained;
	const struct vd_member_passive *passive; /* NULL: as it is */
};

/**
 * `prev` with members' states changed, several at once (a site failing is one publication).
 * Nothing is compiled: the config, the rules database and every pool not changed are shared
 * with prev by reference; a changed pool is copied and only its Maglev tables are rebuilt.
 * NULL on error (-ENOMEM; an index out of range is -EINVAL) with err set.
 */
struct vd_route *vd_route_with_members(const struct vd_route *prev,
				       const struct vd_member_change *changes, unsigned n,
				       char *err, size_t errlen);
/** The same for one member. */
struct vd_route *vd_route_with_member(const struct vd_route *prev, unsigned pool,
				      unsigned member, bool up, bool drained, char *err,
				      size_t errlen);

/**
 * Publish r (taking ownership), wait for a grace period, free the previous snapshot.
 * Returns the grace period in microseconds: from the pointer swap until no worker can
 * still use the previous snapshot (each one's next batch reads r).
 */
uint64_t vd_route_publish(struct vd_route *r);

/** Free a snapshot that was never published (or after its grace period). */
void vd_route_free(struct vd_route *r);

/** A worker count given on the command line: applied to every config loaded from now on. */
void vd_route_set_workers_override(unsigned workers);

/**
 * A read section on a thread that is not a worker (the admin API's): between begin and end
 * vd_route_read() gives a snapshot that stays valid, without the builders' lock, so a
 * reload or a rebuild never makes a reader wait (publication waits for the section to end:
 * keep it short). The thread registers with liburcu on first use and unregisters when it
 * exits. Never call a function that publishes inside a section.
 */
void vd_route_reader_begin(void);
void vd_route_reader_end(void);

/** Serialises snapshot builders (control thread, admin thread). Control plane only. */
void vd_route_lock(void);
void vd_route_unlock(void);

#endif
