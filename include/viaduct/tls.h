/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS contexts (OpenSSL 3) compiled from a config: one server context per TLS listener and
 * one client context for viaduct's connections to TLS members. Built with each snapshot
 * (start, reload: renewed certificates are read then; a bad certificate, key or CA fails the
 * build like any bad config, and the running snapshot keeps serving), shared by reference
 * between snapshots that differ only in member state. A connection keeps the context it was
 * made with (OpenSSL counts its own references), so a reload never drops one.
 */
#ifndef VIADUCT_TLS_H
#define VIADUCT_TLS_H

#include <stddef.h>

#include "viaduct/config.h"

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */
struct vd_tls;

/**
 * Build the contexts cfg asks for: *out is NULL when it has no TLS listener and no TLS
 * member. 0, or a negative errno code with one line in err naming the field and the file.
 */
int vd_tls_build(const struct vd_config *cfg, struct vd_tls **out, char *err, size_t errlen);
/** Another reference (a snapshot sharing t); t may be NULL. */
struct vd_tls *vd_tls_ref(struct vd_tls *t);
/** Drop a reference; the last frees the contexts. t may be NULL. */
void vd_tls_unref(struct vd_tls *t);

/** The server context of listener i (NULL when it is not a TLS listener, or t is NULL). */
struct ssl_ctx_st *vd_tls_server(const struct vd_tls *t, unsigned i);
/** The client context for members (NULL when no member is TLS). */
struct ssl_ctx_st *vd_tls_client(const struct vd_tls *t);

#endif
