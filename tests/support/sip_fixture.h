/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the scanner's unit tests share (tests/unit/test_sip_views.c, test_sip_malformed.c): the
 * limits every scan runs with, the one message view they fill and scanning a corpus file into
 * it. Include it once per test binary.
 */
#ifndef VD_TEST_SIP_FIXTURE_H
#define VD_TEST_SIP_FIXTURE_H

#include <criterion/criterion.h>

#include "corpus.h"
#include "viaduct/sip.h"

static const struct vd_sip_limits limits = { 96, 16 };
static struct vd_sip_msg msg; /* large: keep it off the stack */

static inline enum vd_sip_err scan_file(const char *rel, struct corpus_msg *m)
{
	*m = corpus_load(rel);
	return vd_sip_scan(m->buf, m->len, &limits, &msg);
}

#endif
