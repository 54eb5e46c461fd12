/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HEP v3 capture (Homer Encapsulation Protocol, sipcapture.org "HEP3 Network Protocol
 * Specification"): a copy of every SIP message a worker receives and sends, with its
 * addresses, ports and time, encapsulated for a collector (Homer, heplify-server, sngrep).
 *
 * Three parts, none of them knows the proxy:
 *   - the encoder: a pure function of (buffer, capacity, metadata, payload) -> bytes;
 *   - sampling: whether a Call-ID's call is captured (a hash, so a call is captured whole);
 *   - a worker's batch: a fixed array of datagram slots filled as messages go by and sent
 *     with one sendmmsg per batch on a non-blocking UDP socket. A full batch, a full socket
 *     buffer or a collector that refuses drops the copy and counts it: forwarding never waits.
 *
 * A HEP3 datagram is "HEP3", a 16-bit total length, then chunks {vendor 0, type, length
 * (6 + data), data}, all in network byte order. Ours, in this order: 0x0001 IP family
 * (AF_INET 2, AF_INET6 10), 0x0002 IP protocol (17 UDP, 6 TCP; TLS is sent as TCP: HEP has no
 * number for it), 0x0003/0x0004 IPv4 or 0x0005/0x0006 IPv6 source/destination, 0x0007/0x0008
 * ports, 0x0009/0x000a time (seconds, microseconds), 0x000b protocol type (1 = SIP), 0x000c
 * capture agent id, 0x0011 correlation id (the Call-ID) when known, 0x000e authentication key
 * when configured, 0x000f the message, last (as Kamailio's siptrace orders them).
 */
#ifndef VIADUCT_HEP_H
#define VIADUCT_HEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "viaduct/addr.h"

#define VD_HEP_DEFAULT_PORT 9060
#define VD_HEP_PROTO_SIP 1       /* chunk 0x000b: the payload is SIP */
#define VD_HEP_MAX 65507         /* a datagram to the collector: largest UDP payload (IPv4) */
#define VD_HEP_AUTH_MAX 64       /* bytes of an authentication key (chunk 0x000e) */
#define VD_HEP_CORR_MAX 256      /* a longer Call-ID gets no correlation chunk */
/* Everything before the payload bytes, at most: fixed chunks over IPv6 (117 bytes), the
 * correlation and authentication chunks, the payload chunk's own 6 bytes. */
#define VD_HEP_HEADER_MAX 512

/** Where and how to send copies: compiled from the config's hep: into the routing snapshot
 * (a reload changes every value; enabled is fixed at start, see README). */
struct vd_hep_params {
	bool enabled;
	union vd_sockaddr collector; /* address and port */
	uint32_t capture_id;         /* chunk 0x000c */
	uint32_t sample;             /* percent of calls captured, 0..100 */
	uint16_t auth_len;           /* 0: no authentication chunk */
	char auth[VD_HEP_AUTH_MAX];
};

/** One captured message's metadata. src and dst are of one family (ports in them). */
struct vd_hep_meta {
	const union vd_sockaddr *src, *dst;
	uint8_t ip_proto;        /* IPPROTO_UDP or IPPROTO_TCP */
	uint32_t ts_sec, ts_usec; /* wall clock */
	uint32_t capture_id;
	const char *corr;        /* correlation id (Call-ID), NULL or corr_len 0: none */
	uint16_t corr_len;
	const char *auth;        /* authentication key, NULL or auth_len 0: none */
	uint16_t auth_len;
};

/**
 * Write the HEP3 datagram's bytes up to its payload (every chunk but the payload's data) for
 * a payload of payload_len bytes: the total length field already counts the payload. Returns
 * the bytes written, 0 when they do not fit `cap`, when the datagram would exceed VD_HEP_MAX,
 * when src and dst differ in family or are neither IPv4 nor IPv6. Pure: no allocation.
 */
size_t vd_hep_header(char *buf, size_t cap, const struct vd_hep_meta *m, size_t payload_len);

/** The whole datagram (header, then the payload copied): bytes written or 0, as above. */
size_t vd_hep_encode(char *buf, size_t cap, const struct vd_hep_meta *m, const char *payload,
		     size_t payload_len);

/**
 * Is the call of this Call-ID captured at `percent`? A hash of the Call-ID's bytes with a
 * named seed: every message of a call gets the same answer, and so do instances sharing a
 * config. 100: always; 0: never.
 */
bool vd_hep_sampled(const char *call_id, size_t len, uint32_t percent);

/* Why a copy was not sent. Order is a contract with vd_hep_drop_name() and the stats. */
enum vd_hep_drop {
	VD_HEP_DROP_FULL = 0,   /* no free slot in the worker's batch */
	VD_HEP_DROP_TOO_LARGE,  /* the message with its HEP header exceeds VD_HEP_MAX */
	VD_HEP_DROP_SOCKET,     /* the socket's buffer was full (EAGAIN, ENOBUFS): not waited for */
	VD_HEP_DROP_REFUSED,    /* the collector's host said port unreachable (ECONNREFUSED), or
				 * did so less than VD_HEP_REFUSED_PAUSE_MS ago */
	VD_HEP_DROP_ERROR,      /* another send error (no route, no socket of its family) */
	VD_HEP_DROP__COUNT
};

/** "full", "too-large", "socket-full", "refused", "error". */
const char *vd_hep_drop_name(enum vd_hep_drop d);

/**
 * A worker's copies on their way out: `slots` datagrams, each a header area of
 * VD_HEP_HEADER_MAX bytes and a payload pointer the caller keeps valid until the flush.
 * Allocated once; nothing per message. One owner (its worker).
 */
/*
 * After a refusal no copy is sent for this long: each datagram to a closed port costs its
 * sender an ICMP round (on loopback, where the kernel does not rate-limit ICMP, the whole
 * port-unreachable path on the sending core), and an absent collector must not slow
 * forwarding. Copies meanwhile are counted as refused without being encoded.
 */
#define VD_HEP_REFUSED_PAUSE_MS 1000

struct vd_hep_batch {
	unsigned slots, n;
	bool paused;               /* this batch: a refusal is recent (vd_hep_batch_start) */
	uint64_t refused_until_ms; /* monotonic ms: copies are not sent before */
	char *hdrs;              /* slots x VD_HEP_HEADER_MAX */
	struct iovec *iov;       /* 2 per slot: header, payload */
	struct mmsghdr *msgs;
	/* counted by add and flush, read by the caller after each flush */
	uint64_t sent;
	uint64_t dropped[VD_HEP_DROP__COUNT];
};

/** 0, or -ENOMEM. Memory: slots x (VD_HEP_HEADER_MAX + 2 iovecs + one mmsghdr). */
int vd_hep_batch_init(struct vd_hep_batch *b, unsigned slots);
void vd_hep_batch_fini(struct vd_hep_batch *b);

/** At the start of a batch of messages, with the monotonic time: is a refusal recent? */
static inline void vd_hep_batch_start(struct vd_hep_batch *b, uint64_t now_ms)
{
	b->paused = now_ms < b->refused_until_ms;
}

/** Queue a copy: the header is encoded now, the payload is read at the flush (it must stay
 * where it is until then). 0, or -1 when dropped (counted by reason; while paused, as
 * refused, nothing encoded). */
int vd_hep_add(struct vd_hep_batch *b, const struct vd_hep_meta *m, const char *payload,
	       uint32_t len);

/**
 * Send what is queued: sendmmsg with MSG_DONTWAIT on fd (a UDP socket connected to the
 * collector; -1: everything counted as error), retried after a datagram that failed alone,
 * never waited for. A full socket buffer drops the rest. The batch is empty afterwards.
 * System calls: one when every datagram goes, one more per datagram that failed. A refusal
 * pauses sending until now_ms + VD_HEP_REFUSED_PAUSE_MS: the rest of the batch is counted
 * as refused.
 */
void vd_hep_flush(struct vd_hep_batch *b, int fd, uint64_t now_ms);

#endif
