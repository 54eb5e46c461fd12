/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Our Via branch, and how a response proves it belongs to a request we forwarded.
 *
 *   branch = "z9hG4bK" "vd" <16 hex: transaction hash> <8 hex: loop key> <8 hex: response check>
 *            [<16 hex: connection token>]
 *
 * The transaction hash is RFC 3261 16.11's: the same for a retransmission and for the CANCEL
 * and non-2xx ACK of an INVITE (it hashes what they share). The loop key (16.6 step 8, checked
 * by 16.3 step 4) hashes what decides where we send a request: its Request-URI and topmost
 * Route as received. A request that comes back carrying one of our Vias with the loop key it
 * has now would be sent the same way again: a loop (482); one whose Request-URI or Route
 * changed in between is a spiral and goes on. A CANCEL and a non-2xx ACK share both with their
 * INVITE (RFC 3261 9.1, 17.1.1.3), so 16.11 holds. The response check is a keyed MAC
 * (SipHash-2-4 from libsodium: a PRF, unlike xxhash) of where the response to this request
 * must go, i.e. the address the Via below ours will name once it is back (the client's source
 * address; its port by rport, else the sent-by port). A response is relayed only when its next
 * Via yields the same check: a forged response carrying our address
 * in its top Via cannot aim us at another address without the key. The key comes from the
 * config (instances behind one address share it) or is made at start (kept across reloads), so
 * branches stay deterministic for 16.11 within an instance.
 *
 * A request that came over a connection (TCP) carries the datapath's token of that connection
 * after the check, and the check covers it: the response goes back over that very connection
 * (RFC 3261 18.2.2), found without any state of ours, and nobody without the key can aim a
 * response at another client's connection.
 */
#include <string.h>

#include <sodium.h>
#include <xxhash.h>

#include "proxy_internal.h"

#define BRANCH_MARKER "vd"
#define MARKER_LEN (sizeof(BRANCH_MARKER) - 1)
#define TXN_HEX 16
#define LOOP_HEX 8
#define CHECK_HEX 8
#define LOOP_OFF (VD_MAGIC_COOKIE_LEN + MARKER_LEN + TXN_HEX) /* in the branch value */
#define LOOP_SEED 0x6c6f6f706b657931ULL /* "loopkey1": a loop key must not change across versions */

_Static_assert(VD_MAGIC_COOKIE_LEN + MARKER_LEN + TXN_HEX + LOOP_HEX + CHECK_HEX == VD_BRANCH_LEN,
	       "branch layout");
_Static_assert(crypto_shorthash_KEYBYTES == VD_BRANCH_KEY_LEN, "SipHash key size");

uint64_t vd_branch_txn_hash(const struct vd_proxy *px, const struct vd_sip_msg *m)
{
	const struct vd_sip_via *v = &m->via;
	uint64_t h = px->branch_seed;

	if (v->branch.len > VD_MAGIC_COOKIE_LEN &&
	    memcmp(v->branch.p, VD_MAGIC_COOKIE, VD_MAGIC_COOKIE_LEN) == 0) {
		h = XXH3_64bits_withSeed(v->branch.p, v->branch.len, h);
		h = XXH3_64bits_withSeed(v->host.p, v->host.len, h ^ v->port);
		return h;
	}
	uint32_t cseq = m->cseq;
	h = XXH3_64bits_withSeed(m->ruri.p, m->ruri.len, h);
	h = XXH3_64bits_withSeed(m->to_tag.p, m->to_tag.len, h);
	h = XXH3_64bits_withSeed(m->from_tag.p, m->from_tag.len, h);
	h = XXH3_64bits_withSeed(m->call_id.p, m->call_id.len, h);
	h = XXH3_64bits_withSeed(&cseq, sizeof(cseq), h);
	return XXH3_64bits_withSeed(m->buf + v->value_off, v->value_end - v->value_off, h);
}

/* The MAC covers the address and port only (6 or 18 bytes: about half the SipHash work of
 * adding the client's branch, measured). That is what the check is for: a response goes only
 * where its request came from; a forger who learnt one of our branches can aim it nowhere but
 * there. */
uint32_t vd_branch_check(const uint8_t key[VD_BRANCH_KEY_LEN], const union vd_sockaddr *dst,
			 uint64_t conn)
{
	uint8_t in[16 + 2 + 8];
	size_t n;
	if (dst->sa.sa_family == AF_INET) {
		memcpy(in, &dst->in.sin_addr, 4);
		n = 4;
	} else {
		memcpy(in, &dst->in6.sin6_addr, 16);
		n = 16;
	}
	memcpy(in + n, &dst->in.sin_port, 2); /* sin_port and sin6_port coincide */
	n += 2;
	if (conn) {
		memcpy(in + n, &conn, 8);
		n += 8;
	}
	uint8_t mac[crypto_shorthash_BYTES];
	crypto_shorthash(mac, in, n, key);
	uint32_t c;
	memcpy(&c, mac, sizeof(c));
	return c;
}

void vd_branch_reply_addr(const struct vd_sip_via *v, const union vd_sockaddr *src,
			  union vd_sockaddr *dst)
{
	*dst = *src;
	uint16_t port = v->port ? v->port : VD_SIP_DEFAULT_PORT;
	if (v->rport.p && v->rport.len == 0)
		port = vd_addr_port(src);
	else if (v->rport.len && !vd_parse_port(v->rport, &port))
		port = 0; /* no response can go there: any check will do */
	dst->in.sin_port = htons(port); /* sin_port and sin6_port coincide */
}

uint32_t vd_branch_loop_key(const struct vd_sip_msg *m)
{
	uint64_t h = XXH3_64bits_withSeed(m->ruri.p, m->ruri.len, LOOP_SEED);
	if (m->has_route)
		h = XXH3_64bits_withSeed(m->buf + m->route.value_off,
					 m->route.value_end - m->route.value_off, h);
	return (uint32_t)h;
}

uint32_t vd_branch_write(const uint8_t key[VD_BRANCH_KEY_LEN], uint64_t txn, uint32_t loop,
			 const union vd_sockaddr *reply_to, uint64_t conn, char *out)
{
	memcpy(out, VD_MAGIC_COOKIE BRANCH_MARKER, VD_MAGIC_COOKIE_LEN + MARKER_LEN);
	char *p = out + VD_MAGIC_COOKIE_LEN + MARKER_LEN;
	vd_put_hex64(p, txn);
	/* loop key and check: one 64-bit value, 16 hex digits */
	vd_put_hex64(p + TXN_HEX, (uint64_t)loop << 32 | vd_branch_check(key, reply_to, conn));
	if (!conn)
		return VD_BRANCH_LEN;
	vd_put_hex64(out + VD_BRANCH_LEN, conn);
	return VD_BRANCH_CONN_LEN;
}

static bool branch_end(char c)
{
	return c == ';' || c == ',' || c == ' ' || c == '\t' || c == '\r';
}

/* 16 lower-case hex digits (what vd_put_hex64 writes) to a value; false for anything else. */
static bool parse_hex64(const char *p, uint64_t *v)
{
	uint64_t x = 0;
	for (int i = 0; i < 16; i++) {
		char c = p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		x = x << 4 | d;
	}
	*v = x;
	return true;
}

/* Does the branch value starting at b (at most `room` bytes to the end of its header value)
 * have our form and this loop key? */
static bool branch_has_loop(const char *b, size_t room, const char loop_hex[LOOP_HEX])
{
	if (room < VD_BRANCH_LEN ||
	    memcmp(b, VD_MAGIC_COOKIE BRANCH_MARKER, VD_MAGIC_COOKIE_LEN + MARKER_LEN) != 0)
		return false;
	/* ours ends after the check, or after a connection token */
	if (room > VD_BRANCH_LEN && !branch_end(b[VD_BRANCH_LEN]) &&
	    !(room >= VD_BRANCH_CONN_LEN &&
	      (room == VD_BRANCH_CONN_LEN || branch_end(b[VD_BRANCH_CONN_LEN]))))
		return false; /* a longer branch: not ours */
	return memcmp(b + LOOP_OFF, loop_hex, LOOP_HEX) == 0;
}

bool vd_branch_loops(const struct vd_sip_msg *m, uint32_t loop)
{
	char hex[16];
	vd_put_hex64(hex, loop); /* the key is the last 8 digits */
	const char *loop_hex = hex + 16 - LOOP_HEX;
	if (m->via_count == 1) /* the common case: only the client's Via, already parsed */
		return branch_has_loop(m->via.branch.p, m->via.branch.len, loop_hex);
	/* our branches start "z9hG4bKvd": find each 'z' (rare in a Via but for the cookies) and
	 * look there; a memchr a line, where memmem's setup cost more than the search */
	for (uint16_t i = m->via.hdr; i < m->n_hdrs; i++) {
		const struct vd_sip_header *h = &m->hdrs[i];
		if (h->kind != VD_H_VIA)
			continue;
		const char *p = h->value.p, *end = p + h->value.len;
		while ((p = memchr(p, 'z', (size_t)(end - p)))) {
			if (p[-1] == '=' && branch_has_loop(p, (size_t)(end - p), loop_hex))
				return true;
			p++;
		}
	}
	return false;
}

bool vd_branch_verify(const uint8_t key[VD_BRANCH_KEY_LEN], struct vd_slice our_branch,
		      const union vd_sockaddr *reply_to, uint64_t *conn)
{
	*conn = 0;
	if (our_branch.len == VD_BRANCH_CONN_LEN) {
		if (!parse_hex64(our_branch.p + VD_BRANCH_LEN, conn) || !*conn)
			return false;
	} else if (our_branch.len != VD_BRANCH_LEN) {
		return false;
	}
	char check[TXN_HEX];
	vd_put_hex64(check, vd_branch_check(key, reply_to, *conn));
	return memcmp(our_branch.p + VD_BRANCH_LEN - CHECK_HEX, check + TXN_HEX - CHECK_HEX,
		      CHECK_HEX) == 0;
}

void vd_branch_key_derive(const char *text, uint8_t key[VD_BRANCH_KEY_LEN])
{
	/* BLAKE2b of the configured text: any passphrase gives a full-strength key */
	crypto_generichash(key, VD_BRANCH_KEY_LEN, (const unsigned char *)text, strlen(text), NULL,
			   0);
}

int vd_branch_for_response(const uint8_t key[VD_BRANCH_KEY_LEN], const struct vd_sip_msg *resp,
			   uint64_t txn, char out[VD_BRANCH_LEN])
{
	union vd_sockaddr dst;
	if (!resp->via.transport.p || !vd_via_destination(&resp->via, &dst))
		return -1;
	vd_branch_write(key, txn, 0, &dst, 0, out);
	return 0;
}
