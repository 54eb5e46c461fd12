/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * systemd integration without systemd: the log line formats (terminal and journal, the
 * priority prefix on every line, cutting), the log_level key, and what vd_notify_* sends,
 * read from a unix datagram socket that NOTIFY_SOCKET names (as systemd's would), including
 * the watchdog: pings only while every worker's round counter moves.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "viaduct/config_file.h"
#include "viaduct/log.h"
#include "viaduct/notify.h"

/* ---- log lines ---- */

static const struct timespec ts = { .tv_sec = 1700000000, .tv_nsec = 123456789 };

Test(log, terminal_format)
{
	char b[256];
	size_t n = vd_log_format(b, sizeof(b), false, VD_LOG_ERROR, &ts, "bind: in use");
	cr_assert_str_eq(b, "2023-11-14T22:13:20.123Z viaduct: error: bind: in use\n");
	cr_assert_eq(n, strlen(b));
	vd_log_format(b, sizeof(b), false, VD_LOG_INFO, &ts, "ready");
	cr_assert_str_eq(b, "2023-11-14T22:13:20.123Z viaduct: ready\n");
}

Test(log, journal_priorities)
{
	static const struct {
		enum vd_log_level level;
		const char *want;
	} t[] = {
		{ VD_LOG_ERROR, "<3>m\n" },
		{ VD_LOG_WARN, "<4>m\n" },
		{ VD_LOG_INFO, "<6>m\n" },
		{ VD_LOG_DEBUG, "<7>m\n" },
	};
	char b[64];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		vd_log_format(b, sizeof(b), true, t[i].level, &ts, "m");
		cr_assert_str_eq(b, t[i].want);
	}
}

Test(log, journal_prefix_on_every_line)
{
	char b[128];
	vd_log_format(b, sizeof(b), true, VD_LOG_WARN, &ts, "first\nsecond\nthird");
	cr_assert_str_eq(b, "<4>first\n<4>second\n<4>third\n");
	vd_log_format(b, sizeof(b), true, VD_LOG_ERROR, &ts, "");
	cr_assert_str_eq(b, "<3>\n");
}

Test(log, cut_keeps_newline)
{
	char msg[300], b[64];
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	for (int journal = 0; journal < 2; journal++) {
		size_t n = vd_log_format(b, sizeof(b), journal, VD_LOG_INFO, &ts, msg);
		cr_assert_eq(n, sizeof(b) - 1);
		cr_assert_eq(b[n - 1], '\n');
		cr_assert_eq(b[n], '\0');
	}
}

Test(log, levels)
{
	cr_assert_eq(vd_log_level_parse("error"), VD_LOG_ERROR);
	cr_assert_eq(vd_log_level_parse("warn"), VD_LOG_WARN);
	cr_assert_eq(vd_log_level_parse("info"), VD_LOG_INFO);
	cr_assert_eq(vd_log_level_parse("debug"), VD_LOG_DEBUG);
	cr_assert_eq(vd_log_level_parse("verbose"), -1);
	cr_assert_str_eq(vd_log_level_name(VD_LOG_WARN), "warn");
}

static void load(const char *extra, struct vd_config *cfg, int want_rc, char *err, size_t len)
{
	char path[] = "/tmp/vd_notify_XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	dprintf(fd, "%slisteners: [{address: 127.0.0.1, port: 25790}]\n"
		    "pool: {name: a, members: [{host: 127.0.0.1, port: 25791}]}\n",
		extra);
	close(fd);
	int rc = vd_config_load(path, cfg, err, len);
	unlink(path);
	cr_assert_eq(rc, want_rc, "%s", err);
}

Test(log, config_key)
{
	struct vd_config cfg;
	char err[512];
	load("", &cfg, 0, err, sizeof(err));
	cr_assert_eq(cfg.log_level, VD_LOG_INFO);
	vd_config_free(&cfg);
	load("log_level: debug\n", &cfg, 0, err, sizeof(err));
	cr_assert_eq(cfg.log_level, VD_LOG_DEBUG);
	vd_config_free(&cfg);
	load("log_level: warning\n", &cfg, 0, err, sizeof(err));
	cr_assert_eq(cfg.log_level, VD_LOG_WARN);
	vd_config_free(&cfg);
	load("log_level: loud\n", &cfg, -EINVAL, err, sizeof(err));
	cr_assert(strstr(err, "log_level") && strstr(err, "error, warn (or warning), info or debug"),
		  "%s", err);
}

/* ---- sd_notify through a socket of ours ---- */

static int sock = -1;
static char sock_path[108];

static void open_notify_socket(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(sock_path, sizeof(sock_path), "/tmp/vd_notify_%d.sock", (int)getpid());
	unlink(sock_path);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(sock >= 0);
	cr_assert_eq(bind(sock, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
	setenv("NOTIFY_SOCKET", sock_path, 1);
}

static void close_notify_socket(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	if (sock >= 0)
		close(sock);
	sock = -1;
	unlink(sock_path);
}

/* The next datagram, or "" when none is waiting. */
static const char *next_msg(void)
{
	static char b[512];
	ssize_t n = recv(sock, b, sizeof(b) - 1, MSG_DONTWAIT);
	b[n > 0 ? n : 0] = '\0';
	return b;
}

static uint64_t rounds[3];
static unsigned n_workers = 3;

static unsigned view_workers(const void *dp)
{
	(void)dp;
	return n_workers;
}

static uint64_t view_rounds(const void *dp, unsigned i)
{
	(void)dp;
	return rounds[i];
}

static const struct vd_dp_view view = { .name = "test", .workers = view_workers,
					.worker_rounds = view_rounds };

TestSuite(notify, .init = open_notify_socket, .fini = close_notify_socket);

Test(notify, ready_waits_for_every_worker)
{
	rounds[0] = rounds[1] = rounds[2] = 1;
	cr_assert_eq(vd_notify_ready(&view, 7), 0);
	cr_assert_str_eq(next_msg(), "READY=1\nSTATUS=serving: snapshot 7, 3 worker(s), test "
				     "datapath");
	rounds[2] = 0; /* one never ran: no READY=1 (after the wait) */
	cr_assert_eq(vd_notify_ready(&view, 7), -ETIMEDOUT);
	cr_assert_str_eq(next_msg(), "");
}

Test(notify, reload_and_stop)
{
	vd_notify_reloading("SIGHUP");
	const char *m = next_msg();
	cr_assert(!strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27), "%s", m);
	cr_assert(strstr(m, "\nSTATUS=reloading (SIGHUP)"), "%s", m);
	vd_notify_reloaded(8, true);
	cr_assert_str_eq(next_msg(), "READY=1\nSTATUS=serving: snapshot 8");
	vd_notify_reloaded(8, false);
	cr_assert(!strncmp(next_msg(), "READY=1\nSTATUS=serving: snapshot 8 (the last reload", 51));
	vd_notify_status(9);
	cr_assert_str_eq(next_msg(), "STATUS=serving: snapshot 9");
	vd_notify_stopping("Terminated");
	cr_assert_str_eq(next_msg(), "STOPPING=1\nSTATUS=stopping (Terminated)");
}

Test(notify, no_watchdog_without_usec)
{
	struct vd_watchdog wd;
	unsetenv("WATCHDOG_USEC");
	cr_assert_eq(vd_notify_watchdog_init(&wd, 0), 0);
	cr_assert_eq(vd_notify_watchdog(&wd, &view, 100000), -1);
	cr_assert_str_eq(next_msg(), "");
}

Test(notify, watchdog_pings_while_workers_move)
{
	struct vd_watchdog wd;
	setenv("WATCHDOG_USEC", "4000000", 1); /* WatchdogSec=4: sampled every 2 s */
	cr_assert_eq(vd_notify_watchdog_init(&wd, 1000), 2000);
	rounds[0] = rounds[1] = rounds[2] = 5;
	cr_assert_eq(vd_notify_watchdog(&wd, &view, 1500), 1500); /* not due yet */
	cr_assert_str_eq(next_msg(), "");
	cr_assert_eq(vd_notify_watchdog(&wd, &view, 3000), 2000); /* first sample: ping */
	cr_assert_str_eq(next_msg(), "WATCHDOG=1");
	rounds[0] = 6, rounds[1] = 6, rounds[2] = 6; /* idle workers still complete rounds */
	vd_notify_watchdog(&wd, &view, 5000);
	cr_assert_str_eq(next_msg(), "WATCHDOG=1");
	rounds[0] = 7, rounds[2] = 7; /* worker 1 is stuck: no ping */
	vd_notify_watchdog(&wd, &view, 7000);
	cr_assert_str_eq(next_msg(), "");
	cr_assert_eq(wd.stuck, 1);
	rounds[0] = 8, rounds[2] = 8; /* still stuck */
	vd_notify_watchdog(&wd, &view, 9000);
	cr_assert_str_eq(next_msg(), "");
	rounds[0] = 9, rounds[1] = 7, rounds[2] = 9; /* it recovered */
	vd_notify_watchdog(&wd, &view, 11000);
	cr_assert_str_eq(next_msg(), "WATCHDOG=1");
	cr_assert_eq(wd.stuck, -1);
}

Test(notify, watchdog_for_another_process_is_ignored)
{
	struct vd_watchdog wd;
	setenv("WATCHDOG_USEC", "4000000", 1);
	setenv("WATCHDOG_PID", "1", 1); /* meant for PID 1, not us */
	cr_assert_eq(vd_notify_watchdog_init(&wd, 0), 0);
	unsetenv("WATCHDOG_PID");
}

Test(notify, short_watchdog_is_raised)
{
	struct vd_watchdog wd;
	setenv("WATCHDOG_USEC", "200000", 1);
	cr_assert_eq(vd_notify_watchdog_init(&wd, 0), VD_NOTIFY_MIN_CHECK_MS);
}

Test(notify, stuck_worker_pure)
{
	struct vd_watchdog wd = { .stuck = -1 };
	uint64_t r[2] = { 0, 0 };
	cr_assert_eq(vd_notify_stuck_worker(&wd, r, 2), -1); /* first sample */
	cr_assert_eq(vd_notify_stuck_worker(&wd, r, 2), 0);
	r[0] = 1;
	cr_assert_eq(vd_notify_stuck_worker(&wd, r, 2), 1);
	r[0] = 2, r[1] = 1;
	cr_assert_eq(vd_notify_stuck_worker(&wd, r, 2), -1);
}
