/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's loop (see include/viaduct/control.h). It waits in poll() on a
 * signalfd and an inotify descriptor; nothing here runs per message.
 *
 * File changes: editors save by writing in place or by renaming a temporary file over the
 * config, so the watch is on the config's directory and reacts to a write-close or a
 * rename onto the config's name. A half-written file fails validation and is refused; the
 * final write then reloads it.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "viaduct/control.h"
#include "viaduct/log.h"
#include "viaduct/route.h"
#include "viaduct/stats.h"

#define INOTIFY_BUF 4096

struct vd_control_stats vd_control_stats;
static const char *config_path;

void vd_control_print_stats(const struct vd_dp *dp)
{
	struct vd_stats total;
	char label[32];
	memset(&total, 0, sizeof(total));
	for (unsigned i = 0; i < vd_dp_workers(dp); i++) {
		static struct vd_stats w;
		memset(&w, 0, sizeof(w));
		vd_stats_add(&w, vd_dp_worker_stats(dp, i));
		snprintf(label, sizeof(label), "worker=%u", i);
		vd_stats_print(stderr, label, &w);
		vd_stats_add(&total, &w);
	}
	vd_stats_print(stderr, "total", &total);
	fprintf(stderr, "stats control reloads=%lu reloads_failed=%lu member_changes=%lu "
			"snapshot_version=%lu\n",
		(unsigned long)vd_control_stats.reloads,
		(unsigned long)vd_control_stats.reloads_failed,
		(unsigned long)vd_control_stats.member_changes,
		(unsigned long)vd_route_published->version);
	fflush(stderr);
}

int vd_control_reload(const char *why, char *msg, size_t msglen)
{
	char err[768];
	vd_route_lock();
	struct vd_route *r = vd_route_build(config_path, vd_route_published, err, sizeof(err));
	if (!r) {
		vd_control_stats.reloads_failed++;
		vd_route_unlock();
		vd_log(VD_LOG_ERROR, "reload (%s) refused, the running config keeps serving: %s",
		       why, err);
		snprintf(msg, msglen, "%s", err);
		return -EINVAL;
	}
	vd_route_publish(r);
	vd_control_stats.reloads++;
	uint64_t version = r->version;
	vd_route_unlock();
	vd_log(VD_LOG_INFO, "reload (%s): snapshot %lu published", why, (unsigned long)version);
	snprintf(msg, msglen, "snapshot %lu published", (unsigned long)version);
	return 0;
}

static int open_signalfd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Watch the config's directory; returns the inotify fd or -1 (reload then only by signal). */
static int open_inotify(const char *path, char *base, size_t baselen)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(base, baselen, "%s", basename(tmp));
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return -1;
	if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* True when the pending events touch the config file. */
static bool config_touched(int fd, const char *base)
{
	char buf[INOTIFY_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->len && strcmp(ev->name, base) == 0)
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	return hit;
}

/* Returns true when it is time to stop. */
static bool on_signal(int sfd, const struct vd_dp *dp)
{
	struct signalfd_siginfo si;
	char msg[768];
	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			vd_control_print_stats(dp);
		} else if (si.ssi_signo == SIGHUP) {
			vd_control_reload("SIGHUP", msg, sizeof(msg));
		} else {
			vd_log(VD_LOG_INFO, "%s: stopping", strsignal((int)si.ssi_signo));
			return true;
		}
	}
	return false;
}

int vd_control_run(const char *path, struct vd_dp *dp)
{
	char base[NAME_MAX + 1], msg[768];
	config_path = path;
	int sfd = open_signalfd();
	if (sfd < 0) {
		vd_log(VD_LOG_ERROR, "signalfd: %s", strerror(errno));
		return -errno;
	}
	int ifd = open_inotify(path, base, sizeof(base));
	if (ifd < 0)
		vd_log(VD_LOG_WARN, "cannot watch %s (%s): reload with SIGHUP", path,
		       strerror(errno));
	for (;;) {
		struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN },
					 { .fd = ifd, .events = POLLIN } };
		int r = poll(pfd, ifd >= 0 ? 2 : 1, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN && on_signal(sfd, dp))
			break;
		if (ifd >= 0 && (pfd[1].revents & POLLIN) && config_touched(ifd, base))
			vd_control_reload("file changed", msg, sizeof(msg));
	}
	close(sfd);
	if (ifd >= 0)
		close(ifd);
	return 0;
}
