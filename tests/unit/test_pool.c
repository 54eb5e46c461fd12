/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pool tests on real requests: priority groups (failover), drain (new dialogs avoid a drained
 * member, in-dialog requests still reach it), member state changes, and every hash key.
 * The pools are loaded from YAML through the real config loader.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "corpus.h"
#include "proxy_fixture.h"
#include "viaduct/config_file.h"
#include "viaduct/proxy.h"

#define REPLY_CAP 4096

static struct vd_config cfg;
static struct vd_proxy px;
static struct vd_proxy_scratch scratch;
static char reply_buf[REPLY_CAP];
static char pktmem[VD_PROXY_HEADROOM + 8192];
static struct vd_result res;
static char err[512];

static const char listeners[] = "listeners: [{address: 127.0.0.1, advertise: 192.168.1.2}]\n";

static void load(const char *pools_yaml)
{
	char doc[4096];
	snprintf(doc, sizeof(doc), "%s%s", listeners, pools_yaml);
	cr_assert_eq(vd_config_parse(doc, strlen(doc), "pool.yaml", &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(vd_proxy_init(&px, &cfg, err, sizeof(err)), 0, "%s", err);
	scratch.reply = reply_buf;
	scratch.reply_cap = REPLY_CAP;
}

static void fini(void)
{
	vd_proxy_fini(&px);
	vd_config_free(&cfg);
}

TestSuite(pool, .fini = fini);

/* A MESSAGE with the given Call-ID, From user, To user/tag and R-URI user. */
static void send_msg(const char *call_id, const char *from_user, const char *to_tag,
		     const char *src_ip)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg),
			 "MESSAGE sip:+1555@ims.example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%s\r\n"
			 "f: <sip:%s@ims.example.com>;tag=1\r\n"
			 "To: <sip:+1555@ims.example.com>%s%s\r\n"
			 "Call-ID: %s\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
			 "P-Asserted-Identity: <sip:%s@ims.example.com>\r\n"
			 "Content-Length: 0\r\n\r\n",
			 call_id, from_user, to_tag ? ";tag=" : "", to_tag ? to_tag : "", call_id,
			 from_user);
	union vd_sockaddr src = fixture_addr(src_ip, 5060);
	memcpy(pktmem + VD_PROXY_HEADROOM, msg, (size_t)n);
	struct vd_pktbuf pkt = { pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, (uint32_t)n };
	vd_proxy_process(&px, &pkt, &src, 0, &scratch, &res);
}

static const char three_groups[] =
	"pools:\n"
	"  - name: pcscf\n"
	"    members:\n"
	"      - {host: 127.0.0.1, port: 5070, priority: 0}\n"
	"      - {host: 127.0.0.1, port: 5071, priority: 0}\n"
	"      - {host: 127.0.0.1, port: 5072, priority: 1}\n"
	"      - {host: 127.0.0.1, port: 5073, priority: 2}\n";

/* Spread 300 calls and count per member. */
static void spread(unsigned counts[4], const char *to_tag)
{
	char cid[32];
	memset(counts, 0, 4 * sizeof(unsigned));
	for (int i = 0; i < 300; i++) {
		snprintf(cid, sizeof(cid), "c%d", i);
		send_msg(cid, "+1234", to_tag, "10.0.0.1");
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "call %d", i);
		counts[res.member]++;
	}
}

Test(pool, lowest_priority_group_takes_the_traffic_and_the_next_one_takes_over)
{
	unsigned c[4];
	load(three_groups);
	spread(c, NULL);
	cr_expect(c[0] > 100 && c[1] > 100 && c[2] == 0 && c[3] == 0, "%u %u %u %u", c[0], c[1],
		  c[2], c[3]);
	vd_proxy_member_state(&px, 0, 0, false, false);
	spread(c, NULL);
	cr_expect(c[0] == 0 && c[1] == 300, "one of group 0 left: it takes all");
	vd_proxy_member_state(&px, 0, 1, false, false);
	spread(c, NULL);
	cr_expect(c[2] == 300, "group 0 down: group 1 takes over");
	vd_proxy_member_state(&px, 0, 2, false, false);
	spread(c, NULL);
	cr_expect(c[3] == 300, "then group 2");
	vd_proxy_member_state(&px, 0, 3, false, false);
	send_msg("c1", "+1234", NULL, "10.0.0.1");
	cr_expect_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 503, "all groups down: 503");
	vd_proxy_member_state(&px, 0, 0, true, false);
	spread(c, NULL);
	cr_expect(c[0] == 300, "a member of group 0 back up takes the traffic back");
}

Test(pool, a_drained_member_gets_no_new_dialogs_but_keeps_its_running_ones)
{
	unsigned before[4], fresh[4], dialog[4];
	load(three_groups);
	spread(before, NULL);
	cr_assert_gt(before[0], 0);
	vd_proxy_member_state(&px, 0, 0, true, true);
	spread(fresh, NULL);
	cr_expect_eq(fresh[0], 0, "initial requests avoid the drained member");
	cr_expect_eq(fresh[1], 300);
	spread(dialog, "remote-tag");
	cr_expect_eq(dialog[0], before[0], "in-dialog requests still reach it, the same ones");
	cr_expect_eq(dialog[1], before[1]);
	vd_proxy_member_state(&px, 0, 0, true, false);
	spread(fresh, NULL);
	cr_expect_eq(fresh[0], before[0], "undrained: back to the original spread");
}

static int member_for(const char *call_id, const char *from_user, const char *src)
{
	send_msg(call_id, from_user, NULL, src);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	return res.member;
}

/* With `hash`, requests that share the key go to one member whatever their Call-ID. */
static void same_key_same_member(const char *hash, bool by_from, bool by_src)
{
	char doc[512], cid[32], user[32];
	snprintf(doc, sizeof(doc),
		 "pools:\n  - name: p\n    hash: %s\n    members:\n"
		 "      - {host: 127.0.0.1, port: 5070}\n      - {host: 127.0.0.1, port: 5071}\n"
		 "      - {host: 127.0.0.1, port: 5072}\n",
		 hash);
	load(doc);
	unsigned seen[3] = { 0, 0, 0 };
	for (int u = 0; u < 40; u++) {
		snprintf(user, sizeof(user), "+1%04d", u);
		char ip[32];
		snprintf(ip, sizeof(ip), "10.0.%d.1", u);
		int first = -1;
		for (int c = 0; c < 5; c++) {
			snprintf(cid, sizeof(cid), "u%d-c%d", u, c);
			int m = member_for(cid, by_from || by_src ? user : cid, by_src ? ip : "10.0.0.1");
			if (first < 0)
				first = m;
			cr_expect_eq(m, first, "%s: key %d call %d", hash, u, c);
		}
		seen[first]++;
	}
	cr_expect(seen[0] && seen[1] && seen[2], "%s spreads keys: %u %u %u", hash, seen[0],
		  seen[1], seen[2]);
}

Test(pool, from_user_key)
{
	same_key_same_member("from-user", true, false);
}

Test(pool, header_key_p_asserted_identity)
{
	same_key_same_member("header:P-Asserted-Identity", true, false);
}

Test(pool, source_ip_key)
{
	same_key_same_member("source-ip", false, true);
}

Test(pool, ruri_user_key_on_real_messages)
{
	load("pools:\n  - name: p\n    hash: ruri-user\n    members:\n"
	     "      - {host: 127.0.0.1, port: 5070}\n      - {host: 127.0.0.1, port: 5071}\n");
	/* 14 (INVITE) and 20 (CANCEL) share the R-URI user; 28 (OPTIONS) too: +10123456789 */
	static const char *const files[] = { "good/14-invite-sdp.sip", "good/20-cancel.sip",
					     "good/28-options-user.sip" };
	int first = -1;
	for (int i = 0; i < 3; i++) {
		struct corpus_msg m = corpus_load(files[i]);
		union vd_sockaddr src = fixture_addr("192.168.1.15", 5060);
		memcpy(pktmem + VD_PROXY_HEADROOM, m.buf, m.len);
		struct vd_pktbuf pkt = { pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, (uint32_t)m.len };
		vd_proxy_process(&px, &pkt, &src, 0, &scratch, &res);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s", files[i]);
		if (first < 0)
			first = res.member;
		cr_expect_eq(res.member, first, "%s", files[i]);
		corpus_free(&m);
	}
}

Test(pool, config_rejects_bad_pools)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{ "pool: {name: a, members: [{host: 127.0.0.1}]}\n"
		  "pools: [{name: b, members: [{host: 127.0.0.1}]}]\n",
		  "pools: give either pool or pools, not both" },
		{ "pools: [{name: a, members: [{host: 127.0.0.1}]}, {name: a, members: [{host: "
		  "127.0.0.2}]}]\n",
		  "pools[1].name: \"a\" is also the name of pools[0]" },
		{ "pools: [{name: a, hash: md5, members: [{host: 127.0.0.1}]}]\n",
		  "pools[0].hash: \"md5\" is not one of" },
		{ "pools: [{name: a, members: [{host: 127.0.0.1, priority: -1}]}]\n",
		  "pools[0].members[0].priority: -1 is out of range" },
		{ "pool: {name: a, members: [{host: 127.0.0.1}]}\nhealth: {interval_ms: 100, "
		  "timeout_ms: 200}\n",
		  "health.timeout_ms: 200 is longer than interval_ms (100)" },
		{ "pool: {name: a, members: [{host: 127.0.0.1}]}\nadmin: {address: localhost}\n",
		  "admin.address: \"localhost\" is not a numeric" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char doc[1024];
		snprintf(doc, sizeof(doc), "%s%s", listeners, bad[i].yaml);
		cr_expect_eq(vd_config_parse(doc, strlen(doc), "p.yaml", &cfg, err, sizeof(err)),
			     -EINVAL, "case %zu", i);
		cr_expect(strstr(err, bad[i].want), "case %zu: %s", i, err);
	}
}

Test(pool, config_health_and_admin_sections)
{
	char doc[1024];
	snprintf(doc, sizeof(doc), "%spools: [{name: a, members: [{host: 127.0.0.1}]}]\n"
				   "health: {interval_ms: 200, down_after: 2}\n"
				   "admin: {address: '::1', port: 8080}\n",
		 listeners);
	cr_assert_eq(vd_config_parse(doc, strlen(doc), "p.yaml", &cfg, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect(cfg.health.enabled);
	cr_expect_eq(cfg.health.interval_ms, 200);
	cr_expect_eq(cfg.health.timeout_ms, 200, "the default timeout is capped at the interval");
	cr_expect_eq(cfg.health.down_after, 2);
	cr_expect_eq(cfg.health.up_after, VD_CFG_DEFAULT_UP_AFTER);
	cr_expect(cfg.admin.enabled);
	cr_expect_str_eq(cfg.admin.address, "::1");
	cr_expect_eq(cfg.admin.port, 8080);
	cr_expect_eq(vd_config_pool_index(&cfg, "a"), 0);
	cr_expect_eq(vd_config_pool_index(&cfg, "b"), -1);
}

/* ---- routing rules through the proxy ---- */

static const char rules_cfg[] =
	"pools:\n"
	"  - {name: pcscf, members: [{host: 127.0.0.1, port: 5070}]}\n"
	"  - {name: emergency, members: [{host: 127.0.0.1, port: 5099}]}\n"
	"  - {name: lab, members: [{host: 127.0.0.1, port: 5098}]}\n"
	"rules:\n"
	"  - {name: sos, methods: [INVITE, MESSAGE], ruri: '^sip:(\\+1)?911@', route: emergency}\n"
	"  - {name: blocked, from: 'sip:\\+1666', reject: 403 Number Blocked}\n"
	"  - {name: scanners, source: [203.0.113.0/24], drop: 'true'}\n"
	"  - {name: lab-ue, headers: [{name: P-Asserted-Identity, regex: '\\+1999'}], route: lab}\n"
	"  - {name: default, route: pcscf}\n";

static void send_req(const char *method, const char *ruri_user, const char *from_user,
		     const char *src_ip)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg),
			 "%s sip:%s@ims.example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKr%s%s\r\n"
			 "f: <sip:%s@ims.example.com>;tag=1\r\n"
			 "To: <sip:%s@ims.example.com>\r\nCall-ID: r-%s-%s\r\n"
			 "CSeq: 1 %s\r\nMax-Forwards: 70\r\n"
			 "P-Asserted-Identity: <sip:%s@ims.example.com>\r\n"
			 "Content-Length: 0\r\n\r\n",
			 method, ruri_user, ruri_user, from_user, from_user, ruri_user, ruri_user,
			 from_user, method, from_user);
	union vd_sockaddr src = fixture_addr(src_ip, 5060);
	memcpy(pktmem + VD_PROXY_HEADROOM, msg, (size_t)n);
	struct vd_pktbuf pkt = { pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, (uint32_t)n };
	vd_proxy_process(&px, &pkt, &src, 0, &scratch, &res);
}

Test(pool, routing_rules_pick_the_pool_or_reject_or_drop)
{
	load(rules_cfg);
	send_req("INVITE", "911", "+1234", "10.0.0.1");
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.pool, 1, "an emergency call goes to the emergency pool");
	cr_expect_eq(res.rule, 0);
	send_req("INVITE", "+1911", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 1);
	send_req("BYE", "911", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 0, "the method set is part of the rule");
	send_req("MESSAGE", "+1555", "+16665551212", "10.0.0.1");
	cr_expect_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 403);
	cr_expect(strncmp(reply_buf, "SIP/2.0 403 Number Blocked\r\n", 28) == 0);
	send_req("MESSAGE", "+1555", "+1234", "203.0.113.9");
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_RULE);
	send_req("MESSAGE", "+1555", "+1999000", "10.0.0.1");
	cr_expect_eq(res.pool, 2, "a header regex routes the lab UE to the lab pool");
	send_req("REGISTER", "+1555", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 0);
	cr_expect_eq(res.rule, 4, "the default rule");
}

/* No open relay: a Route naming a host that is neither a member nor a trusted next hop does
 * not bypass the rules; the request goes to the pool the rules choose, its Route intact. */
Test(pool, a_request_with_an_untrusted_route_meets_the_rules_and_goes_to_the_pool)
{
	load(rules_cfg);
	static const char req[] = "INVITE sip:911@ims.example.com SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfr\r\n"
				  "Route: <sip:10.7.7.7;lr>\r\n"
				  "From: <sip:+1234@x>;tag=1\r\nTo: <sip:911@x>\r\n"
				  "Call-ID: fr\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
				  "Content-Length: 0\r\n\r\n";
	union vd_sockaddr src = fixture_addr("10.0.0.1", 5060);
	memcpy(pktmem + VD_PROXY_HEADROOM, req, sizeof(req) - 1);
	struct vd_pktbuf pkt = { pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, sizeof(req) - 1 };
	vd_proxy_process(&px, &pkt, &src, 0, &scratch, &res);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_geq(res.member, 0, "a pool member, not 10.7.7.7");
	cr_expect_geq(res.rule, 0, "the rules decided");
	cr_expect_eq(res.route, VD_ROUTE_TO_POOL);
	cr_expect(memmem(pkt.base + pkt.off, pkt.len, "Route: <sip:10.7.7.7;lr>\r\n", 26),
		  "the member gets the Route set intact");
}

Test(pool, rule_config_errors_name_the_rule_and_field)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{ "pool: {name: p, members: [{host: 127.0.0.1}]}\nrules: [{name: r, route: nope}]\n",
		  "rules[0].route: no pool named \"nope\"" },
		{ "pool: {name: p, members: [{host: 127.0.0.1}]}\nrules: [{name: r}]\n",
		  "rules[0]: needs exactly one action" },
		{ "pool: {name: p, members: [{host: 127.0.0.1}]}\nrules: [{reject: '200 OK'}]\n",
		  "rules[0].reject: \"200 OK\" is not \"CODE REASON\"" },
		{ "pool: {name: p, members: [{host: 127.0.0.1}]}\nrules: [{methods: [JUMP], drop: "
		  "'true'}]\n",
		  "rules[0].methods: \"JUMP\" is not a method" },
		{ "pool: {name: p, members: [{host: 127.0.0.1}]}\nrules: [{source: [10.0.0.0/33], "
		  "drop: 'true'}]\n",
		  "rules[0].source: \"10.0.0.0/33\" is not" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char doc[1024];
		snprintf(doc, sizeof(doc), "%s%s", listeners, bad[i].yaml);
		cr_expect_eq(vd_config_parse(doc, strlen(doc), "r.yaml", &cfg, err, sizeof(err)),
			     -EINVAL, "case %zu", i);
		cr_expect(strstr(err, bad[i].want), "case %zu: %s", i, err);
	}
	/* a bad regex is found when the snapshot compiles the rules */
	char doc[512];
	snprintf(doc, sizeof(doc), "%spool: {name: p, members: [{host: 127.0.0.1, port: 5070}]}\n"
				   "rules: [{name: broken, ruri: '([a-z', route: p}]\n",
		 listeners);
	cr_assert_eq(vd_config_parse(doc, strlen(doc), "r.yaml", &cfg, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_lt(vd_proxy_init(&px, &cfg, err, sizeof(err)), 0);
	cr_expect(strstr(err, "broken"), "the error names the rule: %s", err);
}

Test(pool, anchored_rules_match_only_at_the_start_of_the_field)
{
	/* "^..." fixed-width patterns are compiled unanchored with start-of-match reporting
	 * (much faster to compile): the anchoring must still hold */
	load("pools:\n"
	     "  - {name: p0, members: [{host: 127.0.0.1, port: 5070}]}\n"
	     "  - {name: p1, members: [{host: 127.0.0.1, port: 5071}]}\n"
	     "  - {name: p2, members: [{host: 127.0.0.1, port: 5072}]}\n"
	     "  - {name: p3, members: [{host: 127.0.0.1, port: 5073}]}\n"
	     "rules:\n"
	     "  - {name: fixed, ruri: '^sip:\\+1212', route: p1}\n"
	     "  - {name: alt, ruri: '^sip:\\+1313|\\+1414@', route: p2}\n"
	     "  - {name: variable, ruri: '^sip:\\+15\\d+@', route: p3}\n");
	send_req("MESSAGE", "+12125550100", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 1, "fixed-width prefix at the start");
	send_req("MESSAGE", "x+1212", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 0, "the prefix later in the field is not a match");
	send_req("MESSAGE", "+1313", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 2, "first alternative, anchored");
	send_req("MESSAGE", "a+1414", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 2, "second alternative, not anchored: matches anywhere");
	send_req("MESSAGE", "+15123", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 3, "variable width: compiled as written");
	send_req("MESSAGE", "x+15123", "+1234", "10.0.0.1");
	cr_expect_eq(res.pool, 0);
}

/* ACL-like rules hold for every request: naming a next hop in a Route does not get a dropped
 * source or a blocked number past them. */
Test(pool, drop_and_reject_rules_apply_to_requests_carrying_a_route)
{
	load(rules_cfg);
	static const char fmt[] = "MESSAGE sip:bob@ims.example.com SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKacl%d\r\n"
				  "Route: <sip:127.0.0.1:5070;lr>\r\n"
				  "From: <sip:%s@x>;tag=1\r\nTo: <sip:bob@x>\r\n"
				  "Call-ID: acl%d\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
				  "Content-Length: 0\r\n\r\n";
	struct {
		const char *from, *src;
		uint8_t verdict;
		uint16_t status;
	} cases[] = {
		{ "+1234", "203.0.113.5", VD_VERDICT_DROP, 0 },  /* scanners: source drop */
		{ "+1666", "10.0.0.1", VD_VERDICT_REPLY, 403 },  /* blocked: reject */
		{ "+1234", "10.0.0.1", VD_VERDICT_FORWARD, 0 }, /* the Route to a member is followed */
	};
	for (int i = 0; i < 3; i++) {
		char req[1024];
		int n = snprintf(req, sizeof(req), fmt, i, cases[i].from, i);
		union vd_sockaddr src = fixture_addr(cases[i].src, 5060);
		memcpy(pktmem + VD_PROXY_HEADROOM, req, (size_t)n);
		struct vd_pktbuf pkt = { pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, (uint32_t)n };
		vd_proxy_process(&px, &pkt, &src, 0, &scratch, &res);
		cr_expect_eq(res.verdict, cases[i].verdict, "case %d", i);
		if (cases[i].status)
			cr_expect_eq(res.status, cases[i].status, "case %d", i);
	}
	cr_expect_eq(res.route, VD_ROUTE_FOLLOWED);
}
