/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The requests the load generator sends: a realistic IMS mix of INVITE (with an SDP offer),
 * REGISTER (with a Digest Authorization), BYE, OPTIONS and MESSAGE (short text body).
 *
 * Each request type is expanded once per sending socket into a template whose per-message parts
 * have a fixed width and a known offset. Building message number `seq` is then a memcpy and
 * three 16-digit hex writes: no formatting, no allocation. Sequence numbers make every
 * transaction unique, and a per-run nonce keeps runs apart:
 *
 *   branch    z9hG4bKlg<nonce:8 hex><seq:16 hex>   (RFC 3261 magic cookie first)
 *   Call-ID   <seq:16 hex>-<nonce:8 hex>@loadgen
 *   From-tag  16 hex digits, a mix of seq and nonce
 *
 * The branch is how a response is matched back to its request (lg_gen_branch_seq).
 */
#ifndef LG_SIPGEN_H
#define LG_SIPGEN_H

#include <stddef.h>
#include <stdint.h>

#include "sipmsg.h"

enum lg_method { LG_INVITE, LG_REGISTER, LG_BYE, LG_OPTIONS, LG_MESSAGE, LG_METHOD_COUNT };

#define LG_MSG_MAX	  1400 /* largest generated request, bytes (one Ethernet MTU) */
#define LG_MAX_SOCKETS	  32
#define LG_MIX_WEIGHT_MAX 1000
#define LG_WHEEL_MAX	  (LG_MIX_WEIGHT_MAX * LG_METHOD_COUNT)
#define LG_BRANCH_PREFIX  "z9hG4bKlg"
#define LG_DEFAULT_MIX	  "invite=30,register=30,bye=20,options=10,message=10"

/** Relative weights of the request types, each 0..LG_MIX_WEIGHT_MAX, not all zero. */
struct lg_mix {
	unsigned weight[LG_METHOD_COUNT];
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
	struct lg_tmpl tmpl[LG_MAX_SOCKETS][LG_METHOD_COUNT];
};

/** "invite", "register", ...: the --mix names, lower case. */
const char *lg_method_name(enum lg_method m);

/** Parse "invite=30,register=30,..." (names absent get 0). Returns 0 or -EINVAL. */
int lg_mix_parse(const char *s, struct lg_mix *mix);

/**
 * Expand the templates for @p nsock sockets (1..LG_MAX_SOCKETS) whose Via sent-by strings are
 * @p sentby[i] ("127.0.0.1:40000", "[::1]:40000"). Returns 0, or -EINVAL on a bad mix or count.
 */
int lg_gen_init(struct lg_gen *g, const struct lg_mix *mix, const char *const *sentby,
		unsigned nsock, uint32_t nonce);

/** The request type of message @p seq. */
enum lg_method lg_gen_method(const struct lg_gen *g, uint64_t seq);

/** Write message @p seq for socket @p sock into @p out (LG_MSG_MAX bytes); returns its length. */
size_t lg_gen_build(const struct lg_gen *g, unsigned sock, uint64_t seq, char *out);

/** The sequence number in a branch this generator made; -EINVAL for any other branch. */
int lg_gen_branch_seq(const struct lg_gen *g, struct lg_slice branch, uint64_t *seq);

#endif
