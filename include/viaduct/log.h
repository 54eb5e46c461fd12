/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane logging to stderr. In a terminal: "2026-11-21T10:00:00.123Z viaduct:
 * [level: ]message". Under systemd (JOURNAL_STREAM names our stderr): "<N>message", N the
 * syslog priority (sd-daemon.h's SD_ERR ... SD_DEBUG) on every line, no timestamp: journald
 * keeps its own. Never called per message on the datapath: bad packets are counted, not logged.
 */
#ifndef VIADUCT_LOG_H
#define VIADUCT_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Most to least severe: lines above the current level (vd_log_set_level) are skipped. */
enum vd_log_level { VD_LOG_ERROR, VD_LOG_WARN, VD_LOG_INFO, VD_LOG_DEBUG };

#define VD_LOG_LINE_MAX 1024 /* longer lines are cut */

void vd_log(enum vd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Lines up to this level are written, the rest skipped (default VD_LOG_INFO). Any thread. */
void vd_log_set_level(enum vd_log_level level);
enum vd_log_level vd_log_get_level(void);

/** "error", "warn", "info" or "debug". */
const char *vd_log_level_name(enum vd_log_level level);
/** The level named `name` (as vd_log_level_name gives it, or "warning"), or -1. */
int vd_log_level_parse(const char *name);

/**
 * Journal format (true) or terminal format; decided once at start by vd_log_init from
 * JOURNAL_STREAM, settable for tests.
 */
void vd_log_set_journal(bool journal);
/** Is stderr the journal's stream (JOURNAL_STREAM is "dev:inode" of our stderr)? Then use the
 * journal format. Call once at start, before threads log. */
void vd_log_init(void);

/**
 * Format one log line into buf (cap >= 64 bytes) as vd_log writes it, ending with '\n':
 * journal: "<3>" before every line of msg; terminal: the UTC time of ts, "viaduct: ", the
 * level. Pure: returns the length, NUL-terminated (cut at cap - 2, the newline kept).
 */
size_t vd_log_format(char *buf, size_t cap, bool journal, enum vd_log_level level,
		     const struct timespec *ts, const char *msg);

#endif
