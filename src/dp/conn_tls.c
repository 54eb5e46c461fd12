/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Byte I/O of a connection, plain or TLS (OpenSSL 3). A TLS connection's handshake runs as a
 * non-blocking state machine driven by the same epoll events as everything else: a step that
 * needs to read waits for EPOLLIN, one that needs to write arms EPOLLOUT; a worker never
 * blocks in a handshake. The handshake must complete within tcp.header_timeout_ms (the
 * slowloris timer covers it). OpenSSL reads and writes the socket itself (SSL_set_fd).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dp_internal.h"

int vd_conn_tls_start(struct vd_worker *w, struct vd_conn *c, struct ssl_ctx_st *ctx,
		      bool server, const char *peer_name)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	if (server) {
		SSL_set_accept_state(ssl);
	} else {
		SSL_set_connect_state(ssl);
		if (peer_name && peer_name[0]) {
			/* SNI and the name the certificate must carry: a host name, or an IP
			 * literal checked against the certificate's IP addresses */
			unsigned char ip[16];
			bool literal = inet_pton(AF_INET, peer_name, ip) == 1 ||
				       inet_pton(AF_INET6, peer_name, ip) == 1;
			if (literal) {
				X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), peer_name);
			} else {
				SSL_set_tlsext_host_name(ssl, peer_name);
				SSL_set1_host(ssl, peer_name);
			}
		}
	}
	c->ssl = ssl;
	c->tls_ready = 0;
	c->msg_start_ms = w->now_ms; /* the handshake is on the header timer */
	return 0;
}

bool vd_conn_tls_pending(const struct vd_conn *c)
{
	return c->ssl && SSL_pending(c->ssl) > 0;
}

void vd_conn_tls_free(struct vd_conn *c)
{
	if (!c->ssl)
		return;
	if (c->tls_ready)
		SSL_shutdown(c->ssl); /* one try at close_notify, never waited for */
	SSL_free(c->ssl);
	ERR_clear_error();
	c->ssl = NULL;
}

/* An OpenSSL result that did not transfer bytes: AGAIN (with the direction it waits for),
 * CLOSED (the peer's close_notify), ERROR (the socket) or TLS (counted: the handshake or a
 * record failed). */
static int tls_status(struct vd_worker *w, struct vd_conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->tls_want_write = 0;
		return VD_IO_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->tls_want_write = 1;
		return VD_IO_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return VD_IO_CLOSED;
	case SSL_ERROR_SYSCALL: /* the socket failed (a reset), not TLS */
		ERR_clear_error();
		return VD_IO_ERROR;
	default:
		ERR_clear_error();
		VD_STAT_ADD(w->tcp.tls_failed, 1);
		return VD_IO_TLS;
	}
}

/* A plain socket's result that did not transfer bytes. */
static int sock_status(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? VD_IO_AGAIN : VD_IO_ERROR;
}

int vd_conn_tls_progress(struct vd_worker *w, struct vd_conn *c)
{
	if (!c->ssl || c->tls_ready)
		return 1;
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->tls_ready = 1;
		c->tls_want_write = 0;
		c->msg_start_ms = 0;
		VD_STAT_ADD(w->tcp.tls_handshakes, 1);
		return 1;
	}
	int s = tls_status(w, c, r);
	if (s == VD_IO_AGAIN)
		return 0;
	c->tls_failed = s == VD_IO_TLS;
	return -1;
}

/* Before a TLS read or write: the handshake done (1), or the status to return (<= 0). */
static int tls_ready(struct vd_worker *w, struct vd_conn *c)
{
	int hs = vd_conn_tls_progress(w, c);
	if (hs > 0)
		return 1;
	return hs == 0 ? VD_IO_AGAIN : c->tls_failed ? VD_IO_TLS : VD_IO_ERROR;
}

ssize_t vd_conn_recv(struct vd_worker *w, struct vd_conn *c, char *buf, size_t len)
{
	if (!c->ssl) {
		ssize_t r = recv(c->fd, buf, len, MSG_DONTWAIT);
		return r > 0 ? r : r == 0 ? VD_IO_CLOSED : sock_status();
	}
	int ok = tls_ready(w, c);
	if (ok <= 0)
		return ok;
	int r = SSL_read(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
	return r > 0 ? r : tls_status(w, c, r);
}

ssize_t vd_conn_send(struct vd_worker *w, struct vd_conn *c, const char *buf, size_t len)
{
	if (!c->ssl) {
		ssize_t r = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		return r >= 0 ? r : sock_status();
	}
	int ok = tls_ready(w, c);
	if (ok <= 0 || !len)
		return ok <= 0 ? ok : 0;
	int r = SSL_write(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
	return r > 0 ? r : tls_status(w, c, r);
}
