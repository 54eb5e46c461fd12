/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane log lines with a UTC timestamp, one write per line so lines from several
 * threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "viaduct/log.h"

void vd_log(enum vd_log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = { "error: ", "warning: ", "" };
	char line[1024];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ viaduct: %s",
		      ts.tv_nsec / 1000000, prefix[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = m < 0 ? n : (n + m < (int)sizeof(line) - 1 ? n + m : (int)sizeof(line) - 2);
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
