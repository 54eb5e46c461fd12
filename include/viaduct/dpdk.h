/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK datapath: the fast path, polling one Ethernet port with one RX/TX queue pair per
 * worker lcore and running the same SIP core (vd_proxy_process) as the kernel-socket
 * datapath. It owns L2/L3/L4 itself: it answers ARP and IPv6 neighbour solicitations for the
 * listeners' addresses, resolves next hops with a per-lcore neighbour cache, answers ICMP and
 * ICMPv6 echo, and rewrites Ethernet/IP/UDP headers around the SIP payload.
 *
 * Only dpdk/ includes rte_*.h: this header is plain C so main programs need no DPDK headers.
 */
#ifndef VIADUCT_DPDK_H
#define VIADUCT_DPDK_H

/**
 * Run the DPDK datapath until *stop becomes non-zero, then print the counters and return.
 *
 * Preconditions: the first routing snapshot is already published (vd_route_publish), so the
 * listeners (our IP addresses and UDP ports on the port) and the worker count come from it;
 * every listener must have a concrete address (a wildcard cannot answer ARP). The calling
 * thread becomes the main lcore and runs worker 0 itself. `eal_argv` is handed to
 * rte_eal_init() unchanged (argv[0] first). `config_path` is only used in messages.
 * Prints "viaduct: ready" on stdout when the port is started.
 *
 * Returns 0 after a clean stop, or a negative errno code after logging what failed and what
 * to try (EAL init, no port, mbuf pool, port or queue setup).
 */
int vd_dpdk_run(int eal_argc, char **eal_argv, const char *config_path, volatile int *stop);

#endif
