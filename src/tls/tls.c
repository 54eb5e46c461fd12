/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS contexts from the config (include/viaduct/tls.h). TLS 1.2 and 1.3 only; OpenSSL's
 * default cipher suites; a server presents its certificate chain and, with verify_client,
 * asks for and checks the client's (mutual TLS for interconnects); the client context checks
 * members' certificates against `tls_client.ca` (else the system's CAs) unless
 * verify_server: false. Partial writes and moving write buffers are allowed: the datapath
 * writes from a queue that it compacts.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "viaduct/tls.h"

struct vd_tls {
	atomic_uint refs;
	SSL_CTX *server[VD_CFG_MAX_LISTENERS];
	SSL_CTX *client;
};

/* OpenSSL's first queued error, as text, then the queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (!e)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static SSL_CTX *ctx_new(bool server, const struct vd_cfg_tls *c, const char *where, char *err,
			size_t errlen)
{
	char why[256];
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "%s: %s", where, ssl_reason(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* a peer that closes without close_notify (most SIP UAs) has closed, not failed */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (c->certificate[0]) {
		if (SSL_CTX_use_certificate_chain_file(ctx, c->certificate) != 1) {
			snprintf(err, errlen, "%s.certificate: %s: %s", where, c->certificate,
				 ssl_reason(why, sizeof(why)));
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1) {
			snprintf(err, errlen, "%s.key: %s: %s", where, c->key,
				 ssl_reason(why, sizeof(why)));
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			snprintf(err, errlen, "%s.key: %s does not match the certificate %s", where,
				 c->key, c->certificate);
			ERR_clear_error();
			goto fail;
		}
	}
	if (c->ca[0]) {
		if (SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1) {
			snprintf(err, errlen, "%s.ca: %s: %s", where, c->ca,
				 ssl_reason(why, sizeof(why)));
			goto fail;
		}
	} else if (!server && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "%s: the system's CA store: %s", where,
			 ssl_reason(why, sizeof(why)));
		goto fail;
	}
	/* a session resumed on a server context must come from this one (required by OpenSSL as
	 * soon as clients are verified, harmless otherwise) */
	if (server)
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"viaduct", 7);
	if (server && c->verify_peer) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
	} else if (!server) {
		SSL_CTX_set_verify(ctx, c->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	}
	ERR_clear_error();
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int vd_tls_build(const struct vd_config *cfg, struct vd_tls **out, char *err, size_t errlen)
{
	bool client = false;
	bool server = false;
	*out = NULL;
	for (unsigned i = 0; i < cfg->n_listeners; i++)
		server |= cfg->listeners[i].transport == VD_TP_TLS;
	for (unsigned p = 0; p < cfg->n_pools; p++)
		for (unsigned m = 0; m < cfg->pools[p].n_members; m++)
			client |= cfg->pools[p].members[m].transport == VD_TP_TLS;
	if (!server && !client)
		return 0;
	struct vd_tls *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&t->refs, 1);
	char where[64];
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		if (cfg->listeners[i].transport != VD_TP_TLS)
			continue;
		snprintf(where, sizeof(where), "listeners[%u].tls", i);
		if (!(t->server[i] = ctx_new(true, &cfg->listeners[i].tls, where, err, errlen)))
			goto fail;
	}
	if (client && !(t->client = ctx_new(false, &cfg->tls_client, "tls_client", err, errlen)))
		goto fail;
	*out = t;
	return 0;
fail:
	vd_tls_unref(t);
	return -EINVAL;
}

struct vd_tls *vd_tls_ref(struct vd_tls *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void vd_tls_unref(struct vd_tls *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (unsigned i = 0; i < VD_CFG_MAX_LISTENERS; i++)
		SSL_CTX_free(t->server[i]);
	SSL_CTX_free(t->client);
	free(t);
}

struct ssl_ctx_st *vd_tls_server(const struct vd_tls *t, unsigned i)
{
	return t && i < VD_CFG_MAX_LISTENERS ? t->server[i] : NULL;
}

struct ssl_ctx_st *vd_tls_client(const struct vd_tls *t)
{
	return t ? t->client : NULL;
}
