/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * responder: a fast stateless SIP UAS that plays the P-CSCF pool in benchmarks. It binds one UDP
 * socket per port on one address and answers every request with a 200 OK built per RFC 3261
 * 8.2.6 (sipmsg.c), sent back to the request's source address (the proxy, which routes it on by
 * Via). ACKs get no reply; responses are counted and ignored; anything else is counted bad.
 *
 * Its job is never to be the bottleneck. A request costs the responder about as much kernel time
 * as one message costs the proxy, and the proxy handles two per transaction over all its
 * workers, so one responder thread for the whole pool would cap a proxy of more than two workers.
 * Hence one thread per port (each pool member is its own thread, as it would be its own host),
 * each a loop of poll -> recvmmsg batch -> 200 OKs -> sendmmsg batch, with its own buffers and
 * counters: no locks, no allocation or system call per message. The main thread only waits for
 * SIGTERM/SIGINT, wakes the workers through an eventfd, joins them and prints the counters.
 *
 * Usage: responder --listen IP --ports P1,P2,... [--batch 32] [--cpu N]
 * Prints "responder: ready" once bound; on SIGTERM/SIGINT prints one counter line per port and a
 * total line "responder rx=N tx=N bad=N ..." and exits 0. drops= is what the kernel dropped at a
 * port's full receive buffer: non-zero means the responder, not the proxy, was the bottleneck.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "netaddr.h"
#include "sipmsg.h"

#define EXIT_USAGE    2
#define EXIT_RUN      1
#define MAX_PORTS     16
#define BATCH_MAX     1024
#define DEFAULT_BATCH 32
/* 8 MB, as the generator: ~3,500 queued requests absorb a scheduling hiccup on a shared machine,
 * while a responder that cannot keep up still shows as loss within tens of milliseconds rather
 * than as seconds of queueing that outlast the generator's timeout. */
#define SOCK_BUF  (8 << 20)
#define RX_BUF	  16384 /* viaduct's default max_message_size: a larger one is bad here */
#define REPLY_CAP 8192
#define RX_ROUNDS 8 /* batches per wake-up before looking at the stop eventfd again */

struct counters {
	uint64_t rx, tx, bad, ack, responses, send_errors;
	uint64_t drops; /* requests the kernel dropped at the port's full buffer, read at exit */
};

/* One port and its thread; only that thread writes here until it is joined. */
struct worker {
	int fd;
	uint16_t port;
	int cpu; /* -1: not pinned */
	int stop_fd;
	unsigned batch;
	pthread_t tid;
	struct counters c;
	char *rxbuf;
	char *txbuf;
	struct mmsghdr *rxm;
	struct mmsghdr *txm;
	struct iovec *rxiov;
	struct iovec *txiov;
	struct sockaddr_storage *src;
};

struct cli {
	const char *listen;
	const char *ports;
	unsigned batch;
	int cpu;
};

static const char usage[] = "usage: responder --listen IP --ports PORT[,PORT...] [--batch 32] "
			    "[--cpu N]\n"
			    "  --cpu N pins the thread of the i-th port to CPU N+i (mod CPUs).\n";

static int alloc_buffers(struct worker *w)
{
	unsigned b = w->batch;

	w->rxbuf = malloc((size_t)b * RX_BUF);
	w->txbuf = malloc((size_t)b * REPLY_CAP);
	w->rxm = calloc(b, sizeof(*w->rxm));
	w->txm = calloc(b, sizeof(*w->txm));
	w->rxiov = calloc(b, sizeof(*w->rxiov));
	w->txiov = calloc(b, sizeof(*w->txiov));
	w->src = calloc(b, sizeof(*w->src));
	if (!w->rxbuf || !w->txbuf || !w->rxm || !w->txm || !w->rxiov || !w->txiov || !w->src)
		return -ENOMEM;
	for (unsigned k = 0; k < b; k++) {
		w->rxiov[k] = (struct iovec){ w->rxbuf + (size_t)k * RX_BUF, RX_BUF };
		w->txiov[k].iov_base = w->txbuf + (size_t)k * REPLY_CAP;
	}
	return 0;
}

static void rx_prepare(struct worker *w)
{
	for (unsigned k = 0; k < w->batch; k++)
		w->rxm[k].msg_hdr = (struct msghdr){ .msg_name = &w->src[k],
						     .msg_namelen = sizeof(w->src[k]),
						     .msg_iov = &w->rxiov[k],
						     .msg_iovlen = 1 };
}

/* Classify datagram k and queue its reply at position *n. */
static void handle(struct worker *w, unsigned k, unsigned *n)
{
	const struct msghdr *h = &w->rxm[k].msg_hdr;
	size_t out_len;

	w->c.rx++;
	if (h->msg_flags & MSG_TRUNC) {
		w->c.bad++;
		return;
	}
	switch (lg_sip_reply(w->rxiov[k].iov_base, w->rxm[k].msg_len, w->txiov[*n].iov_base,
			     REPLY_CAP, &out_len)) {
	case LG_RX_REQUEST:
		w->txiov[*n].iov_len = out_len;
		w->txm[*n].msg_hdr = (struct msghdr){ .msg_name = &w->src[k],
						      .msg_namelen = h->msg_namelen,
						      .msg_iov = &w->txiov[*n],
						      .msg_iovlen = 1 };
		(*n)++;
		break;
	case LG_RX_ACK:
		w->c.ack++;
		break;
	case LG_RX_RESPONSE:
		w->c.responses++;
		break;
	case LG_RX_BAD:
		w->c.bad++;
		break;
	}
}

static void send_replies(struct worker *w, unsigned n)
{
	unsigned sent = 0;

	while (sent < n) {
		int r = sendmmsg(w->fd, w->txm + sent, n - sent, 0);
		if (r > 0) {
			sent += (unsigned)r;
			w->c.tx += (unsigned)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			w->c.send_errors++; /* the first unsent one failed: skip it, go on */
			sent++;
		}
	}
}

/* One recvmmsg batch answered with one sendmmsg; returns datagrams read. */
static int burst(struct worker *w)
{
	unsigned n = 0;

	rx_prepare(w);
	int got = recvmmsg(w->fd, w->rxm, w->batch, MSG_DONTWAIT, NULL);
	if (got <= 0)
		return 0;
	for (unsigned k = 0; k < (unsigned)got; k++)
		handle(w, k, &n);
	send_replies(w, n);
	return got;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* best effort, as viaduct's workers: a restricted cpuset may refuse */
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "responder: cannot pin to cpu %d (running unpinned)\n", cpu);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pollfd pfd[2] = { { .fd = w->fd, .events = POLLIN },
				 { .fd = w->stop_fd, .events = POLLIN } };

	pin(w->cpu);
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents)
			break; /* the eventfd stays readable: every worker sees it */
		for (int b = 0; b < RX_ROUNDS; b++)
			if (burst(w) < (int)w->batch)
				break;
	}
	return NULL;
}

static void count_add(struct counters *t, const struct counters *c)
{
	t->rx += c->rx;
	t->tx += c->tx;
	t->bad += c->bad;
	t->ack += c->ack;
	t->responses += c->responses;
	t->send_errors += c->send_errors;
	t->drops += c->drops;
}

static void print_line(const char *label, const struct counters *c)
{
	printf("responder%s rx=%llu tx=%llu bad=%llu ack=%llu responses=%llu send_errors=%llu "
	       "drops=%llu\n",
	       label, (unsigned long long)c->rx, (unsigned long long)c->tx,
	       (unsigned long long)c->bad, (unsigned long long)c->ack,
	       (unsigned long long)c->responses, (unsigned long long)c->send_errors,
	       (unsigned long long)c->drops);
}

/* After the join: one line per port, then the total (the line scripts look for). */
static void print_counters(struct worker *w, unsigned n)
{
	struct counters t = { 0 };
	char label[32];

	for (unsigned i = 0; i < n; i++) {
		(void)lg_udp_drops(w[i].fd, &w[i].c.drops); /* best effort: old kernels say 0 */
		snprintf(label, sizeof(label), " port=%u", w[i].port);
		print_line(label, &w[i].c);
		count_add(&t, &w[i].c);
	}
	print_line("", &t);
	fflush(stdout);
}

static int parse_ports(const char *s, struct worker *w, unsigned *n)
{
	char *end;

	*n = 0;
	do {
		if (*n == MAX_PORTS || *s < '0' || *s > '9')
			return -EINVAL;
		unsigned long v = strtoul(s, &end, 10);
		if (v < 1 || v > 65535 || (*end && *end != ','))
			return -EINVAL;
		w[(*n)++].port = (uint16_t)v;
		s = end + (*end == ',');
	} while (*end);
	return 0;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out < lo || *out > hi ? -EINVAL : 0;
}

/* Returns 0, 1 for --help, -EINVAL after printing the problem. */
static int parse_cli(int argc, char **argv, struct cli *c)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "ports", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int opt;

	*c = (struct cli){ .batch = DEFAULT_BATCH, .cpu = -1 };
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'h')
			return 1;
		if (opt == 'l')
			c->listen = optarg;
		else if (opt == 'p')
			c->ports = optarg;
		else if (opt == 'b' && !parse_uint(optarg, 1, BATCH_MAX, &v))
			c->batch = (unsigned)v;
		else if (opt == 'c' && !parse_uint(optarg, 0, CPU_SETSIZE - 1, &v))
			c->cpu = (int)v;
		else if (opt == 'b' || opt == 'c')
			goto bad_value;
		else
			goto bad;
	}
	if (c->listen && c->ports && optind == argc)
		return 0;
	if (optind < argc) {
		fprintf(stderr, "responder: unexpected argument %s\n", argv[optind]);
		goto bad;
	}
	fprintf(stderr, "responder: --listen and --ports are required\n");
	goto bad;
bad_value:
	fprintf(stderr, "responder: --%s: expected %s\n", opt == 'b' ? "batch" : "cpu",
		opt == 'b' ? "1..1024" : "a CPU number");
bad:
	fputs(usage, stderr);
	return -EINVAL;
}

/* Bind every port and give each worker its buffers; returns 0 or an exit status. */
static int open_ports(struct worker *w, unsigned n, const struct cli *c, int stop_fd)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char name[LG_ADDR_STRLEN];

	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		if (lg_addr_parse_ip(c->listen, w[i].port, &ss)) {
			fprintf(stderr, "responder: --listen: expected an IP address, got %s\n",
				c->listen);
			return EXIT_USAGE;
		}
		lg_addr_format(&ss, name, sizeof(name));
		w[i].fd = lg_udp_open(&ss, SOCK_BUF);
		if (w[i].fd < 0) {
			fprintf(stderr, "responder: cannot bind %s: %s\n", name,
				strerror(-w[i].fd));
			return EXIT_RUN;
		}
		w[i].batch = c->batch;
		w[i].stop_fd = stop_fd;
		w[i].cpu = c->cpu < 0 ? -1 : (int)((c->cpu + (long)i) % (ncpu > 0 ? ncpu : 1));
		if (alloc_buffers(&w[i])) {
			fprintf(stderr, "responder: out of memory\n");
			return EXIT_RUN;
		}
	}
	return 0;
}

/* Block the stop signals in every thread (the workers inherit the mask); main sigwaits. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int start_workers(struct worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int e = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
		if (e) {
			fprintf(stderr, "responder: cannot start a thread: %s\n", strerror(e));
			return EXIT_RUN;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_PORTS];
	const uint64_t one = 1;
	unsigned n;
	sigset_t set;
	struct cli c;
	int sig;

	int rc = parse_cli(argc, argv, &c);
	if (rc) {
		if (rc > 0)
			fputs(usage, stdout);
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	if (parse_ports(c.ports, w, &n)) {
		fprintf(stderr,
			"responder: --ports: expected PORT[,PORT...], 1..65535, at most %d\n",
			MAX_PORTS);
		return EXIT_USAGE;
	}
	block_signals(&set);
	int stop_fd = eventfd(0, EFD_CLOEXEC);
	if (stop_fd < 0) {
		fprintf(stderr, "responder: eventfd: %s\n", strerror(errno));
		return EXIT_RUN;
	}
	rc = open_ports(w, n, &c, stop_fd);
	if (!rc)
		rc = start_workers(w, n);
	if (rc)
		return rc; /* only main exits; the process ends with its threads */
	printf("responder: ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "responder: eventfd write: %s\n", strerror(errno));
	for (unsigned i = 0; i < n; i++)
		pthread_join(w[i].tid, NULL);
	print_counters(w, n);
	return 0;
}
