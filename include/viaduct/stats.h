/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker counters. Each worker owns one cache-aligned struct vd_stats and is its only
 * writer; the control thread sums them for printing. Counters are updated with relaxed
 * load + store (a plain move on x86, no lock prefix), which keeps readers race-free.
 *
 * Every received datagram ends in exactly one of: tx (forwarded), replies (answered locally)
 * or drops (by reason). So rx == tx + replies + drops at any quiet moment: a message is never
 * lost without a counter.
 */
#ifndef VIADUCT_STATS_H
#define VIADUCT_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "viaduct/hep.h"
#include "viaduct/proxy.h"

/* Reply codes the proxy generates, each with its own counter. */
#define VD_STATS_REPLY_CODES(X) X(200) X(400) X(403) X(420) X(482) X(483) X(503) X(505) X(513)
enum vd_stats_reply {
#define VD_REPLY_ENUM(c) VD_STATS_REPLY_##c,
	VD_STATS_REPLY_CODES(VD_REPLY_ENUM)
#undef VD_REPLY_ENUM
	VD_STATS_REPLY_OTHER,
	VD_STATS_REPLY__COUNT
};

#define VD_STATS_POOLS 16

/* The edge's admission events (struct vd_result guard bits), in this order. */
enum vd_stats_guard {
	VD_STATS_GUARD_SOURCE = 0, /* over its source's limit */
	VD_STATS_GUARD_BAN,        /* a source banned */
	VD_STATS_GUARD_METHOD,     /* over its method's limit */
	VD_STATS_GUARD_SHED,       /* shed while the worker was behind */
	VD_STATS_GUARD__COUNT
};

const char *vd_stats_guard_name(enum vd_stats_guard g);

struct vd_stats {
	uint64_t rx, tx, replies, drops;
	uint64_t rx_bytes, tx_bytes;
	uint64_t rx_requests[VD_M__COUNT];
	uint64_t rx_responses[7]; /* by class: [1] = 1xx ... [6] = 6xx */
	uint64_t tx_requests[VD_M__COUNT]; /* forwarded, by method */
	uint64_t tx_responses[7];          /* forwarded, by class */
	uint64_t reply_codes[VD_STATS_REPLY__COUNT];
	uint64_t drop[VD_DROP__COUNT];
	uint64_t sip_err[VD_SIP_E__COUNT]; /* scanner verdicts of refused messages */
	uint64_t route[VD_ROUTE__COUNT];   /* requests by what became of their Route set */
	/* selections by [pool][member] index of the snapshot in use; pools past VD_STATS_POOLS
	 * are counted in tx only */
	uint64_t member[VD_STATS_POOLS][VD_CFG_MAX_MEMBERS];
	/* passive health's input, by [pool][member] of struct vd_result peer: requests sent to
	 * the member (chosen or named by a Route; ACKs left out: nothing answers them), and its
	 * final responses, other than 5xx and 5xx */
	uint64_t member_requests[VD_STATS_POOLS][VD_CFG_MAX_MEMBERS];
	uint64_t member_successes[VD_STATS_POOLS][VD_CFG_MAX_MEMBERS];
	uint64_t member_5xx[VD_STATS_POOLS][VD_CFG_MAX_MEMBERS];
	uint64_t batches;
	uint64_t guard[VD_STATS_GUARD__COUNT];
	/* HEP capture: copies sent to the collector, and not sent by reason (enum vd_hep_drop);
	 * outside rx = tx + replies + drops: a copy is never a message's fate */
	uint64_t hep_sent;
	uint64_t hep_dropped[VD_HEP_DROP__COUNT];
} __attribute__((aligned(64)));

#define VD_STAT_ADD(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)

/** Count one processed datagram of `bytes` bytes by its result (before sending). */
void vd_stats_count(struct vd_stats *st, const struct vd_result *res, uint32_t bytes);
/** The datapath failed to send what was decided: move it from tx/replies to drops. */
void vd_stats_send_failed(struct vd_stats *st, const struct vd_result *res);
/** The same with the reason it could not be sent (connection-closed, handoff-full, ...). */
void vd_stats_unsent(struct vd_stats *st, const struct vd_result *res, enum vd_drop why);
/** sum += w, reading w's counters with relaxed loads (w may be live). */
void vd_stats_add(struct vd_stats *sum, const struct vd_stats *w);
/** One line "stats LABEL rx=.. tx=.. replies=.. drops=.. ..." with every non-zero counter. */
void vd_stats_print(FILE *f, const char *label, const struct vd_stats *st);

#endif
