/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shipped edge files, loaded as an operator would: rules/edge.yaml (which includes
 * rules/scanners.yaml) through the config loader, its rules compiled into the one database.
 * Every scanner User-Agent the file names (as the tools send it, in any case) must hit a drop
 * rule; the User-Agents of real phones, softphones, SDKs and operators' tools must not (a false
 * positive costs a subscriber service). The edge's protection values are pinned too, so a
 * change to them is a deliberate one (the README and the interop test rely on them).
 */
#include "config_fixture.h"

#include "viaduct/rules.h"
#include "viaduct/sip.h"

static const struct vd_sip_limits limits = {96, 16};
static struct vd_sip_msg msg;

/* The rule (index) the edge config picks for a REGISTER with this User-Agent and From
 * display name; -1: none. */
static int match_ua(const struct vd_rules *r, struct vd_rules_scratch *s, const char *ua,
		    const char *display)
{
	static char text[2048];
	int n = snprintf(text, sizeof(text),
			 "REGISTER sip:ims.example.net SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 10.20.30.40:5060;branch=z9hG4bK-sc1;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"%s\"<sip:1001@ims.example.net>;tag=f1\r\n"
			 "To: <sip:1001@ims.example.net>\r\n"
			 "Call-ID: scanners-1@10.20.30.40\r\n"
			 "CSeq: 1 REGISTER\r\n"
			 "Contact: <sip:1001@10.20.30.40:5060>\r\n"
			 "%s%s%s"
			 "Content-Length: 0\r\n\r\n",
			 display, ua ? "User-Agent: " : "", ua ? ua : "", ua ? "\r\n" : "");
	cr_assert_lt(n, (int)sizeof(text));
	cr_assert_eq(vd_sip_scan(text, (size_t)n, &limits, &msg), VD_SIP_OK, "%s", text);
	return vd_rules_match(r, s, &msg, NULL, 0);
}

static void compile_edge(struct vd_rules **r, struct vd_rules_scratch **s)
{
	char cerr[512];
	cr_assert_eq(load("rules/edge.yaml"), 0, "%s", err);
	cr_assert_eq(vd_rules_compile(cfg.rules, cfg.n_rules, r, cerr, sizeof(cerr)), 0, "%s",
		     cerr);
	cr_assert_eq(vd_rules_scratch_alloc(*r, s), 0);
}

Test(scanners, every_named_scanner_is_dropped_in_any_case)
{
	/* what the tools send (sources in rules/scanners.yaml), and case variants */
	static const char *const uas[] = {
		"friendly-scanner",
		"Friendly-Scanner",
		"FRIENDLY-SCANNER",
		"sipvicious",
		"SIPVicious PRO",
		"sipcli/v1.8",
		"sipcli/v2.2",
		"SIPCLI",
		"VaxSIPUserAgent/3.1",
		"vaxsipuseragent/3.5",
		"pplsip",
		"PPLSIP",
		"sipptk",
		"sundayddr",
		"Nmap NSE",
		"nmap nse",
	};
	struct vd_rules *r = NULL;
	struct vd_rules_scratch *s = NULL;
	compile_edge(&r, &s);
	for (size_t i = 0; i < sizeof(uas) / sizeof(uas[0]); i++) {
		int k = match_ua(r, s, uas[i], "1001");
		cr_expect_geq(k, 0, "User-Agent \"%s\" is not matched", uas[i]);
		if (k >= 0)
			cr_expect_eq(vd_rules_get(r, (unsigned)k)->action, VD_ACTION_DROP,
				     "User-Agent \"%s\": rule %s does not drop", uas[i],
				     vd_rules_get(r, (unsigned)k)->name);
	}
	/* svmap in compact mode: no User-Agent, From "sipvicious" */
	int k = match_ua(r, s, NULL, "sipvicious");
	cr_expect_geq(k, 0, "From \"sipvicious\" without a User-Agent is not matched");
	if (k >= 0)
		cr_expect_str_eq(vd_rules_get(r, (unsigned)k)->name, "scanner-sipvicious-from");
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

Test(scanners, real_phones_and_operators_tools_pass)
{
	static const char *const uas[] = {
		"Samsung IMS 6.0",
		"iOS/16.5 iPhone",
		"Xiaomi/IMS-3GPP",
		"IM-client/OMA1.0 HW-Rto/V1.0",
		"Linphone/5.2.0 (belle-sip/5.2.0)",
		"MicroSIP/3.21.3",
		"Zoiper rv2.10.19.8",
		"baresip v1.0.0 (x86_64/linux)",
		"PJSUA v2.13 Linux-6.1/x86_64/glibc-2.36",
		"PortSIP VoIP SDK 11.2",
		"Grandstream GXP2170 1.0.11.3",
		"Yealink SIP-T46S 66.86.0.15",
		"Cisco-SIPGateway/IOS-15.x",
		"Asterisk PBX 18.16.0",
		"FPBX-16.0.33(18.16.0)",
		"kamailio (5.6.3 (x86_64/linux))",
		"sipsak 0.9.8.1",
		"SIPp/Linux",
		"SIP Call",
		"Friendly Phone 2.0",
		"a security scanner appliance",
	};
	struct vd_rules *r = NULL;
	struct vd_rules_scratch *s = NULL;
	compile_edge(&r, &s);
	for (size_t i = 0; i < sizeof(uas) / sizeof(uas[0]); i++) {
		int k = match_ua(r, s, uas[i], "Alice Sipvicious-Smith");
		cr_expect_eq(k, -1, "User-Agent \"%s\" matches rule %s", uas[i],
			     k >= 0 ? vd_rules_get(r, (unsigned)k)->name : "");
	}
	vd_rules_scratch_free(s);
	vd_rules_free(r);
}

Test(scanners, edge_protection_values_as_documented)
{
	cr_assert_eq(load("rules/edge.yaml"), 0, "%s", err);
	const struct vd_cfg_guard *g = &cfg.guard;
	cr_expect_eq(g->acl_default_deny, false, "a UE-facing edge cannot list its UEs");
	cr_expect_eq(g->n_acl, 9);
	for (unsigned i = 0; i < g->n_acl; i++)
		cr_expect(g->acl[i].deny, "acl entry %u: only denials, the default allows", i);
	cr_expect_eq(g->rate, 10);
	cr_expect_eq(g->burst, 40);
	cr_expect_eq(g->over, VD_OVER_DROP);
	cr_expect_eq(g->ban_after, 10);
	cr_expect_eq(g->ban_seconds, 300);
	cr_expect_eq(g->sources, 1048576);
	cr_expect_eq(g->method_rate[VD_M_REGISTER], 2000);
	cr_expect_eq(g->method_burst[VD_M_REGISTER], 4000);
	cr_expect_eq(g->method_rate[VD_M_INVITE], 0, "an emergency call must never meet a limit");
	cr_expect_eq(g->reply_rate, 5);
	cr_expect_eq(g->reply_burst, 20);
	cr_expect_eq(g->shed, VD_SHED_DROP);
	/* the scanner rules come first (included rules precede the file's own) */
	cr_assert_geq(cfg.n_rules, 7);
	cr_expect_str_eq(cfg.rules[0].name, "scanner-sipvicious-ua");
}
