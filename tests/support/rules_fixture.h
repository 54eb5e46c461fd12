/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the routing rules' unit tests share (tests/unit/test_rules_match.c, test_rules_compile.c,
 * test_rules_scratch.c): compiling specs that must compile, and matching a corpus message
 * (tests/corpus/good) from a given source address on a given listener.
 * Include it once per test binary.
 */
#ifndef VD_TEST_RULES_FIXTURE_H
#define VD_TEST_RULES_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "corpus.h"
#include "viaduct/rules.h"

#define M(x)	 (1u << VD_M_##x)
#define ERR_LEN	 512
#define SRC_PORT 5060

static const struct vd_sip_limits limits = {96, 16};
static struct vd_sip_msg msg; /* large: keep it off the stack */

static inline union vd_sockaddr sockaddr_of(const char *ip)
{
	union vd_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':')) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(SRC_PORT);
		cr_assert_eq(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), 1, "bad test ip %s", ip);
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(SRC_PORT);
		cr_assert_eq(inet_pton(AF_INET, ip, &a.in.sin_addr), 1, "bad test ip %s", ip);
	}
	return a;
}

static inline struct vd_rules *compile_ok(const struct vd_rule_spec *specs, unsigned n)
{
	struct vd_rules *r = NULL;
	char err[ERR_LEN] = "";
	int rc = vd_rules_compile(specs, n, &r, err, sizeof(err));

	cr_assert_eq(rc, 0, "compile failed (%d): %s", rc, err);
	cr_assert_not_null(r);
	return r;
}

/* Scan good/<file> into the static view; the buffer stays alive in *cm. */
static inline void scan_file(const char *file, struct corpus_msg *cm)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "good/%s", file);
	*cm = corpus_load(rel);
	cr_assert_eq(vd_sip_scan(cm->buf, cm->len, &limits, &msg), VD_SIP_OK, "%s does not scan",
		     file);
}

/* Index of the rule r picks for good/<file> from source `src` (NULL: none) on `listener`. */
static inline int match_file(const struct vd_rules *r, struct vd_rules_scratch *s,
			     const char *file, const char *src, unsigned listener)
{
	struct corpus_msg cm;
	union vd_sockaddr a;
	int got;

	scan_file(file, &cm);
	if (src)
		a = sockaddr_of(src);
	got = vd_rules_match(r, s, &msg, src ? &a : NULL, listener);
	corpus_free(&cm);
	return got;
}

#endif
