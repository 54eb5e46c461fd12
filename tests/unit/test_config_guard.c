/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The edge's admission keys in the config (src/ctl/config_guard.c): acl, rate_limit, replies,
 * overload. Defaults, every field, the errors that name the field, and the keys an included
 * file may not carry.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "config_fixture.h"
#include "viaduct/sip.h"

#define BASE "listeners: [{address: 127.0.0.1}]\npool: {name: p, members: [{host: 127.0.0.1}]}\n"

Test(config_guard, defaults)
{
	cr_assert_eq(parse(BASE), 0, "%s", err);
	const struct vd_cfg_guard *g = &cfg.guard;
	cr_expect_eq(g->n_acl, 0);
	cr_expect_not(g->acl_default_deny);
	cr_expect_eq(g->rate, 0, "no per-source limit unless configured");
	cr_expect_eq(g->reply_rate, VD_CFG_DEFAULT_REPLY_RATE);
	cr_expect_eq(g->reply_burst, VD_CFG_DEFAULT_REPLY_BURST);
	cr_expect_eq(g->sources, VD_CFG_DEFAULT_SOURCES);
	cr_expect_eq(g->shed, VD_SHED_DROP);
	cr_expect_eq(g->overload_ms, VD_CFG_DEFAULT_OVERLOAD_MS);
	cr_expect_eq(g->over, VD_OVER_DROP);
}

Test(config_guard, every_field)
{
	cr_assert_eq(parse(BASE "acl: {default: deny, allow: [10.0.0.0/8, '2001:db8::/32'],"
			   " deny: [10.66.0.0/16, 192.0.2.7]}\n"
			   "rate_limit: {rate: 50, burst: 80, over: reply, ban_after: 500,"
			   " ban_seconds: 120, sources: 1048576, exempt: [203.0.113.0/24],"
			   " methods: [{method: REGISTER, rate: 2000, burst: 5000},"
			   " {method: INVITE, rate: 300}]}\n"
			   "replies: {rate: 20, burst: 40}\n"
			   "overload: {shed: reply, after_ms: 200}\n"),
		     0, "%s", err);
	const struct vd_cfg_guard *g = &cfg.guard;
	cr_expect(g->acl_default_deny);
	cr_assert_eq(g->n_acl, 4);
	cr_expect(!g->acl[0].deny && !g->acl[1].deny && g->acl[2].deny && g->acl[3].deny);
	cr_expect_eq(g->acl[1].prefix.family, AF_INET6);
	cr_expect_eq(g->acl[3].prefix.bits, 32, "a bare address is a /32");
	cr_expect_eq(g->rate, 50);
	cr_expect_eq(g->burst, 80);
	cr_expect_eq(g->over, VD_OVER_REPLY);
	cr_expect_eq(g->ban_after, 500);
	cr_expect_eq(g->ban_seconds, 120);
	cr_expect_eq(g->sources, 1048576);
	cr_assert_eq(g->n_exempt, 1);
	cr_expect_eq(g->exempt[0].bits, 24);
	cr_expect_eq(g->method_rate[VD_M_REGISTER], 2000);
	cr_expect_eq(g->method_burst[VD_M_REGISTER], 5000);
	cr_expect_eq(g->method_rate[VD_M_INVITE], 300, "burst given once, rate alone for the other");
	cr_expect_eq(g->method_burst[VD_M_INVITE], 300, "burst defaults to the rate");
	cr_expect_eq(g->reply_rate, 20);
	cr_expect_eq(g->reply_burst, 40);
	cr_expect_eq(g->shed, VD_SHED_REPLY);
	cr_expect_eq(g->overload_ms, 200);

	struct vd_config copy;
	cr_assert_eq(vd_config_dup(&copy, &cfg), 0);
	cr_expect_neq(copy.guard.acl, cfg.guard.acl, "a deep copy");
	cr_expect_eq(memcmp(copy.guard.acl, cfg.guard.acl, 4 * sizeof(*copy.guard.acl)), 0);
	cr_expect_eq(memcmp(copy.guard.exempt, cfg.guard.exempt, sizeof(*copy.guard.exempt)), 0);
	vd_config_free(&copy);
}

Test(config_guard, burst_defaults_to_twice_the_rate_and_limits_can_be_off)
{
	cr_assert_eq(parse(BASE "rate_limit: {rate: 30}\nreplies: {rate: 0}\noverload: {shed: off}\n"),
		     0, "%s", err);
	cr_expect_eq(cfg.guard.burst, 60);
	cr_expect_eq(cfg.guard.reply_rate, 0, "0: no reply budget");
	cr_expect_eq(cfg.guard.shed, VD_SHED_OFF);
}

Test(config_guard, errors_name_the_field)
{
	static const struct {
		const char *yaml, *want;
	} t[] = {
		{ "acl: {default: maybe}\n", "acl.default: \"maybe\": allow or deny" },
		{ "acl: {deny: [10.0.0.0/33]}\n", "acl.deny: \"10.0.0.0/33\" is not a prefix" },
		{ "acl: {allow: [example.com]}\n", "acl.allow: \"example.com\" is not a prefix" },
		{ "rate_limit: {rate: fast}\n", "rate_limit.rate: \"fast\" is not an integer" },
		{ "rate_limit: {rate: 10, over: ignore}\n", "rate_limit.over: \"ignore\": drop or reply" },
		{ "rate_limit: {ban_after: 10}\n", "rate_limit.ban_after: needs a rate" },
		{ "rate_limit: {rate: 10, sources: 10}\n", "rate_limit.sources: 10 is out of range" },
		{ "rate_limit: {rate: 10, ban_seconds: 0}\n", "rate_limit.ban_seconds: 0 is out of range" },
		{ "rate_limit: {methods: [{method: FROB, rate: 1}]}\n",
		  "rate_limit.methods[0].method: \"FROB\" is not a SIP method" },
		{ "rate_limit: {methods: [{method: REGISTER, rate: 1}, {method: REGISTER, rate: 2}]}\n",
		  "rate_limit.methods[1].method: REGISTER has a limit already" },
		{ "rate_limit: {methods: [{method: REGISTER}]}\n", "rate" },
		{ "replies: {rate: -1}\n", "replies.rate: -1 is out of range" },
		{ "overload: {shed: sometimes}\n", "overload.shed: \"sometimes\"" },
		{ "overload: {after_ms: 0}\n", "overload.after_ms: 0 is out of range" },
		{ "rate_limit: {rte: 10}\n", "rte" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char doc[512];
		snprintf(doc, sizeof(doc), BASE "%s", t[i].yaml);
		cr_expect_eq(parse(doc), -EINVAL, "%s", t[i].yaml);
		cr_expect(strstr(err, t[i].want), "%s -> %s (want %s)", t[i].yaml, err, t[i].want);
	}
}
