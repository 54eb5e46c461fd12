/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The window of outstanding transactions: send timestamps indexed by sequence number.
 *
 * A power-of-two array of slots, slot = seq & mask, allocated once. A slot remembers which seq
 * it holds, so a response for a seq whose slot has since been reused (the window wrapped) or
 * already answered is recognised as late rather than matched to the wrong request. The window
 * must be larger than the number of messages sent within the response timeout; a slot reused
 * while still waiting counts as evicted (its request is then lost for the statistics).
 *
 * Single-threaded: the load generator sends and receives on one thread.
 */
#ifndef LG_TXWIN_H
#define LG_TXWIN_H

#include <stdint.h>

enum lg_match {
	LG_MATCH_OK,	  /* first response within the timeout: *latency_ns set */
	LG_MATCH_LATE,	  /* after the timeout, a duplicate, or its slot was reused */
	LG_MATCH_UNKNOWN, /* a seq never sent */
};

struct lg_slot {
	uint64_t seq;
	uint64_t sent_ns; /* 0 once answered */
};

struct lg_window {
	struct lg_slot *slot;
	uint64_t mask;
	uint64_t next_seq; /* one past the highest seq sent */
	uint64_t pending;  /* sent, not answered, not evicted */
	uint64_t evicted;
};

/** Allocate 2^@p order slots (control path). Returns 0 or -ENOMEM/-EINVAL. */
int lg_win_init(struct lg_window *w, unsigned order);

void lg_win_free(struct lg_window *w);

/** Record that @p seq was sent at @p now_ns (> 0). Seqs are sent in increasing order. */
void lg_win_sent(struct lg_window *w, uint64_t seq, uint64_t now_ns);

/** Match a response for @p seq arriving at @p now_ns against the window. */
enum lg_match lg_win_match(struct lg_window *w, uint64_t seq, uint64_t now_ns, uint64_t timeout_ns,
			   uint64_t *latency_ns);

#endif
