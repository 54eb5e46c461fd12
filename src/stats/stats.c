/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counting results and printing counters. The print format is one line per worker and one
 * for the total, `key=value` tokens, zero counters left out except the four totals, so a
 * line stays readable at 3 a.m. and parseable by scripts.
 */
#include <inttypes.h>

#include "viaduct/stats.h"

static enum vd_stats_reply reply_index(uint16_t code)
{
	switch (code) {
#define VD_REPLY_CASE(c)   \
	case c:            \
		return VD_STATS_REPLY_##c;
		VD_STATS_REPLY_CODES(VD_REPLY_CASE)
#undef VD_REPLY_CASE
	default:
		return VD_STATS_REPLY_OTHER;
	}
}

const char *vd_stats_guard_name(enum vd_stats_guard g)
{
	static const char *const names[VD_STATS_GUARD__COUNT] = {
		"source-limited", "banned", "method-limited", "shed" };
	return (unsigned)g < VD_STATS_GUARD__COUNT ? names[g] : "unknown";
}

void vd_stats_count(struct vd_stats *st, const struct vd_result *res, uint32_t bytes)
{
	/* the VD_GUARD_EV_* bits are 1 << enum vd_stats_guard */
	for (unsigned bits = res->guard, g = 0; bits; bits >>= 1, g++)
		if (bits & 1)
			VD_STAT_ADD(st->guard[g], 1);
	VD_STAT_ADD(st->rx, 1);
	VD_STAT_ADD(st->rx_bytes, bytes);
	if (res->sip_err != VD_SIP_OK)
		VD_STAT_ADD(st->sip_err[res->sip_err], 1);
	if (res->is_request && res->sip_err == VD_SIP_OK)
		VD_STAT_ADD(st->rx_requests[res->method], 1);
	if (res->route != VD_ROUTE_NONE)
		VD_STAT_ADD(st->route[res->route], 1);
	else if (!res->is_request && res->sip_err == VD_SIP_OK)
		VD_STAT_ADD(st->rx_responses[res->status / 100 % 7], 1);
	/* a member's authentic responses count whatever became of them; requests once sent */
	if (res->peer >= 0 && res->peer_pool < VD_STATS_POOLS) {
		if (!res->is_request) {
			uint64_t *c = res->status / 100 == 5
					      ? &st->member_5xx[res->peer_pool][res->peer]
					      : &st->member_successes[res->peer_pool][res->peer];
			if (res->status >= 200)
				VD_STAT_ADD(*c, 1);
		} else if (res->verdict == VD_VERDICT_FORWARD && res->method != VD_M_ACK) {
			VD_STAT_ADD(st->member_requests[res->peer_pool][res->peer], 1);
		}
	}
	switch (res->verdict) {
	case VD_VERDICT_FORWARD:
		VD_STAT_ADD(st->tx, 1);
		if (res->is_request)
			VD_STAT_ADD(st->tx_requests[res->method], 1);
		else
			VD_STAT_ADD(st->tx_responses[res->status / 100 % 7], 1);
		if (res->member >= 0 && res->pool < VD_STATS_POOLS)
			VD_STAT_ADD(st->member[res->pool][res->member], 1);
		break;
	case VD_VERDICT_REPLY:
		VD_STAT_ADD(st->replies, 1);
		VD_STAT_ADD(st->reply_codes[reply_index(res->status)], 1);
		break;
	default:
		VD_STAT_ADD(st->drops, 1);
		VD_STAT_ADD(st->drop[res->drop], 1);
		break;
	}
}

void vd_stats_send_failed(struct vd_stats *st, const struct vd_result *res)
{
	vd_stats_unsent(st, res, VD_DROP_SEND_FAILED);
}

void vd_stats_unsent(struct vd_stats *st, const struct vd_result *res, enum vd_drop why)
{
	if (res->verdict == VD_VERDICT_FORWARD) {
		VD_STAT_ADD(st->tx, (uint64_t)-1);
		if (res->is_request)
			VD_STAT_ADD(st->tx_requests[res->method], (uint64_t)-1);
		else
			VD_STAT_ADD(st->tx_responses[res->status / 100 % 7], (uint64_t)-1);
	} else
		VD_STAT_ADD(st->replies, (uint64_t)-1);
	VD_STAT_ADD(st->drops, 1);
	VD_STAT_ADD(st->drop[why], 1);
}

void vd_stats_add(struct vd_stats *sum, const struct vd_stats *w)
{
	/* the struct is all uint64_t counters: add them as an array */
	uint64_t *s = (uint64_t *)sum;
	const uint64_t *x = (const uint64_t *)w;
	for (size_t i = 0; i < sizeof(*sum) / sizeof(uint64_t); i++)
		s[i] += __atomic_load_n(&x[i], __ATOMIC_RELAXED);
}

static void kv(FILE *f, const char *prefix, const char *name, uint64_t v)
{
	if (v)
		fprintf(f, " %s%s=%" PRIu64, prefix, name, v);
}

void vd_stats_print(FILE *f, const char *label, const struct vd_stats *st)
{
	static const char *const reply_names[VD_STATS_REPLY__COUNT] = {
#define VD_REPLY_NAME(c) #c,
		VD_STATS_REPLY_CODES(VD_REPLY_NAME)
#undef VD_REPLY_NAME
		"other",
	};
	static const char *const class_names[7] = { "0xx", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx" };
	char name[32];

	fprintf(f, "stats %s rx=%" PRIu64 " tx=%" PRIu64 " replies=%" PRIu64 " drops=%" PRIu64,
		label, st->rx, st->tx, st->replies, st->drops);
	kv(f, "", "rx_bytes", st->rx_bytes);
	for (int m = 0; m < VD_M__COUNT; m++)
		kv(f, "rx_", vd_sip_method_name((enum vd_sip_method)m), st->rx_requests[m]);
	for (int c = 1; c < 7; c++)
		kv(f, "rx_", class_names[c], st->rx_responses[c]);
	for (int m = 0; m < VD_M__COUNT; m++)
		kv(f, "tx_", vd_sip_method_name((enum vd_sip_method)m), st->tx_requests[m]);
	for (int c = 1; c < 7; c++)
		kv(f, "tx_", class_names[c], st->tx_responses[c]);
	for (int r = 0; r < VD_STATS_REPLY__COUNT; r++)
		kv(f, "reply_", reply_names[r], st->reply_codes[r]);
	for (int d = 1; d < VD_DROP__COUNT; d++)
		kv(f, "drop_", vd_drop_name((enum vd_drop)d), st->drop[d]);
	for (int e = 1; e < VD_SIP_E__COUNT; e++)
		kv(f, "bad_", vd_sip_err_name((enum vd_sip_err)e), st->sip_err[e]);
	for (int r = 1; r < VD_ROUTE__COUNT; r++)
		kv(f, "route_", vd_route_outcome_name((enum vd_route_outcome)r), st->route[r]);
	for (int g = 0; g < VD_STATS_GUARD__COUNT; g++)
		kv(f, "guard_", vd_stats_guard_name((enum vd_stats_guard)g), st->guard[g]);
	kv(f, "", "hep_sent", st->hep_sent);
	for (int d = 0; d < VD_HEP_DROP__COUNT; d++)
		kv(f, "hep_dropped_", vd_hep_drop_name((enum vd_hep_drop)d), st->hep_dropped[d]);
	for (int p = 0; p < VD_STATS_POOLS; p++)
		for (int i = 0; i < VD_CFG_MAX_MEMBERS; i++) {
			/* pool 0 keeps the short form member_N that scripts read */
			if (p == 0)
				snprintf(name, sizeof(name), "%d", i);
			else
				snprintf(name, sizeof(name), "%d_%d", p, i);
			kv(f, "member_", name, st->member[p][i]);
		}
	for (int p = 0; p < VD_STATS_POOLS; p++)
		for (int i = 0; i < VD_CFG_MAX_MEMBERS; i++) {
			if (p == 0)
				snprintf(name, sizeof(name), "%d", i);
			else
				snprintf(name, sizeof(name), "%d_%d", p, i);
			kv(f, "peer_requests_", name, st->member_requests[p][i]);
			kv(f, "peer_successes_", name, st->member_successes[p][i]);
			kv(f, "peer_5xx_", name, st->member_5xx[p][i]);
		}
	fputc('\n', f);
}
