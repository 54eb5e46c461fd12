/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: load a corpus message into a heap buffer of exactly its size, so that
 * AddressSanitizer catches any read past the end.
 */
#ifndef VD_TEST_CORPUS_H
#define VD_TEST_CORPUS_H

#include <criterion/criterion.h>
#include <stdbool.h>
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

/* One line of tests/corpus/bad/MANIFEST: "<file> <code|drop> <reason>". */
struct manifest_entry {
	char file[128];
	char what[16];   /* "400", "505" or "drop" */
	char reason[128];
};

/* Read the next entry (comments skipped); false at the end. */
static inline bool manifest_next(FILE *f, struct manifest_entry *e)
{
	char line[320];
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' &&
		    sscanf(line, "%127s %15s %127[^\n]", e->file, e->what, e->reason) == 3)
			return true;
	return false;
}

static inline FILE *manifest_open(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/corpus/bad/MANIFEST", VD_SOURCE_ROOT);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	return f;
}

#endif
