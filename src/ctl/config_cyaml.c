/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libcyaml's messages turned into ours. libcyaml reports YAML-level errors (unknown key, wrong
 * node type, syntax) through its log callback, followed by a backtrace of frames; we keep the
 * error lines and rewrite the backtrace into the same "name: field.path: problem" line that
 * our own checks produce.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"


void cfg_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct cy_log *log = ctx;
	int n;

	/* libcyaml silently drops a second document; an operator would expect it to apply. */
	if (level < CYAML_LOG_ERROR && strstr(fmt, "documents after first"))
		log->extra_docs = true;
	if (level < CYAML_LOG_ERROR || log->len >= sizeof(log->text) - 1)
		return;
	n = vsnprintf(log->text + log->len, sizeof(log->text) - log->len, fmt, args);
	if (n > 0)
		log->len += (size_t)n;
	if (log->len >= sizeof(log->text))
		log->len = sizeof(log->text) - 1;
}

/* One frame of libcyaml's backtrace: "in mapping field 'k'", "in sequence entry 'n'" or
 * "in mapping", each with the line and column it was at. */
struct cy_frame {
	char key[64]; /* empty for a sequence entry or a bare mapping */
	unsigned entry; /* 1-based, as libcyaml counts */
	size_t line, col;
};

#define CY_MAX_FRAMES 16

static bool parse_frame(const char *s, struct cy_frame *f)
{
	memset(f, 0, sizeof(*f));
	return sscanf(s, " in mapping field '%63[^']' (line: %zu, column: %zu)", f->key, &f->line,
		      &f->col) == 3 ||
	       sscanf(s, " in sequence entry '%u' (line: %zu, column: %zu)", &f->entry, &f->line,
		      &f->col) == 3 ||
	       sscanf(s, " in mapping (line: %zu, column: %zu)", &f->line, &f->col) == 2;
}

/* Splits the captured log into the first error message and the backtrace frames. */
static unsigned split_log(char *text, char *msg, size_t msglen, struct cy_frame *frames)
{
	unsigned n = 0;
	char *save = NULL;

	*msg = '\0';
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (n < CY_MAX_FRAMES && parse_frame(line, &frames[n]))
			n++;
		else if (!*msg && strncmp(line, "Load: ", 6) == 0 && !strstr(line, "Backtrace:"))
			snprintf(msg, msglen, "%s", line + 6);
	}
	return n;
}

/* Frames run innermost first; the path reads outermost first. */
static void frames_to_path(const struct cy_frame *frames, unsigned n, char *path, size_t len)
{
	size_t used = 0;

	*path = '\0';
	while (n-- > 0 && used < len) {
		const struct cy_frame *f = &frames[n];
		int w = 0;

		if (f->key[0])
			w = snprintf(path + used, len - used, "%s%s", used ? "." : "", f->key);
		else if (f->entry)
			w = snprintf(path + used, len - used, "[%u]", f->entry - 1);
		used += w > 0 ? (size_t)w : 0;
	}
}

static const char *node_kind(const char *cyaml_name)
{
	static const char *const kinds[][2] = {
		{ "STRING", "a single value" },	 { "SCALAR", "a single value" },
		{ "SEQUENCE", "a list" },	 { "SEQUENCE_START", "a list" },
		{ "MAPPING", "a mapping" },	 { "MAPPING_START", "a mapping" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i][0], cyaml_name) == 0)
			return kinds[i][1];
	return cyaml_name;
}

/* Makes `key` the innermost path element: a bare "in mapping" frame gets a child frame, a
 * "mapping field" frame is renamed, since at that point it names whichever field came last. */
static void name_inner(struct cy_frame *frames, unsigned *n, const char *key)
{
	if (*n == 0)
		return;
	if (!frames[0].key[0] && *n < CY_MAX_FRAMES) {
		memmove(frames + 1, frames, *n * sizeof(*frames));
		(*n)++;
	}
	snprintf(frames[0].key, sizeof(frames[0].key), "%s", key);
}

/* Rewrites the libcyaml messages an operator is likely to meet; the rest pass verbatim. */
static void rewrite_msg(char *msg, size_t len, struct cy_frame *frames, unsigned *n)
{
	char a[64], b[64];

	if (sscanf(msg, "Missing required mapping field: %63s", a) == 1) {
		name_inner(frames, n, a);
		snprintf(msg, len, "required field is missing");
	} else if (sscanf(msg, "Unexpected key: %63[^\n]", a) == 1) {
		name_inner(frames, n, a);
		snprintf(msg, len, "unknown key");
	} else if (strncmp(msg, "Mapping field already seen:", 27) == 0) {
		snprintf(msg, len, "key appears more than once");
	} else if (sscanf(msg, "Expecting %63s got event: %63s", a, b) == 2) {
		a[strcspn(a, ",")] = '\0';
		snprintf(msg, len, "expected %s, got %s", node_kind(a), node_kind(b));
	}
}

int cfg_cyaml_failed(struct loader *ld, cyaml_err_t cerr, struct cy_log *log)
{
	struct cy_frame frames[CY_MAX_FRAMES];
	char msg[256], path[CFG_PATH_MAX + 64];
	unsigned n;

	log->text[log->len] = '\0';
	n = split_log(log->text, msg, sizeof(msg), frames);
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s", cyaml_strerror(cerr));
	rewrite_msg(msg, sizeof(msg), frames, &n);
	frames_to_path(frames, n, path, sizeof(path));
	if (cerr == CYAML_ERR_OOM) {
		cfg_put_err(ld, "out of memory");
		return -ENOMEM;
	}
	if (n == 0)
		cfg_put_err(ld, "%s", msg);
	else
		cfg_put_err(ld, "%s%s%s (near line %zu, column %zu)", path, path[0] ? ": " : "", msg,
			frames[0].line, frames[0].col);
	return -EINVAL;
}

