/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane log lines, one write per line so lines from several threads never interleave.
 * Two formats (log.h): the terminal's, with a UTC timestamp, and journald's, where a "<N>"
 * priority prefix on each line replaces the timestamp (systemd.exec(5), SyslogLevelPrefix=).
 * The level and the format are plain globals read with relaxed loads: a reload may change the
 * level while another thread logs, and a line logged at the old level is harmless.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "viaduct/log.h"

static int log_level = VD_LOG_INFO;
static int log_journal;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void vd_log_set_level(enum vd_log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum vd_log_level vd_log_get_level(void)
{
	return (enum vd_log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

const char *vd_log_level_name(enum vd_log_level level)
{
	return (unsigned)level <= VD_LOG_DEBUG ? level_names[level] : "?";
}

int vd_log_level_parse(const char *name)
{
	for (int i = 0; i <= VD_LOG_DEBUG; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	if (!strcmp(name, "warning")) /* syslog's and journalctl's name for it */
		return VD_LOG_WARN;
	return -1;
}

void vd_log_set_journal(bool journal)
{
	__atomic_store_n(&log_journal, journal, __ATOMIC_RELAXED);
}

void vd_log_init(void)
{
	/* systemd sets JOURNAL_STREAM for the stream it connects; a child started from a shell
	 * inside the service inherits the variable, not the stream: compare before trusting it */
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return;
	vd_log_set_journal((unsigned long long)st.st_dev == dev &&
			   (unsigned long long)st.st_ino == ino);
}

/* sd-daemon.h's prefixes, by enum vd_log_level */
static const char *const journal_prefix[] = { SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG };

size_t vd_log_format(char *buf, size_t cap, bool journal, enum vd_log_level level,
		     const struct timespec *ts, const char *msg)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	size_t n = 0, end = cap - 2; /* room for the newline and the NUL */
	if (level > VD_LOG_DEBUG)
		level = VD_LOG_DEBUG;
	if (!journal) {
		struct tm tm;
		gmtime_r(&ts->tv_sec, &tm);
		n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
		int w = snprintf(buf + n, cap - n, ".%03ldZ viaduct: %s", ts->tv_nsec / 1000000,
				 prefix[level]);
		n = w < 0 ? n : (n + (size_t)w < end ? n + (size_t)w : end);
		for (; *msg && n < end; msg++)
			buf[n++] = *msg;
	} else {
		/* journald splits on newlines: each line of a multi-line message gets the
		 * priority, else its continuation lines would be logged at the default one */
		const char *pre = journal_prefix[level];
		size_t plen = strlen(pre);
		bool at_start = true;
		for (; *msg; msg++) {
			if (at_start && n + plen < end) {
				memcpy(buf + n, pre, plen);
				n += plen;
			}
			if (n >= end)
				break;
			buf[n++] = *msg;
			at_start = *msg == '\n';
		}
		if (n == 0) { /* an empty message is still a line with its priority */
			memcpy(buf, pre, plen);
			n = plen;
		}
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

void vd_log(enum vd_log_level level, const char *fmt, ...)
{
	char msg[VD_LOG_LINE_MAX], line[VD_LOG_LINE_MAX + 64];
	struct timespec ts;

	if ((int)level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t n = vd_log_format(line, sizeof(line), __atomic_load_n(&log_journal, __ATOMIC_RELAXED),
				 level, &ts, msg);
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}
