/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's loop (see include/viaduct/control.h). It waits in poll() on a
 * signalfd and an inotify descriptor; nothing here runs per message.
 *
 * Its jobs, one file each: this one (publication: reload, member changes; signals; the loop),
 * control_health.c (the health prober and the changes it reports), control_watch.c (the
 * config files watched with inotify). Their state is one struct, vd_ctl (control_internal.h).
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "control_internal.h"
#include "viaduct/config_file.h"
#include "viaduct/health.h"
#include "viaduct/log.h"
#include "viaduct/notify.h"
#include "viaduct/route.h"
#include "viaduct/stats.h"


struct vd_control_stats vd_control_stats;
struct vd_control vd_ctl = { .signal_fd = -1, .inotify_fd = -1,
			     .passive_next_ms = UINT64_MAX };



void vd_control_print_stats(const struct vd_dp_view *dp)
{
	struct vd_stats total;
	char label[32];
	memset(&total, 0, sizeof(total));
	for (unsigned i = 0; i < dp->workers(dp->dp); i++) {
		static struct vd_stats w;
		memset(&w, 0, sizeof(w));
		vd_stats_add(&w, dp->worker_stats(dp->dp, i));
		snprintf(label, sizeof(label), "worker=%u", i);
		vd_stats_print(stderr, label, &w);
		vd_stats_add(&total, &w);
	}
	vd_stats_print(stderr, "total", &total);
	if (dp->print)
		dp->print(dp->dp, stderr);
	vd_route_lock(); /* the admin thread may publish (and free) meanwhile */
	unsigned long version = (unsigned long)vd_route_published->version;
	vd_route_unlock();
	fprintf(stderr, "stats control reloads=%lu reloads_failed=%lu member_changes=%lu "
			"snapshot_version=%lu",
		(unsigned long)CTL_READ(vd_control_stats.reloads),
		(unsigned long)CTL_READ(vd_control_stats.reloads_failed),
		(unsigned long)CTL_READ(vd_control_stats.member_changes), version);
	if (dp->kernel_drops)
		fprintf(stderr, " kernel_rx_drops=%lu", (unsigned long)dp->kernel_drops(dp->dp));
	const struct vd_control_stats *cs = &vd_control_stats;
	fprintf(stderr, " ejections_retry_after=%lu ejections_outlier=%lu ejections_refused=%lu "
			"ejection_returns=%lu overload_changes=%lu member_signals=%lu",
		(unsigned long)CTL_READ(cs->ejections[VD_EJECT_RETRY_AFTER]),
		(unsigned long)CTL_READ(cs->ejections[VD_EJECT_OUTLIER]),
		(unsigned long)CTL_READ(cs->ejections_refused),
		(unsigned long)CTL_READ(cs->returns),
		(unsigned long)CTL_READ(cs->overload_changes),
		(unsigned long)CTL_READ(cs->signals));
	if (dp->member_events_lost)
		fprintf(stderr, " member_events_lost=%lu",
			(unsigned long)dp->member_events_lost(dp->dp));
	fputc('\n', stderr);
	fflush(stderr);
}

/*
 * The dpdk: keys that are read once at start (EAL initialises once per process; ports, pool
 * and rings are set up once): the first one that differs, or NULL. networks and gateways
 * are not here: the datapath reads them from each snapshot.
 */
static const char *dpdk_start_key_changed(const struct vd_cfg_dpdk *a, const struct vd_cfg_dpdk *b)
{
	if (a->enabled != b->enabled)
		return "dpdk (section added or removed)";
	if (a->n_eal != b->n_eal)
		return "dpdk.eal";
	for (unsigned i = 0; i < a->n_eal; i++)
		if (strcmp(a->eal[i], b->eal[i]))
			return "dpdk.eal";
	if (strcmp(a->port, b->port))
		return "dpdk.port";
	if (strcmp(a->exception, b->exception))
		return "dpdk.exception";
	if (a->mbufs != b->mbufs)
		return "dpdk.mbufs";
	if (a->rx_desc != b->rx_desc || a->tx_desc != b->tx_desc)
		return "dpdk.rx_desc/tx_desc";
	return NULL;
}

/*
 * Every key read once at start (a reload refuses the listeners, workers and batch, which
 * would be wrong to keep) whose value in b differs from the one started with: the first, or
 * NULL. The prober is created at start with its timing; the TCP limits, the admin API's
 * socket and the per-source table's size belong to the datapath and the admin thread as
 * they were started.
 */
static const char *start_key_changed(const struct vd_started_keys *a, const struct vd_config *b)
{
	const struct vd_cfg_health *ha = &a->health, *hb = &b->health;
	if (ha->enabled != hb->enabled || ha->interval_ms != hb->interval_ms ||
	    ha->timeout_ms != hb->timeout_ms || ha->down_after != hb->down_after ||
	    ha->up_after != hb->up_after)
		return "health";
	if (memcmp(&a->tcp, &b->tcp, sizeof(a->tcp)))
		return "tcp";
	if (a->admin.enabled != b->admin.enabled || a->admin.port != b->admin.port ||
	    strcmp(a->admin.address, b->admin.address))
		return "admin";
	if (a->sources != b->guard.sources)
		return "rate_limit.sources";
	return dpdk_start_key_changed(&a->dpdk, &b->dpdk);
}

/*
 * A build (YAML, hyperscan, Maglev: up to a second for 10,000 rules) is background work: the
 * calling thread runs it at a lower priority (Linux nice is per thread), so that the workers
 * and the admin thread (/metrics, /status) are not queued behind it when the cores are busy.
 */
#define BUILD_NICE 10

struct vd_route *vd_control_build(const char *path, const struct vd_route *prev, char *err,
				  size_t errlen)
{
	struct vd_config cfg;
	char why[640];
	pid_t tid = (pid_t)syscall(SYS_gettid);
	errno = 0;
	int was = getpriority(PRIO_PROCESS, (id_t)tid);
	bool lowered = errno == 0 && setpriority(PRIO_PROCESS, (id_t)tid, BUILD_NICE) == 0;
	struct vd_route *r = NULL;
	if (vd_config_load(path, &cfg, err, errlen) == 0) {
		r = vd_route_build(&cfg, prev, why, sizeof(why));
		if (!r)
			snprintf(err, errlen, "%s: %s", path, why);
	}
	/* back up: only root may lower a nice value again, which viaduct is at start (a
	 * service with CAP_SYS_NICE too); otherwise later builds simply stay at BUILD_NICE */
	if (lowered)
		setpriority(PRIO_PROCESS, (id_t)tid, was);
	return r;
}

int vd_control_reload(const char *why, char *msg, size_t msglen)
{
	char err[768];
	vd_route_lock();
	vd_notify_reloading(why);
	uint64_t t0 = vd_now_ms();
	struct vd_route *r = vd_control_build(vd_ctl.config_path, vd_route_published, err,
					     sizeof(err));
	uint64_t build_ms = vd_now_ms() - t0;
	if (!r) {
		CTL_COUNT(vd_control_stats.reloads_failed, 1);
		vd_notify_reloaded(vd_route_published->version, false);
		vd_route_unlock();
		vd_log(VD_LOG_ERROR, "reload (%s) refused, the running config keeps serving: %s",
		       why, err);
		snprintf(msg, msglen, "%s", err);
		return -EINVAL;
	}
	/* reported, and otherwise ignored: what was started keeps its start-up settings */
	const char *restart = start_key_changed(&vd_ctl.started, &r->cfg);
	if (restart)
		vd_log(VD_LOG_WARN, "reload (%s): %s changed: needs a restart to take effect; the "
				    "running process keeps its start-up settings",
		       why, restart);
	/* a level set at runtime (admin API) survives reloads that leave the file's value alone */
	bool level_changed = r->cfg.log_level != vd_route_published->cfg.log_level;
	uint64_t grace_us = vd_route_publish(r);
	CTL_COUNT(vd_control_stats.reloads, 1);
	uint64_t version = r->version;
	vd_control_health_members(r);
	if (level_changed)
		vd_log_set_level((enum vd_log_level)r->cfg.log_level);
	vd_notify_reloaded(version, true);
	vd_control_passive_members(r);
	vd_route_unlock();
	vd_log(VD_LOG_INFO, "reload (%s): snapshot %lu published (built in %lu ms, every worker "
			    "on it within %lu us)",
	       why, (unsigned long)version, (unsigned long)build_ms, (unsigned long)grace_us);
	snprintf(msg, msglen, "snapshot %lu published%s%s%s", (unsigned long)version,
		 restart ? " (" : "", restart ? restart : "",
		 restart ? " changed: needs a restart to take effect)" : "");
	return 0;
}

int vd_control_member(unsigned pool, unsigned member, int set_up, int set_drained,
		      const char *why, char *msg, size_t msglen)
{
	char err[512];
	vd_route_lock();
	const struct vd_route *cur = vd_route_published;
	if (pool >= cur->px.n_pools || member >= cur->px.pools[pool].n_members) {
		vd_route_unlock();
		snprintf(msg, msglen, "no such member");
		return -ENOENT;
	}
	const struct vd_proxy_pool *p = &cur->px.pools[pool];
	bool was_up = p->up[member], was_drained = p->drained[member];
	bool up = set_up < 0 ? was_up : set_up, drained = set_drained < 0 ? was_drained : set_drained;
	if (was_up == up && was_drained == drained) {
		vd_route_unlock();
		snprintf(msg, msglen, "unchanged");
		return 0;
	}
	struct vd_route *r = vd_route_with_member(cur, pool, member, up, drained, err,
						  sizeof(err));
	if (!r) {
		vd_route_unlock();
		vd_log(VD_LOG_ERROR, "pool %s member %s: %s", p->name, p->member_names[member],
		       err);
		snprintf(msg, msglen, "%s", err);
		return -ENOMEM;
	}
	char name[VD_CFG_NAME_MAX + VD_CFG_HOST_MAX + 16];
	snprintf(name, sizeof(name), "%s/%s", p->name, p->member_names[member]);
	vd_route_publish(r);
	CTL_COUNT(vd_control_stats.member_changes, 1);
	vd_notify_status(r->version);
	vd_route_unlock();
	vd_log(up == was_up ? VD_LOG_INFO : VD_LOG_WARN, "member %s %s (%s): snapshot %lu",
	       name, up != was_up ? (up ? "up" : "down") : (drained ? "drained" : "undrained"),
	       why, (unsigned long)r->version);
	snprintf(msg, msglen, "%s %s", name, drained ? "drained" : "undrained");
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

static bool on_signal(int sfd, const struct vd_dp_view *dp)
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
			vd_notify_stopping(strsignal((int)si.ssi_signo));
			return true;
		}
	}
	return false;
}

/* Poll timeout: until the prober's or passive health's next deadline, or forever; at most
 * the datapath's poll interval when it has work for us (view->poll), or member events
 * without a descriptor to wake us. */
static int poll_timeout(void)
{
	int t = -1;
	uint64_t next = vd_control_passive_next_ms(), now = vd_now_ms();
	if (vd_ctl.prober && vd_health_next_ms(vd_ctl.prober) < next)
		next = vd_health_next_ms(vd_ctl.prober);
	if (next != UINT64_MAX)
		t = next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
	bool polled = vd_ctl.view->poll ||
		      (vd_ctl.view->member_events && vd_ctl.view->member_events_fd < 0);
	if (polled && (t < 0 || (unsigned)t > vd_ctl.view->poll_ms))
		t = (int)vd_ctl.view->poll_ms;
	/* the systemd watchdog's next sample of the workers */
	int w = vd_notify_watchdog(&vd_ctl.watchdog, vd_ctl.view, vd_now_ms());
	if (w >= 0 && (t < 0 || w < t))
		t = w;
	return t;
}

int vd_control_init(const char *path, const struct vd_dp_view *dp)
{
	const struct vd_config *cfg = &vd_route_published->cfg;
	vd_ctl.config_path = path;
	vd_ctl.view = dp;
	vd_ctl.started = (struct vd_started_keys){ .health = cfg->health,
						   .tcp = cfg->tcp,
						   .admin = cfg->admin,
						   .sources = cfg->guard.sources,
						   .dpdk = cfg->dpdk };
	vd_ctl.signal_fd = open_signalfd();
	if (vd_ctl.signal_fd < 0) {
		int rc = -errno;
		vd_log(VD_LOG_ERROR, "signalfd: %s", strerror(errno));
		return rc;
	}
	vd_ctl.inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (vd_ctl.inotify_fd < 0)
		vd_log(VD_LOG_WARN, "inotify: %s: reload with SIGHUP", strerror(errno));
	vd_control_watch(vd_ctl.inotify_fd);
	vd_control_health_start(vd_route_published);
	vd_notify_watchdog_init(&vd_ctl.watchdog, vd_now_ms());
	vd_route_lock();
	vd_control_passive_members(vd_route_published);
	vd_route_unlock();
	return 0;
}

void vd_control_run(void)
{
	char msg[768];
	const struct vd_dp_view *dp = vd_ctl.view;
	int sfd = vd_ctl.signal_fd, ifd = vd_ctl.inotify_fd;
	for (;;) {
		struct pollfd pfd[5] = { { .fd = sfd, .events = POLLIN },
					 { .fd = ifd, .events = POLLIN } };
		int hfd[2] = { -1, -1 };
		unsigned nh = vd_ctl.prober ? vd_health_fds(vd_ctl.prober, hfd) : 0;
		for (unsigned i = 0; i < nh; i++)
			pfd[2 + i] = (struct pollfd){ .fd = hfd[i], .events = POLLIN };
		/* the datapath wakes us when it has member events (failures, signals) */
		bool wake = dp->member_events && dp->member_events_fd >= 0;
		if (wake)
			pfd[2 + nh] = (struct pollfd){ .fd = dp->member_events_fd,
						       .events = POLLIN };
		int r = poll(pfd, 2 + nh + wake, poll_timeout());
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN && on_signal(sfd, dp))
			break;
		if (ifd >= 0 && (pfd[1].revents & POLLIN) && vd_control_touched(ifd)) {
			vd_control_reload("file changed", msg, sizeof(msg));
			vd_control_watch(ifd); /* the reload may have brought new include files */
		}
		for (unsigned i = 0; i < nh; i++)
			if (pfd[2 + i].revents & POLLIN)
				vd_health_on_readable(vd_ctl.prober, hfd[i], vd_now_ms());
		vd_control_health_poll(); /* replies first: they may resolve probes due to expire */
		if (wake && (pfd[2 + nh].revents & POLLIN)) {
			uint64_t v;
			if (read(dp->member_events_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				vd_log(VD_LOG_WARN, "datapath wake-up: %s", strerror(errno));
		}
		if (dp->member_events)
			dp->member_events(dp->dp, vd_control_on_member_event, NULL);
		if (vd_ctl.prober)
			vd_health_tick(vd_ctl.prober, vd_now_ms());
		/* what replies, failures, timeouts and members' signals changed: one snapshot */
		vd_control_flush();
		if (dp->poll)
			dp->poll(dp->dp, vd_now_ms());
	}
}

void vd_control_fini(void)
{
	vd_control_health_stop();
	vd_control_passive_stop();
	if (vd_ctl.signal_fd >= 0)
		close(vd_ctl.signal_fd);
	if (vd_ctl.inotify_fd >= 0)
		close(vd_ctl.inotify_fd);
	vd_ctl.signal_fd = vd_ctl.inotify_fd = -1;
}
