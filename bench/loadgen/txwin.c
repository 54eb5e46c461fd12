/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outstanding-transaction window (see txwin.h). Both operations are one array index.
 */
#include <errno.h>
#include <stdlib.h>

#include "txwin.h"

#define WIN_ORDER_MAX 26 /* 64 M slots, 1 GiB: far beyond any sane rate x timeout */

int lg_win_init(struct lg_window *w, unsigned order)
{
	if (order > WIN_ORDER_MAX)
		return -EINVAL;
	*w = (struct lg_window){ 0 };
	/* calloc: untouched pages stay unmapped, so a big window costs only what a run uses. */
	w->slot = calloc((size_t)1 << order, sizeof(*w->slot));
	if (!w->slot)
		return -ENOMEM;
	w->mask = ((uint64_t)1 << order) - 1;
	return 0;
}

void lg_win_free(struct lg_window *w)
{
	free(w->slot);
	w->slot = NULL;
}

void lg_win_sent(struct lg_window *w, uint64_t seq, uint64_t now_ns)
{
	struct lg_slot *s = &w->slot[seq & w->mask];

	if (s->sent_ns) {
		w->evicted++;
		w->pending--;
	}
	s->seq = seq;
	s->sent_ns = now_ns;
	w->pending++;
	if (seq >= w->next_seq)
		w->next_seq = seq + 1;
}

enum lg_match lg_win_match(struct lg_window *w, uint64_t seq, uint64_t now_ns, uint64_t timeout_ns,
			   uint64_t *latency_ns)
{
	if (seq >= w->next_seq)
		return LG_MATCH_UNKNOWN;
	struct lg_slot *s = &w->slot[seq & w->mask];
	if (s->seq != seq || s->sent_ns == 0)
		return LG_MATCH_LATE;
	uint64_t lat = now_ns > s->sent_ns ? now_ns - s->sent_ns : 0;
	s->sent_ns = 0;
	w->pending--;
	if (lat > timeout_ns)
		return LG_MATCH_LATE;
	*latency_ns = lat;
	return LG_MATCH_OK;
}
