/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A minimal blocking HTTP/1.1 client, shared by viaductctl and the admin API tests (internal:
 * not installed, not part of the daemon). One request per connection: connect within a
 * deadline, send the request bytes as given, read until the server closes, then parse the
 * response: status line, headers, and a body framed by Content-Length, chunked encoding or
 * the end of the stream. Interim 1xx answers (100 Continue) are skipped.
 *
 * Header-only with static inline functions because it has exactly these two users; every
 * function returns 0 (or a descriptor) or a negative errno code: -ETIMEDOUT when the
 * deadline passes, -EPROTO for a response that is not HTTP/1.x, -EMSGSIZE over
 * HTTPC_MAX_RESPONSE.
 */
#ifndef VIADUCT_TOOLS_HTTPC_H
#define VIADUCT_TOOLS_HTTPC_H

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTPC_MAX_RESPONSE (64u << 20) /* /metrics of 256 busy members x 128 workers fits */
#define HTTPC_READ_CHUNK   65536
#define HTTPC_HOST_MAX	   256
#define HTTPC_PORT_MAX	   16

struct httpc_resp {
	int status;	 /* 200, 404, ... */
	char reason[64]; /* the reason phrase, "Not Found" */
	char *raw;	 /* every byte received (owned, NUL-terminated) */
	size_t raw_len;
	const char *headers; /* the header lines of the final response, in raw */
	size_t headers_len;
	char *body; /* the decoded body (owned, NUL-terminated) */
	size_t body_len;
	size_t consumed; /* bytes of raw this response took: a pipelined next one follows */
};

static inline int64_t httpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for `events` or the deadline passes. */
static inline int httpc_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		int64_t left = deadline - httpc_now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* "127.0.0.1:8080", "[::1]:8080" or "localhost:8080" into host and port. */
static inline int httpc_split_hostport(const char *text, char *host, char *port)
{
	const char *colon, *h = text;
	size_t hlen;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = text + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon)
			return -EINVAL; /* a bare IPv6 address needs brackets */
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= HTTPC_HOST_MAX || !colon[1] || strlen(colon + 1) >= HTTPC_PORT_MAX)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

/* A non-blocking socket connected to one of host's addresses, or -errno. */
static inline int httpc_connect(const char *host, const char *port, int64_t deadline)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc = -EHOSTUNREACH, fd;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			goto done;
		rc = errno == EINPROGRESS ? httpc_wait(fd, POLLOUT, deadline) : -errno;
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && !soerr)
			goto done;
		if (rc == 0)
			rc = soerr ? -soerr : -ECONNREFUSED;
		close(fd);
		if (rc == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return rc;
done:
	freeaddrinfo(res);
	return fd;
}

static inline int httpc_send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		int rc;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = httpc_wait(fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

/* Read until the peer closes: *out (NUL-terminated, owned by the caller) and *len. */
static inline int httpc_read_all(int fd, char **out, size_t *len, int64_t deadline)
{
	size_t cap = HTTPC_READ_CHUNK, n = 0;
	char *buf = malloc(cap + 1), *p;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r = recv(fd, buf + n, cap - n, 0);

		if (r > 0) {
			n += (size_t)r;
			if (n < cap)
				continue;
			if (cap >= HTTPC_MAX_RESPONSE) {
				rc = -EMSGSIZE;
				break;
			}
			p = realloc(buf, cap * 2 + 1);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			buf = p;
			cap *= 2;
			continue;
		}
		if (r == 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			break;
		}
		rc = httpc_wait(fd, POLLIN, deadline);
		if (rc)
			break;
	}
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* The value of header `name` in a header block (case-insensitive), or NULL; *vlen its length. */
static inline const char *httpc_find_header(const char *h, size_t hlen, const char *name,
					    size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *end = h + hlen;

	while (h < end) {
		const char *eol = memchr(h, '\n', (size_t)(end - h));
		const char *line_end = eol ? eol : end;

		if ((size_t)(line_end - h) > nlen && h[nlen] == ':' &&
		    !strncasecmp(h, name, nlen)) {
			const char *v = h + nlen + 1;

			while (v < line_end && (*v == ' ' || *v == '\t'))
				v++;
			while (line_end > v && (line_end[-1] == '\r' || line_end[-1] == ' '))
				line_end--;
			*vlen = (size_t)(line_end - v);
			return v;
		}
		h = eol ? eol + 1 : end;
	}
	return NULL;
}

static inline const char *httpc_header(const struct httpc_resp *r, const char *name, size_t *vlen)
{
	return httpc_find_header(r->headers, r->headers_len, name, vlen);
}

/* Decode a chunked body at p (n bytes) into r->body; *used: bytes taken incl. trailers. */
static inline int httpc_dechunk(const char *p, size_t n, struct httpc_resp *r, size_t *used)
{
	size_t off = 0;

	r->body = malloc(n + 1);
	if (!r->body)
		return -ENOMEM;
	r->body_len = 0;
	for (;;) {
		const char *eol = memmem(p + off, n - off, "\r\n", 2);
		char *end;
		unsigned long long size;

		if (!eol)
			return -EPROTO;
		size = strtoull(p + off, &end, 16);
		if (end == p + off || (*end != '\r' && *end != ';'))
			return -EPROTO;
		off = (size_t)(eol - p) + 2;
		if (size == 0)
			break;
		if (size > n - off || n - off - size < 2 || memcmp(p + off + size, "\r\n", 2))
			return -EPROTO;
		memcpy(r->body + r->body_len, p + off, size);
		r->body_len += size;
		off += size + 2;
	}
	/* trailers, then an empty line */
	for (;;) {
		const char *eol = memmem(p + off, n - off, "\r\n", 2);

		if (!eol)
			return -EPROTO;
		if (eol == p + off)
			break;
		off = (size_t)(eol - p) + 2;
	}
	r->body[r->body_len] = '\0';
	*used = off + 2;
	return 0;
}

/* The body of the response whose headers end at p[0] (n bytes follow). */
static inline int httpc_parse_body(const char *p, size_t n, bool no_body, struct httpc_resp *r,
				   size_t *used)
{
	size_t te_len = 0, cl_len = 0;
	const char *te = httpc_header(r, "Transfer-Encoding", &te_len);
	const char *cl = httpc_header(r, "Content-Length", &cl_len);

	if (no_body || r->status == 204 || r->status == 304)
		n = 0;
	else if (te && te_len == 7 && !strncasecmp(te, "chunked", 7))
		return httpc_dechunk(p, n, r, used);
	else if (cl) {
		char *end;
		unsigned long long len = strtoull(cl, &end, 10);

		if (end == cl || len > n)
			return -EPROTO; /* missing digits, or the server closed early */
		n = (size_t)len;
	}
	r->body = malloc(n + 1);
	if (!r->body)
		return -ENOMEM;
	memcpy(r->body, p, n);
	r->body[n] = '\0';
	r->body_len = n;
	*used = n;
	return 0;
}

/* Three digits "100".."999" at p into *v. */
static inline bool httpc_digits3(const char *p, int *v)
{
	for (int i = 0; i < 3; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	*v = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	return *v >= 100;
}

/*
 * Parse the response at raw + from (raw_len - from bytes) into r (which keeps raw). no_body:
 * the request was HEAD, so no body follows whatever the headers say.
 */
static inline int httpc_parse(struct httpc_resp *r, size_t from, bool no_body)
{
	const char *p = r->raw + from, *end = r->raw + r->raw_len;
	size_t used = 0;
	int rc;

	r->body = NULL;
	for (;;) {
		const char *hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		const char *eol, *reason;
		int st;

		/* "HTTP/1.1 200 OK": fixed positions up to the reason phrase */
		if (!hdr_end || hdr_end - p < 12 || memcmp(p, "HTTP/1.", 7) || p[8] != ' ' ||
		    !httpc_digits3(p + 9, &st) || (p[12] != ' ' && p[12] != '\r'))
			return -EPROTO;
		eol = memmem(p, (size_t)(hdr_end + 2 - p), "\r\n", 2);
		reason = p[12] == ' ' ? p + 13 : p + 12;
		snprintf(r->reason, sizeof(r->reason), "%.*s", (int)(eol - reason), reason);
		r->status = st;
		r->headers = eol + 2;
		r->headers_len = (size_t)(hdr_end + 2 - r->headers);
		p = hdr_end + 4;
		if (st >= 200)
			break; /* not an interim answer: this is the one */
	}
	rc = httpc_parse_body(p, (size_t)(end - p), no_body, r, &used);
	if (rc) {
		free(r->body);
		r->body = NULL;
		return rc;
	}
	r->consumed = (size_t)(p - r->raw) + used;
	return 0;
}

static inline void httpc_resp_free(struct httpc_resp *r)
{
	free(r->raw);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * Send req (the complete request bytes, which should ask for Connection: close) to host:port
 * and parse the first response. r->raw keeps everything received.
 */
static inline int httpc_exchange(const char *host, const char *port, const char *req, size_t reqlen,
				 int timeout_ms, bool no_body, struct httpc_resp *r)
{
	int64_t deadline = httpc_now_ms() + timeout_ms;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	fd = httpc_connect(host, port, deadline);
	if (fd < 0)
		return fd;
	rc = httpc_send_all(fd, req, reqlen, deadline);
	if (!rc)
		rc = httpc_read_all(fd, &r->raw, &r->raw_len, deadline);
	close(fd);
	if (!rc)
		rc = httpc_parse(r, 0, no_body);
	if (rc)
		httpc_resp_free(r);
	return rc;
}

/* METHOD path (already percent-encoded) with an empty body, one request, Connection: close. */
static inline int httpc_request(const char *host, const char *port, const char *method,
				const char *path, int timeout_ms, struct httpc_resp *r)
{
	char req[4096];
	bool v6 = strchr(host, ':') != NULL;
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: viaductctl\r\n"
			 "Accept: */*\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 method, path, v6 ? "[" : "", host, v6 ? "]" : "", port);

	if (n < 0 || (size_t)n >= sizeof(req))
		return -ENAMETOOLONG;
	return httpc_exchange(host, port, req, (size_t)n, timeout_ms, !strcmp(method, "HEAD"), r);
}

#endif
