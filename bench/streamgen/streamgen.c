/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * streamgen: a SIP-over-TCP/TLS load generator and responder for the stream benchmarks
 * (bench/compare/streams.sh). One thread, one epoll loop, OpenSSL for TLS, viaduct's own
 * stream framing (vd_sip_frame) to cut responses out of the byte stream.
 *
 *   streamgen load  --target IP:PORT [--tls] --conns N --window W --duration S [--rate R]
 *                   [--src 127.0.0.1,127.0.0.2,...]
 *       N connections each keep W MESSAGE requests outstanding (closed loop; --rate caps the
 *       total per second). Prints one line: "streamgen load conns=.. sent=.. ok=.. bad=..
 *       errors=.. secs=.. rate=.. p50_us=.. p99_us=..". ok counts 2xx responses; latency is
 *       from a request's send to its response (the send time rides in the Call-ID).
 *   streamgen idle  --target IP:PORT [--tls] --conns N --hold S [--src ...]
 *       opens N connections (TLS: completes each handshake), keeps them idle for S seconds
 *       (prints "streamgen idle open=N" when all are up), then closes them.
 *   streamgen handshakes --target IP:PORT --tls --duration S
 *       connect, TLS handshake, close, in a loop: "streamgen handshakes n=.. rate=..".
 *   streamgen respond --listen IP:PORT [--tls --cert F --key F]
 *       a stream UAS: answers every request with 200 OK (Via, From, To, Call-ID, CSeq copied):
 *       the ceiling of the generator itself, with no proxy in the path.
 *
 * Every mode is bounded by its --duration/--hold and stops by itself (SIGTERM too).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "viaduct/sip.h"

#define BUF 65536
#define MAX_SRC 64
#define LAT_BUCKETS 100000 /* 10 us each, up to 1 s */

struct conn {
	int fd;
	SSL *ssl;
	bool up, want_write;
	unsigned outstanding;
	uint64_t seq;
	char *rbuf;
	uint32_t rlen;
	char *wbuf;
	uint32_t wlen, woff;
};

static volatile sig_atomic_t stopping;
static bool use_tls;
static SSL_CTX *ctx;
static union {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
} target;
static socklen_t target_len;
static char target_text[80];
static struct sockaddr_storage srcs[MAX_SRC];
static unsigned n_src;
static uint64_t lat[LAT_BUCKETS + 1];
static uint64_t n_sent, n_ok, n_bad, n_err;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int s)
{
	(void)s;
	stopping = 1;
}

static int parse_addr(const char *text, void *out, socklen_t *len, uint16_t defport)
{
	char host[64];
	unsigned port = defport;
	const char *colon = strrchr(text, ':');
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end)
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(end - text - 1), text + 1);
		if (end[1] == ':')
			port = (unsigned)atoi(end + 2);
	} else if (colon && strchr(text, ':') == colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
		port = (unsigned)atoi(colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", text);
	}
	struct sockaddr_in *a4 = out;
	struct sockaddr_in6 *a6 = out;
	memset(out, 0, sizeof(struct sockaddr_in6));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static void raise_nofile(unsigned conns)
{
	struct rlimit r, up = { (rlim_t)conns + 256, (rlim_t)conns + 256 };
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_max < up.rlim_max &&
	    setrlimit(RLIMIT_NOFILE, &up) == 0)
		return; /* as root: above the hard limit */
	if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* ---- connections ---- */

static int io_write(struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t r;
		if (c->ssl) {
			int k = SSL_write(c->ssl, c->wbuf + c->woff, (int)(c->wlen - c->woff));
			if (k <= 0) {
				int e = SSL_get_error(c->ssl, k);
				c->want_write = e == SSL_ERROR_WANT_WRITE;
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					return 0;
				return -1;
			}
			r = k;
		} else {
			r = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
			if (r < 0)
				return errno == EAGAIN ? 0 : -1;
		}
		c->woff += (uint32_t)r;
	}
	c->woff = c->wlen = 0;
	c->want_write = false;
	return 0;
}

static int handshake(struct conn *c)
{
	if (!c->ssl || c->up)
		return 1;
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->up = true;
		return 1;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->want_write = e == SSL_ERROR_WANT_WRITE;
		return 0;
	}
	return -1;
}

static struct conn *conn_open(int ep, unsigned i)
{
	struct conn *c = calloc(1, sizeof(*c));
	c->rbuf = malloc(BUF);
	c->wbuf = malloc(BUF);
	c->fd = socket(target.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return NULL;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (n_src) {
		struct sockaddr_storage s = srcs[i % n_src];
		if (bind(c->fd, (struct sockaddr *)&s,
			 s.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in)))
			return NULL;
	}
	if (connect(c->fd, &target.sa, target_len) && errno != EINPROGRESS)
		return NULL;
	if (use_tls) {
		c->ssl = SSL_new(ctx);
		SSL_set_fd(c->ssl, c->fd);
		SSL_set_connect_state(c->ssl);
	} else {
		c->up = true;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return c;
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

static void add_request(struct conn *c, unsigned id)
{
	struct sockaddr_storage me;
	socklen_t ml = sizeof(me);
	char host[64];
	unsigned port;
	getsockname(c->fd, (struct sockaddr *)&me, &ml);
	if (me.ss_family == AF_INET6) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&me)->sin6_addr, t, sizeof(t));
		snprintf(host, sizeof(host), "[%s]", t);
		port = ntohs(((struct sockaddr_in6 *)&me)->sin6_port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&me)->sin_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in *)&me)->sin_port);
	}
	c->seq++;
	int n = snprintf(c->wbuf + c->wlen, BUF - c->wlen,
			 "MESSAGE sip:bench@%s SIP/2.0\r\n"
			 "Via: SIP/2.0/%s %s:%u;branch=z9hG4bK-sg%u-%llu;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:ue%u@bench.example>;tag=sg%u\r\n"
			 "To: <sip:bench@bench.example>\r\n"
			 "Call-ID: sg-%u-%llu-%llu\r\n"
			 "CSeq: %llu MESSAGE\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Length: 5\r\n\r\nhello",
			 target_text, use_tls ? "TLS" : "TCP", host, port, id,
			 (unsigned long long)c->seq, id, id, id, (unsigned long long)c->seq,
			 (unsigned long long)now_ns(), (unsigned long long)c->seq);
	if (n > 0 && (uint32_t)n < BUF - c->wlen) {
		c->wlen += (uint32_t)n;
		c->outstanding++;
		n_sent++;
	}
}

/* The send time from the Call-ID "sg-ID-SEQ-NS" of a response. */
static void record(const char *msg, uint32_t len)
{
	const char *p = memmem(msg, len, "Call-ID: sg-", 12);
	if (!p)
		return;
	p += 12;
	for (int dashes = 0; dashes < 2 && p < msg + len; p++)
		if (*p == '-')
			dashes++;
	uint64_t t = strtoull(p, NULL, 10);
	uint64_t us = (now_ns() - t) / 1000;
	lat[us / 10 < LAT_BUCKETS ? us / 10 : LAT_BUCKETS]++;
}

static uint64_t pct(double q)
{
	uint64_t total = 0, acc = 0;
	for (unsigned i = 0; i <= LAT_BUCKETS; i++)
		total += lat[i];
	for (unsigned i = 0; i <= LAT_BUCKETS; i++) {
		acc += lat[i];
		if (total && acc >= (uint64_t)(q * (double)total))
			return (uint64_t)i * 10;
	}
	return 0;
}

/* Read what c has; frame messages; fn per message. -1: the connection is gone. */
static int conn_read(struct conn *c, void (*fn)(struct conn *, const char *, uint32_t))
{
	for (;;) {
		ssize_t r;
		if (c->ssl) {
			int k = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(BUF - c->rlen));
			if (k <= 0) {
				int e = SSL_get_error(c->ssl, k);
				if (e == SSL_ERROR_WANT_READ)
					return 0;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->want_write = true;
					return 0;
				}
				return -1;
			}
			r = k;
		} else {
			r = recv(c->fd, c->rbuf + c->rlen, BUF - c->rlen, 0);
			if (r == 0)
				return -1;
			if (r < 0)
				return errno == EAGAIN ? 0 : -1;
		}
		c->rlen += (uint32_t)r;
		uint32_t off = 0, n;
		for (;;) {
			enum vd_frame f = vd_sip_frame(c->rbuf + off, c->rlen - off, BUF, &n);
			if (f == VD_FRAME_MESSAGE) {
				fn(c, c->rbuf + off, n);
				off += n;
			} else if (f == VD_FRAME_SKIP || f == VD_FRAME_PING) {
				off += n;
			} else if (f == VD_FRAME_MORE) {
				break;
			} else {
				return -1;
			}
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void on_response(struct conn *c, const char *m, uint32_t len)
{
	if (c->outstanding)
		c->outstanding--;
	if (len > 12 && memcmp(m, "SIP/2.0 2", 9) == 0) {
		n_ok++;
		record(m, len);
	} else {
		n_bad++;
	}
}

static void rearm(int ep, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | ((c->want_write || c->wlen > c->woff ||
							 !c->up) ? EPOLLOUT : 0),
				  .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int run_load(unsigned conns, unsigned window, double secs, double rate)
{
	int ep = epoll_create1(0);
	struct conn **cs = calloc(conns, sizeof(*cs));
	for (unsigned i = 0; i < conns; i++)
		if (!(cs[i] = conn_open(ep, i))) {
			fprintf(stderr, "streamgen: connection %u: %s\n", i, strerror(errno));
			return 1;
		}
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9);
	double budget = 0;
	uint64_t last = t0;
	struct epoll_event ev[256];
	while (!stopping && now_ns() < end) {
		int n = epoll_wait(ep, ev, 256, 5);
		uint64_t t = now_ns();
		if (rate > 0) {
			budget += rate * (double)(t - last) / 1e9;
			if (budget > rate)
				budget = rate; /* at most a second's worth at once */
		}
		last = t;
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			int h = handshake(c);
			if (h < 0 || (c->up && conn_read(c, on_response) < 0)) {
				n_err++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				c->up = false;
				continue;
			}
		}
		for (unsigned i = 0; i < conns; i++) {
			struct conn *c = cs[i];
			if (!c->up)
				continue;
			while (c->outstanding < window && (rate <= 0 || budget >= 1)) {
				add_request(c, i);
				budget -= 1;
			}
			if (io_write(c) < 0) {
				n_err++;
				c->up = false;
				continue;
			}
			rearm(ep, c);
		}
	}
	double el = (double)(now_ns() - t0) / 1e9;
	printf("streamgen load conns=%u window=%u sent=%llu ok=%llu bad=%llu errors=%llu secs=%.2f "
	       "rate=%.0f p50_us=%llu p99_us=%llu\n",
	       conns, window, (unsigned long long)n_sent, (unsigned long long)n_ok,
	       (unsigned long long)n_bad, (unsigned long long)n_err, el, (double)n_ok / el,
	       (unsigned long long)pct(0.5), (unsigned long long)pct(0.99));
	for (unsigned i = 0; i < conns; i++)
		conn_close(cs[i]);
	free(cs);
	return 0;
}

/* Open conns connections, at most IDLE_INFLIGHT connecting (and shaking hands) at once, the
 * way clients arrive; keep them idle for hold seconds. */
#define IDLE_INFLIGHT 128
static int run_idle(unsigned conns, double hold)
{
	int ep = epoll_create1(0);
	struct conn **cs = calloc(conns, sizeof(*cs));
	unsigned opened = 0, up = 0, failed = 0;
	uint64_t deadline = now_ns() + 120ull * 1000000000u;
	struct epoll_event ev[256];
	while (!stopping && up + failed < conns && now_ns() < deadline) {
		while (opened < conns && opened - up - failed < IDLE_INFLIGHT) {
			if (!(cs[opened] = conn_open(ep, opened))) {
				fprintf(stderr, "streamgen: connection %u: %s\n", opened, strerror(errno));
				return 1;
			}
			cs[opened]->outstanding = 1; /* "in progress" */
			opened++;
		}
		int n = epoll_wait(ep, ev, 256, 50);
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			if (!c->outstanding)
				continue;
			int err = 0;
			socklen_t l = sizeof(err);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			int h = err ? -1 : handshake(c);
			if (h == 0) {
				rearm(ep, c);
				continue;
			}
			c->outstanding = 0;
			if (h > 0)
				up++;
			else
				failed++;
			struct epoll_event none = { .events = 0, .data.ptr = c };
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &none);
		}
	}
	printf("streamgen idle open=%u failed=%u\n", up, failed);
	fflush(stdout);
	uint64_t end = now_ns() + (uint64_t)(hold * 1e9);
	while (!stopping && now_ns() < end)
		usleep(20000);
	for (unsigned i = 0; i < opened; i++)
		conn_close(cs[i]);
	return failed ? 1 : 0;
}

static int run_handshakes(double secs)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), n = 0, fails = 0;
	int ep = epoll_create1(0);
	while (!stopping && now_ns() < end) {
		struct conn *c = conn_open(ep, (unsigned)n);
		if (!c) {
			fails++;
			continue;
		}
		struct epoll_event ev;
		int h = 0;
		while (!stopping && (h = handshake(c)) == 0)
			if (epoll_wait(ep, &ev, 1, 1000) <= 0)
				break;
		if (h > 0)
			n++;
		else
			fails++;
		conn_close(c);
	}
	double el = (double)(now_ns() - t0) / 1e9;
	printf("streamgen handshakes n=%llu failed=%llu secs=%.2f rate=%.0f\n",
	       (unsigned long long)n, (unsigned long long)fails, el, (double)n / el);
	return 0;
}

/* ---- respond: the generator's ceiling without a proxy ---- */

static void answer(struct conn *c, const char *m, uint32_t len)
{
	if (len > 8 && memcmp(m, "SIP/2.0 ", 8) == 0)
		return;
	static const char *const keep[] = { "Via:", "From:", "To:", "Call-ID:", "CSeq:" };
	uint32_t w = c->wlen;
	w += (uint32_t)snprintf(c->wbuf + w, BUF - w, "SIP/2.0 200 OK\r\n");
	const char *p = memchr(m, '\n', len), *end = m + len;
	while (p && ++p < end && *p != '\r') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (strncasecmp(p, keep[k], strlen(keep[k])) == 0 && w + (eol - p) + 2 < BUF) {
				memcpy(c->wbuf + w, p, (size_t)(eol + 1 - p));
				w += (uint32_t)(eol + 1 - p);
			}
		p = eol;
	}
	w += (uint32_t)snprintf(c->wbuf + w, BUF - w, "Content-Length: 0\r\n\r\n");
	c->wlen = w;
	n_ok++;
}

static int run_respond(const char *listen_at)
{
	int ep = epoll_create1(0);
	int lfd = socket(target.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, &target.sa, target_len) || listen(lfd, 4096)) {
		fprintf(stderr, "streamgen: listen %s: %s\n", listen_at, strerror(errno));
		return 1;
	}
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	printf("streamgen: ready\n");
	fflush(stdout);
	struct epoll_event ev[256];
	while (!stopping) {
		int n = epoll_wait(ep, ev, 256, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					c->rbuf = malloc(BUF);
					c->wbuf = malloc(BUF);
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					if (use_tls) {
						c->ssl = SSL_new(ctx);
						SSL_set_fd(c->ssl, fd);
						SSL_set_accept_state(c->ssl);
					} else {
						c->up = true;
					}
					struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			int h = handshake(c);
			if (h < 0 || (c->up && conn_read(c, answer) < 0) || io_write(c) < 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				conn_close(c);
				continue;
			}
			rearm(ep, c);
		}
	}
	printf("streamgen respond answered=%llu\n", (unsigned long long)n_ok);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: streamgen load|idle|handshakes|respond --target|--listen IP:PORT "
			"[--tls] [--cert F --key F] [--conns N] [--window W] [--duration S] "
			"[--rate R] [--hold S] [--src IP,IP,...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *mode = argv[1], *addr = NULL, *cert = NULL, *key = NULL;
	unsigned conns = 1, window = 1;
	double secs = 5, rate = 0, hold = 5;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--tls")) {
			use_tls = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--target") || !strcmp(a, "--listen"))
			addr = v;
		else if (!strcmp(a, "--cert"))
			cert = v;
		else if (!strcmp(a, "--key"))
			key = v;
		else if (!strcmp(a, "--conns"))
			conns = (unsigned)atoi(v);
		else if (!strcmp(a, "--window"))
			window = (unsigned)atoi(v);
		else if (!strcmp(a, "--duration"))
			secs = atof(v);
		else if (!strcmp(a, "--rate"))
			rate = atof(v);
		else if (!strcmp(a, "--hold"))
			hold = atof(v);
		else if (!strcmp(a, "--src")) {
			char *list = strdup(v), *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t && n_src < MAX_SRC;
			     t = strtok_r(NULL, ",", &save)) {
				socklen_t l;
				if (parse_addr(t, &srcs[n_src], &l, 0))
					usage();
				n_src++;
			}
			free(list);
		} else
			usage();
	}
	if (!addr || parse_addr(addr, &target, &target_len, 5060))
		usage();
	snprintf(target_text, sizeof(target_text), "%s", addr);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(conns);
	if (use_tls) {
		bool server = !strcmp(mode, "respond");
		ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
					      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* a benchmark: trust the target */
		if (server && (!cert || !key ||
			       SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
			       SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)) {
			fprintf(stderr, "streamgen: respond --tls needs --cert and --key\n");
			return 2;
		}
	}
	if (!strcmp(mode, "load"))
		return run_load(conns, window, secs, rate);
	if (!strcmp(mode, "idle"))
		return run_idle(conns, hold);
	if (!strcmp(mode, "handshakes"))
		return run_handshakes(secs);
	if (!strcmp(mode, "respond"))
		return run_respond(addr);
	usage();
	return 2;
}
