/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Passive health of one pool's members, apart from the datapath and the snapshots
 * (passive.c): what the members' responses said, turned into ejections and shares.
 *
 * Inputs: a member's 503 with Retry-After, its RFC 7339 overload control (oc, validity, seq),
 * each window's cumulative counters (requests sent to it, its final non-5xx responses), and
 * the time with the pool as the snapshot has it (weights, groups, up, drained). Output: per
 * member the struct vd_member_passive a snapshot carries (ejected and why, until when, its
 * share of new dialogs). Time is always a parameter: the machine reads no clock, opens no
 * socket, logs nothing and calls nobody, so tests/unit/test_passive.c drives it with a fake
 * clock alone. The control thread's glue (control_passive.c) feeds it and publishes.
 * Not a public header.
 */
#ifndef VD_PASSIVE_H
#define VD_PASSIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "viaduct/config.h"
#include "viaduct/proxy.h"

#define VD_PASSIVE_SLOW_STEP_MS	 1000 /* a ramp's share changes at most this often: each */
#define VD_PASSIVE_SLOW_STEPS	 10   /* change is a table rebuild, at most this many a ramp */
#define VD_PASSIVE_EXTEND_MIN_MS 1000 /* a Retry-After extends an ejection by more, or not */
#define VD_PASSIVE_MIN_JUDGED	 3    /* members judged in a window for the relative rule */
#define VD_PASSIVE_NONE		 UINT32_MAX /* no success ratio (not judged) */

/* The pool as the snapshot has it, member i at index i of each array. */
struct vd_passive_view {
	const uint32_t *weights, *priorities;
	const bool *up, *drained;
};

/* One member. Plain data. */
struct vd_passive_member {
	uint8_t ejected;   /* enum vd_eject */
	uint64_t until_ms; /* ejected: when it may return */
	uint32_t times;	   /* outlier ejections in a row: the backoff's multiplier */
	bool avail;	   /* up and not ejected at the last tick: a rise starts slow start */
	bool seen;	   /* avail is known (the first tick only learns it) */
	bool ramping;
	uint64_t ramp_start_ms;
	uint64_t ramp_next_ms; /* ramping: when its next step is due */
	uint8_t slow;	       /* slow start: percent of its weight reached (100: none) */
	uint8_t oc;	       /* RFC 7339 reduction in effect, percent */
	uint64_t oc_until_ms;
	uint64_t oc_seq; /* the newest oc-seq taken */
	bool oc_seq_set;
	uint64_t req0, ok0; /* cumulative counters at the window's start */
	bool based;	    /* req0/ok0 are set */
	uint32_t ratio_pm;  /* success ratio of the last window, per mille, or VD_PASSIVE_NONE */
	bool refused;	    /* the last ejection it earned was refused (cap): say it once */
	uint32_t ejections[VD_EJECT__COUNT];
};

struct vd_passive_pool {
	struct vd_cfg_outlier cfg;
	unsigned n;
	struct vd_passive_member *m;
	uint64_t window_start_ms;
	bool window_started;
};

/* What an event did. */
enum vd_passive_result {
	VD_PASSIVE_IGNORED = 0, /* nothing: disabled, a stale oc-seq, a repeat, out of range */
	VD_PASSIVE_REFRESHED,	/* the same state, longer (oc refreshed, ejection extended) */
	VD_PASSIVE_EJECTED,	/* it is out */
	VD_PASSIVE_REFUSED,	/* it earned an ejection, but max_ejection_percent (or the last
				 * member available) keeps it in */
	VD_PASSIVE_CHANGED,	/* its overload reduction changed */
};

/** A pool of n members with config cfg (copied), everything normal: nothing ejected, whole
 * shares. -ENOMEM or 0. */
int vd_passive_pool_init(struct vd_passive_pool *pp, const struct vd_cfg_outlier *cfg, unsigned n);
void vd_passive_pool_free(struct vd_passive_pool *pp);

/**
 * Member i answered 503 with Retry-After: secs (0 is ignored: "try again now"), cut to
 * retry_after_max_s. Ejects it until now + secs when the cap allows, extends an ejection
 * that would end sooner (by more than VD_PASSIVE_EXTEND_MIN_MS).
 */
enum vd_passive_result vd_passive_retry_after(struct vd_passive_pool *pp,
					      const struct vd_passive_view *v, unsigned i,
					      uint32_t secs, uint64_t now_ms);
/**
 * Member i sent RFC 7339 overload control: reduce its share of new dialogs by oc percent for
 * validity_ms (0: stop now). With a seq, an older one than the newest taken is stale
 * (IGNORED); an equal or newer one applies, restarting the validity (a member in overload
 * repeats it in every response). Without a seq it applies as newest.
 */
enum vd_passive_result vd_passive_overload(struct vd_passive_pool *pp, unsigned i, uint8_t oc,
					   uint32_t validity_ms, bool has_seq, uint64_t seq,
					   uint64_t now_ms);
/**
 * Outlier detection: when interval_ms has passed since the window started, judge the window
 * on the cumulative counters req[i] (requests sent to member i) and ok[i] (its final non-5xx
 * responses), eject the outliers (worst first, within the cap), start the next window.
 * Before that, nothing. Returns the members ejected; *refused counts those the cap kept.
 * A counter lower than at the window's start (a reload renumbered the members) is no data.
 */
unsigned vd_passive_window(struct vd_passive_pool *pp, const struct vd_passive_view *v,
			   const uint64_t *req, const uint64_t *ok, uint64_t now_ms,
			   unsigned *refused);
/**
 * The time passes: ejections end, overload control expires, ramps step, and a member that
 * became available (up and not ejected) starts its slow start. Returns the members whose
 * ejection ended.
 */
unsigned vd_passive_tick(struct vd_passive_pool *pp, const struct vd_passive_view *v,
			 uint64_t now_ms);
/**
 * The snapshot state of every member (out: n entries): ejection, oc and slow start, and the
 * share of new dialogs that follows from them over the pool. RFC 7339's loss algorithm
 * reduces what a member gets by oc percent: the reduction goes to the members of its group
 * that take new dialogs and ask for none, in proportion to their weights; when every one of
 * them asks for one, the shares only follow the reductions relatively (viaduct sheds no load).
 */
void vd_passive_states(const struct vd_passive_pool *pp, const struct vd_passive_view *v,
		       struct vd_member_passive *out);
/** When the machine next changes by time alone (an ejection ending, oc expiring, a ramp
 * step, the window's end when detection is on), or UINT64_MAX. */
uint64_t vd_passive_next_ms(const struct vd_passive_pool *pp);

#endif
