/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal interface between the proxy's files: request and response handling, local
 * replies, and the address helpers they share. Not a public header.
 */
#ifndef VD_PROXY_INTERNAL_H
#define VD_PROXY_INTERNAL_H

#include "edit.h"
#include "viaduct/proxy.h"

#define VD_SIP_DEFAULT_PORT 5060
#define VD_MAGIC_COOKIE "z9hG4bK" /* RFC 3261 8.1.1.7 */
#define VD_MAGIC_COOKIE_LEN 7
#define VD_MAX_FORWARDS_DEFAULT 70 /* RFC 3261 16.6 step 3 */
#define VD_MAX_ROUTES 32          /* Route values examined per request */

/* --- addr.c --- */

/** Literal host (IPv4, [IPv6]) + port (0 -> 5060) to a socket address. False for FQDNs. */
bool vd_addr_from_host(struct vd_slice host, uint8_t host_type, uint16_t port,
		       union vd_sockaddr *out);
/** A bare or bracketed IPv4/IPv6 address (a received= value) + port to a socket address. */
bool vd_addr_from_ip_text(struct vd_slice text, uint16_t port, union vd_sockaddr *out);
/** Decimal port 1..65535. */
bool vd_parse_port(struct vd_slice s, uint16_t *port);
/** Is host:port (port 0 = 5060) one of our listeners' advertised or bound addresses? */
bool vd_addr_is_ours(const struct vd_proxy *px, struct vd_slice host, uint8_t host_type,
		     uint16_t port);
/** Does the literal host equal the IP of addr? FQDNs never do. */
bool vd_addr_host_equals(struct vd_slice host, uint8_t host_type, const union vd_sockaddr *a);
/** Decimal digits of v to out; returns the length (at most 10). */
uint32_t vd_put_u32(char *out, uint32_t v);
/** 16 lower-case hex digits of v. */
void vd_put_hex64(char *out, uint64_t v);
/* The byte-loop twin of vd_put_hex64 (SSE2), kept for targets without it and for the tests. */
void vd_put_hex64_scalar(char *out, uint64_t v);

/* --- policy.c: who is trusted, what is us --- */
/** Does a reach one of our listeners (a local, wildcard or loopback address at a listener's
 * port, or a listener's exact address)? */
bool vd_addr_is_local_listener(const struct vd_proxy *px, const union vd_sockaddr *a);
/** Build / free px->member_set from the pools. 0 or -ENOMEM. */
int vd_member_set_build(struct vd_proxy *px);
void vd_member_set_free(struct vd_proxy *px);
/** Is a (address and port) a member of any pool? Hot path. */
bool vd_addr_is_member(const struct vd_proxy *px, const union vd_sockaddr *a);
/** May a Route send a request to dst: a member, or inside trusted_next_hops? */
bool vd_next_hop_trusted(const struct vd_proxy *px, const union vd_sockaddr *dst);
/** Does src send requests outward (a member, or a trusted peer)? Hot path. */
bool vd_source_is_inside(const struct vd_proxy *px, const union vd_sockaddr *src);

/* --- branch.c: our Via branch (transaction hash + keyed response check) --- */
/** RFC 3261 16.11 transaction hash of the request (its top Via is the client's). */
uint64_t vd_branch_txn_hash(const struct vd_proxy *px, const struct vd_sip_msg *m);
/** Keyed check of where a response goes: the address, and the connection when conn != 0. */
uint32_t vd_branch_check(const uint8_t key[VD_BRANCH_KEY_LEN], const union vd_sockaddr *dst,
			 uint64_t conn);
/** Where the response to a request from src with top Via v will be sent once it is back
 * (what vd_via_destination() will find in the rewritten Via). */
void vd_branch_reply_addr(const struct vd_sip_via *v, const union vd_sockaddr *src,
			  union vd_sockaddr *dst);
/** Write our branch value (no NUL): VD_BRANCH_LEN bytes, VD_BRANCH_CONN_LEN with a connection
 * token (conn != 0). Returns the length written. */
uint32_t vd_branch_write(const uint8_t key[VD_BRANCH_KEY_LEN], uint64_t txn, uint32_t loop,
			 const union vd_sockaddr *reply_to, uint64_t conn, char *out);
/** RFC 3261 16.6 step 8 loop key: the received Request-URI and topmost Route. */
uint32_t vd_branch_loop_key(const struct vd_sip_msg *m);
/** 16.3 step 4: does the request carry one of our Vias with this loop key (it would go round)? */
bool vd_branch_loops(const struct vd_sip_msg *m, uint32_t loop);
/** Does our_branch carry the check for reply_to (and its connection token, returned in *conn,
 * 0 when it has none)? */
bool vd_branch_verify(const uint8_t key[VD_BRANCH_KEY_LEN], struct vd_slice our_branch,
		      const union vd_sockaddr *reply_to, uint64_t *conn);

/* --- request.c / response.c --- */
/** Where a response goes by Via v (RFC 3261 18.2.2 for UDP, RFC 3581 4 for rport). */
bool vd_via_destination(const struct vd_sip_via *v, union vd_sockaddr *dst);
void vd_proxy_request(const struct vd_proxy *px, struct vd_pktbuf *pkt,
		      const union vd_sockaddr *src, unsigned listener,
		      struct vd_proxy_scratch *s, struct vd_result *res);
void vd_proxy_response(const struct vd_proxy *px, struct vd_pktbuf *pkt,
		       const union vd_sockaddr *src, struct vd_proxy_scratch *s,
		       struct vd_result *res);

/** Edits that add received= and fill rport= on the top Via (RFC 3261 18.2.1, RFC 3581 4). */
int vd_via_received_edits(const struct vd_sip_msg *msg, const union vd_sockaddr *src,
			  struct vd_edits *ed);

/* --- pool.c --- */
int vd_pool_init(struct vd_proxy_pool *p, const struct vd_cfg_pool *c, char *err, size_t errlen);
void vd_pool_fini(struct vd_proxy_pool *p);
/** Drop this snapshot's reference; the last frees the pool (vd_pool_fini). */
void vd_pool_release(struct vd_proxy_pool *p);
/** Make p this snapshot's own (copy its arrays if shared; tables rebuilt by the caller's
 * vd_pool_tables_build). 0 or -ENOMEM (p unchanged). */
int vd_pool_unshare(struct vd_proxy_pool *p);
int vd_pool_tables_build(struct vd_proxy_pool *p);
/** Member of the pool for this request, or -1 (no member up in any group). Hot path. */
int vd_pool_select(const struct vd_proxy_pool *p, const struct vd_sip_msg *m,
		   const union vd_sockaddr *src);

/* --- guard.c: the edge's admission (struct vd_guard) --- */
/** Before scanning: acl, bans, the source's bucket. false: res is a drop, stop. */
bool vd_guard_admit(const struct vd_proxy *px, struct vd_guard *g, const union vd_sockaddr *src,
		    struct vd_result *res);
/** After scanning (verdict e): a limited request's 503, method limits, shedding. true: res
 * is decided (a reply or a drop), stop. */
bool vd_guard_scanned(const struct vd_proxy *px, struct vd_guard *g, enum vd_sip_err e,
		      const union vd_sockaddr *src, struct vd_proxy_scratch *s,
		      struct vd_result *res);
/** After the decision: a local reply costs its source a reply token, and a reply to bad
 * input may not be larger than the input (in_len bytes). */
void vd_guard_replied(const struct vd_proxy *px, struct vd_guard *g,
		      const union vd_sockaddr *src, uint32_t in_len, struct vd_result *res);
/* guard_init.c */
int vd_guard_compile(struct vd_proxy *px, const struct vd_config *cfg, char *err, size_t errlen);
void vd_guard_release(struct vd_proxy_guard *G);

/* --- reply.c --- */

/** Build a reply (RFC 3261 8.2.6) to the scanned request into s->reply; fills res. */
/**
 * True for the ACK of a final response we generated ourselves (its To-tag is the one
 * vd_proxy_reply put there): that ACK ends at us (RFC 3261 16.11 with 17.2.1).
 */
bool vd_proxy_acks_our_reply(const struct vd_sip_msg *m);
void vd_proxy_reply(const struct vd_proxy *px, const struct vd_sip_msg *msg,
		    const union vd_sockaddr *src, int code, const char *reason,
		    struct vd_proxy_scratch *s, struct vd_result *res);
/** The same with extra header lines (each ending in CRLF) before Server/Content-Length. */
void vd_proxy_reply_with(const struct vd_proxy *px, const struct vd_sip_msg *msg,
			 const union vd_sockaddr *src, int code, const char *reason,
			 const char *extra, size_t extra_len, struct vd_proxy_scratch *s,
			 struct vd_result *res);

/** The listener whose socket sends to dst's address family, or -1. */
static inline int vd_proxy_egress(const struct vd_proxy *px, const union vd_sockaddr *dst)
{
	return dst->sa.sa_family == AF_INET6 ? px->egress_v6 : px->egress_v4;
}

/** The listener a request leaving by transport tp to dst names in our Via, or -1. */
static inline int vd_proxy_egress_via(const struct vd_proxy *px, const union vd_sockaddr *dst,
				      uint8_t tp)
{
	if (tp == VD_TP_UDP)
		return vd_proxy_egress(px, dst);
	return dst->sa.sa_family == AF_INET6 ? px->egress_stream_v6 : px->egress_stream_v4;
}

static inline void vd_result_drop(struct vd_result *res, enum vd_drop why)
{
	res->verdict = VD_VERDICT_DROP;
	res->drop = (uint8_t)why;
}

#endif
