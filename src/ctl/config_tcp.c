/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transports in the config: the `transport:` of listeners, pools and members, the `tcp:`
 * section's limits on connections (struct vd_cfg_tcp), and TLS credentials (a listener's
 * `tls:`, the top-level `tls_client:`). Defaults suit an edge facing UEs:
 * a message must arrive whole within 10 s, an idle connection lives 10 minutes (UEs keep
 * theirs open with CRLF keepalives, RFC 5626), one source address holds at most 1,000.
 */
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

#define CFG_TCP_CONNECTIONS_MAX 10000000u
#define CFG_TCP_MS_MAX 86400000u
#define CFG_TCP_QUEUE_MIN 65536u
#define CFG_TCP_QUEUE_MAX (256u << 20)

const cyaml_schema_field_t cfg_tcp_fields[] = {
	STR_FIELD("max_connections", OPT, struct raw_tcp, max_connections),
	STR_FIELD("max_connections_per_ip", OPT, struct raw_tcp, max_connections_per_ip),
	STR_FIELD("header_timeout_ms", OPT, struct raw_tcp, header_timeout_ms),
	STR_FIELD("idle_timeout_ms", OPT, struct raw_tcp, idle_timeout_ms),
	STR_FIELD("write_queue_bytes", OPT, struct raw_tcp, write_queue_bytes),
	STR_FIELD("connect_timeout_ms", OPT, struct raw_tcp, connect_timeout_ms),
	CYAML_FIELD_END,
};

const cyaml_schema_field_t cfg_tls_fields[] = {
	STR_FIELD("certificate", OPT, struct raw_tls, certificate),
	STR_FIELD("key", OPT, struct raw_tls, key),
	STR_FIELD("ca", OPT, struct raw_tls, ca),
	STR_FIELD("verify_client", OPT, struct raw_tls, verify_client),
	STR_FIELD("verify_server", OPT, struct raw_tls, verify_server),
	CYAML_FIELD_END,
};

static int tls_path(struct loader *ld, const char *field, const char *text, char *out)
{
	if (!text)
		return 0;
	if (!text[0])
		return cfg_bad(ld, field, "must not be empty");
	cfg_relative_path(ld, text, out, VD_CFG_PATH_MAX);
	if (strlen(out) >= VD_CFG_PATH_MAX - 1)
		return cfg_bad(ld, field, "path longer than %d characters", VD_CFG_PATH_MAX - 2);
	return 0;
}

/* The files are only named here; vd_tls_build() reads and checks them (and says which one
 * is wrong) when the snapshot is built. */
int cfg_convert_tls(struct loader *ld, const struct raw_tls *raw, bool server,
		    struct vd_cfg_tls *t)
{
	static const struct raw_tls none;
	memset(t, 0, sizeof(*t));
	if (!raw) {
		if (server)
			return cfg_bad(ld, NULL, "a tls listener needs tls: { certificate, key }");
		raw = &none;
	}
	int rc = tls_path(ld, "certificate", raw->certificate, t->certificate);
	if (!rc)
		rc = tls_path(ld, "key", raw->key, t->key);
	if (!rc)
		rc = tls_path(ld, "ca", raw->ca, t->ca);
	if (rc)
		return rc;
	if (server && (!t->certificate[0] || !t->key[0]))
		return cfg_bad(ld, t->certificate[0] ? "key" : "certificate",
			       "is required for a tls listener");
	if (!!t->certificate[0] != !!t->key[0])
		return cfg_bad(ld, t->certificate[0] ? "key" : "certificate",
			       "certificate and key go together");
	if (server && raw->verify_server)
		return cfg_bad(ld, "verify_server", "is for tls_client:; a listener has verify_client");
	if (!server && raw->verify_client)
		return cfg_bad(ld, "verify_client", "is for a tls listener; tls_client: has verify_server");
	if (server) {
		rc = cfg_get_bool(ld, "verify_client", raw->verify_client, false, &t->verify_peer);
		if (!rc && t->verify_peer && !t->ca[0])
			return cfg_bad(ld, "ca", "is required with verify_client: true");
	} else {
		rc = cfg_get_bool(ld, "verify_server", raw->verify_server, true, &t->verify_peer);
	}
	return rc;
}

int cfg_get_transport(struct loader *ld, const char *field, const char *text,
		      enum vd_transport def, enum vd_transport *out)
{
	if (!text) {
		*out = def;
		return 0;
	}
	if (strcmp(text, "udp") == 0 || strcmp(text, "UDP") == 0)
		*out = VD_TP_UDP;
	else if (strcmp(text, "tcp") == 0 || strcmp(text, "TCP") == 0)
		*out = VD_TP_TCP;
	else if (strcmp(text, "tls") == 0 || strcmp(text, "TLS") == 0)
		*out = VD_TP_TLS;
	else
		return cfg_bad(ld, field, "\"%s\" is not one of udp, tcp, tls", text);
	return 0;
}

int cfg_convert_tcp(struct loader *ld, const struct raw_tcp *raw, struct vd_cfg_tcp *t)
{
	static const struct raw_tcp none;
	if (!raw)
		raw = &none;
	cfg_set_at(ld, "tcp");
	int rc = cfg_get_uint(ld, "max_connections", raw->max_connections, 1,
			      CFG_TCP_CONNECTIONS_MAX, VD_CFG_DEFAULT_TCP_MAX_CONNECTIONS,
			      &t->max_connections);
	if (!rc)
		rc = cfg_get_uint(ld, "max_connections_per_ip", raw->max_connections_per_ip, 1,
				  CFG_TCP_CONNECTIONS_MAX, VD_CFG_DEFAULT_TCP_MAX_PER_IP,
				  &t->max_connections_per_ip);
	if (!rc)
		rc = cfg_get_uint(ld, "header_timeout_ms", raw->header_timeout_ms, 10,
				  CFG_TCP_MS_MAX, VD_CFG_DEFAULT_TCP_HEADER_TIMEOUT_MS,
				  &t->header_timeout_ms);
	if (!rc)
		rc = cfg_get_uint(ld, "idle_timeout_ms", raw->idle_timeout_ms, 10, CFG_TCP_MS_MAX,
				  VD_CFG_DEFAULT_TCP_IDLE_TIMEOUT_MS, &t->idle_timeout_ms);
	if (!rc)
		rc = cfg_get_uint(ld, "write_queue_bytes", raw->write_queue_bytes,
				  CFG_TCP_QUEUE_MIN, CFG_TCP_QUEUE_MAX,
				  VD_CFG_DEFAULT_TCP_WRITE_QUEUE, &t->write_queue_bytes);
	if (!rc)
		rc = cfg_get_uint(ld, "connect_timeout_ms", raw->connect_timeout_ms, 10,
				  CFG_TCP_MS_MAX, VD_CFG_DEFAULT_TCP_CONNECT_TIMEOUT_MS,
				  &t->connect_timeout_ms);
	return rc;
}
