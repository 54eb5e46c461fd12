/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The requests the load generator sends: a realistic IMS mix of INVITE (with an SDP offer),
 * REGISTER (with a Digest Authorization), BYE, OPTIONS and MESSAGE (short text body).
 *
 * Each request type is expanded once per sending socket and Via form into a template whose
 * per-message parts have a fixed width and a known offset. Building message number `seq` is then
 * a memcpy and three 16-digit hex writes: no formatting, no allocation. Sequence numbers make every
 * transaction unique, and a per-run nonce keeps runs apart:
 *
 *   branch    z9hG4bKlg<nonce:8 hex><seq:16 hex>   (RFC 3261 magic cookie first)
 *   Call-ID   <seq:16 hex>-<nonce:8 hex>@loadgen
 *   From-tag  16 hex digits, a mix of seq and nonce
 *
 * The branch is how a response is matched back to its request (lg_gen_branch_seq).
 *
 * The top Via comes in the forms real user agents send (enum lg_via), mixed by weight like the
 * request types: one template per (socket, request type, Via form), the form of message `seq`
 * picked by the sequence number alone. Every form carries the same branch, so matching does not
 * depend on it.
 */
#ifndef LG_SIPGEN_H
#define LG_SIPGEN_H

#include <stddef.h>
#include <stdint.h>

#include "sipmsg.h"

enum lg_method { LG_INVITE, LG_REGISTER, LG_BYE, LG_OPTIONS, LG_MESSAGE, LG_METHOD_COUNT };

/** The Via forms; the --via-mix names are in brackets. */
enum lg_via {
	LG_VIA_RPORT_LAST,   /* [rport-last] ;branch=...;rport  (baresip, linphone, pjsip, IMS UEs) */
	LG_VIA_RPORT_MIDDLE, /* [rport-middle] ;branch=...;rport;alias */
	LG_VIA_RPORT_FIRST,  /* [rport-first] ;rport;branch=...  (loadgen's only form before) */
	LG_VIA_RECEIVED,     /* [received] ;branch=...;received=192.0.2.1;rport  (2001:db8::1 on v6) */
	LG_VIA_COMPACT,	     /* [compact] v: SIP/2.0/UDP ...;branch=...;rport */
	LG_VIA_PLAIN,	     /* [plain] ;branch=...  no rport (sipp's built-in scenarios) */
	LG_VIA_COUNT
};

#define LG_MSG_MAX	  1400 /* largest generated request, bytes (one Ethernet MTU) */
#define LG_MAX_SOCKETS	  32
#define LG_MIX_WEIGHT_MAX 1000
#define LG_WHEEL_MAX	  (LG_MIX_WEIGHT_MAX * LG_METHOD_COUNT)
#define LG_BRANCH_PREFIX  "z9hG4bKlg"
#define LG_DEFAULT_MIX	  "invite=30,register=30,bye=20,options=10,message=10"
#define LG_VIA_WHEEL_MAX  (LG_MIX_WEIGHT_MAX * LG_VIA_COUNT)
#define LG_DEFAULT_VIA_MIX \
	"rport-last=40,rport-middle=10,rport-first=10,received=10,compact=10,plain=20"

/** Relative weights of the request types, each 0..LG_MIX_WEIGHT_MAX, not all zero. */
struct lg_mix {
	unsigned weight[LG_METHOD_COUNT];
};

/** Relative weights of the Via forms, each 0..LG_MIX_WEIGHT_MAX, not all zero. */
struct lg_via_mix {
	unsigned weight[LG_VIA_COUNT];
};

/** One request type expanded for one socket; the three offsets point at 16 hex digits. */
struct lg_tmpl {
	char text[LG_MSG_MAX];
	uint16_t len;
	uint16_t off_branch;
	uint16_t off_callid;
	uint16_t off_ftag;
};

struct lg_gen {
	uint32_t nonce;
	unsigned nsock;
	unsigned wheel_len;
	uint8_t wheel[LG_WHEEL_MAX]; /* request type of seq % wheel_len, weights interleaved */
	/* how many of wheel[0..i) are wheel[i]'s type: the type's own count within a turn */
	uint16_t rank[LG_WHEEL_MAX];
	unsigned type_weight[LG_METHOD_COUNT];
	unsigned via_len;
	uint8_t via_wheel[LG_VIA_WHEEL_MAX]; /* Via form of a type's nth message, n % via_len */
	struct lg_tmpl tmpl[LG_MAX_SOCKETS][LG_METHOD_COUNT][LG_VIA_COUNT];
};

/** "invite", "register", ...: the --mix names, lower case. */
const char *lg_method_name(enum lg_method m);

/** Parse "invite=30,register=30,..." (names absent get 0). Returns 0 or -EINVAL. */
int lg_mix_parse(const char *s, struct lg_mix *mix);

/** "rport-last", "compact", ...: the --via-mix names. */
const char *lg_via_name(enum lg_via v);

/** Parse "rport-last=40,plain=20,..." (names absent get 0). Returns 0 or -EINVAL. */
int lg_via_mix_parse(const char *s, struct lg_via_mix *mix);

/**
 * Expand the templates for @p nsock sockets (1..LG_MAX_SOCKETS) whose Via sent-by strings are
 * @p sentby[i] ("127.0.0.1:40000", "[::1]:40000"), for every request type and Via form of
 * non-zero weight. Returns 0, or -EINVAL on a bad mix or count.
 */
int lg_gen_init(struct lg_gen *g, const struct lg_mix *mix, const struct lg_via_mix *via,
		const char *const *sentby, unsigned nsock, uint32_t nonce);

/** The request type of message @p seq. */
enum lg_method lg_gen_method(const struct lg_gen *g, uint64_t seq);

/**
 * The Via form of message @p seq. Each request type goes through the Via mix on its own (its nth
 * message gets form via_wheel[n % via_len]), so every type sends every form in proportion.
 */
enum lg_via lg_gen_via(const struct lg_gen *g, uint64_t seq);

/** Write message @p seq for socket @p sock into @p out (LG_MSG_MAX bytes); returns its length. */
size_t lg_gen_build(const struct lg_gen *g, unsigned sock, uint64_t seq, char *out);

/** The sequence number in a branch this generator made; -EINVAL for any other branch. */
int lg_gen_branch_seq(const struct lg_gen *g, struct lg_slice branch, uint64_t *seq);

#endif
