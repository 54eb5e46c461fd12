/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `dpdk:` section: EAL arguments, the data and exception ports, mbuf and queue sizes, and
 * the on-link networks and gateways the DPDK datapath resolves next hops with. Plain values
 * only: the DPDK side (dpdk/) checks what only EAL can know, such as whether a port exists.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "viaduct/rules.h"

#define CFG_MBUFS_MAX	(1u << 24)
#define CFG_DESC_MAX	32768u
#define CFG_DESC_MIN	64u

static const cyaml_schema_value_t dpdk_string_value = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

#define DPDK_LIST(key, member, count)                                                      \
	CYAML_FIELD_SEQUENCE_COUNT(key, CYAML_FLAG_POINTER | OPT, struct raw_dpdk, member,  \
				   count, &dpdk_string_value, 0, CYAML_UNLIMITED)

const cyaml_schema_field_t cfg_dpdk_fields[] = {
	STR_FIELD("enabled", OPT, struct raw_dpdk, enabled),
	DPDK_LIST("eal", eal, n_eal),
	STR_FIELD("port", OPT, struct raw_dpdk, port),
	STR_FIELD("exception", OPT, struct raw_dpdk, exception),
	STR_FIELD("mbufs", OPT, struct raw_dpdk, mbufs),
	STR_FIELD("rx_desc", OPT, struct raw_dpdk, rx_desc),
	STR_FIELD("tx_desc", OPT, struct raw_dpdk, tx_desc),
	DPDK_LIST("networks", networks, n_networks),
	STR_FIELD("gateway", OPT, struct raw_dpdk, gateway),
	STR_FIELD("gateway6", OPT, struct raw_dpdk, gateway6),
	CYAML_FIELD_END,
};

static int copy_name(struct loader *ld, const char *field, const char *text, char *out)
{
	if (!text)
		return 0;
	if (!text[0] || strlen(text) >= VD_CFG_DPDK_ARG_MAX || strpbrk(text, " \t\r\n"))
		return cfg_bad(ld, field, "\"%s\" is not a DPDK device name (e.g. net_tap0, "
					  "0000:01:00.0)", text);
	snprintf(out, VD_CFG_DPDK_ARG_MAX, "%s", text);
	return 0;
}

static int get_gateway(struct loader *ld, const char *field, const char *text, int family,
		       union vd_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		return 0;
	if (family == AF_INET) {
		struct sockaddr_in *in = &out->in;
		if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
			in->sin_family = AF_INET;
			return 0;
		}
		return cfg_bad(ld, field, "\"%s\" is not a numeric IPv4 address", text);
	}
	struct sockaddr_in6 *in6 = &out->in6;
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return 0;
	}
	return cfg_bad(ld, field, "\"%s\" is not a numeric IPv6 address", text);
}

static int convert_networks(struct loader *ld, const struct raw_dpdk *raw, struct vd_cfg_dpdk *d)
{
	if (raw->n_networks > VD_CFG_DPDK_MAX_NETS)
		return cfg_bad(ld, "networks", "%u prefixes, at most %d", raw->n_networks,
			       VD_CFG_DPDK_MAX_NETS);
	for (unsigned i = 0; i < raw->n_networks; i++) {
		if (vd_prefix_parse(raw->networks[i], &d->networks[i]))
			return cfg_bad(ld, "networks", "\"%s\" is not a prefix (10.0.0.0/24, "
						       "2001:db8::/64)", raw->networks[i]);
		d->n_networks = i + 1;
	}
	return 0;
}

int cfg_convert_dpdk(struct loader *ld, const struct raw_dpdk *raw, struct vd_cfg_dpdk *d)
{
	uint32_t v;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	if (!raw)
		return 0;
	cfg_set_at(ld, "dpdk");
	rc = cfg_get_bool(ld, "enabled", raw->enabled, true, &d->enabled);
	if (rc)
		return rc;
	if (raw->n_eal > VD_CFG_DPDK_MAX_EAL)
		return cfg_bad(ld, "eal", "%u arguments, at most %d", raw->n_eal,
			       VD_CFG_DPDK_MAX_EAL);
	for (unsigned i = 0; i < raw->n_eal; i++) {
		if (strlen(raw->eal[i]) >= VD_CFG_DPDK_ARG_MAX)
			return cfg_bad(ld, "eal", "argument %u is longer than %d bytes", i,
				       VD_CFG_DPDK_ARG_MAX - 1);
		snprintf(d->eal[i], VD_CFG_DPDK_ARG_MAX, "%s", raw->eal[i]);
		d->n_eal = i + 1;
	}
	if (!rc)
		rc = copy_name(ld, "port", raw->port, d->port);
	if (!rc)
		rc = copy_name(ld, "exception", raw->exception, d->exception);
	if (!rc && d->port[0] && strcmp(d->port, d->exception) == 0)
		rc = cfg_bad(ld, "exception", "\"%s\" is also the data port", d->exception);
	if (!rc)
		rc = cfg_get_uint(ld, "mbufs", raw->mbufs, 0, CFG_MBUFS_MAX, 0, &d->mbufs);
	if (!rc && d->mbufs && d->mbufs < 1024)
		rc = cfg_bad(ld, "mbufs", "%u is too few (at least 1024, or 0 for automatic)",
			     d->mbufs);
	if (!rc && !(rc = cfg_get_uint(ld, "rx_desc", raw->rx_desc, 0, CFG_DESC_MAX, 0, &v))) {
		if (v && v < CFG_DESC_MIN)
			rc = cfg_bad(ld, "rx_desc", "%u is too few (at least %u)", v, CFG_DESC_MIN);
		d->rx_desc = (uint16_t)v;
	}
	if (!rc && !(rc = cfg_get_uint(ld, "tx_desc", raw->tx_desc, 0, CFG_DESC_MAX, 0, &v))) {
		if (v && v < CFG_DESC_MIN)
			rc = cfg_bad(ld, "tx_desc", "%u is too few (at least %u)", v, CFG_DESC_MIN);
		d->tx_desc = (uint16_t)v;
	}
	if (!rc)
		rc = convert_networks(ld, raw, d);
	if (!rc)
		rc = get_gateway(ld, "gateway", raw->gateway, AF_INET, &d->gateway4);
	if (!rc)
		rc = get_gateway(ld, "gateway6", raw->gateway6, AF_INET6, &d->gateway6);
	return rc;
}
