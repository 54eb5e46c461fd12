/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * viaduct: a stateless SIP proxy and load balancer.
 *
 *   viaduct -c FILE [-w WORKERS]                    the kernel-socket datapath
 *   viaduct -c FILE --dpdk [-w N] [-- EAL ARGS]     the DPDK datapath (also: a dpdk: section)
 *   viaduct --check-config FILE                     validate a config and exit (0 = valid)
 *
 * The main thread loads the config, compiles and publishes the first routing snapshot and
 * starts the datapath. Kernel: it opens the sockets, starts the worker threads and becomes
 * the control thread (src/ctl/control.c). DPDK: EAL and the port are set up, the main thread
 * becomes the main lcore (worker 0) and the control loop runs on a DPDK control thread
 * (dpdk/port.c says why). Either way SIGTERM/SIGINT stop cleanly, SIGHUP, POST /reload or a
 * change of the config file reloads, SIGUSR1 prints the counters. Only main() exits.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/admin.h"
#include "viaduct/config.h"
#include "viaduct/control.h"
#include "viaduct/dp.h"
#include "viaduct/dpview.h"
#ifdef VD_HAVE_DPDK
#include "viaduct/dpdk.h"
#endif
#include "viaduct/log.h"
#include "viaduct/notify.h"
#include "viaduct/proxy.h"
#include "viaduct/route.h"

#define EXIT_USAGE 2
#define EXIT_CONFIG 3
#define EXIT_START 4

static void usage(FILE *f)
{
	fprintf(f, "usage: viaduct -c FILE [-w WORKERS]\n"
		   "       viaduct -c FILE --dpdk [-w WORKERS] [-- EAL ARGS]\n"
		   "       viaduct --check-config FILE\n"
		   "  -c, --config FILE        run with this YAML config\n"
		   "  -w, --workers N          override the number of worker threads\n"
		   "      --dpdk               run the DPDK datapath (also chosen by a dpdk: section);\n"
		   "                           EAL ARGS after -- replace the section's dpdk.eal\n"
		   "                           e.g. -- -l 0-1 --no-huge --no-pci -m 1024 "
		   "--vdev=net_tap0,iface=vd0\n"
		   "      --check-config FILE  validate FILE and exit (0 when valid)\n"
		   "  -h, --help               this text\n"
		   "  -V, --version            print the version\n");
}

/* Load and compile exactly as a start would (pools, Maglev tables, the rules' hyperscan
 * database), without opening a socket. */
static int check_config(const char *path)
{
	char err[768];
	struct vd_route *r = vd_control_build(path, NULL, err, sizeof(err));
	if (!r) {
		vd_log(VD_LOG_ERROR, "%s", err);
		return EXIT_CONFIG;
	}
	const struct vd_config *cfg = &r->cfg;
	printf("%s: valid: %u listener(s), %u pool(s), first %s with %u member(s), hash %s, "
	       "%u rule(s), %u file(s), %u worker(s)\n",
	       path, cfg->n_listeners, cfg->n_pools, cfg->pools[0].name, cfg->pools[0].n_members,
	       vd_hash_key_name(cfg->pools[0].hash), cfg->n_rules, cfg->n_files, cfg->workers);
	vd_route_free(r);
	return 0;
}

/* Block the signals we handle in every thread; the main thread takes them with sigwait. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

struct control_ctx {
	const char *path;
	const struct vd_dp_view *view;
};

/* The control plane, once the datapath runs: the control loop on this thread, the admin API
 * beside it on libmicrohttpd's; the admin API stops first (it calls into the control plane). */
static int control_main(void *arg)
{
	const struct control_ctx *c = arg;
	int rc = vd_control_init(c->path, c->view);
	if (rc)
		return rc;
	/* an admin API that cannot bind is a start failure like a listener's (exit 4): under
	 * systemd a service that claims READY without its API would hide the problem */
	rc = vd_admin_ops_start(&vd_route_published->cfg, c->view);
	if (rc) {
		vd_control_fini();
		return rc;
	}
	/* every socket is bound (the datapath's before its workers started, the admin API's
	 * just now): systemd's Type=notify start completes once every worker has run */
	vd_route_lock();
	uint64_t version = vd_route_published->version;
	vd_route_unlock();
	vd_notify_ready(c->view, version);
	vd_control_run();
	vd_admin_ops_stop();
	vd_control_fini();
	return 0;
}

/* The kernel-socket datapath: workers are threads, this thread runs the control loop. */
static int run_kernel(const char *path, struct vd_route *r)
{
	char err[768];
	struct vd_dp_view view;
	struct vd_dp *dp = vd_dp_create(&r->cfg, &r->px, err, sizeof(err));
	if (!dp) {
		vd_log(VD_LOG_ERROR, "%s", err);
		return EXIT_START;
	}
	int rc = vd_dp_start(dp);
	if (rc) {
		vd_log(VD_LOG_ERROR, "cannot start workers: %s", strerror(-rc));
		vd_dp_destroy(dp);
		return EXIT_START;
	}
	vd_log(VD_LOG_INFO, "ready: %u worker(s), %u listener(s) (first %s:%u), %u pool(s), "
			    "first %s with %u member(s), hash %s",
	       r->cfg.workers, r->cfg.n_listeners, r->px.listeners[0].host,
	       r->px.listeners[0].port, r->cfg.n_pools, r->cfg.pools[0].name,
	       r->cfg.pools[0].n_members, vd_hash_key_name(r->cfg.pools[0].hash));
	vd_dp_view_init(dp, &view);
	rc = control_main(&(struct control_ctx){ .path = path, .view = &view });
	vd_dp_stop(dp);
	vd_control_print_stats(&view);
	vd_dp_destroy(dp);
	return rc ? EXIT_START : 0;
}

#ifdef VD_HAVE_DPDK
#define EAL_ARGS_MAX (VD_CFG_DPDK_MAX_EAL + 64)

/*
 * DPDK with TCP/TLS: the control plane sees both datapaths as one (the lcores' workers
 * first, then the kernel datapath's), every other callback is DPDK's, the printed and
 * exported extras are both.
 */
struct view_pair {
	struct vd_dp_view a; /* DPDK */
	struct vd_dp_view b; /* the kernel datapath serving TCP/TLS */
};

static unsigned pair_workers(const void *dp)
{
	const struct view_pair *p = dp;
	return p->a.workers(p->a.dp) + p->b.workers(p->b.dp);
}

static const struct vd_guard *pair_worker_guard(const void *dp, unsigned i)
{
	const struct view_pair *p = dp;
	unsigned na = p->a.workers(p->a.dp);
	const struct vd_dp_view *v = i < na ? &p->a : &p->b;
	return v->worker_guard ? v->worker_guard(v->dp, i < na ? i : i - na) : NULL;
}

static uint64_t pair_worker_rounds(const void *dp, unsigned i)
{
	const struct view_pair *p = dp;
	unsigned na = p->a.workers(p->a.dp);
	const struct vd_dp_view *v = i < na ? &p->a : &p->b;
	return v->worker_rounds ? v->worker_rounds(v->dp, i < na ? i : i - na) : 0;
}

static const struct vd_stats *pair_worker_stats(const void *dp, unsigned i)
{
	const struct view_pair *p = dp;
	unsigned na = p->a.workers(p->a.dp);
	return i < na ? p->a.worker_stats(p->a.dp, i) : p->b.worker_stats(p->b.dp, i - na);
}

static void pair_print(const void *dp, FILE *f)
{
	const struct view_pair *p = dp;
	if (p->a.print)
		p->a.print(p->a.dp, f);
	if (p->b.print)
		p->b.print(p->b.dp, f);
}

static void pair_metrics(const void *dp, struct vd_buf *b)
{
	const struct view_pair *p = dp;
	if (p->a.metrics)
		p->a.metrics(p->a.dp, b);
	if (p->b.metrics)
		p->b.metrics(p->b.dp, b);
}

static void pair_poll(void *dp, uint64_t now_ms)
{
	struct view_pair *p = dp;
	if (p->a.poll)
		p->a.poll(p->a.dp, now_ms);
}

static int pair_probe_send(void *dp, const void *buf, size_t len, const union vd_sockaddr *src,
			   const union vd_sockaddr *dst)
{
	struct view_pair *p = dp;
	return p->a.probe_send(p->a.dp, buf, len, src, dst);
}

static unsigned pair_probe_recv(void *dp,
				void (*fn)(void *arg, const void *buf, size_t len,
					   const union vd_sockaddr *src),
				void *arg, unsigned max)
{
	struct view_pair *p = dp;
	return p->a.probe_recv(p->a.dp, fn, arg, max);
}

static void pair_member_events(void *dp, void (*fn)(void *arg, const struct vd_member_event *e),
			       void *arg)
{
	struct view_pair *p = dp;
	if (p->a.member_events)
		p->a.member_events(p->a.dp, fn, arg);
	if (p->b.member_events)
		p->b.member_events(p->b.dp, fn, arg);
}

static uint64_t pair_member_events_lost(const void *dp)
{
	const struct view_pair *p = dp;
	return (p->a.member_events_lost ? p->a.member_events_lost(p->a.dp) : 0) +
	       (p->b.member_events_lost ? p->b.member_events_lost(p->b.dp) : 0);
}

static void view_pair_init(struct view_pair *p, struct vd_dp_view *out)
{
	*out = p->a;
	out->dp = p;
	out->workers = pair_workers;
	out->worker_stats = pair_worker_stats;
	out->worker_guard = pair_worker_guard;
	out->worker_rounds = p->a.worker_rounds && p->b.worker_rounds ? pair_worker_rounds : NULL;
	out->print = pair_print;
	out->metrics = pair_metrics;
	out->poll = p->a.poll ? pair_poll : NULL;
	out->probe_send = p->a.probe_send ? pair_probe_send : NULL;
	out->probe_recv = p->a.probe_recv ? pair_probe_recv : NULL;
	out->member_events = pair_member_events;
	out->member_events_fd = p->b.member_events_fd; /* the lcores' rings: polled */
	out->member_events_lost = pair_member_events_lost;
}

/* The kernel datapath beside DPDK when the config has TCP/TLS (else NULL): one worker, not
 * pinned (the lcores busy-poll their cores), listeners bound before the exception
 * interface has their addresses. */
static int streams_beside_dpdk(struct vd_dpdk *d, struct vd_dp **out)
{
	const struct vd_route *r = vd_route_published;
	char err[768];
	*out = NULL;
	if (!vd_dp_config_has_streams(&r->cfg))
		return 0;
	if (!r->cfg.dpdk.exception[0]) {
		vd_log(VD_LOG_ERROR, "dpdk: TCP/TLS listeners or members need dpdk.exception: the "
				     "kernel serves the connections, through the exception port");
		return -EINVAL;
	}
	const struct vd_dp_options o = { .workers = 1, .pin = false, .freebind = true,
					 .scratch_base = r->cfg.workers,
					 .external = vd_dpdk_workers(d) };
	struct vd_dp *dp = vd_dp_create_with(&r->cfg, &r->px, &o, err, sizeof(err));
	if (!dp) {
		vd_log(VD_LOG_ERROR, "dpdk: the TCP/TLS datapath: %s", err);
		return -EINVAL;
	}
	int rc = vd_dp_start(dp);
	if (rc) {
		vd_log(VD_LOG_ERROR, "dpdk: the TCP/TLS datapath: %s", strerror(-rc));
		vd_dp_destroy(dp);
		return rc;
	}
	vd_dpdk_set_streams(d, dp);
	vd_log(VD_LOG_INFO, "dpdk: TCP/TLS listeners served by the kernel (through the "
			    "exception port), 1 worker");
	*out = dp;
	return 0;
}

/*
 * The DPDK datapath. EAL arguments: those after "--" on the command line when there are
 * any, else the config's dpdk.eal. EAL may reorder argv and keep pointers into it, and the
 * snapshot holding dpdk.eal is freed by a reload: EAL gets copies that live until exit.
 */
static int run_dpdk(const char *path, const char *argv0, int argc, char **argv)
{
	/* owned: rte_eal_init() overwrites entries of the argv it is given (argv[ret - 1] =
	 * argv[0]), so it gets a second array of the same pointers; freed after EAL cleanup */
	static char *owned[EAL_ARGS_MAX + 1];
	static char *eal_argv[EAL_ARGS_MAX + 1];
	const struct vd_cfg_dpdk *cfg = &vd_route_published->cfg.dpdk;
	int eal_argc = 0;
	struct vd_dpdk *d;
	struct vd_dp_view view;

	eal_argv[eal_argc++] = strdup(argv0);
	if (argc > 0)
		for (int i = 0; i < argc && eal_argc < EAL_ARGS_MAX; i++)
			eal_argv[eal_argc++] = strdup(argv[i]);
	else
		for (unsigned i = 0; i < cfg->n_eal && eal_argc < EAL_ARGS_MAX; i++)
			eal_argv[eal_argc++] = strdup(cfg->eal[i]);
	for (int i = 0; i < eal_argc; i++) {
		owned[i] = eal_argv[i];
		if (!eal_argv[i]) {
			vd_log(VD_LOG_ERROR, "dpdk: out of memory for the EAL arguments");
			return EXIT_START;
		}
	}
	int rc = vd_dpdk_open(cfg, eal_argc, eal_argv, &d);
	if (rc < 0) {
		vd_log(VD_LOG_ERROR, "dpdk datapath not started (%s): see the line above for what "
				     "to try, or run the kernel datapath (no --dpdk, no dpdk: "
				     "section)",
		       strerror(-rc));
		return EXIT_START;
	}
	struct vd_dp *streams = NULL;
	if (streams_beside_dpdk(d, &streams)) {
		vd_dpdk_close(d);
		for (int i = 0; i < eal_argc; i++)
			free(owned[i]);
		return EXIT_START;
	}
	static struct view_pair pair;
	vd_dpdk_view(d, &view);
	if (streams) {
		pair.a = view;
		vd_dp_view_init(streams, &pair.b);
		view_pair_init(&pair, &view);
	}
	struct control_ctx ctx = { .path = path, .view = &view };
	rc = vd_dpdk_run(d, control_main, &ctx);
	if (streams)
		vd_dp_stop(streams);
	vd_control_print_stats(&view);
	vd_dp_destroy(streams);
	vd_dpdk_close(d);
	for (int i = 0; i < eal_argc; i++)
		free(owned[i]);
	if (rc < 0)
		vd_log(VD_LOG_ERROR, "dpdk datapath: %s", strerror(-rc));
	return rc ? EXIT_START : 0;
}
#endif

static int run(const char *path, int workers, bool dpdk, int eal_argc, char **eal_argv,
	       const char *argv0)
{
	char err[768];
	sigset_t set;

	/* before any thread starts (EAL's included): they all inherit the mask */
	block_signals(&set);
	if (workers > 0)
		vd_route_set_workers_override((unsigned)workers);
	struct vd_route *r = vd_control_build(path, NULL, err, sizeof(err));
	if (!r) {
		vd_log(VD_LOG_ERROR, "%s", err);
		return EXIT_CONFIG;
	}
	vd_log_set_level((enum vd_log_level)r->cfg.log_level);
	dpdk = dpdk || r->cfg.dpdk.enabled;
	if (dpdk && r->cfg.hep.enabled) { /* a dpdk: section with hep: is refused by the loader */
		vd_log(VD_LOG_ERROR, "%s: hep: HEP capture is not supported with the DPDK datapath "
				     "(--dpdk): remove hep: or run the kernel datapath",
		       path);
		vd_route_free(r);
		return EXIT_CONFIG;
	}
	if (!dpdk && eal_argc > 0) {
		vd_log(VD_LOG_ERROR, "arguments after -- are EAL arguments: add --dpdk (or a dpdk: "
				     "section to %s) to run the DPDK datapath",
		       path);
		vd_route_free(r);
		return EXIT_USAGE;
	}
#ifndef VD_HAVE_DPDK
	if (dpdk) {
		vd_log(VD_LOG_ERROR, "%s: this viaduct was built without the DPDK datapath "
				     "(meson -Ddpdk=disabled, or libdpdk not found): rebuild with "
				     "meson setup -Ddpdk=enabled, or drop --dpdk and the dpdk: "
				     "section (or set dpdk.enabled: false) to use the kernel datapath",
		       r->cfg.dpdk.enabled ? path : "--dpdk");
		vd_route_free(r);
		return EXIT_USAGE;
	}
	(void)eal_argv;
	(void)argv0;
#endif
	vd_route_publish(r); /* no worker yet: the grace period is immediate */
	int rc;
#ifdef VD_HAVE_DPDK
	if (dpdk)
		rc = run_dpdk(path, argv0, eal_argc, eal_argv);
	else
#endif
		rc = run_kernel(path, r);
	vd_route_free(vd_route_published); /* the workers are gone: nobody reads it */
	return rc;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_DPDK };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "workers", required_argument, NULL, 'w' },
		{ "check-config", required_argument, NULL, OPT_CHECK },
		{ "dpdk", no_argument, NULL, OPT_DPDK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	int workers = 0, c;
	bool dpdk = false;

	vd_log_init(); /* the journal's format when systemd started us */
	while ((c = getopt_long(argc, argv, "c:w:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'w':
			workers = atoi(optarg);
			if (workers <= 0 || workers > VD_CFG_MAX_WORKERS) {
				fprintf(stderr, "viaduct: --workers must be 1..%d\n", VD_CFG_MAX_WORKERS);
				return EXIT_USAGE;
			}
			break;
		case OPT_CHECK:
			return check_config(optarg);
		case OPT_DPDK:
			dpdk = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("viaduct %s\n", VD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	/* what follows "--" (getopt stops there and consumes it) is EAL's */
	bool dashdash = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
	if (!config || (optind != argc && !dashdash)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return run(config, workers, dpdk, argc - optind, argv + optind, argv[0]);
}
