/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's loop (see include/viaduct/control.h). It waits in poll() on a
 * signalfd and an inotify descriptor; nothing here runs per message.
 *
 * File changes: editors save by writing in place or by renaming a temporary file over the
 * config, so the watch is on the directories of the config and of every file it includes,
 * and reacts to a write-close or a rename onto one of those names. A half-written file fails validation and is refused; the
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
#include <time.h>
#include <unistd.h>

#include "viaduct/control.h"
#include "viaduct/health.h"
#include "viaduct/log.h"
#include "viaduct/route.h"
#include "viaduct/stats.h"

#define INOTIFY_BUF 4096

struct vd_control_stats vd_control_stats;
static const char *config_path;
/* The running datapath, set by vd_control_run before anything else starts (health, admin). */
static const struct vd_dp_view *control_view;

/* Health probing: one prober over the members of every pool, flattened in pool order. */
static struct vd_health *prober;
static unsigned n_probed;
static uint16_t *probed_pool, *probed_member;

static void health_members_update(const struct vd_route *r);

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
		(unsigned long)vd_control_stats.reloads,
		(unsigned long)vd_control_stats.reloads_failed,
		(unsigned long)vd_control_stats.member_changes, version);
	if (dp->kernel_drops)
		fprintf(stderr, " kernel_rx_drops=%lu", (unsigned long)dp->kernel_drops(dp->dp));
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

int vd_control_reload(const char *why, char *msg, size_t msglen)
{
	char err[768];
	vd_route_lock();
	uint64_t t0 = vd_now_ms();
	struct vd_route *r = vd_route_build(config_path, vd_route_published, err, sizeof(err));
	uint64_t build_ms = vd_now_ms() - t0;
	if (!r) {
		vd_control_stats.reloads_failed++;
		vd_route_unlock();
		vd_log(VD_LOG_ERROR, "reload (%s) refused, the running config keeps serving: %s",
		       why, err);
		snprintf(msg, msglen, "%s", err);
		return -EINVAL;
	}
	/* reported, and otherwise ignored: the datapath keeps what it was started with */
	const char *restart = dpdk_start_key_changed(&vd_route_published->cfg.dpdk, &r->cfg.dpdk);
	if (restart)
		vd_log(VD_LOG_WARN, "reload (%s): %s changed: needs a restart to take effect; the "
				    "running datapath keeps its start-up settings",
		       why, restart);
	uint64_t grace_us = vd_route_publish(r);
	vd_control_stats.reloads++;
	uint64_t version = r->version;
	health_members_update(r);
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
	vd_control_stats.member_changes++;
	vd_route_unlock();
	vd_log(up == was_up ? VD_LOG_INFO : VD_LOG_WARN, "member %s %s (%s): snapshot %lu",
	       name, up != was_up ? (up ? "up" : "down") : (drained ? "drained" : "undrained"),
	       why, (unsigned long)r->version);
	snprintf(msg, msglen, "%s %s", name, drained ? "drained" : "undrained");
	return 0;
}

/* ---- health probing ---- */

/* The datapath's connection to a member failed: a failed probe for the prober. */
static void on_conn_failure(void *arg, const union vd_sockaddr *a, uint8_t transport)
{
	(void)arg;
	vd_health_on_conn_failure(prober, a, transport, vd_now_ms());
}

static uint64_t vd_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Health changes of one loop iteration, applied together (health_flush): members failing
 * together (a site) leave in one publication. */
static struct vd_member_change *pending;
static unsigned n_pending;

static void on_health_change(void *arg, unsigned i, bool up)
{
	(void)arg;
	if (i >= n_probed || n_pending >= VD_HEALTH_MAX_MEMBERS)
		return;
	if (!pending && !(pending = calloc(VD_HEALTH_MAX_MEMBERS, sizeof(*pending))))
		return;
	pending[n_pending++] = (struct vd_member_change){ .pool = probed_pool[i],
							  .member = probed_member[i], .up = up };
}

/* One snapshot for every health change of this iteration (drain state kept as it is). */
static void health_flush(void)
{
	char err[512];
	if (!n_pending)
		return;
	vd_route_lock();
	const struct vd_route *cur = vd_route_published;
	unsigned n = 0;
	for (unsigned i = 0; i < n_pending; i++) {
		struct vd_member_change *c = &pending[i];
		if (c->pool >= cur->px.n_pools || c->member >= cur->px.pools[c->pool].n_members)
			continue; /* a reload changed the pools meanwhile */
		const struct vd_proxy_pool *p = &cur->px.pools[c->pool];
		if (p->up[c->member] == c->up)
			continue;
		c->drained = p->drained[c->member];
		pending[n++] = *c;
	}
	n_pending = 0;
	if (!n) {
		vd_route_unlock();
		return;
	}
	uint64_t t0 = vd_now_us();
	struct vd_route *r = vd_route_with_members(cur, pending, n, err, sizeof(err));
	if (!r) {
		vd_route_unlock();
		vd_log(VD_LOG_ERROR, "health: %u member change(s) not applied: %s", n, err);
		return;
	}
	uint64_t built = vd_now_us() - t0;
	uint64_t grace = vd_route_publish(r);
	vd_control_stats.member_changes += n;
	for (unsigned i = 0; i < n; i++) {
		const struct vd_proxy_pool *p = &r->px.pools[pending[i].pool];
		vd_log(VD_LOG_WARN, "member %s/%s %s (health: %s): snapshot %lu", p->name,
		       p->member_names[pending[i].member], pending[i].up ? "up" : "down",
		       pending[i].up ? "answering again" : "failing", (unsigned long)r->version);
	}
	vd_log(VD_LOG_INFO, "health: %u member change(s) in snapshot %lu (built in %lu us, every "
			    "worker on it within %lu us)",
	       n, (unsigned long)r->version, (unsigned long)built, (unsigned long)grace);
	vd_route_unlock();
}

/* The prober follows the members of the published snapshot, each with its transport (how it
 * is probed). Called with the route lock. */
static void health_members_update(const struct vd_route *r)
{
	if (!prober)
		return;
	unsigned n = 0;
	for (unsigned p = 0; p < r->px.n_pools; p++)
		n += r->px.pools[p].n_members;
	union vd_sockaddr *addrs = calloc(n ? n : 1, sizeof(*addrs));
	uint8_t *tps = calloc(n ? n : 1, sizeof(*tps));
	uint16_t *pools = calloc(n ? n : 1, sizeof(*pools));
	uint16_t *members = calloc(n ? n : 1, sizeof(*members));
	if (!addrs || !tps || !pools || !members) {
		vd_log(VD_LOG_ERROR, "health: out of memory: probing the previous member list");
		free(addrs);
		free(tps);
		free(pools);
		free(members);
		return;
	}
	n = 0;
	for (unsigned p = 0; p < r->px.n_pools; p++)
		for (unsigned m = 0; m < r->px.pools[p].n_members; m++) {
			addrs[n] = r->px.pools[p].members[m];
			tps[n] = r->px.pools[p].transports[m];
			pools[n] = (uint16_t)p;
			members[n++] = (uint16_t)m;
		}
	if (vd_health_set_members(prober, addrs, tps, n) == 0) {
		free(probed_pool);
		free(probed_member);
		probed_pool = pools;
		probed_member = members;
		n_probed = n;
	} else {
		free(pools);
		free(members);
	}
	free(addrs);
	free(tps);
}

static void health_start(const struct vd_route *r)
{
	const struct vd_config *c = &r->cfg;
	struct vd_health_config hc = { .interval_ms = c->health.interval_ms,
				       .timeout_ms = c->health.timeout_ms,
				       .down_after = c->health.down_after,
				       .up_after = c->health.up_after };
	char err[256];
	/* a datapath that owns our addresses (DPDK) carries the probes; else kernel sockets */
	bool via_dp = control_view && control_view->probe_send && control_view->probe_recv;
	uint16_t port = via_dp ? control_view->probe_port : 0; /* 0: ephemeral */
	if (!c->health.enabled)
		return;
	/* probes leave from the first listener address of each family */
	for (unsigned i = 0; i < r->px.n_listeners; i++) {
		union vd_sockaddr a = r->px.listeners[i].bind;
		union vd_sockaddr *slot = a.sa.sa_family == AF_INET6 ? &hc.bind_v6 : &hc.bind_v4;
		if (slot->sa.sa_family)
			continue;
		if (a.sa.sa_family == AF_INET6)
			a.in6.sin6_port = htons(port);
		else
			a.in.sin_port = htons(port);
		*slot = a;
	}
	if (via_dp) {
		/* same signature: the view's probe_send is the transport's send */
		struct vd_health_transport t = { .send = control_view->probe_send,
						 .arg = control_view->dp,
						 .src_v4 = hc.bind_v4,
						 .src_v6 = hc.bind_v6 };
		prober = vd_health_new_transport(&hc, &t, on_health_change, NULL, err, sizeof(err));
	} else {
		prober = vd_health_new(&hc, on_health_change, NULL, err, sizeof(err));
	}
	if (!prober) {
		vd_log(VD_LOG_ERROR, "health probing disabled: %s", err);
		return;
	}
	vd_route_lock();
	health_members_update(r);
	vd_route_unlock();
	vd_log(VD_LOG_INFO,
	       "health: probing %u member(s) every %u ms, down after %u, up after %u%s",
	       n_probed, hc.interval_ms, hc.down_after, hc.up_after,
	       via_dp ? ", through the datapath" : "");
}

/* Replies the datapath took at our probe port (no descriptor to poll: once per loop
 * iteration). Without a prober they are only freed. */
#define HEALTH_DP_RX_MAX 256 /* per iteration: a flood cannot hold the control thread */

static void on_probe_reply(void *arg, const void *buf, size_t len, const union vd_sockaddr *src)
{
	(void)arg;
	if (prober)
		vd_health_on_datagram(prober, buf, len, src, vd_now_ms());
}

static void health_poll_datapath(void)
{
	if (control_view->probe_recv)
		control_view->probe_recv(control_view->dp, on_probe_reply, NULL, HEALTH_DP_RX_MAX);
}

/* One "stats health" line per member at exit (with the other exit counters, on stderr). */
static void health_print(void)
{
	char name[VD_CFG_NAME_MAX + VD_CFG_HOST_MAX + 16];
	const struct vd_health_counters *hc = vd_health_counters(prober);
	vd_route_lock();
	const struct vd_route *r = vd_route_published;
	for (unsigned i = 0; i < n_probed; i++) {
		const struct vd_health_member_state *st = vd_health_state(prober, i);
		unsigned p = probed_pool[i], m = probed_member[i];
		if (!st || p >= r->px.n_pools || m >= r->px.pools[p].n_members)
			continue;
		snprintf(name, sizeof(name), "%s/%s", r->px.pools[p].name,
			 r->px.pools[p].member_names[m]);
		fprintf(stderr,
			"stats health member=%s up=%d probes=%lu replies=%lu timeouts=%lu "
			"errors_5xx=%lu conn_failures=%lu\n",
			name, st->up ? 1 : 0, (unsigned long)st->probes, (unsigned long)st->replies,
			(unsigned long)st->timeouts, (unsigned long)st->errors_5xx,
			(unsigned long)st->conn_failures);
	}
	vd_route_unlock();
	fprintf(stderr,
		"stats health rx=%lu garbage=%lu stray=%lu provisional=%lu rx_errors=%lu "
		"tx_errors=%lu\n",
		(unsigned long)hc->rx, (unsigned long)hc->garbage, (unsigned long)hc->stray,
		(unsigned long)hc->provisional, (unsigned long)hc->rx_errors,
		(unsigned long)hc->tx_errors);
	fflush(stderr);
}

static void health_stop(void)
{
	if (prober)
		health_print();
	vd_health_free(prober);
	prober = NULL;
	free(probed_pool);
	free(probed_member);
	probed_pool = probed_member = NULL;
	n_probed = 0;
	free(pending);
	pending = NULL;
	n_pending = 0;
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

/*
 * The watch: every file of the published snapshot (the main config and its includes), by
 * its directory, because editors replace files by renaming over them.
 */
#define WATCH_MAX 64

static struct {
	int wd;
	char dir[PATH_MAX];
} watches[WATCH_MAX];
static unsigned n_watches;

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
static void watch_files(int fd)
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
		while (k < n_watches && watches[k].wd != wd)
			k++;
		if (k == n_watches && n_watches < WATCH_MAX) {
			watches[n_watches].wd = wd;
			snprintf(watches[n_watches++].dir, PATH_MAX, "%s", dir);
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
static bool config_touched(int fd)
{
	char buf[INOTIFY_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;
	vd_route_lock();
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			for (unsigned k = 0; ev->len && k < n_watches; k++)
				if (watches[k].wd == ev->wd && is_config_file(watches[k].dir, ev->name))
					hit = true;
			p += sizeof(*ev) + ev->len;
		}
	vd_route_unlock();
	return hit;
}

/* Returns true when it is time to stop. */
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
			return true;
		}
	}
	return false;
}

/* Poll timeout: until the prober's next deadline, or forever; at most the datapath's
 * poll interval when it has work for us (view->poll). */
static int poll_timeout(void)
{
	int t = -1;
	if (prober) {
		uint64_t next = vd_health_next_ms(prober), now = vd_now_ms();
		if (next != UINT64_MAX)
			t = next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
	}
	if (control_view->poll && (t < 0 || (unsigned)t > control_view->poll_ms))
		t = (int)control_view->poll_ms;
	return t;
}

int vd_control_run(const char *path, const struct vd_dp_view *dp)
{
	char msg[768];
	config_path = path;
	control_view = dp;
	int sfd = open_signalfd();
	if (sfd < 0) {
		vd_log(VD_LOG_ERROR, "signalfd: %s", strerror(errno));
		return -errno;
	}
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0)
		vd_log(VD_LOG_WARN, "inotify: %s: reload with SIGHUP", strerror(errno));
	watch_files(ifd);
	health_start(vd_route_published);
	vd_admin_ops_start(&vd_route_published->cfg, dp);
	for (;;) {
		struct pollfd pfd[5] = { { .fd = sfd, .events = POLLIN },
					 { .fd = ifd, .events = POLLIN } };
		int hfd[2] = { -1, -1 };
		unsigned nh = prober ? vd_health_fds(prober, hfd) : 0;
		for (unsigned i = 0; i < nh; i++)
			pfd[2 + i] = (struct pollfd){ .fd = hfd[i], .events = POLLIN };
		/* the datapath wakes us when it has member failures for the prober */
		bool wake = dp->member_failures && dp->member_failures_fd >= 0;
		if (wake)
			pfd[2 + nh] = (struct pollfd){ .fd = dp->member_failures_fd, .events = POLLIN };
		int r = poll(pfd, 2 + nh + wake, poll_timeout());
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN && on_signal(sfd, dp))
			break;
		if (ifd >= 0 && (pfd[1].revents & POLLIN) && config_touched(ifd)) {
			vd_control_reload("file changed", msg, sizeof(msg));
			watch_files(ifd); /* the reload may have brought new include files */
		}
		for (unsigned i = 0; i < nh; i++)
			if (pfd[2 + i].revents & POLLIN)
				vd_health_on_readable(prober, hfd[i], vd_now_ms());
		health_poll_datapath(); /* replies first: they may resolve probes due to expire */
		if (wake && (pfd[2 + nh].revents & POLLIN)) {
			uint64_t v;
			if (read(dp->member_failures_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				vd_log(VD_LOG_WARN, "datapath wake-up: %s", strerror(errno));
		}
		if (prober && dp->member_failures)
			dp->member_failures(dp->dp, on_conn_failure, NULL);
		if (prober)
			vd_health_tick(prober, vd_now_ms());
		health_flush(); /* what replies, failures and timeouts changed: one snapshot */
		if (dp->poll)
			dp->poll(dp->dp, vd_now_ms());
	}
	vd_admin_ops_stop(); /* before anything it reads goes away */
	health_stop();
	close(sfd);
	if (ifd >= 0)
		close(ifd);
	return 0;
}
