/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the control plane reads from a datapath, whichever it is (kernel sockets in src/dp,
 * DPDK in dpdk/): how many workers, each worker's SIP counters (struct vd_stats), and the
 * datapath's own extras for the printed stats and /metrics. The control thread and the admin
 * thread only ever see a datapath through this view, so neither links against DPDK.
 *
 * Every callback is control plane: it may run on the control thread or on the admin
 * (libmicrohttpd) thread while the workers run, so it reads live counters with relaxed loads
 * and must not block for long. Optional callbacks may be NULL.
 */
#ifndef VIADUCT_DPVIEW_H
#define VIADUCT_DPVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "viaduct/stats.h"

struct vd_buf;
struct vd_guard;
union vd_sockaddr;

/* ---- events about members, from a worker to the control thread ---- */

/* What a datapath tells the control plane about a member (struct vd_dp_view member_events). */
enum vd_member_event_kind {
	VD_MEV_CONN_FAILED = 1, /* our connection to it failed or broke (transport) */
	VD_MEV_RETRY_AFTER,     /* it answered 503 with Retry-After (value: seconds) */
	VD_MEV_OVERLOAD,        /* it put RFC 7339 oc in our Via (oc, value: validity ms, seq) */
};

struct vd_member_event {
	union vd_sockaddr addr; /* the member: where its response came from, where we connected */
	uint8_t kind;           /* enum vd_member_event_kind */
	uint8_t transport;      /* CONN_FAILED: enum vd_transport */
	uint8_t oc;             /* OVERLOAD: reduction, percent */
	bool has_seq;           /* OVERLOAD: oc-seq was given */
	uint32_t value;         /* RETRY_AFTER: seconds; OVERLOAD: validity in ms (0: stop) */
	uint64_t seq;           /* OVERLOAD: oc-seq (fixed point, struct vd_sip_oc) */
};

#define VD_MEV_RING 256      /* events in flight per worker (a power of two) */
#define VD_MEV_SEEN 64       /* entries of a worker's repeat filter (direct-mapped) */
#define VD_MEV_REPEAT_MS 250 /* the same signal of the same member: pushed at most this often */

/*
 * One worker's events: a one-producer (the worker), one-consumer (the control thread) ring,
 * no lock, no allocation, no system call to push. A full ring drops the event (counted in
 * lost): every event is a repeatable report (the member says it again in its next response,
 * the next failed connect fails again), never state. The producer sets `wake` on a push; the
 * datapath writes its eventfd once per batch when it is set (vd_mev_take_wake).
 *
 * A member in overload puts the same oc in every response, thousands a second: the filter
 * remembers the last signal pushed per member (by address hash) and drops repeats within
 * VD_MEV_REPEAT_MS, so the control thread hears a worker a few times a second per member.
 */
struct vd_mev_ring {
	uint32_t head; /* producer's (__atomic) */
	uint8_t pad1[60];
	uint32_t tail; /* consumer's (__atomic) */
	uint8_t pad2[60];
	bool wake;     /* producer: pushed since the last vd_mev_take_wake */
	uint64_t lost; /* producer: dropped, ring full (relaxed: read by the control plane) */
	struct vd_mev_seen {
		uint64_t key, seq;
		uint64_t at_ms;
		uint32_t value;
		uint8_t kind, oc;
	} seen[VD_MEV_SEEN];
	struct vd_member_event ev[VD_MEV_RING];
} __attribute__((aligned(64)));

/** Producer: queue e; false (counted in lost) when the ring is full. */
bool vd_mev_push(struct vd_mev_ring *r, const struct vd_member_event *e);
/** Producer: the signals of a result (res->signal.bits set) from the member at src, at
 * now_ms, less the repeats the filter drops. Hot path when a member signals: no system call. */
void vd_mev_signal(struct vd_mev_ring *r, const struct vd_result *res,
		   const union vd_sockaddr *src, uint64_t now_ms);
/** Producer: was anything pushed since the last call? (then write the wake-up once) */
static inline bool vd_mev_take_wake(struct vd_mev_ring *r)
{
	bool w = r->wake;
	r->wake = false;
	return w;
}
/** Consumer: fn once per queued event, oldest first; returns how many. */
unsigned vd_mev_drain(struct vd_mev_ring *r,
		      void (*fn)(void *arg, const struct vd_member_event *e), void *arg);
/** Any thread: events dropped so far (relaxed). */
static inline uint64_t vd_mev_lost(const struct vd_mev_ring *r)
{
	return __atomic_load_n(&r->lost, __ATOMIC_RELAXED);
}

struct vd_dp_view {
	void *dp;	   /* the datapath, passed back to every callback */
	const char *name;  /* "kernel" or "dpdk": for messages */
	unsigned (*workers)(const void *dp);
	/** Worker i's live counters (i < workers()); valid until the datapath is destroyed. */
	const struct vd_stats *(*worker_stats)(const void *dp, unsigned i);
	/**
	 * Optional: worker i's loop rounds, bumped once per round of its loop, idle rounds
	 * included (relaxed load). The systemd watchdog pings only while every one moves
	 * (notify.h).
	 */
	uint64_t (*worker_rounds)(const void *dp, unsigned i);
	/** Optional: worker i's admission state (its hot sources for /status), or NULL. */
	const struct vd_guard *(*worker_guard)(const void *dp, unsigned i);
	/** Optional: datagrams the kernel dropped at our sockets (kernel datapath only). */
	uint64_t (*kernel_drops)(const void *dp);
	/** Optional: extra "stats ..." lines (SIGUSR1, exit), after the SIP counters. */
	void (*print)(const void *dp, FILE *f);
	/** Optional: extra Prometheus families for /metrics (vd_prom_family/vd_prom_sample). */
	void (*metrics)(const void *dp, struct vd_buf *b);
	/**
	 * Optional: work the control loop must do for the datapath at least every poll_ms
	 * milliseconds (e.g. DPDK: health probe replies coming back through rings, which have no
	 * file descriptor to wait on). Called once per control loop iteration, control thread.
	 */
	void (*poll)(void *dp, uint64_t now_ms);
	unsigned poll_ms;
	/**
	 * Optional: health probes through the datapath, when our listener addresses exist only
	 * there (DPDK). probe_send queues one datagram from src (a listener address, port
	 * probe_port) to dst: 0 or a negative errno code; its signature is struct
	 * vd_health_transport's send with dp as arg. probe_recv calls fn for at most max
	 * datagrams that arrived at probe_port (buf valid during the call) and returns how many.
	 * Control thread only; probe_recv runs every iteration (see poll_ms).
	 */
	int (*probe_send)(void *dp, const void *buf, size_t len, const union vd_sockaddr *src,
			  const union vd_sockaddr *dst);
	unsigned (*probe_recv)(void *dp,
			       void (*fn)(void *arg, const void *buf, size_t len,
					  const union vd_sockaddr *src),
			       void *arg, unsigned max);
	uint16_t probe_port;
	/**
	 * Optional: what happened to members since the last call, fn once per event: connections
	 * to members (TCP, TLS) that failed (the health prober counts them as failed probes),
	 * 503 with Retry-After and RFC 7339 overload control from their responses (passive
	 * health). Control thread, every loop iteration.
	 */
	void (*member_events)(void *dp,
			      void (*fn)(void *arg, const struct vd_member_event *e), void *arg);
	/** With member_events: an eventfd the datapath writes when it has some (at most once a
	 * batch; the control loop polls it and reads it empty), -1 if none: then the loop looks
	 * every poll_ms. */
	int member_events_fd;
	/** Optional: member events dropped because a worker's ring was full. */
	uint64_t (*member_events_lost)(const void *dp);
};

#endif
