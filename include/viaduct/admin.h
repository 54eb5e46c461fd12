/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin HTTP API (libmicrohttpd), served from the control plane on a configured local
 * address:
 *
 *   GET  /metrics                          Prometheus text exposition format 0.0.4
 *   GET  /status                           JSON: pools, members, health, drain, config, version
 *   POST /reload                           reload the configuration now
 *   GET  /log-level                        JSON {"log_level":"info"}
 *   POST /log-level/LEVEL                  set it (error, warn or warning, info, debug) at
 *                                          once: {"ok":true,"log_level":...,"was":...};
 *                                          an unknown LEVEL gets 400
 *   POST /pools/POOL/members/MEMBER/drain  stop new dialogs/registrations to a member
 *   POST /pools/POOL/members/MEMBER/undrain
 *
 * The module knows HTTP and the two text formats; what the endpoints return comes from the
 * callbacks in struct vd_admin_ops, which run on libmicrohttpd's thread and must only read
 * published state (or hand work to the control thread).
 *
 * HTTP contract (what scripts may rely on):
 *   - GET (and HEAD) on /metrics, /status and /log-level, POST on the others; another method gets 405
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

#include "viaduct/metrics.h"

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

struct vd_config;
struct vd_dp_view;

/**
 * The admin API over the control plane (src/ctl/admin_ops.c): started beside the control
 * loop when the config has an admin section, its operations going to vd_control_reload and
 * vd_control_member, its pages reading dp and the published snapshot. 0 (also when there is
 * no admin section) or -EADDRNOTAVAIL, logged: main treats it as a start failure.
 */
int vd_admin_ops_start(const struct vd_config *cfg, const struct vd_dp_view *dp);
void vd_admin_ops_stop(void);

#endif
