/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `hep:` section (struct vd_cfg_hep): where HEP v3 copies of the SIP traffic go. A
 * collector named by a host name is resolved here, at load and reload (the datapath never
 * resolves anything), to its first address.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "viaduct/hep.h"

#define HEP_ID_MAX 4294967295u

const cyaml_schema_field_t cfg_hep_fields[] = {
	STR_FIELD("address", REQ, struct raw_hep, address),
	STR_FIELD("port", OPT, struct raw_hep, port),
	STR_FIELD("id", OPT, struct raw_hep, id),
	STR_FIELD("sample", OPT, struct raw_hep, sample),
	STR_FIELD("password", OPT, struct raw_hep, password),
	CYAML_FIELD_END,
};

static int collector(struct loader *ld, const char *host, uint16_t port, union vd_sockaddr *a)
{
	if (!host[0])
		return cfg_bad(ld, "address", "must not be empty");
	if (vd_sockaddr_parse(host, port, a) == 0) /* a literal, in brackets or not */
		return 0;
	socklen_t len;
	return cfg_resolve(ld, "address", host, port, a, &len);
}

int cfg_convert_hep(struct loader *ld, const struct raw_hep *raw, struct vd_cfg_hep *h)
{
	uint32_t port;
	memset(h, 0, sizeof(*h));
	if (!raw)
		return 0;
	cfg_set_at(ld, "hep");
	int rc = cfg_get_uint(ld, "port", raw->port, 1, 65535, VD_HEP_DEFAULT_PORT, &port);
	if (!rc)
		rc = cfg_get_uint(ld, "id", raw->id, 0, HEP_ID_MAX, 0, &h->id);
	if (!rc)
		rc = cfg_get_uint(ld, "sample", raw->sample, 0, 100, 100, &h->sample);
	if (!rc)
		rc = collector(ld, raw->address, (uint16_t)port, &h->addr);
	if (rc)
		return rc;
	if (raw->password) {
		size_t n = strlen(raw->password);
		if (n == 0 || n > VD_CFG_HEP_PASSWORD_MAX)
			return cfg_bad(ld, "password", "%zu characters, 1 to %d", n,
				       VD_CFG_HEP_PASSWORD_MAX);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)raw->password[i] < 0x20 || raw->password[i] == 0x7f)
				return cfg_bad(ld, "password", "control character at %zu", i);
		memcpy(h->password, raw->password, n + 1);
	}
	h->enabled = true;
	return 0;
}
