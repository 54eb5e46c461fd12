/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The edge's admission, per message (struct vd_guard, include/viaduct/proxy.h):
 *
 *   before scanning   acl: (longest prefix: deny -> drop), a banned source -> drop, the
 *                     source's token bucket (over the limit: drop, or mark for a 503; enough
 *                     strikes in a row -> banned for ban_seconds)
 *   after scanning    a request marked over its limit -> 503 Retry-After; its method's
 *                     bucket (REGISTER storms); while the worker is behind with admitted
 *                     work, new dialogs and registrations are shed (503 or drop): first from
 *                     the sources whose bucket is under half, from all after 500 ms of it;
 *                     responses, ACK, CANCEL and in-dialog requests keep flowing
 *   local replies     each costs its source a reply token (no budget left: dropped, not
 *                     sent); a reply to bad input larger than the input is dropped
 *
 * Members, trusted next hops and exempt: prefixes are never limited nor shed. A source is an
 * IPv4 address or an IPv6 /64 (one subscriber's prefix). Buckets count milli-messages, so a
 * rate in messages per second refills `rate` units per millisecond. No allocation, no lock,
 * no system call: the datapath sets the clock once per batch (vd_guard_tick).
 */
#include <string.h>

#include "proxy_internal.h"

#define MILLI 1000u
#define HOT_EVERY 256u /* a limited source is (re)noted in the hot list every this many */

static uint64_t source_key(const union vd_sockaddr *a, uint8_t *family)
{
	uint64_t k = 0;
	if (a->sa.sa_family == AF_INET) {
		*family = AF_INET;
		return a->in.sin_addr.s_addr;
	}
	if (IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr)) {
		uint32_t v4;
		memcpy(&v4, a->in6.sin6_addr.s6_addr + 12, 4);
		*family = AF_INET;
		return v4;
	}
	*family = AF_INET6;
	memcpy(&k, a->in6.sin6_addr.s6_addr, 8); /* the /64 */
	return k;
}

static bool banned(const struct vd_guard_src *e, uint32_t now)
{
	return e->ban_until_ms && (int32_t)(e->ban_until_ms - now) > 0;
}

/* The source's entry, made if new: a free slot of its set, else the slot seen longest ago
 * that is not banned (else the one seen longest ago). */
static struct vd_guard_src *entry(const struct vd_proxy_guard *G, struct vd_guard *g,
				  const union vd_sockaddr *src)
{
	uint8_t family;
	uint64_t key = source_key(src, &family);
	uint64_t h = (key ^ family) * 0x9e3779b97f4a7c15ull;
	struct vd_guard_src *set = &g->src[(uint32_t)(h >> 32) & g->set_mask], *victim = NULL;
	uint32_t now = g->now_ms, victim_age = 0;
	bool victim_banned = true;
	for (unsigned w = 0; w < VD_GUARD_WAYS; w++) {
		struct vd_guard_src *e = &set[w];
		if (e->family == family && e->key == key)
			return e;
		if (!e->family) {
			victim = e;
			break;
		}
		uint32_t age = now - e->seen_ms;
		bool b = banned(e, now);
		if (!victim || (victim_banned && !b) || (b == victim_banned && age > victim_age)) {
			victim = e;
			victim_age = age;
			victim_banned = b;
		}
	}
	*victim = (struct vd_guard_src){ .key = key, .family = family, .seen_ms = now,
					 .tokens = G->burst, .reply_tokens = G->reply_burst };
	return victim;
}

static uint32_t refill_one(uint32_t tokens, uint32_t elapsed, uint32_t rate, uint32_t cap)
{
	uint64_t t = tokens + (uint64_t)elapsed * rate;
	return t > cap ? cap : (uint32_t)t;
}

static void refill(const struct vd_proxy_guard *G, struct vd_guard_src *e, uint32_t now)
{
	uint32_t elapsed = now - e->seen_ms;
	if (!elapsed)
		return;
	e->tokens = refill_one(e->tokens, elapsed, G->rate, G->burst);
	e->reply_tokens = refill_one(e->reply_tokens, elapsed, G->reply_rate, G->reply_burst);
	e->seen_ms = now;
}

/* Note a limited or banned source in the worker's hot list (read by the admin thread): its
 * own slot, else a free one, else the least limited that is not banned. */
static void hot_note(struct vd_guard *g, const struct vd_guard_src *e)
{
	struct vd_guard_hot *slot = NULL;
	for (unsigned i = 0; i < VD_GUARD_HOT && !slot; i++)
		if (g->hot[i].family == e->family && g->hot[i].key == e->key)
			slot = &g->hot[i];
	for (unsigned i = 0; i < VD_GUARD_HOT && !slot; i++)
		if (!g->hot[i].family)
			slot = &g->hot[i];
	for (unsigned i = 0; i < VD_GUARD_HOT; i++) {
		struct vd_guard_hot *h = &g->hot[i];
		if (slot)
			break;
		bool hb = h->ban_until_ms && (int32_t)(h->ban_until_ms - g->now_ms) > 0;
		if (!hb && h->strikes < e->strikes)
			slot = h;
	}
	if (!slot)
		return;
	__atomic_store_n(&slot->key, e->key, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->strikes, e->strikes, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->ban_until_ms, e->ban_until_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->family, e->family, __ATOMIC_RELAXED);
}

static bool exempt(const struct vd_proxy_guard *G, const union vd_sockaddr *src)
{
	return G->exempt && vd_lpm_lookup(G->exempt, src);
}

bool vd_guard_admit(const struct vd_proxy *px, struct vd_guard *g, const union vd_sockaddr *src,
		    struct vd_result *res)
{
	const struct vd_proxy_guard *G = &px->guard;
	if (G->acl && vd_lpm_lookup(G->acl, src) == VD_GUARD_DENY) {
		vd_result_drop(res, VD_DROP_ACL);
		return false;
	}
	if (!G->rate) /* nothing per source before the decision: a reply looks it up then */
		return true;
	if ((g->exempt = exempt(G, src)))
		return true;
	struct vd_guard_src *e = g->cur = entry(G, g, src);
	uint32_t now = g->now_ms;
	if (e->ban_until_ms) {
		if (banned(e, now)) {
			vd_result_drop(res, VD_DROP_BANNED);
			return false;
		}
		e->ban_until_ms = 0; /* served its time: a full bucket again */
		e->strikes = 0;
		e->tokens = G->burst;
		hot_note(g, e);
	}
	refill(G, e, now);
	if (e->tokens >= MILLI) {
		/* strikes end once the source has been under its rate for a while (half a burst
		 * saved up), not at the next token: a flood gets one token per refill and would
		 * otherwise never strike out */
		if (e->tokens >= G->burst / 2)
			e->strikes = 0;
		e->tokens -= MILLI;
		return true;
	}
	e->strikes++;
	res->guard |= VD_GUARD_EV_LIMITED;
	if (G->ban_after && e->strikes >= G->ban_after) {
		e->ban_until_ms = now + G->ban_ms ? now + G->ban_ms : 1;
		res->guard |= VD_GUARD_EV_BAN;
		hot_note(g, e);
		vd_result_drop(res, VD_DROP_RATE_LIMITED);
		return false;
	}
	if (e->strikes % HOT_EVERY == 1)
		hot_note(g, e);
	if (G->over == VD_OVER_DROP) {
		vd_result_drop(res, VD_DROP_RATE_LIMITED);
		return false;
	}
	g->limited = true; /* answered 503 once scanned, if it is a request */
	return true;
}

/* 503 (with Retry-After) or a drop, as `reply` says. */
static void refuse(const struct vd_proxy *px, const struct vd_sip_msg *m,
		   const union vd_sockaddr *src, bool reply, enum vd_drop why,
		   struct vd_proxy_scratch *s, struct vd_result *res)
{
	if (reply)
		vd_proxy_reply(px, m, src, 503, "Service Unavailable", s, res);
	else
		vd_result_drop(res, why);
}

/* Creates a dialog or a registration (or is a standalone request): what sheds first. */
static bool initial(const struct vd_sip_msg *m)
{
	return !m->to_tag.len && m->method != VD_M_ACK && m->method != VD_M_CANCEL;
}

bool vd_guard_scanned(const struct vd_proxy *px, struct vd_guard *g, enum vd_sip_err e,
		      const union vd_sockaddr *src, struct vd_proxy_scratch *s,
		      struct vd_result *res)
{
	const struct vd_proxy_guard *G = &px->guard;
	const struct vd_sip_msg *m = &s->msg;
	if (g->limited) { /* over its source's limit, over: reply */
		bool answer = e == VD_SIP_OK && m->is_request && m->method != VD_M_ACK;
		refuse(px, m, src, answer, VD_DROP_RATE_LIMITED, s, res);
		return true;
	}
	if (e != VD_SIP_OK || !m->is_request || !initial(m))
		return false;
	/* shed while overloaded: the sources spending their allowance fastest first */
	bool overloaded = g->behind_ms && g->behind_ms >= G->overload_ms;
	bool shed_all = g->behind_ms >= G->overload_ms + VD_GUARD_SHED_ALL_MS;
	bool shed = overloaded && G->shed != VD_SHED_OFF &&
		    (shed_all || !G->rate || !g->cur || g->cur->tokens < G->burst / 2);
	uint32_t rate = G->methods && m->method < VD_M__COUNT ? G->method_rate[m->method] : 0;
	if (!shed && !rate)
		return false;
	if (g->exempt < 0)
		g->exempt = exempt(G, src);
	if (g->exempt)
		return false;
	if (shed) {
		res->guard |= VD_GUARD_EV_SHED;
		refuse(px, m, src, G->shed == VD_SHED_REPLY, VD_DROP_SHED, s, res);
		return true;
	}
	uint32_t now = g->now_ms, burst = G->method_burst[m->method];
	__typeof__(g->method[0]) *b = &g->method[m->method];
	if (!b->seen_ms) /* first use: a full bucket */
		b->tokens = burst;
	else
		b->tokens = refill_one(b->tokens, now - b->seen_ms, rate, burst);
	b->seen_ms = now;
	if (b->tokens >= MILLI) {
		b->tokens -= MILLI;
		return false;
	}
	res->guard |= VD_GUARD_EV_METHOD;
	refuse(px, m, src, G->over == VD_OVER_REPLY, VD_DROP_RATE_LIMITED, s, res);
	return true;
}

void vd_guard_replied(const struct vd_proxy *px, struct vd_guard *g,
		      const union vd_sockaddr *src, uint32_t in_len, struct vd_result *res)
{
	const struct vd_proxy_guard *G = &px->guard;
	if (res->verdict != VD_VERDICT_REPLY)
		return;
	/* garbage never gets more bytes back than it sent (a spoofed source's reflector) */
	if (res->sip_err != VD_SIP_OK && res->reply_len > in_len) {
		vd_result_drop(res, VD_DROP_REPLY_AMPLIFIES);
		return;
	}
	if (!G->reply_rate)
		return;
	struct vd_guard_src *e = g->cur;
	if (!e) { /* without a per-source rate the source is looked up for replies only */
		if (g->exempt < 0)
			g->exempt = exempt(G, src);
		if (g->exempt)
			return;
		e = g->cur = entry(G, g, src);
		if (banned(e, g->now_ms)) /* a ban outlives its rate_limit: section on reload */
			e->ban_until_ms = 0;
		refill(G, e, g->now_ms);
	}
	if (e->reply_tokens < MILLI) {
		vd_result_drop(res, VD_DROP_REPLY_LIMITED);
		return;
	}
	e->reply_tokens -= MILLI;
}
