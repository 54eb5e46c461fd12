/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP-connect probes of stream members (TCP, TLS): a non-blocking connect from a socket of
 * its own, resolved by a zero-timeout poll() from tick(); connected is a reply (closed at
 * once), refused or unreachable a failure (see health.c for the whole prober).
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health_internal.h"

void vd_health_connect_close(struct member *m)
{
	if (m->cfd >= 0) {
		close(m->cfd);
		m->cfd = -1;
	}
}

/* The outcome of member i's connect. Connected is all we wanted to know: the connection is
 * closed at once (a FIN; the member's SIP stack sees a client that says nothing). */
static void on_connect(struct vd_health *h, unsigned i, bool ok, uint64_t now)
{
	struct member *m = &h->m[i];

	vd_health_connect_close(m);
	vd_health_report(h, i, vd_health_sm_connect(&m->sm, &h->cfg, ok, now),
			 ok ? "probe connected" : "probe connect failed", 0);
}

/* Starts member i's connect. A socket we cannot open is like a datagram we cannot send: a
 * tx error, and the probe times out. */
void vd_health_send_connect(struct vd_health *h, unsigned i, uint64_t now)
{
	struct member *m = &h->m[i];
	int fd = -1;

	if (vd_health_fam_index(m->addr.sa.sa_family) >= 0)
		fd = socket(m->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    IPPROTO_TCP);
	if (fd < 0) {
		h->counters.tx_errors++;
		return;
	}
	m->cfd = fd;
	if (!connect(fd, &m->addr.sa, vd_sockaddr_len(&m->addr)))
		on_connect(h, i, true, now);
	else if (errno != EINPROGRESS && errno != EINTR) /* EINTR: it goes on regardless */
		on_connect(h, i, false, now);
}

/* Resolves the connects that finished: writable with SO_ERROR 0 is connected. One poll()
 * for all of them, never waiting. */
void vd_health_check_connects(struct vd_health *h, uint64_t now)
{
	unsigned k = 0;

	for (unsigned i = 0; i < h->n; i++)
		if (h->m[i].cfd >= 0)
			h->pfd[k++] = (struct pollfd){.fd = h->m[i].cfd, .events = POLLOUT};
	if (!k || poll(h->pfd, k, 0) <= 0)
		return;
	k = 0;
	for (unsigned i = 0; i < h->n; i++) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (h->m[i].cfd < 0 || !h->pfd[k++].revents)
			continue;
		if (getsockopt(h->m[i].cfd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		on_connect(h, i, err == 0, now);
	}
}
