/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The proxy's edge policy on real-shaped requests: no open relay (Route followed only to a
 * member or a trusted next hop; anything else to the pool with its Route intact, or 403 Not
 * relaying), requests from members travel outward (Route, else Request-URI, never back into
 * the pool), this host's addresses at our port are us (no loop through the kernel),
 * Proxy-Require (420 + Unsupported), 513 for messages over the size limit, and the Server
 * header as configured.
 *
 * The proxy is tests/support/proxy_fixture.h: 127.0.0.1:5060 advertised as 192.168.1.2:5060
 * and [::1]:5060; members 127.0.0.1:5070 and :5080. No packet leaves the process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_harness.h"

static void setup(void)
{
	harness_init(VD_HASH_CALL_ID);
}

TestSuite(policy, .init = setup, .fini = harness_fini);

/* A request with the given method, Request-URI and extra header lines (each with CRLF). */
static const char *request(const char *method, const char *ruri, const char *extra)
{
	static char msg[4096];
	snprintf(msg, sizeof(msg),
		 "%s %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-pol-%s\r\n"
		 "%s"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@ims.example.com>;tag=a1\r\n"
		 "To: <sip:bob@ims.example.com>\r\n"
		 "Call-ID: policy-1@198.51.100.7\r\n"
		 "CSeq: 1 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, ruri, method, extra, method);
	return msg;
}

Test(policy, a_route_to_an_untrusted_address_goes_to_the_pool_with_the_route_intact)
{
	run_text(request("INVITE", "sip:bob@ims.example.com", "Route: <sip:203.0.113.99:5060;lr>\r\n"),
	    "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.route, VD_ROUTE_TO_POOL);
	cr_expect_geq(res.member, 0, "a pool member, never 203.0.113.99");
	cr_expect(dst_is("127.0.0.1", 5070) || dst_is("127.0.0.1", 5080));
	cr_expect(strstr(out(), "\r\nRoute: <sip:203.0.113.99:5060;lr>\r\n"), "%s", out());
}

Test(policy, untrusted_route_reject_answers_403_not_relaying_and_never_answers_an_ack)
{
	px.untrusted_route = VD_UNTRUSTED_REJECT;
	run_text(request("MESSAGE", "sip:bob@ims.example.com", "Route: <sip:203.0.113.99;lr>\r\n"),
	    "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 403);
	cr_expect_eq(res.route, VD_ROUTE_REFUSED);
	cr_expect(strncmp(reply(), "SIP/2.0 403 Not relaying\r\n", 26) == 0, "%s", reply());
	/* a name is never trusted: no DNS on the datapath */
	run_text(request("MESSAGE", "sip:bob@ims.example.com", "Route: <sip:relay.example.net;lr>\r\n"),
	    "198.51.100.7", 5060);
	cr_expect_eq(res.status, 403);
	run_text(request("ACK", "sip:bob@ims.example.com", "Route: <sip:203.0.113.99;lr>\r\n"),
	    "198.51.100.7", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_BAD_ACK);
}

Test(policy, a_route_to_a_member_or_a_trusted_next_hop_is_followed)
{
	run_text(request("BYE", "sip:bob@10.1.2.3", "Route: <sip:127.0.0.1:5080;lr>\r\n"),
	    "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.route, VD_ROUTE_FOLLOWED);
	cr_expect_eq(res.member, -1);
	cr_expect(dst_is("127.0.0.1", 5080));

	trust("192.0.2.0/24");
	run_text(request("BYE", "sip:bob@10.1.2.3", "Route: <sip:192.0.2.44:5062;lr>\r\n"),
	    "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.route, VD_ROUTE_FOLLOWED);
	cr_expect(dst_is("192.0.2.44", 5062));
	/* maddr decides (RFC 3261 16.5): an untrusted maddr is not followed */
	run_text(request("BYE", "sip:bob@10.1.2.3",
		    "Route: <sip:192.0.2.44:5062;maddr=203.0.113.9;lr>\r\n"),
	    "198.51.100.7", 5060);
	cr_expect_eq(res.route, VD_ROUTE_TO_POOL);
}

Test(policy, wildcard_loopback_and_local_addresses_at_our_port_are_us)
{
	static const char *const routes[] = {
		"Route: <sip:0.0.0.0:5060;lr>\r\n",
		"Route: <sip:127.0.0.1:5060;lr>\r\n",
		"Route: <sip:127.9.9.9:5060;lr>\r\n",
		"Route: <sip:[::1]:5060;lr>\r\n",
		"Route: <sip:[::]:5060;lr>\r\n",
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		run_text(request("INVITE", "sip:bob@ims.example.com", routes[i]), "198.51.100.7", 5060);
		cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s", routes[i]);
		cr_expect_eq(res.route, VD_ROUTE_NONE, "%s: popped as ours", routes[i]);
		cr_expect_geq(res.member, 0, "%s", routes[i]);
		cr_expect_null(strstr(out(), "\r\nRoute:"), "%s: removed", routes[i]);
	}
	/* another port of this host is not us: an untrusted hop, so the pool */
	run_text(request("INVITE", "sip:bob@ims.example.com", "Route: <sip:127.0.0.1:5999;lr>\r\n"),
	    "198.51.100.7", 5060);
	cr_expect_eq(res.route, VD_ROUTE_TO_POOL);
}

Test(policy, a_request_from_a_member_goes_outward_by_route_then_request_uri)
{
	/* the callee's BYE through a member that record-routed us without r2: only our Route */
	run_text(request("BYE", "sip:alice@10.1.2.3:5062", "Route: <sip:192.168.1.2:5060;lr>\r\n"),
	    "127.0.0.1", 5070);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "%s", reply());
	cr_expect_eq(res.route, VD_ROUTE_OUTBOUND);
	cr_expect_eq(res.member, -1, "never back into the pool");
	cr_expect(dst_is("10.1.2.3", 5062));
	cr_expect_null(strstr(out(), "\r\nRoute:"));

	/* with a Route left after ours: that one */
	run_text(request("BYE", "sip:alice@10.1.2.3:5062",
		    "Route: <sip:192.168.1.2:5060;lr>, <sip:10.4.4.4:5090;lr>\r\n"),
	    "127.0.0.1", 5080);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.route, VD_ROUTE_OUTBOUND);
	cr_expect(dst_is("10.4.4.4", 5090));

	/* IPv6 Request-URI */
	run_text(request("NOTIFY", "sip:alice@[2001:db8::5]:5062", ""), "127.0.0.1", 5070);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect(dst_is("2001:db8::5", 5062));
	cr_expect_eq(res.egress, 1, "out through the IPv6 listener");
}

Test(policy, a_request_from_a_member_naming_us_or_a_name_is_answered_not_looped)
{
	run_text(request("MESSAGE", "sip:bob@192.168.1.2:5060", ""), "127.0.0.1", 5070);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 482);
	run_text(request("MESSAGE", "sip:bob@127.0.0.1:5080", ""), "127.0.0.1", 5070);
	cr_expect_eq(res.status, 482, "a member's request to a member is not ours to loop");
	run_text(request("MESSAGE", "sip:bob@ue.example.com", ""), "127.0.0.1", 5070);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 503);
	cr_expect(strstr(reply(), " 503 Next Hop Unresolvable\r\n"));
}

Test(policy, proxy_require_with_unknown_tags_gets_420_listing_them)
{
	const char *pr = "Proxy-Require: foo, sec-agree\r\nProxy-Require: bar\r\n";
	run_text(request("REGISTER", "sip:ims.example.com", pr), "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 420);
	cr_expect(strncmp(reply(), "SIP/2.0 420 Bad Extension\r\n", 27) == 0, "%s", reply());
	cr_expect(strstr(reply(), "\r\nUnsupported: foo, sec-agree, bar\r\n"), "%s", reply());

	strcpy(px.option_tags[0], "sec-agree");
	px.option_tag_len[0] = 9;
	px.n_option_tags = 1;
	run_text(request("REGISTER", "sip:ims.example.com", pr), "198.51.100.7", 5060);
	cr_expect(strstr(reply(), "\r\nUnsupported: foo, bar\r\n"), "%s", reply());

	run_text(request("REGISTER", "sip:ims.example.com", "Proxy-Require: Sec-Agree\r\n"),
	    "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD, "a tag the config lets through");
	cr_expect(strstr(out(), "\r\nProxy-Require: Sec-Agree\r\n"), "forwarded unchanged");

	/* CANCEL and ACK are never refused for an extension (RFC 3261 8.2.2.3) */
	run_text(request("CANCEL", "sip:bob@ims.example.com", "Proxy-Require: foo\r\n"), "198.51.100.7",
	    5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
}

Test(policy, options_to_us_lists_allow_accept_and_supported)
{
	strcpy(cfg.policy.proxy_require[0], "sec-agree");
	strcpy(cfg.policy.proxy_require[1], "path");
	cfg.policy.n_proxy_require = 2;
	harness_reload();
	run_text(request("OPTIONS", "sip:192.168.1.2:5060", ""), "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 200);
	cr_expect(strstr(reply(), "\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER,"));
	cr_expect(strstr(reply(), "\r\nAccept: application/sdp\r\n"));
	cr_expect(strstr(reply(), "\r\nSupported: sec-agree, path\r\n"), "%s", reply());
	/* the same tags now pass Proxy-Require */
	run_text(request("REGISTER", "sip:ims.example.com", "Proxy-Require: path, sec-agree\r\n"),
	    "198.51.100.7", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
}

/* rules/scanners.yaml's way of dropping a scanner, and a source rule that rejects: both hold
 * for OPTIONS to us too (scanners ping the proxy itself), which others still get 200 for. */
Test(policy, drop_and_reject_rules_hold_for_options_to_us)
{
	static struct vd_rule_spec rules[2];
	memset(rules, 0, sizeof(rules));
	strcpy(rules[0].name, "scanner");
	rules[0].n_headers = 1;
	strcpy(rules[0].headers[0].name, "User-Agent");
	rules[0].headers[0].regex = "(?i)friendly-scanner";
	rules[0].action = VD_ACTION_DROP;
	strcpy(rules[1].name, "lab");
	cr_assert_eq(vd_prefix_parse("203.0.113.0/24", &rules[1].cidrs[0]), 0);
	rules[1].n_cidrs = 1;
	rules[1].action = VD_ACTION_REJECT;
	rules[1].code = 403;
	strcpy(rules[1].reason, "Lab Blocked");
	cfg.rules = rules; /* static, like the fixture's pools: never freed */
	cfg.n_rules = 2;
	harness_reload();

	run_text(request("OPTIONS", "sip:192.168.1.2:5060", "User-Agent: Friendly-Scanner\r\n"),
		 "198.51.100.7", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_RULE);
	cr_expect_eq(res.rule, 0);
	run_text(request("OPTIONS", "sip:192.168.1.2:5060", "User-Agent: phone/1.0\r\n"),
		 "203.0.113.5", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 403);
	cr_expect(strstr(reply(), "SIP/2.0 403 Lab Blocked\r\n"), "%s", reply());
	run_text(request("OPTIONS", "sip:192.168.1.2:5060", "User-Agent: phone/1.0\r\n"),
		 "198.51.100.7", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 200);
	cfg.rules = NULL;
	cfg.n_rules = 0;
}

Test(policy, a_message_over_the_size_limit_gets_513_when_its_request_line_and_via_read)
{
	static char big[20001];
	const char *head = "MESSAGE sip:bob@ims.example.com SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKbig;rport\r\n"
			   "Max-Forwards: 70\r\n"
			   "From: <sip:alice@ims.example.com>;tag=b1\r\n"
			   "To: <sip:bob@ims.example.com>\r\n"
			   "Call-ID: big-1@198.51.100.7\r\n"
			   "CSeq: 7 MESSAGE\r\n"
			   "Content-Type: text/plain\r\n"
			   "Content-Length: 19500\r\n\r\n";
	size_t n = strlen(head);
	memcpy(big, head, n);
	memset(big + n, 'x', 19500);
	n += 19500;
	cr_assert_gt(n, 16384);
	run_bytes(big, n, "198.51.100.7", 40000);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 513);
	cr_expect(strncmp(reply(), "SIP/2.0 513 Message Too Large\r\n", 31) == 0, "%s", reply());
	cr_expect(strstr(reply(), "\r\nCSeq: 7 MESSAGE\r\n"));
	cr_expect(dst_is("198.51.100.7", 40000), "to the source port: rport");
	cr_expect_lt(res.reply_len, n);

	/* the kernel datapath hands over only the first max_message_size bytes */
	union vd_sockaddr src = fixture_addr("198.51.100.7", 40000);
	pkt = (struct vd_pktbuf){ pktmem, sizeof(pktmem), VD_PROXY_HEADROOM, 16384 };
	memcpy(pktmem + VD_PROXY_HEADROOM, big, 16384);
	vd_proxy_too_large(&px, &pkt, &src, &scratch, &res);
	cr_expect_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 513);

	/* garbage, a response or an ACK of that size: a counted drop, nothing sent back */
	memset(big, 'z', n);
	run_bytes(big, n, "198.51.100.7", 40000);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
	cr_expect_eq(res.drop, VD_DROP_TOO_LARGE);
	memcpy(big, "ACK", 3);
	memcpy(big, head, strlen(head));
	memcpy(big, "ACK    ", 7);
	run_bytes(big, n, "198.51.100.7", 40000);
	cr_expect_eq(res.verdict, VD_VERDICT_DROP);
}

Test(policy, the_server_header_is_configurable_and_can_be_left_out)
{
	run_text(request("OPTIONS", "sip:192.168.1.2", ""), "198.51.100.7", 5060);
	cr_expect(strstr(reply(), "\r\nServer: viaduct\r\n"));
	cfg.policy.server_header[0] = '\0';
	harness_reload();
	run_text(request("OPTIONS", "sip:192.168.1.2", ""), "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_null(strstr(reply(), "Server:"), "%s", reply());
}

Test(policy, a_member_that_is_our_own_listener_is_a_config_error)
{
	char err[256];
	harness_fini();
	fixture_set(&cfg.pools[0].members[1].addr, &cfg.pools[0].members[1].addrlen, "127.0.0.1",
		    5060);
	strcpy(cfg.pools[0].members[1].host, "127.0.0.1");
	cr_expect_eq(vd_proxy_init(&px, &cfg, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "pools[0].members[1]: 127.0.0.1 is one of viaduct's own listeners"),
		  "%s", err);
	/* any local address at the listener's port is the same loop */
	fixture_set(&cfg.pools[0].members[1].addr, &cfg.pools[0].members[1].addrlen, "127.0.0.9",
		    5060);
	cr_expect_eq(vd_proxy_init(&px, &cfg, err, sizeof(err)), -EINVAL);
	harness_init(VD_HASH_CALL_ID); /* a valid proxy for the fini */
}

/* Found by the fuzzer: a Proxy-Require line longer than the Unsupported header's room must be
 * cut at a tag boundary, never written past it. */
Test(policy, a_huge_proxy_require_list_is_cut_not_overrun)
{
	char pr[3000];
	int n = snprintf(pr, sizeof(pr), "Proxy-Require: ");
	for (int i = 0; i < 120; i++)
		n += snprintf(pr + n, sizeof(pr) - (size_t)n, "%sext-option-%03d", i ? ", " : "", i);
	snprintf(pr + n, sizeof(pr) - (size_t)n, "\r\n");
	run_text(request("REGISTER", "sip:ims.example.com", pr), "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 420);
	const char *u = strstr(reply(), "\r\nUnsupported: ext-option-000, ext-option-001");
	cr_assert_not_null(u, "%s", reply());
	const char *e = strstr(u + 2, "\r\n");
	cr_assert_not_null(e);
	cr_expect_lt(e - u, 512, "cut to the room there is");
	cr_expect_eq(e[-1] >= '0' && e[-1] <= '9', 1, "ends on a whole tag");
}

/* Found by fuzz_proxy: a Proxy-Require "tag" that is no token (here a quoted string with
 * escaped BEL and NUL bytes, which the scanner accepts) was echoed into Unsupported cut at
 * its blanks, control bytes and all: a 420 no parser takes. Only tokens are listed now; the
 * request is still refused. */
Test(policy, proxy_require_lists_only_option_tags_in_unsupported)
{
	static const char pr[] = "Proxy-Require: foo, \"bel:\\\a nul:\\\0\", bar\r\n";
	char msg[4096];
	const char *r = request("REGISTER", "sip:ims.example.com", "Proxy-Require: X\r\n");
	/* the request with pr in place of the placeholder line, its NUL byte included */
	const char *at = strstr(r, "Proxy-Require: X\r\n");
	size_t head = (size_t)(at - r), tail = strlen(at + 19);
	memcpy(msg, r, head);
	memcpy(msg + head, pr, sizeof(pr) - 1);
	memcpy(msg + head + sizeof(pr) - 1, at + 19, tail);
	size_t len = head + sizeof(pr) - 1 + tail;
	static struct vd_sip_msg m;
	cr_assert_eq(vd_sip_scan(msg, len, &px.limits, &m), VD_SIP_OK, "a well-formed request");

	run_bytes(msg, len, "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 420);
	cr_expect(strstr(reply(), "\r\nUnsupported: foo, bar\r\n"), "%s", reply());
	cr_expect_eq(vd_sip_scan(reply_buf, res.reply_len, &px.limits, &m), VD_SIP_OK,
		     "the 420 is well-formed: %s", reply());

	/* nothing but a non-token: refused, with no (empty) Unsupported header */
	run_text(request("REGISTER", "sip:ims.example.com", "Proxy-Require: \"x y\"\r\n"),
		 "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 420);
	cr_expect_null(strstr(reply(), "Unsupported"), "%s", reply());
}

/* Forward a request from 203.0.113.7:40123 and build the member's 200 from it (every Via
 * copied, RFC 3261 8.2.6). */
static void forwarded_then_answered(char *resp, size_t cap)
{
	run_text(request("MESSAGE", "sip:bob@ims.example.com", ""), "203.0.113.7", 40123);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	const char *fwd = out();
	snprintf(resp, cap, "SIP/2.0 200 OK%s", strstr(fwd, "\r\n"));
}

static char *replaced(const char *s, const char *from, const char *to)
{
	static char r[4096];
	const char *p = strstr(s, from);
	cr_assert_not_null(p, "%s in %s", from, s);
	snprintf(r, sizeof(r), "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return r;
}

/* A forged response with our Via on top must not make us send to an address of the forger's
 * choosing: our branch carries a keyed check of where the response goes. */
Test(policy, a_response_is_relayed_only_to_where_its_request_came_from)
{
	char resp[4096];
	forwarded_then_answered(resp, sizeof(resp));
	/* the client's Via as forwarded: received and rport set from its source */
	cr_assert(strstr(resp, ";received=203.0.113.7"), "%s", resp);
	run_text(resp, "127.0.0.1", 5070);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "the genuine response");

	static const struct {
		const char *from, *to, *what;
	} forged[] = {
		{ ";received=203.0.113.7", ";received=192.0.2.99", "another received" },
		{ ";received=203.0.113.7", "", "received removed (sent-by is the client's)" },
		{ ";received=203.0.113.7", ";received=203.0.113.7;rport=40124", "an rport added" },
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		run_text(replaced(resp, forged[i].from, forged[i].to), "127.0.0.1", 5070);
		cr_expect_eq(res.verdict, VD_VERDICT_DROP, "%s", forged[i].what);
		cr_expect_eq(res.drop, VD_DROP_FORGED_RESPONSE, "%s", forged[i].what);
	}
	/* the check is keyed: another instance's key does not vouch for it */
	vd_branch_key_derive("another deployment's secret", cfg.policy.branch_key);
	harness_reload();
	run_text(resp, "127.0.0.1", 5070);
	cr_expect_eq(res.drop, VD_DROP_FORGED_RESPONSE, "another key");
}

/* RFC 3261 16.3 step 4: a request carrying our Via with the loop key it has now would go the
 * same way again: 482. One whose Request-URI changed since (a spiral) goes on. */
Test(policy, a_request_coming_back_unchanged_is_a_loop_and_a_spiral_is_not)
{
	run_text(request("MESSAGE", "sip:bob@ims.example.com", "Route: <sip:127.0.0.1:5080;lr>\r\n"),
		 "198.51.100.7", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	char fwd[4096];
	strcpy(fwd, out());

	/* it comes back as it left (through a hop that forwards without a Via of its own) */
	run_text(fwd, "203.0.113.9", 5060);
	cr_assert_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 482);
	cr_expect(strncmp(reply(), "SIP/2.0 482 Loop Detected\r\n", 27) == 0, "%s", reply());

	/* the same with another proxy's Via on top: our Via is found further down */
	char more[4200];
	const char *eol = strstr(fwd, "\r\n") + 2;
	snprintf(more, sizeof(more), "%.*sVia: SIP/2.0/UDP 192.0.2.77:5060;branch=z9hG4bKother\r\n%s",
		 (int)(eol - fwd), fwd, eol);
	run_text(more, "192.0.2.77", 5060);
	cr_expect_eq(res.status, 482, "%s", reply());

	/* a spiral: the Request-URI changed on the way (a registrar retargeted it) */
	run_text(replaced(more, "MESSAGE sip:bob@ims.example.com", "MESSAGE sip:bob@10.1.2.3:5062"),
		 "192.0.2.77", 5060);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD, "%s", reply());
}

/* RFC 3261 18.2.2: a response to a request that came over a connection goes back over that
 * connection. Our branch carries the connection's token, covered by the keyed check: the
 * datapath gets the token back from the response alone, and a changed token is a forgery. */
Test(policy, a_request_over_a_connection_gets_its_token_back_in_the_response)
{
	const uint64_t token = 0x0000000701000003ULL; /* generation 7, worker 1, slot 3 */
	scratch.conn = token;
	run_text(request("MESSAGE", "sip:bob@ims.example.com", ""), "203.0.113.7", 40123);
	scratch.conn = 0;
	cr_assert_eq(res.verdict, VD_VERDICT_FORWARD);
	const char *fwd = out();
	const char *b = strstr(fwd, "branch=z9hG4bKvd");
	cr_assert_not_null(b, "%s", fwd);
	b += strlen("branch=");
	size_t blen = strcspn(b, ";,\r");
	cr_expect_eq(blen, VD_BRANCH_CONN_LEN, "%.*s", (int)blen, b);
	cr_expect(strncmp(b + VD_BRANCH_LEN, "0000000701000003", 16) == 0, "%.*s", (int)blen, b);

	char resp[4096];
	snprintf(resp, sizeof(resp), "SIP/2.0 200 OK%s", strstr(fwd, "\r\n"));
	run_text(resp, "127.0.0.1", 5070);
	cr_expect_eq(res.verdict, VD_VERDICT_FORWARD);
	cr_expect_eq(res.conn, token, "the token, back from the branch: %llx",
		     (unsigned long long)res.conn);
	cr_expect_eq(res.transport, VD_TP_TCP);

	/* another connection's token (another client's connection): a forgery */
	run_text(replaced(resp, "0000000701000003", "0000000701000004"), "127.0.0.1", 5070);
	cr_expect_eq(res.drop, VD_DROP_FORGED_RESPONSE, "a changed token");
	/* the token cut off: the check was made with it */
	run_text(replaced(resp, "0000000701000003", ""), "127.0.0.1", 5070);
	cr_expect_eq(res.drop, VD_DROP_FORGED_RESPONSE, "the token removed");
	/* a request arriving again with our connection branch is still a loop (16.3 step 4) */
	static char again[HARNESS_MSG_CAP + VD_PROXY_HEADROOM + 1];
	memcpy(again, fwd, strlen(fwd) + 1);
	run_text(again, "203.0.113.7", 40123);
	cr_expect_eq(res.verdict, VD_VERDICT_REPLY);
	cr_expect_eq(res.status, 482);
}
