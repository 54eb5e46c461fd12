/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The proxy every test, fuzz target and benchmark runs against: it plays the P-CSCF address of
 * the corpus call flows. It listens on 127.0.0.1:5060 advertised as 192.168.1.2:5060 (the Route
 * the UE puts in its requests) and on [::1]:5060, with a pool "pcscf" of two members,
 * 127.0.0.1:5070 and 127.0.0.1:5080, weight 1, hashed on `hash`.
 */
#ifndef VD_TEST_PROXY_FIXTURE_H
#define VD_TEST_PROXY_FIXTURE_H

#include <arpa/inet.h>
#include <string.h>

#include "viaduct/proxy.h"

/* ip ("10.0.0.1" or "::1") and port to a socket address. */
static inline union vd_sockaddr fixture_addr(const char *ip, uint16_t port)
{
	union vd_sockaddr a;
	vd_sockaddr_parse(ip, port, &a); /* the addr module's parser: tests pass literals */
	return a;
}

static inline void fixture_set(union vd_sockaddr *ss, socklen_t *len, const char *ip,
			       uint16_t port)
{
	*ss = fixture_addr(ip, port);
	*len = vd_sockaddr_len(ss);
}

/* Fill cfg and compile it into px. Returns vd_proxy_init()'s result. */
static inline int fixture_proxy(struct vd_config *cfg, struct vd_proxy *px, enum vd_hash_key hash,
				char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 1;
	cfg->batch = 32;
	cfg->retry_after = 5;
	cfg->n_listeners = 2;
	fixture_set(&cfg->listeners[0].addr, &cfg->listeners[0].addrlen, "127.0.0.1", 5060);
	strcpy(cfg->listeners[0].advertise, "192.168.1.2");
	cfg->listeners[0].advertise_port = 5060;
	fixture_set(&cfg->listeners[1].addr, &cfg->listeners[1].addrlen, "::1", 5060);
	strcpy(cfg->listeners[1].advertise, "[::1]");
	cfg->listeners[1].advertise_port = 5060;
	static struct vd_cfg_pool pool;
	static struct vd_cfg_member members[2];
	memset(&pool, 0, sizeof(pool));
	memset(members, 0, sizeof(members));
	cfg->n_pools = 1;
	cfg->pools = &pool; /* static: the fixture's config is never vd_config_free'd */
	strcpy(pool.name, "pcscf");
	pool.hash = hash;
	pool.table_size = VD_CFG_DEFAULT_TABLE_SIZE;
	pool.n_members = 2;
	pool.members = members;
	for (int i = 0; i < 2; i++) {
		fixture_set(&members[i].addr, &members[i].addrlen, "127.0.0.1",
			    (uint16_t)(5070 + 10 * i));
		members[i].weight = 1;
	}
	cfg->limits = (struct vd_cfg_limits){ 16384, 96, 16 };
	strcpy(cfg->policy.server_header, "viaduct");
	return vd_proxy_init(px, cfg, err, errlen);
}

#endif
