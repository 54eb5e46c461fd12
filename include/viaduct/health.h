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
 * A reply is matched by its top Via branch (z9hG4bKvdh.<nonce>.<member>.<seq>, the nonce random
 * per prober) and must come from the member's address. Datagrams that match no outstanding
 * probe are counted in struct vd_health_counters and otherwise ignored.
 *
 * The prober never blocks: the control loop polls vd_health_fds(), calls
 * vd_health_on_readable() when one is readable and vd_health_tick() when
 * vd_health_next_ms() has passed.
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
 * would use towards each member. A member of a family with no prober socket is never reached
 * and goes down through timeouts. */
struct vd_health_config {
	uint32_t interval_ms; /* between probes of one member */
	uint32_t timeout_ms;  /* no reply within this: a failure; 1..interval_ms */
	uint32_t down_after;  /* consecutive failures to mark down; >= 1 */
	uint32_t up_after;    /* consecutive successes to mark up; >= 1 */
	union vd_sockaddr bind_v4; /* address to send IPv4 probes from (port 0 = ephemeral) */
	union vd_sockaddr bind_v6; /* idem for IPv6; sa_family 0 = no IPv6 prober */
};

struct vd_health_member_state {
	bool up;            /* members start up */
	uint32_t fails;     /* consecutive failures */
	uint32_t oks;       /* consecutive successes */
	uint64_t probes, replies, timeouts, errors_5xx;
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
	uint64_t tx_errors;   /* probes not sent (EAGAIN, no socket of its family): they time out */
};

struct vd_health;

/**
 * Called on every up/down change of member i, from vd_health_on_readable/vd_health_tick.
 * It must not call vd_health_set_members() or vd_health_free() (the prober is mid-scan).
 */
typedef void (*vd_health_change_fn)(void *arg, unsigned member, bool up);

/** Create a prober (opens its sockets; no members yet). fn may be NULL. NULL with a message
 * in err on a bad config (-EINVAL cases: see struct vd_health_config) or a socket error. */
struct vd_health *vd_health_new(const struct vd_health_config *cfg, vd_health_change_fn fn,
				void *arg, char *err, size_t errlen);
void vd_health_free(struct vd_health *h);

/**
 * Replace the member list (on reload). A member whose address was in the old list keeps its
 * state and counters (and its outstanding probe); a new one starts up and gets its first
 * probe spread over the next interval. Addresses compare by family, address and port.
 * Returns 0, or -EINVAL (n > VD_HEALTH_MAX_MEMBERS) or -ENOMEM with the old list kept.
 */
int vd_health_set_members(struct vd_health *h, const union vd_sockaddr *members, unsigned n);

/** File descriptors to poll for reading (count returned; at most 2). */
unsigned vd_health_fds(const struct vd_health *h, int fds[2]);
/** Read and match pending replies on fd (at most a bounded burst per call: if more are
 * queued the fd stays readable). An fd that is not the prober's is ignored. */
void vd_health_on_readable(struct vd_health *h, int fd, uint64_t now_ms);
/** Send the probes that are due and expire those that timed out. */
void vd_health_tick(struct vd_health *h, uint64_t now_ms);
/** Milliseconds (CLOCK_MONOTONIC) at which vd_health_tick next has work: the earliest probe
 * due or probe timeout. 0 (now) after vd_health_set_members() added members, UINT64_MAX with
 * no members. */
uint64_t vd_health_next_ms(const struct vd_health *h);

/** State of member i (index in the last vd_health_set_members() list); NULL if out of range. */
const struct vd_health_member_state *vd_health_state(const struct vd_health *h, unsigned i);
unsigned vd_health_members(const struct vd_health *h);
const struct vd_health_counters *vd_health_counters(const struct vd_health *h);

/** CLOCK_MONOTONIC in milliseconds (defined in src/ctl/health.c). */
uint64_t vd_now_ms(void);

#endif
