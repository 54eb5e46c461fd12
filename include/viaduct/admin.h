/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin HTTP API (libmicrohttpd), served from the control plane on a configured local
 * address:
 *
 *   GET  /metrics                          Prometheus text exposition format 0.0.4
 *   GET  /status                           JSON: pools, members, health, drain, config, version
 *   POST /reload                           reload the configuration now
 *   POST /pools/POOL/members/MEMBER/drain  stop new dialogs/registrations to a member
 *   POST /pools/POOL/members/MEMBER/undrain
 *
 * The module knows HTTP and the two text formats; what the endpoints return comes from the
 * callbacks in struct vd_admin_ops, which run on libmicrohttpd's thread and must only read
 * published state (or hand work to the control thread).
 */
#ifndef VIADUCT_ADMIN_H
#define VIADUCT_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A growing text buffer the callbacks write into. */
struct vd_buf {
	char *p;
	size_t len, cap;
	bool oom; /* an allocation failed: the response becomes a 500 */
};

void vd_buf_printf(struct vd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vd_buf_free(struct vd_buf *b);
/** Append s as a JSON string literal (quotes and escapes included). */
void vd_buf_json_str(struct vd_buf *b, const char *s);

/**
 * Prometheus helpers. A metric family is announced once with its HELP and TYPE lines, then
 * any number of samples; label values are escaped per the exposition format.
 * labels: "k1", "v1", "k2", "v2", ..., NULL.
 */
void vd_prom_family(struct vd_buf *b, const char *name, const char *type, const char *help);
void vd_prom_sample(struct vd_buf *b, const char *name, uint64_t value, ...)
	__attribute__((sentinel));

struct vd_admin_ops {
	void *arg;
	/** Render /metrics or /status into out. */
	void (*metrics)(void *arg, struct vd_buf *out);
	void (*status)(void *arg, struct vd_buf *out);
	/** POST /reload: 0 on success, or -errno with a message in msg. */
	int (*reload)(void *arg, char *msg, size_t msglen);
	/** POST .../drain and .../undrain: 0, -ENOENT (unknown pool/member) or -errno. */
	int (*drain)(void *arg, const char *pool, const char *member, bool drain, char *msg,
		     size_t msglen);
};

struct vd_admin;

/**
 * Start serving on address:port (numeric IPv4 or IPv6; port 0 = ephemeral, see
 * vd_admin_port). NULL with a message in err.
 */
struct vd_admin *vd_admin_start(const char *address, uint16_t port, const struct vd_admin_ops *ops,
				char *err, size_t errlen);
uint16_t vd_admin_port(const struct vd_admin *a);
void vd_admin_stop(struct vd_admin *a);

#endif
