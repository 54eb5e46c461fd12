/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing rules, hot path: find the first rule that matches a scanned request, with a
 * per-worker scratch and no allocation.
 *
 * A message costs at most one hyperscan scan per field the rule set uses (R-URI, From, To, each
 * distinct header), whatever the number of rules; each scan has a fixed cost of a few hundred
 * instructions, so fields, not rules, are what a message pays for. The match callback ignores
 * patterns of other fields (they share the one database) and marks a rule as a candidate once
 * all its regex conditions fired: a one-regex rule on its first report, a several-regex rule
 * when its counter reaches its total. The walk visits, in rule order, only the candidates and
 * the rules without regex conditions, and checks what is left (method, listener, source prefix)
 * on those: with 10,000 number-prefix rules that is one or two rules, not 10,000.
 *
 * Fields are scanned in the order of the first rule that uses them, and the walk runs after each
 * scan over the rules that scan has decided; a winner there ends the message. So rules without
 * regexes ahead of every regex rule decide without any scan, and a set that routes on R-URI
 * prefixes first scans From or headers only for the messages no prefix rule took.
 *
 * The per-message state is reset cheaply: candidate bits are cleared only in the words this
 * message set (lo..hi), and the counters carry a generation number.
 */
#include "rules_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE	  64
#define WORD_BITS	  64
#define LISTENER_BITS	  32	       /* width of vd_rule_spec.listeners */
#define LISTENER_OVERFLOW (1ull << 63) /* stands for any listener index >= 32 */
#define V4_MAPPED_PREFIX  12	       /* ::ffff:a.b.c.d: the IPv4 address follows */
#define IPV4_BYTES	  4
#define IPV6_BYTES	  16
/* aligned_alloc() wants a multiple of the alignment */
#define SCRATCH_SIZE ((sizeof(struct vd_rules_scratch) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE)

/* What the walk needs from the message besides the candidate bits. */
struct match_in {
	uint64_t addr[2]; /* source address, IPv4 in the first 4 bytes */
	uint64_t listener_bit;
	uint32_t method_bit;
	uint8_t family; /* 0 when there is no usable source address */
};

/* ---- scratch ---- */

static size_t words_for(uint32_t n_rules)
{
	return (n_rules + WORD_BITS - 1) / WORD_BITS;
}

/*
 * A hyperscan scratch valid for db and for whatever *old was valid for. Grows a clone, so a
 * failure leaves *old untouched (hs_alloc_scratch() frees the scratch it was given when it
 * cannot grow it, and the worker still needs the old one for the rules it is running).
 */
static int hs_grow(hs_scratch_t *old, const hs_database_t *db, hs_scratch_t **out)
{
	hs_scratch_t *s = NULL;
	hs_error_t e;

	if (old && hs_clone_scratch(old, &s) != HS_SUCCESS)
		return -ENOMEM;
	e = hs_alloc_scratch(db, &s);
	if (e != HS_SUCCESS) {
		hs_free_scratch(s);
		return e == HS_NOMEM ? -ENOMEM : -EINVAL;
	}
	*out = s;
	return 0;
}

int vd_rules_scratch_alloc(const struct vd_rules *r, struct vd_rules_scratch **sp)
{
	struct vd_rules_scratch *s = *sp, *fresh = NULL;
	hs_scratch_t *hs = NULL;
	uint64_t *cand = NULL;
	struct rules_hits *hits = NULL;
	int rc = -ENOMEM;

	if (!s) {
		/* cache-line aligned: workers' scratches must not share a line */
		fresh = aligned_alloc(CACHE_LINE, SCRATCH_SIZE);
		if (!fresh)
			goto fail;
		memset(fresh, 0, SCRATCH_SIZE);
		s = fresh;
	}
	if (r->db && (rc = hs_grow(s->hs, r->db, &hs)))
		goto fail;
	if (r->n_rules > s->cap_rules) {
		cand = calloc(words_for(r->n_rules), sizeof(*cand));
		hits = calloc(r->n_rules, sizeof(*hits)); /* gen 0: never current */
		if (!cand || !hits) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	/* commit: nothing below can fail */
	if (hs) {
		hs_free_scratch(s->hs);
		s->hs = hs;
	}
	if (cand) {
		free(s->cand);
		free(s->hits);
		s->cand = cand;
		s->hits = hits;
		s->cap_rules = r->n_rules;
	}
	*sp = s;
	return 0;
fail:
	hs_free_scratch(hs);
	free(cand);
	free(hits);
	free(fresh);
	return rc;
}

void vd_rules_scratch_free(struct vd_rules_scratch *s)
{
	if (!s)
		return;
	hs_free_scratch(s->hs);
	free(s->cand);
	free(s->hits);
	free(s);
}

/* ---- per message ---- */

static void match_in_init(struct match_in *in, const struct vd_sip_msg *msg,
			  const union vd_sockaddr *src, unsigned listener)
{
	uint8_t a[IPV6_BYTES] = {0};

	in->method_bit = 1u << msg->method;
	in->listener_bit = listener < LISTENER_BITS ? 1ull << listener : LISTENER_OVERFLOW;
	in->family = 0;
	if (src && src->sa.sa_family == AF_INET) {
		memcpy(a, &src->in.sin_addr, IPV4_BYTES);
		in->family = AF_INET;
	} else if (src && src->sa.sa_family == AF_INET6) {
		/* an IPv4 client seen through a dual-stack socket is matched as IPv4 */
		if (IN6_IS_ADDR_V4MAPPED(&src->in6.sin6_addr)) {
			memcpy(a, src->in6.sin6_addr.s6_addr + V4_MAPPED_PREFIX, IPV4_BYTES);
			in->family = AF_INET;
		} else {
			memcpy(a, &src->in6.sin6_addr, IPV6_BYTES);
			in->family = AF_INET6;
		}
	}
	memcpy(in->addr, a, sizeof(in->addr));
}

static bool cidr_hit(const struct rules_cidr *c, unsigned n, const struct match_in *in)
{
	for (unsigned k = 0; k < n; k++)
		if (c[k].family == in->family && !(((in->addr[0] ^ c[k].net[0]) & c[k].mask[0]) |
						   ((in->addr[1] ^ c[k].net[1]) & c[k].mask[1])))
			return true;
	return false;
}

/* Everything but the regexes: method, arrival listener, source prefix. */
static bool rule_passes(const struct vd_rules *r, uint32_t i, const struct match_in *in)
{
	const struct rules_rule *x = &r->rules[i];

	if (!(x->methods & in->method_bit) || !(x->listeners & in->listener_bit))
		return false;
	return !x->n_cidrs || cidr_hit(&r->cidrs[x->cidr_first], x->n_cidrs, in);
}

/* First rule without regexes at plain index >= *pi and rule index < limit that passes. */
static int plain_before(const struct vd_rules *r, const struct match_in *in, uint32_t limit,
			unsigned *pi)
{
	for (; *pi < r->n_plain && r->plain[*pi] < limit; (*pi)++)
		if (rule_passes(r, r->plain[*pi], in))
			return (int)r->plain[*pi];
	return -1;
}

static void mark_candidate(struct vd_rules_scratch *s, uint32_t rule)
{
	uint32_t w = rule / WORD_BITS;

	s->cand[w] |= 1ull << (rule % WORD_BITS);
	if (w < s->lo)
		s->lo = w;
	if (w > s->hi)
		s->hi = w;
}

/* Each condition fires at most once per message (SINGLEMATCH, one scan per field), so
 * counting reports is counting distinct matched conditions. */
static bool all_conds_hit(struct vd_rules_scratch *s, const struct rules_cond *c)
{
	struct rules_hits *h = &s->hits[c->rule];

	if (h->gen != s->gen) {
		h->gen = s->gen;
		h->count = 0;
	}
	return ++h->count == c->need;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct vd_rules_scratch *s = ctx;
	const struct rules_cond *c = &s->cur->conds[id];

	(void)to;
	(void)flags;
	if (c->field != s->field) /* a pattern of another field: the database is shared */
		return 0;
	if (c->anchored && from != 0) /* "^X" compiled as X: only a match at the start counts */
		return 0;
	if (c->need == 1 || all_conds_hit(s, c))
		mark_candidate(s, c->rule);
	return 0; /* go on: other rules' patterns on this field may still match */
}

/* The value a field scans, or false when the message lacks it (its conditions fail). */
static bool field_value(const struct rules_field *f, const struct vd_sip_msg *msg,
			struct vd_slice *v)
{
	uint16_t h;

	switch (f->src) {
	case FIELD_RURI:
		*v = msg->ruri;
		return v->p != NULL;
	case FIELD_KIND:
		h = msg->first[f->kind];
		break;
	default:
		h = vd_sip_find(msg, f->name, f->name_len, 0);
		break;
	}
	if (h == VD_SIP_NO_HDR)
		return false;
	*v = msg->hdrs[h].value;
	return true;
}

static void scan_begin(const struct vd_rules *r, struct vd_rules_scratch *s)
{
	s->cur = r;
	s->lo = UINT32_MAX;
	s->hi = 0;
	/* once every 2^32 messages: restart the generations rather than trust a stale one */
	if (++s->gen == 0) {
		memset(s->hits, 0, s->cap_rules * sizeof(*s->hits));
		s->gen = 1;
	}
}

/* Scan one field: the callback marks the rules it completes. */
static int scan_field(const struct vd_rules *r, struct vd_rules_scratch *s,
		      const struct vd_sip_msg *msg, uint32_t f)
{
	struct vd_slice v;

	if (!field_value(&r->fields[f], msg, &v))
		return 0;
	s->field = f;
	/* an empty value still gets scanned (`^$` may match it); hyperscan wants a non-NULL
	 * pointer */
	if (hs_scan(r->db, v.p ? v.p : "", v.len, 0, s->hs, on_match, s) != HS_SUCCESS)
		return -EINVAL;
	return 0;
}

/* How far the walk has gone: rules below `next` are decided and failed. */
struct walk_pos {
	uint32_t next;
	unsigned pi; /* into r->plain */
};

/*
 * First rule in [p->next, limit), in rule order, among the candidates and the rules without
 * regexes, that passes its other checks; -1 if none, and the walk resumes at `limit` next time.
 * Every rule below `limit` must be decided: all its fields scanned.
 */
static int walk_until(const struct vd_rules *r, const struct vd_rules_scratch *s,
		      const struct match_in *in, struct walk_pos *p, uint32_t limit)
{
	uint32_t w = p->next / WORD_BITS;
	int hit;

	for (w = w > s->lo ? w : s->lo; w <= s->hi && w * WORD_BITS < limit; w++) {
		uint64_t bits = s->cand[w];

		if (w == p->next / WORD_BITS)
			bits &= ~0ull << (p->next % WORD_BITS);
		for (; bits; bits &= bits - 1) {
			uint32_t i = w * WORD_BITS + (uint32_t)__builtin_ctzll(bits);

			if (i >= limit)
				break;
			if ((hit = plain_before(r, in, i, &p->pi)) >= 0)
				return hit;
			if (rule_passes(r, i, in))
				return (int)i;
		}
	}
	p->next = limit;
	return plain_before(r, in, limit, &p->pi);
}

/* The rule below which every rule is decided once fields 0..f-1 are scanned. */
static uint32_t decided_below(const struct vd_rules *r, uint32_t f)
{
	return f < r->n_fields ? r->fields[f].first_rule : r->n_rules;
}

/*
 * Scan the fields in order and stop as soon as the answer cannot change: fields are ordered by
 * the first rule that uses them, so after each scan a prefix of the rules is decided, and a
 * winner inside it makes every later field irrelevant (typically: an R-URI prefix rule wins
 * and From or the headers that only later rules look at are never scanned).
 */
static int scan_and_walk(const struct vd_rules *r, struct vd_rules_scratch *s,
			 const struct vd_sip_msg *msg, const struct match_in *in,
			 struct walk_pos *p)
{
	int hit = -1;

	scan_begin(r, s);
	for (uint32_t f = 0; f < r->n_fields && hit < 0; f++) {
		if (scan_field(r, s, msg, f))
			return -EINVAL;
		hit = walk_until(r, s, in, p, decided_below(r, f + 1));
	}
	return hit;
}

int vd_rules_match(const struct vd_rules *r, struct vd_rules_scratch *s,
		   const struct vd_sip_msg *msg, const union vd_sockaddr *src, unsigned listener)
{
	struct walk_pos p = {0, 0};
	struct match_in in;
	int hit;

	if (!msg->is_request)
		return -1;
	/* without any prefix in the set the source address is never looked at */
	match_in_init(&in, msg, r->n_cidrs ? src : NULL, listener);
	/* rules without regexes ahead of every regex rule decide without a scan */
	hit = plain_before(r, &in, decided_below(r, 0), &p.pi);
	if (hit >= 0 || !r->n_fields)
		return hit;
	if (!s || !s->hs || s->cap_rules < r->n_rules)
		return -EINVAL;
	p.next = decided_below(r, 0);
	hit = scan_and_walk(r, s, msg, &in, &p);
	for (uint32_t w = s->lo; w <= s->hi; w++) /* usually one word, often none */
		s->cand[w] = 0;
	return hit;
}
