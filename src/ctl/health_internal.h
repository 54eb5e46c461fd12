/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal interface of the health prober's files: health.c (probes, replies, life cycle),
 * health_connect.c (TCP-connect probes of stream members) and health_members.c (the member
 * list and its accessors). Each member's up/down judging is the socket-free state machine of
 * health_state.c, which these files drive. Not a public header.
 */
#ifndef VD_HEALTH_INTERNAL_H
#define VD_HEALTH_INTERNAL_H

#include <arpa/inet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "viaduct/health.h"

#include "health_state.h"

/* Receive buffer: the largest UDP payload, so a reply is never cut before its Via. Also
 * holds the OPTIONS being built (a few hundred bytes). */
#define HEALTH_BUF_SIZE 65536
/* Datagrams read per vd_health_on_readable(): a flood of garbage cannot hold the control
 * thread; what is left keeps the socket readable for the next poll. */
#define HEALTH_RX_BURST	    64
#define HEALTH_MAX_FORWARDS 70
/* CSeq numbers must stay below 2^31 (RFC 3261 8.1.1.5). */
#define HEALTH_CSEQ_MAX 0x7fffffffu
/* How often tick() wants to run while connects are in progress: a success is seen within
 * this (plus the control loop's latency), a failure no later than its timeout. */
#define HEALTH_CONNECT_POLL_MS 5
/* Branch: magic cookie, our mark, then nonce.index.seq in fixed-width hex, so parsing a reply
 * needs no delimiters search and any other length is not ours. */
#define HEALTH_BRANCH_PREFIX	 "z9hG4bKvdh."
#define HEALTH_BRANCH_PREFIX_LEN (sizeof(HEALTH_BRANCH_PREFIX) - 1)
#define HEALTH_NONCE_HEX	 16
#define HEALTH_INDEX_HEX	 4
#define HEALTH_SEQ_HEX		 16
#define HEALTH_BRANCH_LEN                                                                          \
	(HEALTH_BRANCH_PREFIX_LEN + HEALTH_NONCE_HEX + 1 + HEALTH_INDEX_HEX + 1 + HEALTH_SEQ_HEX)
/* "[" IPv6 "]" and a NUL */
#define HEALTH_HOST_MAX (INET6_ADDRSTRLEN + 2)
/* splitmix64 finaliser constants: spread the nonce and sequence into a From tag. */
#define MIX_GOLDEN 0x9e3779b97f4a7c15ull
#define MIX_M1	   0xbf58476d1ce4e5b9ull
#define MIX_M2	   0x94d049bb133111ebull

_Static_assert(VD_HEALTH_MAX_MEMBERS <= 1u << (4 * HEALTH_INDEX_HEX),
	       "a member index must fit the branch's index field");

enum { FAM_V4 = 0, FAM_V6, FAM_COUNT };

/* What a datagram turned out to be. */
enum reply_kind {
	REPLY_OURS = 0, /* a response carrying one of our branches (maybe stale) */
	REPLY_GARBAGE,	/* not a SIP response with a readable top Via branch */
	REPLY_FOREIGN,	/* a response, but the branch is not one this prober sent */
};

/* What the matcher needs from a response. */
struct reply {
	uint16_t status;
	uint16_t index; /* member index when the probe was sent */
	uint64_t seq;	/* prober-wide probe number */
};

struct member {
	union vd_sockaddr addr;	 /* where probes go; replies must come from here */
	union vd_sockaddr local; /* our address as the member sees it: Via and From host */
	struct vd_health_sm sm;	 /* up/down, schedule, the outstanding probe, counters */
	int cfd;		 /* a stream member's connect in progress (only while
				  * sm.pending), else -1 */
	uint8_t transport;	 /* enum vd_transport: UDP gets OPTIONS, TCP and TLS a connect */
};

struct vd_health {
	struct vd_health_config cfg;
	vd_health_change_fn fn;
	void *arg;
	int fd[FAM_COUNT];		    /* -1 when the family is not probed (or a transport) */
	union vd_sockaddr bound[FAM_COUNT]; /* getsockname, or the transport's src: our Via */
	struct vd_health_transport tx;	    /* used when has_tx */
	bool has_tx;
	uint64_t nonce; /* random per prober: branches unique across restarts */
	uint64_t seq;	/* last probe number used; 0 is never a probe */
	struct vd_health_counters counters;
	unsigned n;
	struct member *m;
	struct pollfd *pfd;	  /* n entries: the connects tick() polls */
	uint64_t connect_poll_ms; /* when tick() next looks at connects in progress */
	struct vd_sip_msg *scan;  /* the scanner's view of a reply being matched */
	char buf[HEALTH_BUF_SIZE];
};

/* health.c */
int vd_health_fam_index(sa_family_t family);
int vd_health_addr_cmp(const union vd_sockaddr *a, const union vd_sockaddr *b);
/** Tells the change callback when the state machine's result r for member i is a transition;
 * logs every judged result at debug level: `what` (followed by `status` unless 0). */
void vd_health_report(const struct vd_health *h, unsigned i, enum vd_health_sm_result r,
		      const char *what, unsigned status);
/** Our address as a member at `to` sees it (the Via and From host of its probes). */
void vd_health_local_for(const struct vd_health *h, const union vd_sockaddr *to,
			 union vd_sockaddr *out);

/* health_connect.c */
void vd_health_connect_close(struct member *m);
void vd_health_send_connect(struct vd_health *h, unsigned i, uint64_t now);
void vd_health_check_connects(struct vd_health *h, uint64_t now);

#endif
