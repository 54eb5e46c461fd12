/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Health probing of pool members with SIP OPTIONS, run by the control thread.
 *
 * Every member gets an OPTIONS every interval from the prober's own UDP socket (one per
 * address family, bound to the listener's address with an ephemeral port, so replies come
 * back to it through our Via). A member goes down after `down_after` consecutive failures
 * (timeout, or a 5xx reply) and up again after `up_after` consecutive good replies (any
 * other final response, 2xx to 4xx and 6xx, means the SIP stack is alive; 1xx are ignored).
 * State changes are reported to a callback, which rebuilds the Maglev table and publishes a
 * new routing snapshot.
 *
 * A member over TCP or TLS is probed with a TCP connect instead (a load balancer's tcp-check):
 * connected within timeout_ms is a success (the connection is closed at once), refused,
 * unreachable or still connecting at the timeout a failure; down_after and up_after count
 * them the same way. For TLS the connect is the whole check: the handshake is not tried.
 *
 * A reply is matched by its top Via branch (z9hG4bKvdh.<nonce>.<member>.<seq>, the nonce random
 * per prober) and must come from the member's address. Datagrams that match no outstanding
 * probe are counted in struct vd_health_counters and otherwise ignored.
 *
 * The prober never blocks: the control loop polls vd_health_fds(), calls
 * vd_health_on_readable() when one is readable and vd_health_tick() when
 * vd_health_next_ms() has passed. Connects in progress are not among the fds: tick() looks
 * at them with a zero-timeout poll(), and next_ms() is a few milliseconds away meanwhile.
 *
 * With the DPDK datapath the listener addresses exist only inside DPDK, so there is no
 * socket to probe from: the prober is created with a transport (vd_health_new_transport),
 * whose send() hands each OPTIONS to a worker, and the control loop passes the replies the
 * datapath delivers to vd_health_on_datagram(). Matching and judging are the same. The
 * connects to TCP and TLS members are kernel sockets with either kind of prober: with DPDK
 * they reach a member only if the kernel has a path to it (the exception port).
 */
#ifndef VIADUCT_HEALTH_H
#define VIADUCT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viaduct/proxy.h"

/* Members one prober takes: every pool's members together, deduplicated, in any realistic
 * deployment. The prober scans its members linearly per tick, which stays cheap up to here. */
#define VD_HEALTH_MAX_MEMBERS 4096

/* A wildcard bind address works too: the Via then carries the source address the kernel
 * would use towards each member. A UDP member of a family with no prober socket is never
 * reached and goes down through timeouts. TCP and TLS members need no prober socket: their
 * connects leave from the source address the kernel picks, as the datapath's own do. */
struct vd_health_config {
	uint32_t interval_ms; /* between probes of one member */
	uint32_t timeout_ms;  /* no reply within this: a failure; 1..interval_ms */
	uint32_t down_after;  /* consecutive failures to mark down; >= 1 */
	uint32_t up_after;    /* consecutive successes to mark up; >= 1 */
	union vd_sockaddr bind_v4; /* address to send IPv4 probes from (port 0 = ephemeral) */
	union vd_sockaddr bind_v6; /* idem for IPv6; sa_family 0 = no IPv6 prober */
};

/* For a TCP or TLS member: probes are connects, replies those that connected, timeouts
 * those that failed (refused and unreachable included); errors_5xx and last_status stay 0. */
struct vd_health_member_state {
	bool up;            /* members start up */
	uint32_t fails;     /* consecutive failures */
	uint32_t oks;       /* consecutive successes */
	uint64_t probes, replies, timeouts, errors_5xx;
	uint64_t conn_failures; /* the datapath's connections to it that failed (TCP, TLS) */
	uint16_t last_status;
	uint64_t last_change_ms;
};

/** Prober-wide counters (monotonic), for metrics. Bad input is counted here, never logged. */
struct vd_health_counters {
	uint64_t rx;          /* datagrams read */
	uint64_t garbage;     /* not a SIP response with a readable top Via branch */
	uint64_t stray;       /* a response to no outstanding probe: late, foreign, wrong source */
	uint64_t provisional; /* 1xx to an outstanding probe (ignored) */
	uint64_t rx_errors;   /* recvfrom errors, ICMP errors (ECONNREFUSED) included */
	uint64_t tx_errors;   /* probes not sent (EAGAIN, full transport, no socket or source of
			       * its family, no socket for a connect): they time out */
};

struct vd_health;

/**
 * A datapath that carries probes for the prober (the DPDK datapath). send() is called from
 * vd_health_tick() with one complete OPTIONS (buf is the prober's, valid during the call):
 * it returns 0 once the datagram is queued for sending, or a negative errno code (counted in
 * tx_errors; the probe then times out). src is the address and port the probe's Via names,
 * src_v4 or src_v6 by the member's family: the datapath must send from it, and hand what
 * arrives there to vd_health_on_datagram().
 */
struct vd_health_transport {
	int (*send)(void *arg, const void *buf, size_t len, const union vd_sockaddr *src,
		    const union vd_sockaddr *dst);
	void *arg;
	union vd_sockaddr src_v4; /* concrete address and port; sa_family 0 = no IPv4 probes */
	union vd_sockaddr src_v6; /* idem for IPv6; at least one of the two */
};

/**
 * Called on every up/down change of member i, from vd_health_on_readable/vd_health_tick.
 * It must not call vd_health_set_members() or vd_health_free() (the prober is mid-scan).
 */
typedef void (*vd_health_change_fn)(void *arg, unsigned member, bool up);

/** Create a prober (opens its sockets; no members yet). fn may be NULL. NULL with a message
 * in err on a bad config (-EINVAL cases: see struct vd_health_config) or a socket error. */
struct vd_health *vd_health_new(const struct vd_health_config *cfg, vd_health_change_fn fn,
				void *arg, char *err, size_t errlen);
/** Create a prober that sends through t (copied; no sockets: vd_health_fds() gives 0).
 * cfg's bind_v4/bind_v6 are ignored; t's sources must be concrete (no wildcard, no port 0).
 * NULL with a message in err on a bad config. */
struct vd_health *vd_health_new_transport(const struct vd_health_config *cfg,
					  const struct vd_health_transport *t,
					  vd_health_change_fn fn, void *arg, char *err,
					  size_t errlen);
void vd_health_free(struct vd_health *h);

/**
 * Replace the member list (on reload). transports[i] is member i's enum vd_transport
 * (VD_TP_UDP: OPTIONS; VD_TP_TCP, VD_TP_TLS: a TCP connect); NULL means all UDP. A member
 * is its address (family, address and port) and its transport: one in the old list keeps
 * its state and counters (and its outstanding probe); a new one, a member whose transport
 * changed included, starts up and gets its first probe spread over the next interval. The
 * same address with two transports is two members. Returns 0, or -EINVAL (n >
 * VD_HEALTH_MAX_MEMBERS, a transport >= VD_TP__COUNT) or -ENOMEM with the old list kept.
 */
int vd_health_set_members(struct vd_health *h, const union vd_sockaddr *members,
			  const uint8_t *transports, unsigned n);

/** File descriptors to poll for reading (count returned; at most 2). */
unsigned vd_health_fds(const struct vd_health *h, int fds[2]);
/** Read and match pending replies on fd (at most a bounded burst per call: if more are
 * queued the fd stays readable). An fd that is not the prober's is ignored. */
void vd_health_on_readable(struct vd_health *h, int fd, uint64_t now_ms);
/** Match one datagram that arrived for the prober from src (a transport's replies; works
 * for either kind of prober). Counted in rx, and like any reply read from a socket. buf
 * is only read, during the call. */
void vd_health_on_datagram(struct vd_health *h, const void *buf, size_t len,
			   const union vd_sockaddr *src, uint64_t now_ms);
/** Resolve the connects that finished (without waiting), send the probes that are due and
 * expire those that timed out. */
void vd_health_tick(struct vd_health *h, uint64_t now_ms);
/** Milliseconds (CLOCK_MONOTONIC) at which vd_health_tick next has work: the earliest probe
 * due or probe timeout, and while a connect is in progress at most a few ms after the last
 * tick. 0 (now) after vd_health_set_members() added members, UINT64_MAX with no members. */
uint64_t vd_health_next_ms(const struct vd_health *h);

/** State of member i (index in the last vd_health_set_members() list); NULL if out of range. */
const struct vd_health_member_state *vd_health_state(const struct vd_health *h, unsigned i);

/**
 * The datapath's connection to the member at address a by transport (TCP or TLS) could not
 * be opened (refused, timed out, TLS handshake failed) or broke: counted in conn_failures and
 * judged like a failed probe, so a member whose connections fail goes down after down_after
 * of them without waiting for the probes (which bring it back up). An address the prober does
 * not know is ignored.
 */
void vd_health_on_conn_failure(struct vd_health *h, const union vd_sockaddr *a,
			       uint8_t transport, uint64_t now_ms);
unsigned vd_health_members(const struct vd_health *h);
const struct vd_health_counters *vd_health_counters(const struct vd_health *h);

/** CLOCK_MONOTONIC in milliseconds (defined in src/ctl/health.c). */
uint64_t vd_now_ms(void);

#endif
