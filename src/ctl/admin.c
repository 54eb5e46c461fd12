/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin HTTP server: libmicrohttpd with one internal polling thread, a fixed route table
 * of seven endpoints, and the mapping of callback results to HTTP statuses (see admin.h for
 * the contract). The module owns no state of the proxy: every answer comes from the ops,
 * except the log level, which is the log module's atomic and is read and set here.
 *
 * We open, bind and listen on the socket ourselves and hand it to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET) rather than passing MHD_OPTION_SOCK_ADDR: the start-up error then
 * carries the real errno ("Address already in use") instead of a NULL daemon and a log line,
 * and getsockname() gives the ephemeral port without depending on MHD_DAEMON_INFO_BIND_PORT.
 *
 * URLs reach us undecoded (MHD_OPTION_UNESCAPE_CALLBACK is a no-op): the path is split on '/'
 * first and each segment decoded afterwards, so a member named "a%2Fb" stays one segment.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "viaduct/addr.h"
#include "viaduct/admin.h"
#include "viaduct/log.h"

#define ADMIN_BACKLOG	     16
#define ADMIN_MAX_CONNS	     16	 /* an operator or two and a few scrapers, not a web site */
#define ADMIN_CONN_TIMEOUT_S 10	 /* a stalled client must not keep a slot for long */
#define ADMIN_MSG_MAX	     256 /* callback messages */
#define ADMIN_SEG_MAX	     256 /* a decoded path segment (pool or member name) */
#define ADMIN_MAX_SEGS	     5	 /* pools/POOL/members/MEMBER/drain */
#define ADMIN_ADDR_MAX	     (INET6_ADDRSTRLEN + 16) /* brackets and ":65535" */

#define TYPE_JSON    "application/json"
#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define ALLOW_GET    "GET, HEAD"
#define ALLOW_POST   "POST"
#define OOM_BODY     "{\"error\":\"out of memory\"}\n"
#define RENDER_SLACK 8 /* reserve 1/8 more than the last page: room for a few new series */

struct vd_admin {
	struct MHD_Daemon *mhd;
	struct vd_admin_ops ops;
	uint16_t port;
	/* lengths of the last /metrics and /status bodies, reserved for the next one at once
	 * (a 450 KB page would be copied by each doubling of its buffer otherwise); only
	 * libmicrohttpd's one thread touches them */
	size_t metrics_len, status_len;
};

/* An answer being built: status, body and the headers that vary. */
struct reply {
	unsigned status;
	const char *type;
	const char *allow; /* for 405 */
	struct vd_buf body;
};

/* A request path split into decoded segments. */
struct path {
	unsigned n;
	char seg[ADMIN_MAX_SEGS][ADMIN_SEG_MAX];
};

/* ---- answers ---- */

static void reply_error(struct reply *r, unsigned status, const char *msg)
{
	r->status = status;
	r->type = TYPE_JSON;
	vd_buf_printf(&r->body, "{\"error\":");
	vd_buf_json_str(&r->body, msg);
	vd_buf_printf(&r->body, "}\n");
}

static void reply_405(struct reply *r, const char *allow)
{
	reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	r->allow = allow;
}

/*
 * The HTTP status for a callback's -errno. 409: the request was understood, but the current
 * state refuses it (bad new config, reload already running, member already draining). A
 * reload's -ENOENT (the config file is gone) is such a refusal too, not a missing endpoint.
 */
static unsigned errno_status(int rc, bool enoent_is_404)
{
	switch (-rc) {
	case ENOENT:
		return enoent_is_404 ? MHD_HTTP_NOT_FOUND : MHD_HTTP_CONFLICT;
	case EINVAL:
	case EBUSY:
	case EAGAIN:
	case EALREADY:
	case EEXIST:
		return MHD_HTTP_CONFLICT;
	case ENOSYS:
	case EOPNOTSUPP:
		return MHD_HTTP_NOT_IMPLEMENTED;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* strerror() may share a buffer between threads; the GNU strerror_r (we build with
 * _GNU_SOURCE) returns a constant string or fills ours. */
static const char *errno_text(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

static void reply_errno(struct reply *r, int rc, const char *msg, bool enoent_is_404)
{
	char tmp[ADMIN_MSG_MAX];

	/* a callback that forgot the minus sign still gets a readable message */
	if (!msg[0])
		msg = errno_text(rc < 0 ? -rc : rc, tmp, sizeof(tmp));
	reply_error(r, errno_status(rc, enoent_is_404), msg);
}

static struct MHD_Response *make_response(struct reply *r)
{
	struct MHD_Response *resp;

	if (r->body.oom) {
		vd_buf_free(&r->body);
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		r->type = TYPE_JSON;
		r->allow = NULL;
		return MHD_create_response_from_buffer(strlen(OOM_BODY), (void *)OOM_BODY,
						       MHD_RESPMEM_PERSISTENT);
	}
	if (!r->body.p)
		return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	/* the buffer comes from realloc: libmicrohttpd free()s it once sent */
	resp = MHD_create_response_from_buffer(r->body.len, r->body.p, MHD_RESPMEM_MUST_FREE);
	if (resp)
		r->body = (struct vd_buf){0};
	return resp;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *r)
{
	struct MHD_Response *resp = make_response(r);
	enum MHD_Result ret;

	vd_buf_free(&r->body); /* still ours only if the response could not be made */
	if (!resp)
		return MHD_NO; /* libmicrohttpd closes the connection */
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    (r->allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow) != MHD_YES))
		ret = MHD_NO;
	else
		ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- paths ---- */

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode the n bytes at s into out (RFC 3986 percent-encoding; '+' is literal in a path). */
static int decode_segment(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return -EINVAL; /* truncated escape */
			h = hex_val(s[i + 1]);
			l = hex_val(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -EINVAL; /* %00 would cut the name short */
			c = h << 4 | l;
			i += 2;
		}
		if (o + 1 >= ADMIN_SEG_MAX)
			return -ENAMETOOLONG;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/*
 * Split "/a/b/c" into decoded segments. -ENOENT: no leading '/', or more segments than any
 * route has, or one too long (no such resource); -EINVAL: a bad percent-escape.
 */
static int split_path(const char *url, struct path *p)
{
	const char *s = url;

	if (*s++ != '/')
		return -ENOENT;
	p->n = 0;
	for (;;) {
		size_t n = strcspn(s, "/");
		int rc;

		if (p->n == ADMIN_MAX_SEGS)
			return -ENOENT;
		rc = decode_segment(s, n, p->seg[p->n++]);
		if (rc == -ENAMETOOLONG)
			return -ENOENT;
		if (rc < 0)
			return rc;
		if (s[n] == '\0')
			return 0;
		s += n + 1;
	}
}

/* ---- endpoints ---- */

enum route {
	ROUTE_NONE,
	ROUTE_METRICS,
	ROUTE_STATUS,
	ROUTE_LOG_LEVEL,     /* GET /log-level */
	ROUTE_LOG_LEVEL_SET, /* POST /log-level/LEVEL */
	ROUTE_RELOAD,
	ROUTE_DRAIN,
	ROUTE_UNDRAIN,
};

static enum route match_route(const struct path *p)
{
	if (p->n == 1 && !strcmp(p->seg[0], "metrics"))
		return ROUTE_METRICS;
	if (p->n == 1 && !strcmp(p->seg[0], "status"))
		return ROUTE_STATUS;
	if (p->n == 1 && !strcmp(p->seg[0], "reload"))
		return ROUTE_RELOAD;
	if (p->n == 1 && !strcmp(p->seg[0], "log-level"))
		return ROUTE_LOG_LEVEL;
	if (p->n == 2 && !strcmp(p->seg[0], "log-level"))
		return ROUTE_LOG_LEVEL_SET;
	if (p->n != 5 || strcmp(p->seg[0], "pools") || !p->seg[1][0] ||
	    strcmp(p->seg[2], "members") || !p->seg[3][0])
		return ROUTE_NONE;
	if (!strcmp(p->seg[4], "drain"))
		return ROUTE_DRAIN;
	if (!strcmp(p->seg[4], "undrain"))
		return ROUTE_UNDRAIN;
	return ROUTE_NONE;
}

static void do_render(struct vd_admin *a, enum route rt, struct reply *r)
{
	void (*render)(void *, struct vd_buf *) =
		rt == ROUTE_METRICS ? a->ops.metrics : a->ops.status;
	size_t *last = rt == ROUTE_METRICS ? &a->metrics_len : &a->status_len;

	if (!render) {
		reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "not implemented");
		return;
	}
	if (*last)
		vd_buf_reserve(&r->body, *last + *last / RENDER_SLACK);
	render(a->ops.arg, &r->body);
	*last = r->body.oom ? 0 : r->body.len;
	r->status = MHD_HTTP_OK;
	r->type = rt == ROUTE_METRICS ? TYPE_METRICS : TYPE_JSON;
}

/* The end of a success answer: the callback's message if any, and the closing brace. */
static void ok_end(struct reply *r, const char *msg)
{
	r->status = MHD_HTTP_OK;
	r->type = TYPE_JSON;
	if (msg[0]) {
		vd_buf_printf(&r->body, ",\"message\":");
		vd_buf_json_str(&r->body, msg);
	}
	vd_buf_printf(&r->body, "}\n");
}

static void do_reload(const struct vd_admin *a, struct reply *r)
{
	char msg[ADMIN_MSG_MAX] = "";
	int rc;

	if (!a->ops.reload) {
		reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "not implemented");
		return;
	}
	rc = a->ops.reload(a->ops.arg, msg, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0'; /* do not trust a callback to terminate it */
	if (rc) {
		reply_errno(r, rc, msg, false);
		return;
	}
	vd_buf_printf(&r->body, "{\"ok\":true");
	ok_end(r, msg);
}

static void do_log_level(struct reply *r)
{
	r->status = MHD_HTTP_OK;
	r->type = TYPE_JSON;
	vd_buf_printf(&r->body, "{\"log_level\":\"%s\"}\n", vd_log_level_name(vd_log_get_level()));
}

/* Takes effect at once for every thread (an atomic in the log module); a reload puts the
 * config's log_level back only when the file's value changed (control.c). */
static void do_log_level_set(const char *name, struct reply *r)
{
	int level = vd_log_level_parse(name);
	enum vd_log_level was = vd_log_get_level();

	if (level < 0) {
		char msg[ADMIN_MSG_MAX];
		snprintf(msg, sizeof(msg), "unknown log level \"%.64s\": error, warn, info or debug",
			 name);
		reply_error(r, MHD_HTTP_BAD_REQUEST, msg);
		return;
	}
	/* at warning level, under the more verbose of the two levels: an operator who turns the
	 * log down to error still sees that (and when) it was done */
	if ((enum vd_log_level)level > was)
		vd_log_set_level((enum vd_log_level)level);
	vd_log(VD_LOG_WARN, "log level set to %s (was %s) through the admin API",
	       vd_log_level_name((enum vd_log_level)level), vd_log_level_name(was));
	vd_log_set_level((enum vd_log_level)level);
	r->status = MHD_HTTP_OK;
	r->type = TYPE_JSON;
	vd_buf_printf(&r->body, "{\"ok\":true,\"log_level\":\"%s\",\"was\":\"%s\"}\n",
		      vd_log_level_name((enum vd_log_level)level), vd_log_level_name(was));
}

static void do_drain(const struct vd_admin *a, const struct path *p, bool drain, struct reply *r)
{
	const char *pool = p->seg[1], *member = p->seg[3];
	char msg[ADMIN_MSG_MAX] = "";
	int rc;

	if (!a->ops.drain) {
		reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "not implemented");
		return;
	}
	rc = a->ops.drain(a->ops.arg, pool, member, drain, msg, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	if (rc) {
		reply_errno(r, rc, msg, true);
		return;
	}
	vd_buf_printf(&r->body, "{\"ok\":true,\"pool\":");
	vd_buf_json_str(&r->body, pool);
	vd_buf_printf(&r->body, ",\"member\":");
	vd_buf_json_str(&r->body, member);
	vd_buf_printf(&r->body, ",\"draining\":%s", drain ? "true" : "false");
	ok_end(r, msg);
}

static bool is_get(const char *method)
{
	return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

static void route(struct vd_admin *a, const char *url, const char *method, struct reply *r)
{
	struct path p;
	int rc = split_path(url, &p);
	enum route rt = rc ? ROUTE_NONE : match_route(&p);

	if (rc == -EINVAL) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "bad percent-encoding in the path");
		return;
	}
	switch (rt) {
	case ROUTE_NONE:
		reply_error(r, MHD_HTTP_NOT_FOUND, "not found");
		break;
	case ROUTE_METRICS:
	case ROUTE_STATUS:
	case ROUTE_LOG_LEVEL:
		if (!is_get(method))
			reply_405(r, ALLOW_GET);
		else if (rt == ROUTE_LOG_LEVEL)
			do_log_level(r);
		else
			do_render(a, rt, r);
		break;
	default:
		if (strcmp(method, MHD_HTTP_METHOD_POST))
			reply_405(r, ALLOW_POST);
		else if (rt == ROUTE_RELOAD)
			do_reload(a, r);
		else if (rt == ROUTE_LOG_LEVEL_SET)
			do_log_level_set(p.seg[1], r);
		else
			do_drain(a, &p, rt == ROUTE_DRAIN, r);
		break;
	}
}

/*
 * libmicrohttpd calls this several times per request: first when the headers are in (*state
 * is NULL), then once per chunk of body (*upload_size > 0: we must mark it consumed), then a
 * last time with no data. Answering on the last call is what lets a client send a body
 * (even with Expect: 100-continue) and keep the connection for its next request.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	static char started; /* its address marks a request in progress: no allocation */
	struct reply r = {.status = MHD_HTTP_OK};

	(void)version;
	(void)upload;
	if (!*state) {
		*state = &started;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* bodies are ignored */
		return MHD_YES;
	}
	route(cls, url, method, &r);
	return send_reply(c, &r);
}

/* ---- daemon ---- */

/* libmicrohttpd's own errors (a failed accept, a thread that cannot start) go to our log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	vd_log(VD_LOG_WARN, "admin: %s", line);
}

/* Keep URLs as sent: route() splits before decoding (see the top of the file). */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* A bound, listening TCP socket, or -errno with the failed step in *what. */
static int open_listener(const union vd_sockaddr *ss, const char **what)
{
	int one = 1, fd, rc;

	*what = "cannot create a socket";
	fd = socket(ss->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a restart must not wait out TIME_WAIT; Linux still refuses a second listener */
	*what = "cannot set SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* "::" means IPv6 only, whatever net.ipv6.bindv6only says */
	*what = "cannot set IPV6_V6ONLY";
	if (ss->sa.sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	*what = "cannot bind";
	if (bind(fd, &ss->sa, vd_sockaddr_len(ss)) < 0)
		goto fail;
	*what = "cannot listen";
	if (listen(fd, ADMIN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

/*
 * After a failed MHD_start_daemon, is fd still our listening socket? libmicrohttpd closes a
 * given listen socket on some failure paths (after it adopted it) and not on others (a bad
 * option); closing it twice could close another thread's descriptor.
 */
static bool still_ours(int fd, const union vd_sockaddr *bound)
{
	union vd_sockaddr now;
	socklen_t len = sizeof(now);

	memset(&now, 0, sizeof(now));
	return getsockname(fd, &now.sa, &len) == 0 && vd_sockaddr_equal(&now, bound);
}

static struct MHD_Daemon *start_mhd(struct vd_admin *a, int fd, bool v6)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;

	if (v6)
		flags |= MHD_USE_IPv6;
	/* port 0: ignored, the socket is ours; the logger first, so start-up errors reach it;
	 * one option and its arguments per line */
	/* clang-format off */
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADMIN_MAX_CONNS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADMIN_CONN_TIMEOUT_S,
				MHD_OPTION_END);
	/* clang-format on */
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "127.0.0.1:8080" or "[::1]:8080", for messages. */
static void format_where(char *out, size_t len, const char *address, uint16_t port, bool v6)
{
	bool brackets = v6 && address[0] != '[';

	snprintf(out, len, "%s%s%s:%u", brackets ? "[" : "", address, brackets ? "]" : "", port);
}

struct vd_admin *vd_admin_start(const char *address, uint16_t port, const struct vd_admin_ops *ops,
				char *err, size_t errlen)
{
	union vd_sockaddr ss, bound;
	socklen_t len;
	char where[ADMIN_ADDR_MAX];
	struct vd_admin *a = NULL;
	const char *what;
	int fd = -1;

	set_err(err, errlen, "%s", "");
	if (!ops) {
		set_err(err, errlen, "admin: no operations given");
		goto fail;
	}
	if (vd_sockaddr_parse(address, port, &ss) < 0) {
		set_err(err, errlen, "admin address \"%s\": not a numeric IPv4 or IPv6 address",
			address ? address : "");
		goto fail;
	}
	format_where(where, sizeof(where), address, port, ss.sa.sa_family == AF_INET6);
	fd = open_listener(&ss, &what);
	if (fd < 0) {
		set_err(err, errlen, "admin %s: %s: %s", where, what, strerror(-fd));
		goto fail;
	}
	len = sizeof(bound);
	memset(&bound, 0, sizeof(bound));
	if (getsockname(fd, &bound.sa, &len) < 0) {
		set_err(err, errlen, "admin %s: getsockname: %s", where, strerror(errno));
		goto fail;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		set_err(err, errlen, "admin %s: %s", where, strerror(ENOMEM));
		goto fail;
	}
	a->ops = *ops;
	a->port = vd_addr_port(&bound);
	a->mhd = start_mhd(a, fd, ss.sa.sa_family == AF_INET6);
	if (!a->mhd) {
		set_err(err, errlen, "admin %s: libmicrohttpd could not start (see the log)",
			where);
		if (!still_ours(fd, &bound))
			fd = -1;
		goto fail;
	}
	return a;
fail:
	if (fd >= 0)
		close(fd);
	free(a);
	return NULL;
}

uint16_t vd_admin_port(const struct vd_admin *a)
{
	return a ? a->port : 0;
}

void vd_admin_stop(struct vd_admin *a)
{
	if (!a)
		return;
	MHD_stop_daemon(a->mhd); /* joins the thread and closes every socket, ours too */
	free(a);
}
