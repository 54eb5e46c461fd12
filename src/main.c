/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * viaduct: a stateless SIP proxy and load balancer.
 *
 *   viaduct -c FILE [-w WORKERS]     run on the kernel-socket datapath
 *   viaduct --check-config FILE      validate a config and exit (0 = valid)
 *
 * The main thread loads the config, compiles and publishes the first routing snapshot, opens
 * the sockets, starts the workers, and then becomes the control thread (src/ctl/control.c):
 * SIGTERM/SIGINT stop cleanly, SIGHUP or a change of the config file reloads, SIGUSR1 prints
 * the counters. Only main() exits the process.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/config.h"
#include "viaduct/control.h"
#include "viaduct/dp.h"
#include "viaduct/log.h"
#include "viaduct/proxy.h"
#include "viaduct/route.h"

#define EXIT_USAGE 2
#define EXIT_CONFIG 3
#define EXIT_START 4

static void usage(FILE *f)
{
	fprintf(f, "usage: viaduct -c FILE [-w WORKERS]\n"
		   "       viaduct --check-config FILE\n"
		   "  -c, --config FILE        run with this YAML config\n"
		   "  -w, --workers N          override the number of worker threads\n"
		   "      --check-config FILE  validate FILE and exit (0 when valid)\n"
		   "  -h, --help               this text\n"
		   "  -V, --version            print the version\n");
}

/* Load and compile exactly as a start would (pools, Maglev tables, the rules' hyperscan
 * database), without opening a socket. */
static int check_config(const char *path)
{
	char err[768];
	struct vd_route *r = vd_route_build(path, NULL, err, sizeof(err));
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

static int run(const char *path, int workers)
{
	char err[768];
	sigset_t set;

	block_signals(&set); /* before any thread starts: they all inherit the mask */
	if (workers > 0)
		vd_route_set_workers_override((unsigned)workers);
	struct vd_route *r = vd_route_build(path, NULL, err, sizeof(err));
	if (!r) {
		vd_log(VD_LOG_ERROR, "%s", err);
		return EXIT_CONFIG;
	}
	vd_route_publish(r); /* no worker yet: the grace period is immediate */
	struct vd_dp *dp = vd_dp_create(&r->cfg, &r->px, err, sizeof(err));
	if (!dp) {
		vd_log(VD_LOG_ERROR, "%s", err);
		vd_route_free(r);
		return EXIT_START;
	}
	int rc = vd_dp_start(dp);
	if (rc) {
		vd_log(VD_LOG_ERROR, "cannot start workers: %s", strerror(-rc));
		vd_dp_destroy(dp);
		vd_route_free(r);
		return EXIT_START;
	}
	vd_log(VD_LOG_INFO, "ready: %u worker(s), %u listener(s) (first %s:%u), %u pool(s), "
			    "first %s with %u member(s), hash %s",
	       r->cfg.workers, r->cfg.n_listeners, r->px.listeners[0].host,
	       r->px.listeners[0].port, r->cfg.n_pools, r->cfg.pools[0].name,
	       r->cfg.pools[0].n_members, vd_hash_key_name(r->cfg.pools[0].hash));
	vd_control_run(path, dp);
	vd_dp_stop(dp);
	vd_control_print_stats(dp);
	vd_dp_destroy(dp);
	vd_route_free(vd_route_published); /* the workers are gone: nobody reads it */
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256 };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "workers", required_argument, NULL, 'w' },
		{ "check-config", required_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	int workers = 0, c;

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
	if (!config || optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return run(config, workers);
}
