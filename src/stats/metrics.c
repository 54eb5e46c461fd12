/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus families for the per-worker counters (see include/viaduct/metrics.h for the names
 * and why totals get families of their own). One table describes every family: where its
 * counters sit in struct vd_stats and how an index becomes a label value; one loop renders
 * the table. Adding a counter to struct vd_stats means adding a row here.
 *
 * The workers keep writing while we read, so each one is copied once (relaxed loads) into a
 * snapshot, and the totals are summed from those copies: within one scrape the per-worker
 * series add up exactly to the totals.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/metrics.h"

#include "buf_internal.h"

#define PREFIX_TOTAL	"viaduct_"
#define PREFIX_WORKER	"viaduct_worker_"
#define NAME_MAX_LEN	96  /* longest family name, prefix included */
#define HELP_MAX_LEN	320 /* longest help text, with the per-worker note */
#define LABEL_MAX_LEN	24  /* a worker or member index, a status code, "6xx" */
#define METRICS_STR_(x) #x
#define METRICS_STR(x)	METRICS_STR_(x) /* a numeric macro as a string literal */

/* A label value for counter index i (tmp may be used for numbers). */
typedef const char *(*label_fn)(unsigned i, char *tmp, size_t len);

struct family {
	const char *name; /* without prefix, ends in _total */
	const char *help;
	const char *label; /* the label of counter index i; NULL: one series without it */
	size_t off;	   /* offsetof(struct vd_stats, first counter) */
	unsigned first;	   /* counters [first, end) of each group are exposed */
	unsigned end;	   /* also the length of a group */
	label_fn value_of;
	const char *group; /* a 2-D array: the label of the row index, else NULL */
	unsigned groups;   /* rows (1 when group is NULL) */
	bool trim;	   /* per row: stop after the last non-zero total (none if all zero) */
};

static const char *method_label(unsigned i, char *tmp, size_t len)
{
	(void)tmp;
	(void)len;
	return vd_sip_method_name((enum vd_sip_method)i);
}

static const char *class_label(unsigned i, char *tmp, size_t len)
{
	size_t n = vd_buf_u64_dec(tmp, i); /* "%uxx" */

	(void)len;
	memcpy(tmp + n, "xx", 3);
	return tmp;
}

static const char *code_label(unsigned i, char *tmp, size_t len)
{
	static const unsigned codes[VD_STATS_REPLY__COUNT] = {
#define VD_REPLY_CODE(c) c,
		VD_STATS_REPLY_CODES(VD_REPLY_CODE)
#undef VD_REPLY_CODE
	};

	(void)len;
	if (i == VD_STATS_REPLY_OTHER)
		return "other";
	vd_buf_u64_dec(tmp, codes[i]);
	return tmp;
}

static const char *drop_label(unsigned i, char *tmp, size_t len)
{
	(void)tmp;
	(void)len;
	return vd_drop_name((enum vd_drop)i);
}

static const char *sip_err_label(unsigned i, char *tmp, size_t len)
{
	(void)tmp;
	(void)len;
	return vd_sip_err_name((enum vd_sip_err)i);
}

static const char *route_label(unsigned i, char *tmp, size_t len)
{
	(void)tmp;
	(void)len;
	return vd_route_outcome_name((enum vd_route_outcome)i);
}

static const char *guard_label(unsigned i, char *tmp, size_t len)
{
	(void)tmp;
	(void)len;
	return vd_stats_guard_name((enum vd_stats_guard)i);
}

static const char *hep_drop_label(unsigned i, char *tmp, size_t len)
{
	(void)tmp;
	(void)len;
	return vd_hep_drop_name((enum vd_hep_drop)i);
}

static const char *index_label(unsigned i, char *tmp, size_t len)
{
	(void)len;
	vd_buf_u64_dec(tmp, i);
	return tmp;
}

/* The label functions write up to an unsigned in decimal and "xx" into tmp. */
_Static_assert(LABEL_MAX_LEN >= VD_U64_DEC_MAX + 3, "LABEL_MAX_LEN too small");

#define SCALAR(field) offsetof(struct vd_stats, field), 0, 1, NULL, NULL, 1, false
#define ARRAY(field, first, end, fn)                                                               \
	offsetof(struct vd_stats, field), first, end, fn, NULL, 1, false

/*
 * Index 0 of drop[] and sip_err[] is "none"/OK and rx_responses[0] is a status of 700 or more
 * (which the scanner refuses): never counted, so not exposed; vd_stats_print skips them too.
 */
static const struct family families[] = {
	{"received_messages_total",
	 "Datagrams received. Each ends forwarded, replied or dropped: "
	 "received = forwarded + replied + sum(drops).",
	 NULL, SCALAR(rx)},
	{"received_bytes_total", "Bytes of the datagrams received.", NULL, SCALAR(rx_bytes)},
	{"forwarded_messages_total", "Messages forwarded to a next hop.", NULL, SCALAR(tx)},
	{"replied_messages_total", "Messages answered with a local reply that was sent.", NULL,
	 SCALAR(replies)},
	{"sent_bytes_total", "Bytes sent: forwarded messages and local replies.", NULL,
	 SCALAR(tx_bytes)},
	{"received_requests_total",
	 "Well-formed requests received, by method (\"unknown\": an extension method).", "method",
	 ARRAY(rx_requests, 0, VD_M__COUNT, method_label)},
	{"received_responses_total", "Well-formed responses received, by status class.", "class",
	 ARRAY(rx_responses, 1, 7, class_label)},
	{"forwarded_requests_total", "Requests forwarded, by method.", "method",
	 ARRAY(tx_requests, 0, VD_M__COUNT, method_label)},
	{"forwarded_responses_total", "Responses forwarded, by status class.", "class",
	 ARRAY(tx_responses, 1, 7, class_label)},
	{"replies_total",
	 "Local replies built, by status code (\"other\": a code without a counter of its own). "
	 "One that cannot be sent is also in drops_total{reason=\"send-failed\"}.",
	 "code", ARRAY(reply_codes, 0, VD_STATS_REPLY__COUNT, code_label)},
	{"drops_total", "Messages dropped, by reason.", "reason",
	 ARRAY(drop, 1, VD_DROP__COUNT, drop_label)},
	{"scan_errors_total",
	 "Messages the scanner refused, by verdict: a request gets a 400 or 505, a response "
	 "is dropped.",
	 "reason", ARRAY(sip_err, 1, VD_SIP_E__COUNT, sip_err_label)},
	{"route_outcomes_total",
	 "Requests whose Route set decided the next hop, by outcome: followed (a trusted hop), "
	 "to-pool (an untrusted hop: the pool got it, Route intact), refused (403 Not relaying), "
	 "outbound (from a member or trusted peer: by Route, else Request-URI).",
	 "outcome", ARRAY(route, 1, VD_ROUTE__COUNT, route_label)},
	{"member_selections_total",
	 "Messages forwarded to a pool member, by pool and member index in the routing snapshot "
	 "(pools up to " METRICS_STR(VD_STATS_POOLS) "; members up to the highest selected).",
	 "member", offsetof(struct vd_stats, member), 0, VD_CFG_MAX_MEMBERS, index_label, "pool",
	 VD_STATS_POOLS, true},
	{"member_requests_total",
	 "Requests sent to a pool member, chosen from its pool or named by a Route (ACKs left "
	 "out), by the pool and member index of its first pool: passive health's denominator.",
	 "member", offsetof(struct vd_stats, member_requests), 0, VD_CFG_MAX_MEMBERS, index_label,
	 "pool", VD_STATS_POOLS, true},
	{"member_successes_total",
	 "Final responses other than 5xx from a pool member, by pool and member index as "
	 "member_requests_total.",
	 "member", offsetof(struct vd_stats, member_successes), 0, VD_CFG_MAX_MEMBERS, index_label,
	 "pool", VD_STATS_POOLS, true},
	{"member_5xx_total",
	 "5xx final responses from a pool member, by pool and member index as "
	 "member_requests_total.",
	 "member", offsetof(struct vd_stats, member_5xx), 0, VD_CFG_MAX_MEMBERS, index_label,
	 "pool", VD_STATS_POOLS, true},
	{"receive_batches_total", "Receive batches (recvmmsg calls that returned messages).", NULL,
	 SCALAR(batches)},
	{"edge_events_total",
	 "Admission events: source-limited (a message over its source's rate_limit), banned (a "
	 "source banned for ban_seconds), method-limited (over its method's limit), shed (a new "
	 "dialog or registration while the worker was behind). What became of each message is "
	 "in drops_total or replies_total.",
	 "event", ARRAY(guard, 0, VD_STATS_GUARD__COUNT, guard_label)},
	{"hep_sent_total",
	 "HEP v3 copies of received and sent SIP messages sent to the collector (hep:).", NULL,
	 SCALAR(hep_sent)},
	{"hep_dropped_total",
	 "HEP v3 copies not sent, by reason: full (no slot left in the batch), too-large, "
	 "socket-full (the socket's buffer was full: never waited for), refused (the collector's "
	 "port is closed), error (another send error). Forwarding is never affected.",
	 "reason", ARRAY(hep_dropped, 0, VD_HEP_DROP__COUNT, hep_drop_label)},
};

static uint64_t counter(const struct vd_stats *st, const struct family *f, unsigned g, unsigned i)
{
	return ((const uint64_t *)((const char *)st + f->off))[(size_t)g * f->end + i];
}

/* One past the last index of row g to expose: the fixed end, or after the last non-zero. */
static unsigned row_end(const struct family *f, const struct vd_stats *total, unsigned g)
{
	unsigned end = f->end;

	if (f->trim)
		while (end > f->first && counter(total, f, g, end - 1) == 0)
			end--;
	return end;
}

/* One sample: labels worker (when wid), the row label (2-D families), the index label. */
static void emit(struct vd_buf *b, const char *name, uint64_t v, const char *wid,
		 const struct family *f, unsigned g, unsigned i)
{
	const char *key[3] = {NULL, NULL, NULL}, *val[3] = {NULL, NULL, NULL};
	char gs[LABEL_MAX_LEN], ls[LABEL_MAX_LEN];
	unsigned n = 0;

	if (wid) {
		key[n] = "worker";
		val[n++] = wid;
	}
	if (f->group) {
		key[n] = f->group;
		val[n++] = index_label(g, gs, sizeof(gs));
	}
	if (f->label) {
		key[n] = f->label;
		val[n++] = f->value_of(i, ls, sizeof(ls));
	}
	/* the first NULL key ends the list */
	vd_prom_sample(b, name, v, key[0], val[0], key[1], val[1], key[2], val[2], NULL);
}

/* The totals family, then the per-worker one; rows trimmed on the totals, for both. */
static void render_family(struct vd_buf *b, const struct family *f, const struct vd_stats *snap,
			  unsigned n, const struct vd_stats *total)
{
	char name[NAME_MAX_LEN], help[HELP_MAX_LEN], wid[LABEL_MAX_LEN];

	snprintf(name, sizeof(name), PREFIX_TOTAL "%s", f->name);
	vd_prom_family(b, name, "counter", f->help);
	for (unsigned g = 0; g < f->groups; g++)
		for (unsigned i = f->first, end = row_end(f, total, g); i < end; i++)
			emit(b, name, counter(total, f, g, i), NULL, f, g, i);

	snprintf(name, sizeof(name), PREFIX_WORKER "%s", f->name);
	snprintf(help, sizeof(help), "%s Per worker; " PREFIX_TOTAL "%s is the sum.", f->help,
		 f->name);
	vd_prom_family(b, name, "counter", help);
	for (unsigned w = 0; w < n; w++) {
		vd_buf_u64_dec(wid, w);
		for (unsigned g = 0; g < f->groups; g++)
			for (unsigned i = f->first, end = row_end(f, total, g); i < end; i++)
				emit(b, name, counter(&snap[w], f, g, i), wid, f, g, i);
	}
}

void vd_metrics_render_stats(struct vd_buf *b, const struct vd_stats *workers, unsigned n_workers)
{
	/* struct vd_stats is 64-byte aligned: calloc's 16 would be undefined behaviour */
	size_t size = ((size_t)n_workers + 1) * sizeof(struct vd_stats);
	struct vd_stats *snap = aligned_alloc(_Alignof(struct vd_stats), size);
	struct vd_stats *total;

	if (!snap) {
		b->oom = true;
		return;
	}
	memset(snap, 0, size);
	total = &snap[n_workers];
	for (unsigned w = 0; w < n_workers; w++) {
		vd_stats_add(&snap[w], &workers[w]);
		vd_stats_add(total, &snap[w]);
	}
	for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++)
		render_family(b, &families[k], snap, n_workers, total);
	free(snap);
}

/*
 * The label sets of every member of every pool, one after another in `labels`; end[k] is
 * where member k's ends (members counted across the pools in order).
 */
static void member_labels(struct vd_buf *labels, size_t *end, const struct vd_proxy_pool *pools,
			  unsigned n_pools)
{
	char pi_s[LABEL_MAX_LEN], mi_s[LABEL_MAX_LEN], group[LABEL_MAX_LEN];
	size_t k = 0;

	for (unsigned pi = 0; pi < n_pools; pi++) {
		const struct vd_proxy_pool *pool = &pools[pi];

		vd_buf_u64_dec(pi_s, pi);
		for (unsigned mi = 0; mi < pool->n_members; mi++) {
			vd_buf_u64_dec(mi_s, mi);
			vd_buf_u64_dec(group, pool->priorities[mi]);
			vd_prom_labels(labels, "pool", pool->name, "member", pool->member_names[mi],
				       "pool_index", pi_s, "member_index", mi_s, "group", group,
				       NULL);
			end[k++] = labels->len;
		}
	}
}

/* viaduct_member_ejections_total{..., reason}: the member's label set with one more label. */
static void ejections(struct vd_buf *b, const struct vd_proxy_pool *pools, unsigned n_pools,
		      const struct vd_buf *labels, const size_t *end)
{
	static const char name[] = "viaduct_member_ejections_total";
	char set[1024];
	size_t k = 0;

	vd_prom_family(b, name, "counter", "Times passive health took the member out, by reason.");
	for (unsigned pi = 0; pi < n_pools; pi++)
		for (unsigned mi = 0; mi < pools[pi].n_members; mi++, k++) {
			size_t from = k ? end[k - 1] : 0, n = end[k] - from - 1; /* without '}' */
			for (int e = 1; e < VD_EJECT__COUNT; e++) {
				const char *why = vd_eject_name((enum vd_eject)e); /* a plain word */
				size_t wl = strlen(why);
				if (n + wl + 12 > sizeof(set))
					continue; /* cannot happen: names are bounded */
				memcpy(set, labels->p + from, n);
				memcpy(set + n, ",reason=\"", 9);
				memcpy(set + n + 9, why, wl);
				memcpy(set + n + 9 + wl, "\"}", 2);
				vd_prom_sample_labelled(b, name, sizeof(name) - 1, set, n + 11 + wl,
							pools[pi].passive ? pools[pi].passive[mi].ejections[e]
									  : 0);
			}
		}
}

/*
 * The families have the same series: each member's label set (two names to escape, three
 * numbers) is made once and copied into its line of each family, rather than formatted
 * twice: that was most of the cost of the page (4,096 of its ~4,300 lines for 64 pools of 32).
 */
void vd_metrics_render_members(struct vd_buf *b, const struct vd_proxy_pool *pools,
			       unsigned n_pools)
{
	enum { UP, DRAINED, EJECTED, SHARE, OVERLOAD, SLOW };
	static const struct {
		const char *name, *help;
	} fams[] = {
		[UP] = {"viaduct_member_up", "1 when the member passes its health probes."},
		[DRAINED] = {"viaduct_member_drained", "1 when the member takes no new dialogs."},
		[EJECTED] = {"viaduct_member_ejected",
			     "1 when passive health has the member out of its pool (503 Retry-After, "
			     "outlier)."},
		[SHARE] = {"viaduct_member_share_percent",
			   "The member's weight for new dialogs, in percent of its configured weight: "
			   "less while it ramps up (slow start) or asks for less (RFC 7339 oc), more "
			   "while it takes what others of its group shed."},
		[OVERLOAD] = {"viaduct_member_overload_percent",
			      "RFC 7339 overload control in effect: the member's traffic cut by this "
			      "percent."},
		[SLOW] = {"viaduct_member_slow_start_percent",
			  "Slow start: percent of its weight the member has ramped up to (100: "
			  "none)."},
	};
	/* a pool built without passive state (tests) reads as a member left alone */
	static const struct vd_member_passive no_passive = { .share = VD_SHARE_WHOLE, .slow = 100 };
	struct vd_buf labels = {0};
	size_t n = 0, *end;

	for (unsigned pi = 0; pi < n_pools; pi++)
		n += pools[pi].n_members;
	end = malloc((n ? n : 1) * sizeof(*end));
	if (!end)
		goto fail;
	member_labels(&labels, end, pools, n_pools);
	if (labels.oom)
		goto fail;
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		size_t name_len = strlen(fams[f].name), k = 0;

		vd_prom_family(b, fams[f].name, "gauge", fams[f].help);
		for (unsigned pi = 0; pi < n_pools; pi++) {
			const struct vd_proxy_pool *p = &pools[pi];

			for (unsigned mi = 0; mi < p->n_members; mi++, k++) {
				size_t from = k ? end[k - 1] : 0;
				const struct vd_member_passive *ps = p->passive ? &p->passive[mi]
										: &no_passive;
				uint64_t v = f == UP ? p->up[mi] : f == DRAINED ? p->drained[mi]
					   : f == EJECTED ? ps->ejected != 0
					   : f == SHARE ? ps->share / (VD_SHARE_WHOLE / 100)
					   : f == OVERLOAD ? ps->oc : ps->slow;

				vd_prom_sample_labelled(b, fams[f].name, name_len, labels.p + from,
							end[k] - from, v);
			}
		}
	}
	ejections(b, pools, n_pools, &labels, end);
	free(end);
	vd_buf_free(&labels);
	return;
fail:
	b->oom = true;
	free(end);
	vd_buf_free(&labels);
}
