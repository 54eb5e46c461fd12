/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus rendering of the per-worker counters (struct vd_stats) for GET /metrics.
 *
 * Every counter is exposed twice, in two families with the same help text:
 *
 *   viaduct_drops_total{reason="not-sip"} 3                  the sum over the workers
 *   viaduct_worker_drops_total{worker="0",reason="not-sip"} 1  one series per worker
 *
 * Prometheus convention is one family with a worker label, totals being sum() in PromQL; that
 * is the viaduct_worker_* family. The totals are there too because operators read them
 * directly (curl, viaductctl, alerts), but in a family of their own rather than as
 * worker="total": then sum() over any family stays right (no series counted twice), and
 * alerts written against viaduct_* keep working whatever the number of workers. Both come
 * from one snapshot, so sum(viaduct_worker_X) == viaduct_X exactly within a scrape.
 *
 * Families (each counter, name ending in _total; labels besides worker):
 *   received_messages, received_bytes, forwarded_messages, replied_messages, sent_bytes
 *   (forwarded messages and local replies), receive_batches: no label;
 *   received_requests{method}, received_responses{class="1xx".."6xx"}, replies{code} (local
 *   replies built, "other" for codes without a counter of their own), drops{reason},
 *   scan_errors{reason} (scanner verdicts), member_selections{pool,member} (indexes in the
 *   routing snapshot in use, so they follow its order after a reload).
 * received = forwarded + replied + sum(drops). The set of series is fixed (every method,
 * class, code and reason, zero or not) except member_selections, which has a pool only once
 * it has selected a member, and its members up to the highest index selected so far: the
 * renderer does not know the pool sizes, and 16 x 256 mostly-zero series per worker would
 * drown the page.
 * Compatibility: names and label values are a contract with dashboards; only add.
 */
#ifndef VIADUCT_METRICS_H
#define VIADUCT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viaduct/stats.h"

/**
 * A growing text buffer the callbacks write into. Start from a zeroed struct; p is
 * NUL-terminated whenever it is not NULL. Growth is realloc (control plane only). After a
 * failed allocation oom is set and every later append is a no-op, so a renderer never checks
 * errors: the admin module answers 500 instead of a truncated body.
 */
struct vd_buf {
	char *p;
	size_t len, cap;
	bool oom; /* an allocation failed: the response becomes a 500 */
};

/** Append printf-style text. A formatting error sets oom too (the output is incomplete). */
void vd_buf_printf(struct vd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/**
 * Make room for `extra` more bytes at once (a hint: appends grow the buffer anyway), e.g. the
 * length of the previous page, so that a large page is not copied by each doubling on its way.
 * Sets oom if that cannot be had.
 */
void vd_buf_reserve(struct vd_buf *b, size_t extra);
/** Free the text and zero the struct (reusable afterwards). */
void vd_buf_free(struct vd_buf *b);
/**
 * Append s as a JSON string literal (quotes and escapes included, RFC 8259): '"', '\\' and
 * control bytes are escaped, valid UTF-8 is copied as is, each invalid UTF-8 byte becomes
 * \ufffd so the document stays valid JSON. s NULL appends null.
 */
void vd_buf_json_str(struct vd_buf *b, const char *s);

/**
 * Prometheus helpers (text exposition format 0.0.4). A metric family is announced once with
 * its HELP and TYPE lines, then all its samples follow, with no other family in between.
 * Names must be valid metric and label names (the caller's constants: not checked); help
 * text and label values may be anything: backslash, newline (and '"' in label values) are
 * escaped per the format, invalid UTF-8 bytes become U+FFFD. A counter's name ends in _total.
 * labels: "k1", "v1", "k2", "v2", ..., NULL (a NULL key ends the list early, so an optional
 * last label can be passed as a possibly-NULL key).
 */
void vd_prom_family(struct vd_buf *b, const char *name, const char *type, const char *help);
void vd_prom_sample(struct vd_buf *b, const char *name, uint64_t value, ...)
	__attribute__((sentinel));


/**
 * Append the counter families of n_workers workers to b (vd_prom_* format). workers may be
 * live: each is read once, with relaxed loads. n_workers may be 0 (totals all zero).
 * Control plane; allocates a snapshot (sets b->oom if that fails).
 */
void vd_metrics_render_stats(struct vd_buf *b, const struct vd_stats *workers, unsigned n_workers);

/**
 * Append the member state of a routing snapshot's pools: the gauges viaduct_member_up (1 when
 * the member passes its health probes) and viaduct_member_drained (1 when it takes no new
 * dialogs), one series per member of every pool, labelled pool and member (the names as
 * configured: any bytes, escaped), pool_index and member_index (indexes in the snapshot) and
 * group (the member's priority). The caller keeps the pools alive (an RCU read section).
 * Control plane.
 */
void vd_metrics_render_members(struct vd_buf *b, const struct vd_proxy_pool *pools,
			       unsigned n_pools);

#endif
