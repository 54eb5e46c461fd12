/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP counters of the kernel datapath (struct vd_tcp_stats) for the printed stats line
 * ("stats tcp ...") and /metrics (viaduct_tcp_*): connections accepted, refused, opened to
 * members, closed by reason, open now; keepalives; hand-offs between workers.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>

#include "dp_internal.h"
#include "viaduct/metrics.h"
#include "viaduct/dpview.h"

static const char *const close_names[VD_CLOSE__COUNT] = {
	[VD_CLOSE_PEER] = "peer",
	[VD_CLOSE_ERROR] = "error",
	[VD_CLOSE_HEADER_TIMEOUT] = "header-timeout",
	[VD_CLOSE_IDLE] = "idle-timeout",
	[VD_CLOSE_WRITE_QUEUE] = "write-queue-full",
	[VD_CLOSE_UNFRAMED] = "unframed",
	[VD_CLOSE_TOO_LARGE] = "too-large",
	[VD_CLOSE_CONNECT_FAILED] = "connect-failed",
	[VD_CLOSE_NO_BUFFER] = "no-buffer",
	[VD_CLOSE_TLS] = "tls",
	[VD_CLOSE_SHUTDOWN] = "shutdown",
};

static const struct {
	const char *key, *metric, *type, *help;
	size_t off;
} fields[] = {
	{ "accepted", "tcp_accepted_total", "counter", "TCP connections accepted.",
	  offsetof(struct vd_tcp_stats, accepted) },
	{ "refused_per_ip", "tcp_refused_per_ip_total", "counter",
	  "TCP connections closed at accept: their source already held "
	  "tcp.max_connections_per_ip.",
	  offsetof(struct vd_tcp_stats, refused_per_ip) },
	{ "refused_acl", "tcp_refused_acl_total", "counter",
	  "TCP connections closed at accept: their source is denied by acl:.",
	  offsetof(struct vd_tcp_stats, refused_acl) },
	{ "accept_paused", "tcp_accept_paused_total", "counter",
	  "Times a worker stopped accepting at tcp.max_connections (clients wait in the backlog).",
	  offsetof(struct vd_tcp_stats, paused) },
	{ "connected", "tcp_connected_total", "counter",
	  "TCP connections viaduct opened to members.", offsetof(struct vd_tcp_stats, connected) },
	{ "pings", "tcp_keepalives_total", "counter",
	  "CRLFCRLF keepalives answered with CRLF (RFC 5626 3.5.1).",
	  offsetof(struct vd_tcp_stats, pings) },
	{ "handoff_out", "tcp_handoffs_out_total", "counter",
	  "Messages passed to the worker that owns their connection.",
	  offsetof(struct vd_tcp_stats, handoff_out) },
	{ "handoff_in", "tcp_handoffs_in_total", "counter",
	  "Messages other workers passed to this one and it queued on its connection.",
	  offsetof(struct vd_tcp_stats, handoff_in) },
	{ "handoff_lost", "tcp_handoffs_lost_total", "counter",
	  "Messages passed on whose connection had closed when they arrived.",
	  offsetof(struct vd_tcp_stats, handoff_lost) },
	{ "unsent_bytes", "tcp_unsent_bytes_total", "counter",
	  "Bytes still queued on a connection when it closed.",
	  offsetof(struct vd_tcp_stats, unsent_bytes) },
	{ "tls_handshakes", "tls_handshakes_total", "counter",
	  "TLS handshakes completed (accepted and to members).",
	  offsetof(struct vd_tcp_stats, tls_handshakes) },
	{ "tls_failed", "tls_failures_total", "counter",
	  "TLS handshakes or records that failed (certificate, protocol): connection closed.",
	  offsetof(struct vd_tcp_stats, tls_failed) },
	{ "open", "tcp_connections", "gauge", "TCP connections open now (both directions).",
	  offsetof(struct vd_tcp_stats, open) },
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static uint64_t get(const struct vd_tcp_stats *s, size_t off)
{
	return __atomic_load_n((const uint64_t *)((const char *)s + off), __ATOMIC_RELAXED);
}

static void sum(const struct vd_dp *dp, struct vd_tcp_stats *t)
{
	uint64_t *o = (uint64_t *)t;
	for (unsigned i = 0; i < dp->n_workers; i++) {
		const uint64_t *x = (const uint64_t *)&dp->workers[i].tcp;
		for (size_t k = 0; k < sizeof(*t) / sizeof(uint64_t); k++)
			o[k] += __atomic_load_n(&x[k], __ATOMIC_RELAXED);
	}
}

void vd_dp_tcp_print(const void *v, FILE *f)
{
	const struct vd_dp *dp = v;
	struct vd_tcp_stats t = { 0 };
	if (!dp->any_tcp)
		return;
	sum(dp, &t);
	fprintf(f, "stats tcp");
	for (size_t k = 0; k < N_FIELDS; k++)
		fprintf(f, " %s=%" PRIu64, fields[k].key, get(&t, fields[k].off));
	for (unsigned r = 0; r < VD_CLOSE__COUNT; r++)
		if (t.closed[r])
			fprintf(f, " closed_%s=%" PRIu64, close_names[r], t.closed[r]);
	fputc('\n', f);
}

void vd_dp_tcp_metrics(const void *v, struct vd_buf *b)
{
	const struct vd_dp *dp = v;
	char name[64], worker[16];
	if (!dp->any_tcp)
		return;
	for (size_t k = 0; k < N_FIELDS; k++) {
		snprintf(name, sizeof(name), "viaduct_%s", fields[k].metric);
		vd_prom_family(b, name, fields[k].type, fields[k].help);
		for (unsigned i = 0; i < dp->n_workers; i++) {
			snprintf(worker, sizeof(worker), "%u", i);
			vd_prom_sample(b, name, get(&dp->workers[i].tcp, fields[k].off), "worker",
				       worker, NULL);
		}
	}
	vd_prom_family(b, "viaduct_tcp_closed_total", "counter",
		       "TCP connections closed, by reason.");
	for (unsigned i = 0; i < dp->n_workers; i++) {
		snprintf(worker, sizeof(worker), "%u", i);
		for (unsigned r = 0; r < VD_CLOSE__COUNT; r++)
			vd_prom_sample(b, "viaduct_tcp_closed_total",
				       get(&dp->workers[i].tcp,
					   offsetof(struct vd_tcp_stats, closed) + r * sizeof(uint64_t)),
				       "worker", worker, "reason", close_names[r], NULL);
	}
}
