/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The load generator's loop: one thread that sends and receives, so the window needs no locks
 * and the generator uses one core, leaving the others to what it measures.
 *
 *   loop: due = the schedule's backlog, once it makes a pacing chunk (flat out: a batch)
 *         build them from the templates and sendmmsg them on the next socket (round robin)
 *         ppoll all sockets until the next chunk is due (flat out: no wait), then recvmmsg the
 *         readable ones and match each response by its top Via branch
 *
 * The schedule is open-loop: message k is due at start + k / rate whatever the responses do,
 * so a slow responder shows as latency and loss rather than a politely lower offered rate. A
 * chunk is PACE_TICK_NS of schedule (at least one message, at most a batch): sending one
 * message per wake-up would cost several system calls per message at moderate rates and load
 * the machine under test; 100 us bursts are far below anything SIP timers notice. Send and
 * receive times are taken once per batch (one clock read per system call): a message sent late
 * in a batch is measured from the batch start, which errs towards higher latency.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "lgrun.h"
#include "netaddr.h"
#include "sipmsg.h"
#include "txwin.h"

#define SOCK_BUF       (8 << 20) /* bytes: a burst of thousands of requests must fit */
#define RX_BUF	       4096	 /* a response larger than this is truncated and counted unknown */
#define RX_ROUNDS      8	 /* recvmmsg calls per socket per loop turn, so sending goes on */
#define WIN_ORDER_MIN  16
#define WIN_ORDER_MAX  24
#define FLAT_OUT_GUESS 2000000.0 /* msgs/s assumed for sizing the window when --rate 0 */
#define TIMER_SLACK_NS 1000	 /* pacing wants microsecond wake-ups, not the 50 us default */
#define NS_PER_S       1000000000ull
#define NS_PER_US      1000ull
#define MAX_WAIT_NS    (100 * 1000 * 1000ull) /* re-check the stop flag this often */
#define PACE_TICK_NS   100000.0		      /* schedule sent as one chunk, see above */

struct lg_state {
	const struct lg_opts *o;
	struct lg_result *res;
	struct lg_gen *gen;
	struct lg_window win;
	int fd[LG_MAX_SOCKETS];
	unsigned next_sock;
	bool tx_blocked; /* the last send hit a full socket buffer: wait for POLLOUT */
	unsigned chunk;	 /* messages per paced send, 1..batch */
	uint64_t start_ns;
	uint64_t timeout_ns;
	char *txbuf;
	struct mmsghdr *txm;
	struct iovec *txiov;
	char *rxbuf;
	struct mmsghdr *rxm;
	struct iovec *rxiov;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Enough slots for everything sent within one timeout, twice over; never more than count. */
static unsigned window_order(const struct lg_opts *o)
{
	double need = (o->rate > 0 ? o->rate : FLAT_OUT_GUESS) * (o->timeout_ms / 1000.0) * 2;
	if (o->count && (double)o->count < need)
		need = (double)o->count;
	unsigned order = WIN_ORDER_MIN;
	while (order < WIN_ORDER_MAX && (double)((uint64_t)1 << order) < need)
		order++;
	return order;
}

static void batch_setup(struct lg_state *s)
{
	const struct lg_opts *o = s->o;

	for (unsigned k = 0; k < o->batch; k++) {
		s->txiov[k].iov_base = s->txbuf + (size_t)k * LG_MSG_MAX;
		s->txm[k].msg_hdr = (struct msghdr){ .msg_name = (void *)&o->target,
						     .msg_namelen = lg_addr_len(&o->target),
						     .msg_iov = &s->txiov[k],
						     .msg_iovlen = 1 };
		s->rxiov[k] = (struct iovec){ s->rxbuf + (size_t)k * RX_BUF, RX_BUF };
		s->rxm[k].msg_hdr = (struct msghdr){ .msg_iov = &s->rxiov[k], .msg_iovlen = 1 };
	}
}

static int alloc_state(struct lg_state *s)
{
	unsigned b = s->o->batch;

	s->gen = calloc(1, sizeof(*s->gen));
	s->txbuf = malloc((size_t)b * LG_MSG_MAX);
	s->txm = calloc(b, sizeof(*s->txm));
	s->txiov = calloc(b, sizeof(*s->txiov));
	s->rxbuf = malloc((size_t)b * RX_BUF);
	s->rxm = calloc(b, sizeof(*s->rxm));
	s->rxiov = calloc(b, sizeof(*s->rxiov));
	if (!s->gen || !s->txbuf || !s->txm || !s->txiov || !s->rxbuf || !s->rxm || !s->rxiov)
		return -ENOMEM;
	batch_setup(s);
	return lg_win_init(&s->win, window_order(s->o));
}

static void free_state(struct lg_state *s)
{
	for (unsigned i = 0; i < s->o->sockets; i++)
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	lg_win_free(&s->win);
	free(s->gen);
	free(s->txbuf);
	free(s->txm);
	free(s->txiov);
	free(s->rxbuf);
	free(s->rxm);
	free(s->rxiov);
}

static uint32_t run_nonce(void)
{
	/* Only has to differ between runs, so late responses of a previous run are not matched. */
	return (uint32_t)(now_ns() ^ ((uint64_t)getpid() << 16));
}

/* One socket per source port, each with its own sent-by: the templates are per socket. */
static int open_sockets(struct lg_state *s, char *err, size_t errlen)
{
	char sentby[LG_MAX_SOCKETS][LG_ADDR_STRLEN];
	const char *sb[LG_MAX_SOCKETS];

	for (unsigned i = 0; i < s->o->sockets; i++) {
		struct sockaddr_storage local = s->o->bind;
		s->fd[i] = lg_udp_open(&local, SOCK_BUF);
		if (s->fd[i] < 0) {
			int e = s->fd[i];
			lg_addr_format_host(&s->o->bind, sentby[0], sizeof(sentby[0]));
			snprintf(err, errlen, "cannot open a UDP socket on %s: %s", sentby[0],
				 strerror(-e));
			return e;
		}
		lg_addr_format(&local, sentby[i], sizeof(sentby[i]));
		sb[i] = sentby[i];
	}
	if (lg_gen_init(s->gen, &s->o->mix, &s->o->via, sb, s->o->sockets, run_nonce())) {
		snprintf(err, errlen, "bad --mix, --via-mix or --sockets");
		return -EINVAL;
	}
	return 0;
}

/* PACE_TICK_NS worth of messages at the target rate, within 1..batch. */
static unsigned pace_chunk(const struct lg_opts *o)
{
	double c = o->rate * PACE_TICK_NS / NS_PER_S;

	if (o->rate <= 0 || c < 1)
		return 1;
	return c < o->batch ? (unsigned)c : o->batch;
}

/* How many messages go now: the schedule's backlog once it makes a chunk, capped by batch. */
static unsigned due_now(const struct lg_state *s, uint64_t now)
{
	const struct lg_opts *o = s->o;
	uint64_t left = o->count ? o->count - s->res->sent : UINT64_MAX;
	uint64_t want = o->batch;

	if (o->rate > 0) {
		double elapsed = (double)(now - s->start_ns) / NS_PER_S;
		uint64_t target = (uint64_t)floor(elapsed * o->rate) + 1;
		want = target > s->res->sent ? target - s->res->sent : 0;
	}
	if (want > left)
		want = left;
	if (want < (s->chunk < left ? s->chunk : left))
		return 0;
	return want < o->batch ? (unsigned)want : o->batch;
}

static bool send_error_is_transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR || e == ECONNREFUSED;
}

/*
 * Build and send n messages, seq = sent .. sent + n - 1. What the kernel did not take is built
 * again next time with the same seqs, so the sequence has no holes. Returns how many went.
 */
static int send_batch(struct lg_state *s, unsigned n)
{
	struct lg_result *res = s->res;
	unsigned sock = s->next_sock;

	for (unsigned k = 0; k < n; k++)
		s->txiov[k].iov_len =
			lg_gen_build(s->gen, sock, res->sent + k, s->txiov[k].iov_base);
	uint64_t t = now_ns();
	int r = sendmmsg(s->fd[sock], s->txm, n, MSG_DONTWAIT);
	if (r < 0) {
		int e = errno;
		if (!send_error_is_transient(e))
			return -e;
		s->tx_blocked = e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS;
		res->send_errors += !s->tx_blocked && e != EINTR;
		return 0;
	}
	s->tx_blocked = false;
	for (unsigned k = 0; k < (unsigned)r; k++)
		lg_win_sent(&s->win, res->sent + k, t);
	res->sent += (unsigned)r;
	s->next_sock = (sock + 1) % s->o->sockets;
	return r;
}

static void on_response(struct lg_state *s, const char *buf, size_t len, uint64_t t)
{
	struct lg_result *res = s->res;
	struct lg_slice branch;
	unsigned status;
	uint64_t seq, lat;

	if (lg_sip_response_branch(buf, len, &status, &branch) ||
	    lg_gen_branch_seq(s->gen, branch, &seq)) {
		res->unknown++;
		return;
	}
	if (status < 200) {
		res->provisional++; /* the transaction goes on: wait for its final response */
		return;
	}
	switch (lg_win_match(&s->win, seq, t, s->timeout_ns, &lat)) {
	case LG_MATCH_OK:
		res->received++;
		res->non2xx += status >= 300;
		lg_hist_record(&res->hist, (lat + NS_PER_US / 2) / NS_PER_US);
		break;
	case LG_MATCH_LATE:
		res->late++;
		break;
	case LG_MATCH_UNKNOWN:
		res->unknown++;
		break;
	}
}

static void on_batch(struct lg_state *s, unsigned n, uint64_t t)
{
	for (unsigned k = 0; k < n; k++) {
		if (s->rxm[k].msg_hdr.msg_flags & MSG_TRUNC)
			s->res->unknown++;
		else
			on_response(s, s->rxiov[k].iov_base, s->rxm[k].msg_len, t);
	}
}

/* Read up to RX_ROUNDS batches from socket i; returns datagrams read or -errno. */
static int receive_one(struct lg_state *s, unsigned i)
{
	int total = 0;

	for (int round = 0; round < RX_ROUNDS; round++) {
		int n = recvmmsg(s->fd[i], s->rxm, s->o->batch, MSG_DONTWAIT, NULL);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNREFUSED)
			return -errno;
		if (n <= 0)
			break;
		on_batch(s, (unsigned)n, now_ns());
		total += n;
		if ((unsigned)n < s->o->batch)
			break;
	}
	return total;
}

/*
 * Wait for responses until @p wake_ns (or, when blocked, for room to send on the next socket),
 * then read every readable socket. Returns 0 or -errno.
 */
static int wait_and_receive(struct lg_state *s, struct pollfd *pfd, uint64_t wake_ns)
{
	uint64_t now = now_ns();
	uint64_t wait = wake_ns > now ? wake_ns - now : 0;

	if (wait > MAX_WAIT_NS)
		wait = MAX_WAIT_NS;
	for (unsigned i = 0; i < s->o->sockets; i++)
		pfd[i].events = POLLIN | (s->tx_blocked && i == s->next_sock ? POLLOUT : 0);
	struct timespec ts = { (time_t)(wait / NS_PER_S), (long)(wait % NS_PER_S) };
	if (ppoll(pfd, s->o->sockets, &ts, NULL) <= 0)
		return 0; /* timeout, or EINTR from a signal: the loop checks the flag */
	for (unsigned i = 0; i < s->o->sockets; i++) {
		if (!(pfd[i].revents & POLLIN))
			continue;
		int r = receive_one(s, i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* When to look again: the next chunk's due time; flat out at once; blocked when writable. */
static uint64_t next_wake_ns(const struct lg_state *s)
{
	if (s->tx_blocked)
		return now_ns() + MAX_WAIT_NS;
	if (s->o->rate <= 0)
		return 0;
	double k = (double)(s->res->sent + s->chunk - 1); /* the chunk's last message */
	return s->start_ns + (uint64_t)ceil(k / s->o->rate * NS_PER_S);
}

static bool sending_over(const struct lg_state *s, uint64_t now, volatile sig_atomic_t *stop)
{
	const struct lg_opts *o = s->o;
	uint64_t end = s->start_ns + (uint64_t)(o->duration_s * NS_PER_S);

	return *stop || now >= end || (o->count && s->res->sent >= o->count);
}

static int loop(struct lg_state *s, volatile sig_atomic_t *stop)
{
	struct pollfd pfd[LG_MAX_SOCKETS];
	uint64_t stop_at = 0, drain_until = 0, wake;

	for (unsigned i = 0; i < s->o->sockets; i++)
		pfd[i] = (struct pollfd){ .fd = s->fd[i] };
	s->chunk = pace_chunk(s->o);
	s->start_ns = now_ns();
	for (;;) {
		uint64_t now = now_ns();
		if (!stop_at && sending_over(s, now, stop)) {
			stop_at = now;
			drain_until = now + s->timeout_ns;
		}
		if (stop_at && (s->win.pending == 0 || now >= drain_until || *stop >= 2))
			break;
		if (stop_at) {
			wake = drain_until;
		} else {
			unsigned due = due_now(s, now);
			int r = due ? send_batch(s, due) : 0;
			if (r < 0)
				return r;
			wake = next_wake_ns(s);
		}
		int r = wait_and_receive(s, pfd, wake);
		if (r < 0)
			return r;
	}
	s->res->send_s = (double)(stop_at - s->start_ns) / NS_PER_S;
	s->res->evicted = s->win.evicted;
	for (unsigned i = 0; i < s->o->sockets; i++) {
		uint64_t d = 0;
		(void)lg_udp_drops(s->fd[i], &d); /* best effort: an old kernel reports 0 */
		s->res->rx_drops += d;
	}
	return 0;
}

int lg_run(const struct lg_opts *o, volatile sig_atomic_t *stop, struct lg_result *res, char *err,
	   size_t errlen)
{
	struct lg_state s = { .o = o, .res = res };
	int r;

	memset(res, 0, sizeof(*res));
	lg_hist_reset(&res->hist);
	for (unsigned i = 0; i < LG_MAX_SOCKETS; i++)
		s.fd[i] = -1;
	s.timeout_ns = (uint64_t)o->timeout_ms * 1000000ull;
	(void)prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0);
	r = alloc_state(&s);
	if (r) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	r = open_sockets(&s, err, errlen);
	if (r)
		goto out;
	r = loop(&s, stop);
	if (r)
		snprintf(err, errlen, "socket error: %s", strerror(-r));
out:
	free_state(&s);
	return r;
}
