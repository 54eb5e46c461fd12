/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Who the proxy trusts and what counts as itself (the "no open relay" policy):
 *
 *  - a Route (or a strict-router Request-URI) is followed only to a pool member or an address
 *    inside trusted_next_hops; anything else goes to the pool with its Route intact, or is
 *    refused, as untrusted_route says (request.c);
 *  - a request from a member or a trusted peer travels outward and is routed by its Route set,
 *    else its Request-URI, never back into the pool;
 *  - an address of this host (wildcard, loopback, any interface) at a listener's port is us,
 *    whatever we advertise: a Route naming it is popped, a member equal to it is a config
 *    error. Otherwise such a request would go round through the kernel until the Via limit.
 *
 * The member set is a small open-addressing table built with the snapshot: membership is one
 * hash and one or two compares, whatever the pool sizes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_internal.h"



/* The bound address itself is in px->local (every interface address is), so one check of the
 * port and one of the address cover a listener bound to a single address too. */
bool vd_addr_is_local_listener(const struct vd_proxy *px, const union vd_sockaddr *a)
{
	uint16_t port = vd_addr_port(a);
	bool port_ours = false;
	for (unsigned i = 0; i < px->n_listeners && !port_ours; i++)
		port_ours = vd_addr_port(&px->listeners[i].bind) == port;
	return port_ours && vd_addr_in_prefixes(px->local, px->n_local, a);
}

int vd_member_set_build(struct vd_proxy *px)
{
	unsigned n = 0;
	for (unsigned i = 0; i < px->n_pools; i++)
		n += px->pools[i].n_members;
	uint32_t size = 8;
	while (size < 2 * n)
		size *= 2;
	px->member_set = calloc(size, sizeof(*px->member_set));
	px->member_info = calloc(size, sizeof(*px->member_info));
	if (!px->member_set || !px->member_info) {
		vd_member_set_free(px);
		return -ENOMEM;
	}
	px->member_set_mask = size - 1;
	for (unsigned i = 0; i < px->n_pools; i++)
		for (unsigned j = 0; j < px->pools[i].n_members; j++) {
			const union vd_sockaddr *m = &px->pools[i].members[j];
			uint32_t k = (uint32_t)vd_sockaddr_hash(m) & px->member_set_mask;
			while (px->member_set[k].sa.sa_family && !vd_sockaddr_equal(&px->member_set[k], m))
				k = (k + 1) & px->member_set_mask;
			if (!px->member_set[k].sa.sa_family) /* the first pool it is in names it */
				px->member_info[k] = (struct vd_proxy_member_info){
					.pool = (uint16_t)i, .member = (uint16_t)j };
			px->member_set[k] = *m;
			px->member_info[k].signals |= px->pools[i].signals;
		}
	return 0;
}

void vd_member_set_free(struct vd_proxy *px)
{
	free(px->member_set);
	free(px->member_info);
	px->member_set = NULL;
	px->member_info = NULL;
	px->member_set_mask = 0;
}

const struct vd_proxy_member_info *vd_proxy_member_find(const struct vd_proxy *px,
							const union vd_sockaddr *a)
{
	if (!px->member_set)
		return NULL;
	uint32_t k = (uint32_t)vd_sockaddr_hash(a) & px->member_set_mask;
	while (px->member_set[k].sa.sa_family) {
		if (vd_sockaddr_equal(&px->member_set[k], a))
			return &px->member_info[k];
		k = (k + 1) & px->member_set_mask;
	}
	return NULL;
}

bool vd_addr_is_member(const struct vd_proxy *px, const union vd_sockaddr *a)
{
	return vd_proxy_member_find(px, a) != NULL;
}

bool vd_next_hop_trusted(const struct vd_proxy *px, const union vd_sockaddr *dst)
{
	return vd_addr_is_member(px, dst) || vd_addr_in_prefixes(px->trusted, px->n_trusted, dst);
}

bool vd_source_is_inside(const struct vd_proxy *px, const union vd_sockaddr *src)
{
	return vd_addr_is_member(px, src) || vd_addr_in_prefixes(px->trusted, px->n_trusted, src);
}
