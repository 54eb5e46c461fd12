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
 *
 * HTTP contract (what scripts may rely on):
 *   - GET (and HEAD) on /metrics and /status, POST on the others; another method gets 405
 *     with an Allow header; an unknown path gets 404. Query strings and request bodies are
 *     ignored. POOL and MEMBER are percent-decoded path segments ("127.0.0.1:5070", an
 *     index, or "%5B%3A%3A1%5D%3A5070" for "[::1]:5070"); a bad %-escape or %00 gets 400.
 *   - /metrics is "text/plain; version=0.0.4; charset=utf-8"; every other body is JSON.
 *   - A successful POST answers 200 {"ok":true,...}. A failed one answers {"error":"..."}
 *     with 404 (drain: -ENOENT), 409 (-EINVAL, -EBUSY, -EAGAIN, -EALREADY, -EEXIST, and
 *     reload's -ENOENT: the request was understood but the state refuses it), 501 (-ENOSYS,
 *     -EOPNOTSUPP, or no callback) or 500 (anything else, or out of memory).
 */
#ifndef VIADUCT_ADMIN_H
#define VIADUCT_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * What the endpoints do. Every callback runs on libmicrohttpd's single internal thread: never
 * two at once, but concurrently with every other thread of the process, so a callback must
 * only read published (RCU or atomically read) state, or hand the work to the control thread
 * and wait for its answer. A callback may be NULL: its endpoint then answers 501.
 * msg (msglen bytes, starts empty) takes a NUL-terminated, human-readable line: on failure
 * it becomes the "error" of the JSON answer (strerror() when left empty); on success it is
 * passed on as "message" when not empty.
 */
struct vd_admin_ops {
	void *arg;
	/** Render /metrics (Prometheus text, see vd_prom_*) or /status (one JSON document). */
	void (*metrics)(void *arg, struct vd_buf *out);
	void (*status)(void *arg, struct vd_buf *out);
	/** POST /reload: 0 on success, or -errno with a message in msg. */
	int (*reload)(void *arg, char *msg, size_t msglen);
	/**
	 * POST .../drain and .../undrain: 0, -ENOENT (unknown pool/member) or -errno. pool and
	 * member are the decoded path segments: 1..255 bytes, no NUL, not validated further
	 * (not even as UTF-8; vd_buf_json_str makes any bytes safe to echo).
	 */
	int (*drain)(void *arg, const char *pool, const char *member, bool drain, char *msg,
		     size_t msglen);
};

struct vd_admin;

/**
 * Start serving on address:port (numeric IPv4 or IPv6, brackets optional; port 0 =
 * ephemeral, see vd_admin_port) with one internal libmicrohttpd thread. ops is copied.
 * Control thread only. NULL with a one-line message in err, naming the address and the
 * cause ("admin 127.0.0.1:8080: cannot bind: Address already in use").
 */
struct vd_admin *vd_admin_start(const char *address, uint16_t port, const struct vd_admin_ops *ops,
				char *err, size_t errlen);
/** The bound port (the real one when started with port 0). */
uint16_t vd_admin_port(const struct vd_admin *a);
/** Stop: waits for a running callback to return, closes every socket, frees a. NULL is a no-op. */
void vd_admin_stop(struct vd_admin *a);

#endif
