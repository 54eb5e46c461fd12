/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests for the YAML config loader's optional sections: dpdk: (absent, every field, empty,
 * disabled, bad values), the policy keys with their defaults, the branch key, and transports
 * with the tcp: limits. Shared helpers: tests/support/config_fixture.h.
 */
#include "config_fixture.h"

#include <viaduct/proxy.h> /* vd_branch_key_derive */

/* ---- the dpdk: section ---- */

#define DPDK_BASE                                                                          \
	"listeners:\n  - {address: 10.200.0.2, port: 5060}\n"                              \
	"pool: {name: p, members: [{host: 10.200.0.3, port: 5070}]}\n"

Test(config_parse, dpdk_absent_means_kernel_datapath)
{
	cr_assert_eq(parse(DPDK_BASE), 0, "%s", err);
	cr_expect_not(cfg.dpdk.enabled);
	cr_expect_eq(cfg.dpdk.n_eal, 0);
	cr_expect_eq(cfg.dpdk.n_networks, 0);
	cr_expect_eq(cfg.dpdk.gateway4.sa.sa_family, 0);
}

Test(config_parse, dpdk_every_field)
{
	cr_assert_eq(parse(DPDK_BASE
			   "dpdk:\n"
			   "  eal: [\"-l\", \"0-1\", \"--no-huge\", \"--vdev=net_tap0,iface=vd0\"]\n"
			   "  port: net_tap0\n  exception: net_tap1\n"
			   "  mbufs: 16383\n  rx_desc: 512\n  tx_desc: 2048\n"
			   "  networks: [10.200.0.0/24, \"fd00:200::/64\", 10.9.8.7/8]\n"
			   "  gateway: 10.200.0.1\n  gateway6: \"fd00:200::1\"\n"),
		     0, "%s", err);
	const struct vd_cfg_dpdk *d = &cfg.dpdk;
	cr_expect(d->enabled);
	cr_assert_eq(d->n_eal, 4);
	cr_expect_str_eq(d->eal[1], "0-1");
	cr_expect_str_eq(d->eal[3], "--vdev=net_tap0,iface=vd0");
	cr_expect_str_eq(d->port, "net_tap0");
	cr_expect_str_eq(d->exception, "net_tap1");
	cr_expect_eq(d->mbufs, 16383);
	cr_expect_eq(d->rx_desc, 512);
	cr_expect_eq(d->tx_desc, 2048);
	cr_assert_eq(d->n_networks, 3);
	cr_expect_eq(d->networks[0].family, AF_INET);
	cr_expect_eq(d->networks[0].bits, 24);
	cr_expect_eq(d->networks[1].family, AF_INET6);
	cr_expect_eq(d->networks[1].bits, 64);
	cr_expect_eq(d->networks[1].addr[0], 0xfd);
	/* host bits are cleared: 10.9.8.7/8 is 10.0.0.0/8 */
	cr_expect_eq(d->networks[2].addr[0], 10);
	cr_expect_eq(d->networks[2].addr[1], 0);
	const struct sockaddr_in *g4 = (const struct sockaddr_in *)&d->gateway4;
	const struct sockaddr_in6 *g6 = (const struct sockaddr_in6 *)&d->gateway6;
	cr_expect_eq(g4->sin_family, AF_INET);
	cr_expect_eq(g4->sin_addr.s_addr, htonl(0x0ac80001));
	cr_expect_eq(g6->sin6_family, AF_INET6);
	cr_expect_eq(g6->sin6_addr.s6_addr[15], 1);
}

Test(config_parse, dpdk_empty_section_and_disabled)
{
	cr_assert_eq(parse(DPDK_BASE "dpdk: {}\n"), 0, "%s", err);
	cr_expect(cfg.dpdk.enabled, "an empty dpdk: section selects the DPDK datapath");
	cr_assert_eq(parse(DPDK_BASE "dpdk: {enabled: false, eal: [\"-l\", \"0\"]}\n"), 0, "%s",
		     err);
	cr_expect_not(cfg.dpdk.enabled);
	cr_expect_eq(cfg.dpdk.n_eal, 2, "kept for a later --dpdk run");
}

Test(config_parse, dpdk_bad_values_name_the_field)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{"dpdk: {enabled: maybe}\n", "dpdk.enabled: \"maybe\" is not true or false"},
		{"dpdk: {gateway: \"fd00::1\"}\n", "dpdk.gateway: \"fd00::1\" is not a numeric IPv4"},
		{"dpdk: {gateway6: 10.0.0.1}\n", "dpdk.gateway6: \"10.0.0.1\" is not a numeric IPv6"},
		{"dpdk: {networks: [10.0.0.0/33]}\n", "dpdk.networks: \"10.0.0.0/33\" is not a prefix"},
		{"dpdk: {networks: [lan]}\n", "dpdk.networks: \"lan\" is not a prefix"},
		{"dpdk: {mbufs: 100}\n", "dpdk.mbufs: 100 is too few"},
		{"dpdk: {rx_desc: 8}\n", "dpdk.rx_desc: 8 is too few"},
		{"dpdk: {tx_desc: 40000}\n", "dpdk.tx_desc: 40000 is out of range"},
		{"dpdk: {port: \"net tap\"}\n", "dpdk.port: \"net tap\" is not a DPDK device name"},
		{"dpdk: {port: net_tap0, exception: net_tap0}\n",
		 "dpdk.exception: \"net_tap0\" is also the data port"},
		{"dpdk: {eal: \"-l 0\"}\n", "dpdk.eal: expected a list"},
		{"dpdk: {lcores: 2}\n", "dpdk.lcores: unknown key"},
	};
	char doc[1024];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "%s%s", DPDK_BASE, bad[i].yaml);
		cr_expect_eq(parse(doc), -EINVAL, "accepted: %s", bad[i].yaml);
		cr_expect(strstr(err, bad[i].want) != NULL, "%s  got  %s\n  want %s", bad[i].yaml,
			  err, bad[i].want);
	}
}

Test(config_parse, dpdk_too_many_networks)
{
	char doc[2048];
	int n = snprintf(doc, sizeof(doc), "%sdpdk:\n  networks:\n", DPDK_BASE);
	for (int i = 0; i <= VD_CFG_DPDK_MAX_NETS; i++)
		n += snprintf(doc + n, sizeof(doc) - (size_t)n, "    - 10.%d.0.0/16\n", i);
	cr_expect_eq(parse(doc), -EINVAL);
	cr_expect(strstr(err, "dpdk.networks: 17 prefixes, at most 16") != NULL, "%s", err);
}

Test(config_parse, policy_keys_and_their_defaults)
{
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL), 0, "%s", err);
	cr_expect_str_eq(cfg.policy.server_header, "viaduct");
	cr_expect_eq(cfg.policy.n_proxy_require, 0);
	cr_expect_eq(cfg.policy.n_trusted, 0);
	cr_expect_eq(cfg.policy.untrusted_route, VD_UNTRUSTED_TO_POOL);
	cr_expect_eq(cfg.limits.max_vias, 70, "a 20+ Via path is legitimate (RFC 3261 8.1.1.6)");
	vd_config_free(&cfg);

	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL
			   "proxy_require: [sec-agree, path]\nserver_header: ''\n"
			   "trusted_next_hops: [192.0.2.0/24, '2001:db8::1', localhost]\n"
			   "untrusted_route: reject\n"),
		     0, "%s", err);
	cr_expect_eq(cfg.policy.n_proxy_require, 2);
	cr_expect_str_eq(cfg.policy.proxy_require[1], "path");
	cr_expect_str_eq(cfg.policy.server_header, "", "empty: no Server header");
	cr_expect_geq(cfg.policy.n_trusted, 3, "a name adds each of its addresses");
	cr_expect_eq(cfg.policy.trusted[0].bits, 24);
	cr_expect_eq(cfg.policy.trusted[1].bits, 128);
	cr_expect_eq(cfg.policy.untrusted_route, VD_UNTRUSTED_REJECT);
	vd_config_free(&cfg);

	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{ "proxy_require: ['sec agree']\n", "proxy_require: \"sec agree\" is not an option tag" },
		{ "untrusted_route: relay\n", "untrusted_route: \"relay\" is not pool or reject" },
		{ "trusted_next_hops: [no-such-host.invalid]\n",
		  "trusted_next_hops: \"no-such-host.invalid\" is not a prefix or an address" },
		{ "server_header: \"a\\tb\"\n", "server_header: control character at 1" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char doc[512];
		snprintf(doc, sizeof(doc), "listeners: [{address: 127.0.0.1}]\n" POOL "%s",
			 bad[i].yaml);
		cr_expect_eq(parse(doc), -EINVAL, "case %zu", i);
		cr_expect(strstr(err, bad[i].want), "case %zu: %s", i, err);
	}
}

Test(config_parse, branch_key_is_shared_when_configured_and_kept_across_loads_when_not)
{
	uint8_t a[16], b[16], c[16];
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL), 0, "%s", err);
	memcpy(a, cfg.policy.branch_key, 16);
	vd_config_free(&cfg);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL), 0, "%s", err);
	cr_expect(memcmp(a, cfg.policy.branch_key, 16) == 0, "a reload keeps the process's key");
	static const uint8_t zero[16];
	cr_expect(memcmp(a, zero, 16) != 0, "a random key, not zeroes");
	vd_config_free(&cfg);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL
			   "branch_key: a shared secret of ours\n"),
		     0, "%s", err);
	memcpy(b, cfg.policy.branch_key, 16);
	vd_config_free(&cfg);
	vd_branch_key_derive("a shared secret of ours", c);
	cr_expect(memcmp(b, c, 16) == 0, "every instance derives the same key from the text");
	cr_expect(memcmp(a, b, 16) != 0);
	cr_expect_eq(parse("listeners: [{address: 127.0.0.1}]\n" POOL "branch_key: short\n"),
		     -EINVAL);
	cr_expect(strstr(err, "branch_key: 5 characters, at least 16"), "%s", err);
}

/* Transports: a UDP and a TCP listener share address and port; pools and members choose
 * theirs (a member inherits its pool's); the tcp: limits have safe defaults and bounds. */
Test(config, transports_and_tcp_limits)
{
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}, {address: 127.0.0.1, transport: tcp}]\n"
			   "pools: [{name: p, transport: tcp, udp_max_bytes: 1300,\n"
			   "  members: [{host: 127.0.0.2}, {host: 127.0.0.3, transport: udp}]}]\n"
			   "tcp: {max_connections: 500, header_timeout_ms: 250}\n"),
		     0, "%s", err);
	cr_assert_eq(cfg.listeners[0].transport, VD_TP_UDP);
	cr_assert_eq(cfg.listeners[1].transport, VD_TP_TCP);
	cr_assert_eq(cfg.pools[0].transport, VD_TP_TCP);
	cr_assert_eq(cfg.pools[0].udp_max_bytes, 1300);
	cr_assert_eq(cfg.pools[0].members[0].transport, VD_TP_TCP);
	cr_assert_eq(cfg.pools[0].members[1].transport, VD_TP_UDP);
	cr_assert_eq(cfg.tcp.max_connections, 500);
	cr_assert_eq(cfg.tcp.header_timeout_ms, 250);
	cr_assert_eq(cfg.tcp.max_connections_per_ip, VD_CFG_DEFAULT_TCP_MAX_PER_IP);
	cr_assert_eq(cfg.tcp.idle_timeout_ms, VD_CFG_DEFAULT_TCP_IDLE_TIMEOUT_MS);
	cr_assert_eq(cfg.tcp.write_queue_bytes, VD_CFG_DEFAULT_TCP_WRITE_QUEUE);
	vd_config_free(&cfg);

	cr_assert_eq(parse("listeners: [{address: 127.0.0.1, transport: sctp}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.2}]}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "listeners[0].transport: \"sctp\" is not one of udp, tcp"), "%s", err);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.2, transport: ws}]}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "pool.members[0].transport:"), "%s", err);
	cr_assert_eq(parse("listeners: [{address: 127.0.0.1}]\n"
			   "pool: {name: p, members: [{host: 127.0.0.2}]}\n"
			   "tcp: {write_queue_bytes: 10}\n"),
		     -EINVAL);
	cr_assert(strstr(err, "tcp.write_queue_bytes: 10 is out of range"), "%s", err);
}

/* ---- a pool's outlier: section (passive health) ---- */

#define OUTLIER_BASE                                                                       \
	"listeners: [{address: 127.0.0.1, port: 5060}]\n"                                  \
	"pools:\n  - name: p\n    members: [{host: 127.0.0.1, port: 5070}]\n"

Test(config_parse, outlier_defaults_every_field_and_included_pools)
{
	cr_assert_eq(parse(OUTLIER_BASE), 0, "%s", err);
	const struct vd_cfg_outlier *o = &cfg.pools[0].outlier;
	cr_expect(o->retry_after, "503 Retry-After is honoured by default");
	cr_expect(o->overload_control, "and RFC 7339 oc");
	cr_expect_not(o->detection, "outlier detection is asked for");
	cr_expect_eq(o->retry_after_max_s, VD_CFG_DEFAULT_RETRY_AFTER_MAX_S);
	cr_expect_eq(o->interval_ms, VD_CFG_DEFAULT_OUTLIER_INTERVAL_MS);
	cr_expect_eq(o->min_requests, VD_CFG_DEFAULT_OUTLIER_MIN_REQUESTS);
	cr_expect_eq(o->min_success_percent, VD_CFG_DEFAULT_OUTLIER_MIN_SUCCESS);
	cr_expect_eq(o->stdev_permille, VD_CFG_DEFAULT_OUTLIER_STDEV);
	cr_expect_eq(o->ejection_ms, VD_CFG_DEFAULT_EJECTION_MS);
	cr_expect_eq(o->max_ejection_ms, VD_CFG_DEFAULT_MAX_EJECTION_MS);
	cr_expect_eq(o->max_ejection_percent, VD_CFG_DEFAULT_MAX_EJECTION_PERCENT);
	cr_expect_eq(o->slow_start_ms, 0);

	cr_assert_eq(parse(OUTLIER_BASE
			   "    outlier: {retry_after: false, retry_after_max_s: 60,\n"
			   "              overload_control: no, detection: yes,\n"
			   "              interval_ms: 5000,\n"
			   "              min_requests: 20, min_success_percent: 70,\n"
			   "              stdev_permille: 1000, ejection_ms: 2000,\n"
			   "              max_ejection_ms: 4000, max_ejection_percent: 50,\n"
			   "              slow_start_ms: 30000}\n"),
		     0, "%s", err);
	o = &cfg.pools[0].outlier;
	cr_expect(!o->retry_after && !o->overload_control && o->detection);
	cr_expect_eq(o->retry_after_max_s, 60);
	cr_expect_eq(o->interval_ms, 5000);
	cr_expect_eq(o->min_requests, 20);
	cr_expect_eq(o->min_success_percent, 70);
	cr_expect_eq(o->stdev_permille, 1000);
	cr_expect_eq(o->ejection_ms, 2000);
	cr_expect_eq(o->max_ejection_ms, 4000);
	cr_expect_eq(o->max_ejection_percent, 50);
	cr_expect_eq(o->slow_start_ms, 30000);

	/* a long base ejection raises the default ceiling with it */
	cr_assert_eq(parse(OUTLIER_BASE "    outlier: {ejection_ms: 600000}\n"), 0, "%s", err);
	cr_expect_eq(cfg.pools[0].outlier.max_ejection_ms, 600000);
}

Test(config_parse, outlier_bad_values_name_the_field)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{"    outlier: {retry_after: sometimes}\n",
		 "pools[0].outlier.retry_after: \"sometimes\" is not true or false"},
		{"    outlier: {max_ejection_percent: 101}\n",
		 "pools[0].outlier.max_ejection_percent: 101 is out of range"},
		{"    outlier: {interval_ms: 10}\n",
		 "pools[0].outlier.interval_ms: 10 is out of range"},
		{"    outlier: {min_requests: 0}\n",
		 "pools[0].outlier.min_requests: 0 is out of range"},
		{"    outlier: {retry_after_max_s: 0}\n",
		 "pools[0].outlier.retry_after_max_s: 0 is out of range"},
		{"    outlier: {ejection_ms: 5000, max_ejection_ms: 1000}\n",
		 "pools[0].outlier.max_ejection_ms: 1000 is shorter than ejection_ms (5000)"},
		{"    outlier: {consecutive_5xx: 5}\n",
		 "pools[0].outlier.consecutive_5xx: unknown key"},
		{"    outlier: [detection]\n", "pools[0].outlier: expected a mapping"},
	};
	char doc[1024];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "%s%s", OUTLIER_BASE, bad[i].yaml);
		cr_expect_eq(parse(doc), -EINVAL, "accepted: %s", bad[i].yaml);
		cr_expect(strstr(err, bad[i].want) != NULL, "%s  got  %s\n  want %s", bad[i].yaml,
			  err, bad[i].want);
	}
}

/* ---- the hep: section ---- */

Test(config_parse, hep_defaults_every_field_and_ipv6)
{
	cr_assert_eq(parse(DPDK_BASE), 0, "%s", err);
	cr_expect_not(cfg.hep.enabled, "no hep: no capture");
	cr_assert_eq(parse(DPDK_BASE "hep: {address: 192.0.2.9}\n"), 0, "%s", err);
	cr_expect(cfg.hep.enabled);
	cr_expect_eq(cfg.hep.addr.sa.sa_family, AF_INET);
	cr_expect_eq(ntohs(cfg.hep.addr.in.sin_port), 9060, "the HEP port by default");
	cr_expect_eq(cfg.hep.id, 0);
	cr_expect_eq(cfg.hep.sample, 100);
	cr_expect_str_eq(cfg.hep.password, "");
	cr_assert_eq(parse(DPDK_BASE "hep: {address: \"2001:db8::9\", port: 9061, id: 4294967295, "
				     "sample: 0, password: \"homer pass\"}\n"),
		     0, "%s", err);
	cr_expect_eq(cfg.hep.addr.sa.sa_family, AF_INET6);
	cr_expect_eq(ntohs(cfg.hep.addr.in6.sin6_port), 9061);
	cr_expect_eq(cfg.hep.id, 4294967295u);
	cr_expect_eq(cfg.hep.sample, 0);
	cr_expect_str_eq(cfg.hep.password, "homer pass");
	cr_assert_eq(parse(DPDK_BASE "hep: {address: \"[2001:db8::9]\"}\n"), 0, "%s", err);
	cr_expect_eq(cfg.hep.addr.sa.sa_family, AF_INET6, "an IPv6 literal in brackets");
	cr_expect_eq(ntohs(cfg.hep.addr.in6.sin6_port), 9060);
}

Test(config_parse, hep_bad_values_name_the_field)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{"hep: {port: 9060}\n", "hep.address: required field is missing"},
		{"hep: {address: \"\"}\n", "hep.address: must not be empty"},
		{"hep: {address: no.such.host.invalid}\n",
		 "hep.address: cannot resolve \"no.such.host.invalid\""},
		{"hep: {address: 192.0.2.9, port: 0}\n", "hep.port: 0 is out of range 1..65535"},
		{"hep: {address: 192.0.2.9, sample: 101}\n", "hep.sample: 101 is out of range 0..100"},
		{"hep: {address: 192.0.2.9, id: 4294967296}\n", "hep.id: 4294967296 is out of range"},
		{"hep: {address: 192.0.2.9, id: -1}\n", "hep.id: -1 is out of range"},
		{"hep: {address: 192.0.2.9, password: \"\"}\n", "hep.password: 0 characters, 1 to 64"},
		{"hep: {address: 192.0.2.9, batch: 8}\n", "hep.batch: unknown key"},
		{"hep: {address: 192.0.2.9}\ndpdk: {port: net_tap0}\n",
		 "hep: HEP capture is not supported with the DPDK datapath"},
	};
	char doc[1024];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "%s%s", DPDK_BASE, bad[i].yaml);
		cr_expect_eq(parse(doc), -EINVAL, "accepted: %s", bad[i].yaml);
		cr_expect(strstr(err, bad[i].want) != NULL, "%s  got  %s\n  want %s", bad[i].yaml,
			  err, bad[i].want);
	}
}
