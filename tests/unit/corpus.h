/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: load a corpus message into a heap buffer of exactly its size, so that
 * AddressSanitizer catches any read past the end.
 */
#ifndef VD_TEST_CORPUS_H
#define VD_TEST_CORPUS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/sip.h"

struct corpus_msg {
	char *buf;
	size_t len;
};

static inline struct corpus_msg corpus_load(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/corpus/%s", VD_SOURCE_ROOT, rel);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	struct corpus_msg m = { malloc(n > 0 ? (size_t)n : 1), (size_t)n };
	cr_assert_eq(fread(m.buf, 1, m.len, f), m.len);
	fclose(f);
	return m;
}

static inline void corpus_free(struct corpus_msg *m)
{
	free(m->buf);
	m->buf = NULL;
}

static inline int slice_is(struct vd_slice s, const char *lit)
{
	if (!lit)
		return s.p == NULL;
	return s.p && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

#endif
