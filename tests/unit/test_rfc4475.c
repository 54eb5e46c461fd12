/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 4475 (SIP torture test messages) through the stateless proxy: every message of
 * tests/corpus/rfc4475/ must end as tests/corpus/rfc4475/MANIFEST says (forward, a local reply
 * with its exact code and reason phrase, or a counted drop). A forwarded message must scan
 * clean again and keep its body byte-identical.
 *
 * Requests come from a client, 192.0.2.10:5060; responses from pool member 127.0.0.1:5070,
 * which is how a proxy meets a response. The proxy is tests/support/proxy_fixture.h with the
 * configuration defaults for the limits (max_vias, max_message_size).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "proxy_harness.h"

#define MANIFEST_FIELDS 4

static struct vd_sip_msg rescan;

/* The limits at their configuration defaults (the fixture's are tighter). */
static void setup(void)
{
	harness_init(VD_HASH_CALL_ID);
	px.limits.max_vias = VD_CFG_DEFAULT_MAX_VIAS;
	px.limits.max_headers = VD_CFG_DEFAULT_MAX_HEADERS;
	px.max_message_size = VD_CFG_DEFAULT_MAX_MESSAGE;
}

/* One MANIFEST line: "file | outcome | section | why", outcome "forward", "reply <code>
 * <reason>" or "drop <counter>". */
struct case_4475 {
	char file[64];
	char outcome[128];
	char section[16];
};

static char *trim(char *s)
{
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static bool case_next(FILE *f, struct case_4475 *c)
{
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char *field[MANIFEST_FIELDS], *save = NULL, *p = line;
		int n = 0;
		for (char *t; n < MANIFEST_FIELDS && (t = strtok_r(p, "|", &save)); p = NULL)
			field[n++] = trim(t);
		cr_assert_eq(n, MANIFEST_FIELDS, "malformed MANIFEST line: %s", line);
		snprintf(c->file, sizeof(c->file), "%s", field[0]);
		snprintf(c->outcome, sizeof(c->outcome), "%s", field[1]);
		snprintf(c->section, sizeof(c->section), "%s", field[2]);
		return true;
	}
	return false;
}

static void run(const struct corpus_msg *m)
{
	bool response = m->len >= 4 && memcmp(m->buf, "SIP/", 4) == 0;
	run_bytes(m->buf, m->len, response ? "127.0.0.1" : "192.0.2.10", response ? 5070 : 5060);
}

/* What happened, in MANIFEST terms, for the failure message. */
static void describe(char *out, size_t n)
{
	if (res.verdict == VD_VERDICT_FORWARD) {
		snprintf(out, n, "forward");
	} else if (res.verdict == VD_VERDICT_DROP) {
		snprintf(out, n, "drop %s", vd_drop_name((enum vd_drop)res.drop));
	} else {
		const char *eol = memchr(reply_buf, '\r', res.reply_len);
		int len = eol ? (int)(eol - reply_buf) : (int)res.reply_len;
		snprintf(out, n, "reply %.*s", len > 8 ? len - 8 : 0, reply_buf + 8);
	}
}

/* The forwarded message scans clean and carries the received body byte for byte. */
static bool forward_ok(const struct corpus_msg *m, char *why, size_t n)
{
	const struct vd_sip_msg *s = &scratch.msg;
	uint32_t body_off = s->body_off, body_len = s->body_len;
	enum vd_sip_err e = vd_sip_scan(pkt.base + pkt.off, pkt.len, &px.limits, &rescan);
	if (e != VD_SIP_OK) {
		snprintf(why, n, "forwarded message rescans as %s", vd_sip_err_name(e));
		return false;
	}
	if (rescan.body_len != body_len ||
	    memcmp(rescan.buf + rescan.body_off, m->buf + body_off, body_len) != 0) {
		snprintf(why, n, "forwarded body differs (%u bytes, received %u)", rescan.body_len,
			 body_len);
		return false;
	}
	return true;
}

TestSuite(rfc4475, .init = setup, .fini = harness_fini);

Test(rfc4475, every_torture_message_ends_as_the_manifest_says)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/corpus/rfc4475/MANIFEST", VD_SOURCE_ROOT);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	struct case_4475 c;
	unsigned cases = 0, failed = 0;
	while (case_next(f, &c)) {
		char rel[128], got[192], why[160] = "";
		snprintf(rel, sizeof(rel), "rfc4475/%s", c.file);
		struct corpus_msg m = corpus_load(rel);
		run(&m);
		describe(got, sizeof(got));
		bool ok = strcmp(got, c.outcome) == 0;
		if (ok && res.verdict == VD_VERDICT_FORWARD)
			ok = forward_ok(&m, why, sizeof(why));
		if (ok && res.verdict == VD_VERDICT_REPLY)
			ok = strstr(reply(), "\r\nContent-Length: 0\r\n\r\n") != NULL;
		cr_expect(ok, "%s (RFC 4475 %s): expected \"%s\", got \"%s\" %s", c.file, c.section,
			  c.outcome, got, why);
		failed += !ok;
		cases++;
		corpus_free(&m);
	}
	fclose(f);
	cr_expect_eq(cases, 49, "RFC 4475 section 3 has 49 messages, MANIFEST lists %u", cases);
	cr_log_info("RFC 4475: %u of %u cases as expected", cases - failed, cases);
}
