/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The config files watched with inotify. Editors save by writing in place or by renaming a
 * temporary file over the config, so the watch is on the directories of the config and of
 * every file it includes, and reacts to a write-close or a rename onto one of those names. A
 * half-written file fails validation and is refused; the final write then reloads it.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "control_internal.h"
#include "viaduct/log.h"

#define INOTIFY_BUF 4096

/*
 * The watch: every file of the published snapshot (the main config and its includes), by
 * its directory, because editors replace files by renaming over them.
 */

static void split_path(const char *path, char *dir, char *base)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(base, NAME_MAX + 1, "%s", basename(tmp));
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, PATH_MAX, "%s", dirname(tmp));
}

/* Watch the directories of the published snapshot's files (again after each reload).
 * Holds the builders' lock: the admin thread may publish meanwhile. */
void vd_control_watch(int fd)
{
	char dir[PATH_MAX], base[NAME_MAX + 1];
	vd_route_lock();
	const struct vd_config *c = &vd_route_published->cfg;
	for (unsigned i = 0; fd >= 0 && i < c->n_files; i++) {
		split_path(c->files[i], dir, base);
		int wd = inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO);
		if (wd < 0) {
			vd_log(VD_LOG_WARN, "cannot watch %s (%s): reload it with SIGHUP", dir,
			       strerror(errno));
			continue;
		}
		unsigned k = 0;
		while (k < vd_ctl.n_watches && vd_ctl.watches[k].wd != wd)
			k++;
		if (k == vd_ctl.n_watches && vd_ctl.n_watches < WATCH_MAX) {
			vd_ctl.watches[vd_ctl.n_watches].wd = wd;
			snprintf(vd_ctl.watches[vd_ctl.n_watches++].dir, PATH_MAX, "%s", dir);
		}
	}
	vd_route_unlock();
}

/* Is dir/name one of the published snapshot's files? Caller holds the builders' lock. */
static bool is_config_file(const char *dir, const char *name)
{
	char d[PATH_MAX], b[NAME_MAX + 1];
	const struct vd_config *c = &vd_route_published->cfg;
	for (unsigned i = 0; i < c->n_files; i++) {
		split_path(c->files[i], d, b);
		if (strcmp(d, dir) == 0 && strcmp(b, name) == 0)
			return true;
	}
	return false;
}

/* True when the pending events touch a config file. */
bool vd_control_touched(int fd)
{
	char buf[INOTIFY_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;
	vd_route_lock();
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			for (unsigned k = 0; ev->len && k < vd_ctl.n_watches; k++)
				if (vd_ctl.watches[k].wd == ev->wd && is_config_file(vd_ctl.watches[k].dir, ev->name))
					hit = true;
			p += sizeof(*ev) + ev->len;
		}
	vd_route_unlock();
	return hit;
}

/* Returns true when it is time to stop. */
