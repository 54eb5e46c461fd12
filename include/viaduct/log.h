/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane logging to stderr: "2026-11-21T10:00:00.123Z viaduct: [level: ]message".
 * Never called per message on the datapath: bad packets are counted, not logged.
 */
#ifndef VIADUCT_LOG_H
#define VIADUCT_LOG_H

enum vd_log_level { VD_LOG_ERROR, VD_LOG_WARN, VD_LOG_INFO };

void vd_log(enum vd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
