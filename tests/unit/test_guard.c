/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The edge's admission (src/proxy/guard.c) on real SIP text through the proxy: acl by
 * longest prefix, per-source buckets (IPv4 address, IPv6 /64), drop or 503, bans and their
 * end, exempt sources and pool members, per-method limits, shedding while behind (new
 * dialogs only), reply budgets and replies never larger than the garbage they answer, the
 * hot-source list, and a source table that stays bounded under a flood of new sources.
 * Time is the harness's: vd_guard_tick() as a datapath calls it once per batch.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "proxy_harness.h"

#define TEST_OVERLOAD_MS 10 /* overload.after_ms of these tests */

static struct vd_guard *g;
static uint32_t now = 1000;

static void setup(void)
{
	harness_init(VD_HASH_CALL_ID);
	cfg.guard.overload_ms = TEST_OVERLOAD_MS;
	harness_reload();
	g = vd_guard_new(4096);
	cr_assert_not_null(g);
	scratch.guard = g;
	now = 1000;
	vd_guard_tick(g, now, false);
}

static void teardown(void)
{
	scratch.guard = NULL;
	vd_guard_free(g);
	harness_fini();
}

TestSuite(guard, .init = setup, .fini = teardown);

static void advance(uint32_t ms, bool behind)
{
	now += ms;
	vd_guard_tick(g, now, behind);
}

/* Rounds behind (with admitted work, the harness's messages are) for TEST_OVERLOAD_MS:
 * overloaded from now on. */
static void overload(void)
{
	advance(1, true);
	advance(TEST_OVERLOAD_MS, true);
}

/* A request from a UE: a new dialog unless to_tag is given. */
static const char *request(const char *method, const char *call_id, const char *to_tag)
{
	static char b[1024];
	snprintf(b, sizeof(b),
		 "%s sip:+15551234567@ims.example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-%s-%s;rport\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:ue@ims.example.com>;tag=ue1\r\n"
		 "To: <sip:+15551234567@ims.example.com>%s%s\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: 1 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, method, call_id, to_tag ? ";tag=" : "", to_tag ? to_tag : "", call_id,
		 method);
	return b;
}

static void set_prefixes(struct vd_prefix *out, unsigned *n, const char *const *cidrs)
{
	for (*n = 0; cidrs[*n]; (*n)++)
		cr_assert_eq(vd_prefix_parse(cidrs[*n], &out[*n]), 0, "%s", cidrs[*n]);
}

Test(guard, acl_longest_prefix_decides_before_any_parsing)
{
	static struct vd_cfg_acl_entry acl[3];
	const char *const deny[] = { "198.51.100.0/24", "2001:db8:bad::/48", NULL };
	struct vd_prefix p[2];
	unsigned n;
	set_prefixes(p, &n, deny);
	acl[0] = (struct vd_cfg_acl_entry){ p[0], true };
	acl[1] = (struct vd_cfg_acl_entry){ p[1], true };
	cr_assert_eq(vd_prefix_parse("198.51.100.128/25", &acl[2].prefix), 0);
	acl[2].deny = false; /* a hole in the denied /24 */
	cfg.guard.acl = acl;
	cfg.guard.n_acl = 3;
	harness_reload();

	run_text("garbage that is not SIP at all", "198.51.100.9", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_ACL, "denied before the scanner sees it");
	run_text(request("INVITE", "acl-1", NULL), "198.51.100.200", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "the allowed /25 inside the denied /24");
	run_text(request("INVITE", "acl-2", NULL), "2001:db8:bad:1::5", 5060);
	cr_expect_eq(res.drop, VD_DROP_ACL);
	run_text(request("INVITE", "acl-3", NULL), "2001:db8:bae::5", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
	run_text(request("INVITE", "acl-4", NULL), "203.0.113.1", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "default: allow");
	cfg.guard.n_acl = 0;
	cfg.guard.acl = NULL;
}

Test(guard, acl_default_deny_still_lets_the_pool_in)
{
	static struct vd_cfg_acl_entry acl[1];
	cr_assert_eq(vd_prefix_parse("10.0.0.0/8", &acl[0].prefix), 0);
	cfg.guard.acl = acl;
	cfg.guard.n_acl = 1;
	cfg.guard.acl_default_deny = true;
	harness_reload();
	run_text(request("INVITE", "dd-1", NULL), "10.1.2.3", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
	run_text(request("INVITE", "dd-2", NULL), "192.0.2.1", 5060);
	cr_expect_eq(res.drop, VD_DROP_ACL);
	run_text(request("OPTIONS", "dd-3", NULL), "127.0.0.1", 5070); /* a member */
	cr_expect_neq(res.drop, VD_DROP_ACL, "pool members are always allowed");
	cfg.guard.acl_default_deny = false;
	cfg.guard.n_acl = 0;
	cfg.guard.acl = NULL;
}

static void per_source(uint32_t rate, uint32_t burst, enum vd_guard_over over, uint32_t ban_after)
{
	cfg.guard.rate = rate;
	cfg.guard.burst = burst;
	cfg.guard.over = over;
	cfg.guard.ban_after = ban_after;
	cfg.guard.ban_seconds = 2;
	harness_reload();
}

Test(guard, a_source_gets_its_burst_then_its_rate)
{
	per_source(10, 5, VD_OVER_DROP, 0);
	for (int i = 0; i < 5; i++) {
		run_text(request("INVITE", "b", NULL), "192.0.2.10", 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "message %d of the burst", i);
	}
	run_text(request("INVITE", "b", NULL), "192.0.2.10", 5060);
	cr_expect_eq(res.drop, VD_DROP_RATE_LIMITED);
	cr_expect_eq(res.guard, VD_GUARD_EV_LIMITED);
	run_text(request("INVITE", "b", NULL), "192.0.2.10", 40000);
	cr_expect_eq(res.drop, VD_DROP_RATE_LIMITED, "another port of the same address");
	run_text(request("INVITE", "b", NULL), "192.0.2.11", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "another address has its own bucket");
	advance(99, false);
	run_text(request("INVITE", "b", NULL), "192.0.2.10", 5060);
	cr_expect_eq(res.drop, VD_DROP_RATE_LIMITED, "10/s: nothing back after 99 ms");
	advance(1, false);
	run_text(request("INVITE", "b", NULL), "192.0.2.10", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "one message back after 100 ms");
	advance(60000, false);
	for (int i = 0; i < 5; i++) {
		run_text(request("INVITE", "b", NULL), "192.0.2.10", 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "a full burst again, never more");
	}
	run_text(request("INVITE", "b", NULL), "192.0.2.10", 5060);
	cr_expect_eq(res.drop, VD_DROP_RATE_LIMITED);
}

Test(guard, ipv6_sources_are_their_slash_64)
{
	per_source(1, 2, VD_OVER_DROP, 0);
	run_text(request("INVITE", "v6", NULL), "2001:db8:1:2::1", 5060);
	run_text(request("INVITE", "v6", NULL), "2001:db8:1:2:ffff::9", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
	run_text(request("INVITE", "v6", NULL), "2001:db8:1:2::77", 5060);
	cr_expect_eq(res.drop, VD_DROP_RATE_LIMITED, "the third from one /64");
	run_text(request("INVITE", "v6", NULL), "2001:db8:1:3::1", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "the next /64 is another subscriber");
}

Test(guard, over_reply_answers_requests_503_and_drops_the_rest)
{
	per_source(1, 1, VD_OVER_REPLY, 0);
	run_text(request("INVITE", "r", NULL), "192.0.2.20", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	run_text(request("INVITE", "r", NULL), "192.0.2.20", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 503);
	cr_expect(strstr(reply(), "\r\nRetry-After: 5\r\n"), "%s", reply());
	cr_expect(strstr(reply(), "Call-ID: r\r\n"));
	run_text(request("ACK", "r", "x"), "192.0.2.20", 5060);
	cr_expect_eq(res.drop, VD_DROP_RATE_LIMITED, "an ACK is never answered");
	run_text("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.1.2;branch=z9hG4bKvdx\r\n"
		 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\n"
		 "Content-Length: 0\r\n\r\n",
		 "192.0.2.20", 5060);
	cr_expect_eq(res.drop, VD_DROP_RATE_LIMITED, "a response is never answered");
	run_text("garbage", "192.0.2.20", 5060);
	cr_expect_eq(res.drop, VD_DROP_RATE_LIMITED);
}

Test(guard, sustained_excess_is_banned_then_served_again)
{
	per_source(1, 1, VD_OVER_DROP, 3);
	run_text(request("INVITE", "ban", NULL), "192.0.2.30", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	for (int i = 0; i < 2; i++) {
		run_text(request("INVITE", "ban", NULL), "192.0.2.30", 5060);
		cr_assert_eq(res.guard, VD_GUARD_EV_LIMITED);
	}
	run_text(request("INVITE", "ban", NULL), "192.0.2.30", 5060);
	cr_expect_eq(res.guard, VD_GUARD_EV_LIMITED | VD_GUARD_EV_BAN, "the third strike bans");
	advance(1000, false); /* a token is back, but the ban holds */
	run_text("not even SIP", "192.0.2.30", 5060);
	cr_expect_eq(res.drop, VD_DROP_BANNED);
	struct vd_guard_hot hot[VD_GUARD_HOT];
	cr_assert_eq(vd_guard_hot_read(g, hot, VD_GUARD_HOT), 1);
	char text[64];
	vd_guard_key_text(&hot[0], text, sizeof(text));
	cr_expect_str_eq(text, "192.0.2.30");
	cr_expect_eq(hot[0].ban_until_ms, 1000 + 2000, "banned at t=1000 for ban_seconds: 2");
	advance(999, false);
	run_text(request("INVITE", "ban", NULL), "192.0.2.30", 5060);
	cr_expect_eq(res.drop, VD_DROP_BANNED, "1 ms before the end");
	advance(1, false);
	run_text(request("INVITE", "ban", NULL), "192.0.2.30", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "the ban is over: a full bucket again");
	cr_assert_eq(vd_guard_hot_read(g, hot, VD_GUARD_HOT), 1);
	cr_expect_eq(hot[0].ban_until_ms, 0, "the hot list shows it unbanned");
}

Test(guard, exempt_prefixes_and_pool_members_are_never_limited)
{
	static struct vd_prefix exempt[1];
	cr_assert_eq(vd_prefix_parse("203.0.113.0/24", &exempt[0]), 0);
	cfg.guard.exempt = exempt;
	cfg.guard.n_exempt = 1;
	per_source(1, 1, VD_OVER_DROP, 2);
	for (int i = 0; i < 50; i++) {
		run_text(request("INVITE", "ex", NULL), "203.0.113.5", 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
		cr_assert_eq(res.guard, 0);
		run_text(request("INVITE", "ex", NULL), "127.0.0.1", 5070); /* a member */
		cr_assert_neq(res.drop, VD_DROP_RATE_LIMITED);
		cr_assert_neq(res.drop, VD_DROP_BANNED);
	}
	cfg.guard.exempt = NULL;
	cfg.guard.n_exempt = 0;
}

Test(guard, a_method_limit_is_shared_by_every_source)
{
	cfg.guard.method_rate[VD_M_REGISTER] = 2;
	cfg.guard.method_burst[VD_M_REGISTER] = 2;
	cfg.guard.over = VD_OVER_REPLY;
	harness_reload();
	char ip[32];
	for (int i = 0; i < 2; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", 100 + i);
		run_text(request("REGISTER", "reg", NULL), ip, 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	}
	run_text(request("REGISTER", "reg", NULL), "192.0.2.102", 5060);
	cr_expect_eq(res.status, 503, "the third REGISTER of the storm, from a third UE");
	cr_expect_eq(res.guard, VD_GUARD_EV_METHOD);
	run_text(request("INVITE", "inv", NULL), "192.0.2.102", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "other methods are not limited");
	advance(500, false);
	run_text(request("REGISTER", "reg", NULL), "192.0.2.103", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "2/s: one back after 500 ms");
	memset(cfg.guard.method_rate, 0, sizeof(cfg.guard.method_rate));
}

Test(guard, behind_sheds_new_dialogs_and_keeps_everything_else)
{
	harness_reload(); /* shed: drop (the default) */
	advance(1, true);
	advance(TEST_OVERLOAD_MS - 1, true);
	run_text(request("INVITE", "s0", NULL), "192.0.2.40", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "behind for less than 10 ms: no overload");
	advance(1, true);
	run_text(request("INVITE", "s1", NULL), "192.0.2.40", 5060);
	cr_expect_eq(res.drop, VD_DROP_SHED);
	cr_expect_eq(res.guard, VD_GUARD_EV_SHED);
	run_text(request("REGISTER", "s2", NULL), "192.0.2.40", 5060);
	cr_expect_eq(res.drop, VD_DROP_SHED);
	static const char *const keep[][2] = {
		{ "INVITE", "t" }, /* a re-INVITE: in a dialog */
		{ "BYE", "t" },	  { "ACK", "t" },    { "CANCEL", NULL }, { "PRACK", "t" },
		{ "UPDATE", "t" }, { "INFO", "t" },   { "NOTIFY", "t" },  { "ACK", NULL },
	};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		run_text(request(keep[i][0], "s3", keep[i][1]), "192.0.2.40", 5060);
		cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "%s%s kept", keep[i][0],
			     keep[i][1] ? " in a dialog" : "");
	}
	run_text(request("INVITE", "s4", NULL), "127.0.0.1", 5080);
	cr_expect_neq(res.drop, VD_DROP_SHED, "a member's new dialog is not shed");
	cfg.guard.shed = VD_SHED_REPLY;
	harness_reload();
	run_text(request("SUBSCRIBE", "s5", NULL), "192.0.2.40", 5060);
	cr_expect_eq(res.status, 503);
	cfg.guard.shed = VD_SHED_OFF;
	harness_reload();
	run_text(request("INVITE", "s6", NULL), "192.0.2.40", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "shed: off");
	cfg.guard.shed = VD_SHED_DROP;
	harness_reload();
	advance(1, false);
	run_text(request("INVITE", "s7", NULL), "192.0.2.40", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "caught up: new dialogs pass again");
}

static const char options_to_us[] = "OPTIONS sip:192.168.1.2:5060 SIP/2.0\r\n"
				     "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK-ping-%d\r\n"
				     "Max-Forwards: 70\r\n"
				     "From: <sip:pinger@example.com>;tag=p\r\n"
				     "To: <sip:192.168.1.2:5060>\r\n"
				     "Call-ID: ping-%d\r\n"
				     "CSeq: %d OPTIONS\r\n"
				     "Content-Length: 0\r\n\r\n";

Test(guard, local_replies_cost_the_source_a_token)
{
	cfg.guard.reply_rate = 2;
	cfg.guard.reply_burst = 2;
	harness_reload();
	char b[512];
	for (int i = 0; i < 3; i++) {
		snprintf(b, sizeof(b), options_to_us, i, i, i + 1);
		run_text(b, "192.0.2.50", 5060);
		if (i < 2)
			cr_expect_eq(res.status, 200, "reply %d within the budget", i);
	}
	cr_expect_eq(res.drop, VD_DROP_REPLY_LIMITED);
	run_text(b, "192.0.2.51", 5060);
	cr_expect_eq(res.status, 200, "another source's budget");
	advance(500, false);
	run_text(b, "192.0.2.50", 5060);
	cr_expect_eq(res.status, 200, "2/s: one back after 500 ms");
	run_text(request("INVITE", "fwd", NULL), "192.0.2.50", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "forwarding costs no reply token");
	cfg.guard.reply_rate = cfg.guard.reply_burst = 0;
}

Test(guard, a_reply_to_garbage_is_never_larger_than_the_garbage)
{
	/* a request the scanner refuses (no CSeq): a 400 copies its Via, From, To, Call-ID */
	static const char small[] = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.60;branch=z9hG4bKx\r\n"
				    "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n\r\n";
	run_text(small, "192.0.2.60", 5060);
	cr_expect_eq(res.drop, VD_DROP_REPLY_AMPLIFIES, "a 400 would be larger: %u",
		     res.reply_len);
	char big[2048];
	snprintf(big, sizeof(big), "%.*sX-Padding: %0600d\r\n\r\n", (int)strlen(small) - 2, small, 0);
	run_text(big, "192.0.2.60", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_REPLY, "a 400 smaller than what it answers is sent");
	cr_expect_eq(res.status, 400);
	cr_expect_leq(res.reply_len, strlen(big));
}

Test(guard, a_flood_of_new_sources_keeps_the_table_bounded)
{
	per_source(1, 1, VD_OVER_DROP, 2);
	size_t bytes = vd_guard_bytes(4096);
	cr_expect_eq(bytes, sizeof(struct vd_guard) + 4096 * sizeof(struct vd_guard_src));
	char ip[32];
	/* 100,000 sources through 4,096 entries: each new one takes a slot of its set */
	for (unsigned i = 0; i < 100000; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		run_text(request("INVITE", "flood", NULL), ip, 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s: a new source has its burst", ip);
	}
	/* a banned source keeps its slot while new ones churn through its set */
	for (int i = 0; i < 3; i++)
		run_text(request("INVITE", "bad", NULL), "192.0.2.99", 5060);
	cr_assert_eq(res.drop, VD_DROP_RATE_LIMITED);
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(ip, sizeof(ip), "10.200.%u.%u", (i >> 8) & 255, i & 255);
		run_text(request("INVITE", "flood", NULL), ip, 5060);
	}
	run_text(request("INVITE", "bad", NULL), "192.0.2.99", 5060);
	cr_expect_eq(res.drop, VD_DROP_BANNED, "not evicted while banned");
}

Test(guard, a_flood_that_earns_a_token_now_and_then_still_strikes_out)
{
	per_source(100, 200, VD_OVER_DROP, 1000);
	/* 100 messages per ms for 100 ms: one token back per 10 ms, never half a burst saved */
	unsigned admitted = 0, banned_at = 0;
	for (unsigned ms = 0; ms < 100 && !banned_at; ms++) {
		for (int i = 0; i < 100; i++) {
			run_text(request("INVITE", "fl", NULL), "192.0.2.77", 5060);
			admitted += res.verdict == VD_VERDICT_FORWARD;
			if (res.guard & VD_GUARD_EV_BAN)
				banned_at = ms;
		}
		advance(1, false);
	}
	cr_expect(banned_at > 0 && banned_at < 20, "banned at %u ms", banned_at);
	cr_expect_leq(admitted, 200 + 2, "the burst and the trickle: %u", admitted);
	/* a source that bursts once, then keeps under its rate, never strikes out */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 150; i++)
			run_text(request("INVITE", "ok", NULL), "192.0.2.78", 5060);
		advance(3000, false); /* back to a full bucket */
	}
	cr_expect_eq(res.guard & VD_GUARD_EV_BAN, 0);
	run_text(request("INVITE", "ok", NULL), "192.0.2.78", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
}

Test(guard, shedding_starts_with_the_heaviest_sources)
{
	per_source(100, 100, VD_OVER_DROP, 0);
	for (int i = 0; i < 80; i++) /* a heavy source: 20 of its 100 tokens left */
		run_text(request("INVITE", "heavy", NULL), "192.0.2.80", 5060);
	overload();
	run_text(request("INVITE", "h", NULL), "192.0.2.80", 5060);
	cr_expect_eq(res.drop, VD_DROP_SHED, "the heavy source's new dialog is shed first");
	run_text(request("INVITE", "l", NULL), "192.0.2.81", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "a light source's is not, yet");
	advance(VD_GUARD_SHED_ALL_MS - 1, true);
	run_text(request("INVITE", "l", NULL), "192.0.2.81", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "not before the overload lasted 500 ms");
	advance(1, true);
	run_text(request("INVITE", "l", NULL), "192.0.2.81", 5060);
	cr_expect_eq(res.drop, VD_DROP_SHED, "after 500 ms every source's");
	advance(1, false);
	overload();
	run_text(request("INVITE", "l", NULL), "192.0.2.81", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "a round caught up starts over");
}

Test(guard, a_queue_full_of_what_admission_drops_is_not_overload)
{
	per_source(1, 1, VD_OVER_DROP, 0);
	run_text(request("INVITE", "x", NULL), "192.0.2.90", 5060); /* its one token */
	for (int i = 0; i < 100; i++) /* the round: 100 dropped by admission */
		run_text(request("INVITE", "x", NULL), "192.0.2.90", 5060);
	run_text(request("INVITE", "y", NULL), "192.0.2.91", 5060);
	advance(1, true); /* behind, but with what admission dropped */
	for (int i = 0; i < 100; i++)
		run_text(request("INVITE", "x", NULL), "192.0.2.90", 5060);
	advance(TEST_OVERLOAD_MS, true);
	run_text(request("INVITE", "z", NULL), "192.0.2.92", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(g->behind_ms, 0, "not behind: what admission dropped does not count");
}
