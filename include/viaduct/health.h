/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Health probing of pool members with SIP OPTIONS, run by the control thread.
 *
 * Every member gets an OPTIONS every interval from the prober's own UDP socket (one per
 * address family, bound to the listener's address with an ephemeral port, so replies come
 * back to it through our Via). A member goes down after `down_after` consecutive failures
 * (timeout, or a 5xx reply) and up again after `up_after` consecutive good replies (any
 * final response below 500 means the SIP stack is alive). State changes are reported to a
 * callback, which rebuilds the Maglev table and publishes a new routing snapshot.
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

struct vd_health_config {
	uint32_t interval_ms; /* between probes of one member */
	uint32_t timeout_ms;  /* no reply within this: a failure */
	uint32_t down_after;  /* consecutive failures to mark down */
	uint32_t up_after;    /* consecutive successes to mark up */
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

struct vd_health;

/** Called on every up/down change of member i, from vd_health_on_readable/vd_health_tick. */
typedef void (*vd_health_change_fn)(void *arg, unsigned member, bool up);

/** Create a prober (opens its sockets). NULL with a message in err. */
struct vd_health *vd_health_new(const struct vd_health_config *cfg, vd_health_change_fn fn,
				void *arg, char *err, size_t errlen);
void vd_health_free(struct vd_health *h);

/**
 * Replace the member list (on reload). A member whose address was in the old list keeps its
 * state and counters; a new one starts up. Returns 0 or -ENOMEM.
 */
int vd_health_set_members(struct vd_health *h, const union vd_sockaddr *members, unsigned n);

/** File descriptors to poll for reading (count returned; at most 2). */
unsigned vd_health_fds(const struct vd_health *h, int fds[2]);
/** Read and match all pending replies on fd. */
void vd_health_on_readable(struct vd_health *h, int fd, uint64_t now_ms);
/** Send the probes that are due and expire those that timed out. */
void vd_health_tick(struct vd_health *h, uint64_t now_ms);
/** Milliseconds (CLOCK_MONOTONIC) at which vd_health_tick next has work. */
uint64_t vd_health_next_ms(const struct vd_health *h);

const struct vd_health_member_state *vd_health_state(const struct vd_health *h, unsigned i);
unsigned vd_health_members(const struct vd_health *h);

/** CLOCK_MONOTONIC in milliseconds. */
uint64_t vd_now_ms(void);

#endif
