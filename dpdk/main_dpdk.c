/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * viaduct-dpdk: the stateless SIP proxy on the DPDK datapath.
 *
 *   viaduct-dpdk -c CONFIG [-- EAL ARGS]
 *   e.g. viaduct-dpdk -c viaduct.yaml -- -l 0 --no-huge --no-pci -m 1024 --vdev=net_tap0,iface=vd0
 *
 * Loads the config and publishes the first routing snapshot exactly as src/main.c does,
 * then hands the calling thread to the DPDK datapath until SIGINT/SIGTERM. This slice has no
 * control thread yet (no reload, health probes or admin API): that comes when it is folded
 * into `viaduct --dpdk`. Only main() exits the process.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "viaduct/dpdk.h"
#include "viaduct/log.h"
#include "viaduct/route.h"

#define EXIT_USAGE   2
#define EXIT_CONFIG  3
#define EXIT_START   4
#define EAL_ARGS_MAX 64

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1; /* the poll loops read it every iteration */
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: viaduct-dpdk -c FILE [-- EAL arguments]\n"
		"  -c, --config FILE  run with this YAML config (listeners = our IPs on the port)\n"
		"  -h, --help         this text\n"
		"example: viaduct-dpdk -c vd.yaml -- -l 0 --no-huge --no-pci -m 1024 "
		"--vdev=net_tap0,iface=vd0\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	char *eal_argv[EAL_ARGS_MAX];
	char err[768];
	int c;

	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	/* getopt stopped at "--" (consumed) or at the first non-option: the rest is EAL's */
	int eal_argc = argc - optind + 1;
	if (!config || eal_argc > EAL_ARGS_MAX) {
		usage(stderr);
		return EXIT_USAGE;
	}
	eal_argv[0] = argv[0];
	memcpy(eal_argv + 1, argv + optind, sizeof(char *) * (size_t)(eal_argc - 1));

	struct vd_route *r = vd_route_build(config, NULL, err, sizeof(err));
	if (!r) {
		vd_log(VD_LOG_ERROR, "%s", err);
		return EXIT_CONFIG;
	}
	vd_route_publish(r); /* no worker yet: the grace period is immediate */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc = vd_dpdk_run(eal_argc, eal_argv, config, &stop);
	vd_route_free(vd_route_published); /* the workers are gone: nobody reads it */
	if (rc < 0) {
		vd_log(VD_LOG_ERROR, "dpdk datapath: %s", strerror(-rc));
		return EXIT_START;
	}
	return 0;
}
