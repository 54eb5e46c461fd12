/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * siggen: a SIP-over-UDP frame generator for the DPDK datapath benchmark (bench/dpdk/run.sh).
 *
 *   siggen [options] MSG.sip... -- EAL ARGS
 *   e.g. siggen --duration-ms 5000 a.sip b.sip -- -l 0 --no-huge --no-pci -m 512 \
 *            --file-prefix gen --vdev=net_memif0,role=server,socket=/tmp/vd.sock
 *
 * It owns one port (a net_memif server in the benchmark), builds complete Ethernet/IPv4 or
 * IPv6/UDP frames around real SIP messages once, up front (real IP and UDP checksums), and
 * then sends them round-robin at full speed (or --rate) while receiving what comes back.
 * Requests come from the UAC of the corpus call flows (--uac4, --uac6, port 5060), responses
 * from a pool member (--member4/6:--member-port) with the proxy's Via put on top (--our-via,
 * its branch keyed with --branch-key as viaduct's branch_key: so viaduct relays them),
 * all to the proxy's listener (--dst4/--dst6:--dport): what the proxy forwards returns on the
 * same port. --variants copies of every message differ in their Call-ID (so the pool's
 * Call-ID hash spreads them), every --v6-every-th copy goes over IPv6.
 *
 * ARP requests and IPv6 neighbour solicitations for any address but the proxy's are answered
 * with our MAC (we play every host behind the link). Before sending, the proxy's MAC is
 * resolved with ARP (bounded; --no-arp for a device that does not answer, e.g. testpmd).
 *
 * Phases: wait for the link (the peer process) -> warm-up (--warmup-ms, not counted: cold
 * neighbour caches) -> measured window (--duration-ms) -> drain (stop sending, receive until
 * nothing has come back for --drain-ms, at most 10 times that). With --dut-pid-file, the CPU
 * time (utime + stime from /proc) of the process whose PID is in that file is read at both ends
 * of the window, and so is the machine's busy time (/proc/stat: what other jobs took).
 * backpressure = the share of the window's tx_burst calls the port did not take whole: near 1,
 * the peer is the slower side; near 0, the generator is. --mark CMD runs `sh -c CMD siggen-mark
 * start` as the window opens and `... end` as it closes, without waiting for it (the generator
 * keeps polling): the benchmark's hook to snapshot the device's own counters (viaduct: SIGUSR1;
 * testpmd: its fwd stats) over the window. One line of key=value results on stdout at the end;
 * progress and errors on stderr.
 *
 * Exit: 0 done, 1 runtime error, 2 usage, 3 the link never came up or the proxy's MAC could not
 * be resolved, 77 EAL could not start (no memif, no permission).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/icmp6.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "viaduct/proxy.h"
#include "viaduct/sip.h"

#define DEFAULT_BRANCH_KEY "viaduct-bench-branch-key" /* bench/dpdk/run.sh's config has it */
#define BENCH_TXN 0x0123456789abcdefULL /* any transaction hash: responses do not check it */

#define ETH_LEN	     ((uint32_t)sizeof(struct rte_ether_hdr))
#define IP4_LEN	     ((uint32_t)sizeof(struct rte_ipv4_hdr))
#define IP6_LEN	     ((uint32_t)sizeof(struct rte_ipv6_hdr))
#define UDP_LEN	     ((uint32_t)sizeof(struct rte_udp_hdr))
#define BURST	     32
#define MAX_MSGS     64
#define MAX_VARIANTS 256
#define MAX_FRAME    2000 /* one segment of the default 2048-byte data room */
#define NB_MBUFS     16383
#define RX_BURSTS    4
#define CHECK_EVERY  16 /* verify the checksums of every 16th received SIP frame */
#define EXIT_NOLINK  3
#define EXIT_SKIP    77

static const struct rte_ether_addr gen_mac = {{0x02, 0x00, 0x00, 0x00, 0xbe, 0x01}};
static const struct rte_ether_addr fallback_mac = {{0x02, 0x00, 0x00, 0x00, 0xbe, 0x02}};

struct opts {
	struct in_addr dst4, uac4, member4;
	struct in6_addr dst6, uac6, member6;
	int v6; /* the IPv6 addresses are set */
	uint16_t dport, member_port, uac_port;
	unsigned variants, v6_every;
	uint64_t warmup_ms, duration_ms, drain_ms, link_ms, rate;
	const char *our_via, *branch_key, *dut_pid_file, *mark;
	int no_arp;
};

struct frame {
	uint8_t *data;
	uint16_t len;
};

/* Counters; the window's are differences of two snapshots. */
struct counts {
	uint64_t tx, tx_bytes, rx, rx_bytes, rx_req, rx_resp, rx_v6, rx_other, rx_bad_cksum;
	uint64_t arp_in, ns_in, answered, ctl_lost;
	uint64_t tx_calls, tx_short; /* tx_burst calls, and those the ring did not take whole */
};

static volatile int stop;
static struct opts o;
static struct frame *frames;
static unsigned n_frames;
static struct rte_ether_addr dut_mac;
static struct rte_mempool *pool;
static struct counts c;
static uint16_t port;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: siggen [options] MSG.sip... -- EAL arguments\n"
		"  --dst4 IP --dst6 IP --dport N   the proxy's listeners (10.201.0.2, fd00:201::2, 5060)\n"
		"  --uac4 IP --uac6 IP             source of requests (192.168.1.15, fd00:201::15), port 5060\n"
		"  --member4 IP --member6 IP --member-port N  source of responses (10.201.0.3, fd00:201::3, 5070)\n"
		"  --our-via TEXT     Via value put on top of responses, without its branch\n"
		"                     (SIP/2.0/UDP 192.168.1.2:5060)\n"
		"  --branch-key TEXT  viaduct's branch_key: the branch's response check (" DEFAULT_BRANCH_KEY ")\n"
		"  --variants N       Call-ID variants of every message (64)\n"
		"  --v6-every N       every N-th variant over IPv6, 0 = none (5)\n"
		"  --warmup-ms N (1000) --duration-ms N (5000) --drain-ms N (300) --link-ms N (10000)\n"
		"  --rate PPS         frames per second, 0 = as fast as the port takes them (0)\n"
		"  --no-arp           do not resolve the proxy's MAC (the peer does not answer ARP)\n"
		"  --dut-pid-file F   read the CPU time of the process whose PID is in F over the window\n"
		"  --mark CMD         run sh -c CMD siggen-mark start|end at the window's ends\n");
}

static int parse_ip(const char *s, int v6, void *dst)
{
	if (inet_pton(v6 ? AF_INET6 : AF_INET, s, dst) != 1) {
		fprintf(stderr, "siggen: '%s' is not an IPv%d address\n", s, v6 ? 6 : 4);
		return -1;
	}
	return 0;
}

static int parse_opts(int argc, char **argv)
{
	enum { DST4 = 256, DST6, DPORT, UAC4, UAC6, MEM4, MEM6, MPORT, VIA, BKEY, VARIANTS, V6EVERY,
	       WARMUP, DURATION, DRAIN, LINK, RATE, NOARP, PIDFILE, MARK };
	static const struct option lo[] = {
		{"dst4", 1, NULL, DST4}, {"dst6", 1, NULL, DST6}, {"dport", 1, NULL, DPORT},
		{"uac4", 1, NULL, UAC4}, {"uac6", 1, NULL, UAC6}, {"member4", 1, NULL, MEM4},
		{"member6", 1, NULL, MEM6}, {"member-port", 1, NULL, MPORT},
		{"our-via", 1, NULL, VIA}, {"branch-key", 1, NULL, BKEY}, {"variants", 1, NULL, VARIANTS},
		{"v6-every", 1, NULL, V6EVERY}, {"warmup-ms", 1, NULL, WARMUP},
		{"duration-ms", 1, NULL, DURATION}, {"drain-ms", 1, NULL, DRAIN},
		{"link-ms", 1, NULL, LINK}, {"rate", 1, NULL, RATE}, {"no-arp", 0, NULL, NOARP},
		{"dut-pid-file", 1, NULL, PIDFILE}, {"mark", 1, NULL, MARK},
		{"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int rc = 0, ch;
	rc |= parse_ip("10.201.0.2", 0, &o.dst4) | parse_ip("192.168.1.15", 0, &o.uac4);
	rc |= parse_ip("10.201.0.3", 0, &o.member4) | parse_ip("fd00:201::2", 1, &o.dst6);
	rc |= parse_ip("fd00:201::15", 1, &o.uac6) | parse_ip("fd00:201::3", 1, &o.member6);
	o.v6 = 1;
	o.dport = 5060, o.member_port = 5070, o.uac_port = 5060;
	o.variants = 64, o.v6_every = 5;
	o.warmup_ms = 1000, o.duration_ms = 5000, o.drain_ms = 300, o.link_ms = 10000;
	o.our_via = "SIP/2.0/UDP 192.168.1.2:5060";
	o.branch_key = DEFAULT_BRANCH_KEY;
	while (rc == 0 && (ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (ch) {
		case DST4: rc = parse_ip(optarg, 0, &o.dst4); break;
		case DST6: rc = parse_ip(optarg, 1, &o.dst6); break;
		case UAC4: rc = parse_ip(optarg, 0, &o.uac4); break;
		case UAC6: rc = parse_ip(optarg, 1, &o.uac6); break;
		case MEM4: rc = parse_ip(optarg, 0, &o.member4); break;
		case MEM6: rc = parse_ip(optarg, 1, &o.member6); break;
		case DPORT: o.dport = (uint16_t)atoi(optarg); break;
		case MPORT: o.member_port = (uint16_t)atoi(optarg); break;
		case VIA: o.our_via = optarg; break;
		case BKEY: o.branch_key = optarg; break;
		case VARIANTS: o.variants = (unsigned)atoi(optarg); break;
		case V6EVERY: o.v6_every = (unsigned)atoi(optarg); break;
		case WARMUP: o.warmup_ms = strtoull(optarg, NULL, 10); break;
		case DURATION: o.duration_ms = strtoull(optarg, NULL, 10); break;
		case DRAIN: o.drain_ms = strtoull(optarg, NULL, 10); break;
		case LINK: o.link_ms = strtoull(optarg, NULL, 10); break;
		case RATE: o.rate = strtoull(optarg, NULL, 10); break;
		case NOARP: o.no_arp = 1; break;
		case PIDFILE: o.dut_pid_file = optarg; break;
		case MARK: o.mark = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: rc = -1;
		}
	}
	if (rc || o.variants == 0 || o.variants > MAX_VARIANTS || o.dport == 0 ||
	    o.duration_ms == 0) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Read a SIP message; a response gets "Via: <our-via>;branch=B" as its first header, B the
 * branch viaduct would have written for the request it answers (viaduct/proxy.h). */
static char *load_msg(const char *path, size_t *len, int *is_resp)
{
	static char raw[MAX_FRAME];
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "siggen: cannot open %s\n", path);
		return NULL;
	}
	size_t n = fread(raw, 1, sizeof(raw) - 1, f);
	fclose(f);
	raw[n] = 0;
	char *out = malloc(MAX_FRAME);
	char *eol = strstr(raw, "\r\n");
	if (!out || !eol || n + strlen(o.our_via) + VD_BRANCH_LEN + 17 > MAX_FRAME - 100) {
		fprintf(stderr, "siggen: %s: not a usable SIP message (no CRLF or too big)\n", path);
		free(out);
		return NULL;
	}
	*is_resp = strncmp(raw, "SIP/2.0 ", 8) == 0;
	if (!*is_resp) {
		memcpy(out, raw, n);
		*len = n;
		return out;
	}
	static struct vd_sip_msg m;
	static const struct vd_sip_limits lim = { 256, 255 };
	uint8_t key[VD_BRANCH_KEY_LEN];
	char branch[VD_BRANCH_LEN];
	vd_branch_key_derive(o.branch_key, key);
	vd_sip_scan(raw, n, &lim, &m);
	if (vd_branch_for_response(key, &m, BENCH_TXN, branch)) {
		fprintf(stderr, "siggen: %s: its top Via names no address to answer\n", path);
		free(out);
		return NULL;
	}
	size_t sl = (size_t)(eol + 2 - raw);
	int k = snprintf(out, MAX_FRAME, "%.*sVia: %s;branch=%.*s\r\n", (int)sl, raw, o.our_via,
			 VD_BRANCH_LEN, branch);
	memcpy(out + k, raw + sl, n - sl);
	*len = (size_t)k + n - sl;
	return out;
}

/* Variant v: overwrite the first 4 characters of the Call-ID value with v in hex, so every
 * variant hashes differently (same length: Content-Length and offsets do not change). */
static void set_call_id(char *msg, size_t len, unsigned v)
{
	static const char *const names[] = {"\nCall-ID:", "\ni:", "\ncall-id:", "\nCALL-ID:"};
	for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		char *p = memmem(msg, len, names[k], strlen(names[k]));
		if (!p)
			continue;
		p += strlen(names[k]);
		while (*p == ' ')
			p++;
		char hex[5];
		snprintf(hex, sizeof(hex), "%04x", v & 0xffffu);
		for (int i = 0; i < 4 && p[i] != '\r' && p[i] != '@'; i++)
			p[i] = hex[i];
		return;
	}
}

/* One complete frame around a SIP payload: Ethernet, IPv4 or IPv6, UDP, real checksums. */
static void build_frame(struct frame *fr, const char *sip, size_t len, int is_resp, int v6)
{
	uint32_t hdr = ETH_LEN + (v6 ? IP6_LEN : IP4_LEN) + UDP_LEN;
	uint8_t *b = calloc(1, hdr + len);
	if (!b) {
		fprintf(stderr, "siggen: out of memory\n");
		exit(1);
	}
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)b;
	eth->src_addr = gen_mac;
	eth->ether_type = rte_cpu_to_be_16(v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(b + hdr - UDP_LEN);
	udp->src_port = rte_cpu_to_be_16(is_resp ? o.member_port : o.uac_port);
	udp->dst_port = rte_cpu_to_be_16(o.dport);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(UDP_LEN + len));
	memcpy(b + hdr, sip, len);
	if (v6) {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
		ip->vtc_flow = rte_cpu_to_be_32(0x60000000u);
		ip->payload_len = udp->dgram_len;
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, is_resp ? &o.member6 : &o.uac6, 16);
		memcpy(ip->dst_addr, &o.dst6, 16);
		udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		ip->version_ihl = 0x45;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(IP4_LEN + UDP_LEN + len));
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = is_resp ? o.member4.s_addr : o.uac4.s_addr;
		ip->dst_addr = o.dst4.s_addr;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	}
	fr->data = b;
	fr->len = (uint16_t)(hdr + len);
}

/* Frames in send order: variant-major, so consecutive frames are the mix in file order. */
static int build_frames(char **files, int n_files, size_t *mix_bytes, unsigned *n_resp)
{
	if (n_files < 1 || n_files > MAX_MSGS) {
		fprintf(stderr, "siggen: give 1 to %d SIP message files\n", MAX_MSGS);
		return -1;
	}
	frames = calloc((size_t)n_files * o.variants, sizeof(*frames));
	*mix_bytes = 0, *n_resp = 0;
	for (int i = 0; i < n_files; i++) {
		size_t len;
		int resp;
		char *m = load_msg(files[i], &len, &resp);
		if (!m)
			return -1;
		*mix_bytes += len;
		*n_resp += (unsigned)resp;
		for (unsigned v = 0; v < o.variants; v++) {
			set_call_id(m, len, v);
			int v6 = o.v6 && o.v6_every && v % o.v6_every == o.v6_every - 1;
			build_frame(&frames[v * (unsigned)n_files + (unsigned)i], m, len, resp, v6);
		}
		free(m);
	}
	n_frames = (unsigned)n_files * o.variants;
	return 0;
}

static void set_dst_macs(void)
{
	for (unsigned i = 0; i < n_frames; i++)
		((struct rte_ether_hdr *)frames[i].data)->dst_addr = dut_mac;
}

/* ARP replies, NAs and our own ARP requests wait here and go out before the next data burst:
 * when the proxy is the slower side the TX ring is full nearly all the time, and a control frame
 * sent straight into it would be lost, leaving the proxy to retry resolution until it happens to
 * find room (maybe inside the measured window). Bounded; a frame that finds it full is counted. */
#define CTL_QUEUE 64
static struct rte_mbuf *ctl_q[CTL_QUEUE];
static unsigned n_ctl;

static void send_one(struct rte_mbuf *m)
{
	if (n_ctl == CTL_QUEUE) {
		c.ctl_lost++;
		rte_pktmbuf_free(m);
		return;
	}
	ctl_q[n_ctl++] = m;
}

/* Send what the control queue holds, as far as the ring takes it (the rest waits). */
static void flush_ctl(void)
{
	if (n_ctl == 0)
		return;
	uint16_t sent = rte_eth_tx_burst(port, 0, ctl_q, (uint16_t)n_ctl);
	memmove(ctl_q, ctl_q + sent, (n_ctl - sent) * sizeof(ctl_q[0]));
	n_ctl -= sent;
}

/* An ARP request for anybody but the proxy: answer with our MAC. An ARP reply from the
 * proxy's address: its MAC. Consumes m. */
static void arp_input(struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	if (m->data_len < ETH_LEN + sizeof(*a)) {
		rte_pktmbuf_free(m);
		return;
	}
	if (a->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY) && a->arp_data.arp_sip == o.dst4.s_addr) {
		dut_mac = a->arp_data.arp_sha;
		rte_pktmbuf_free(m);
		return;
	}
	if (a->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST) || a->arp_data.arp_tip == o.dst4.s_addr) {
		rte_pktmbuf_free(m);
		return;
	}
	c.arp_in++;
	uint32_t tip = a->arp_data.arp_tip;
	a->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	a->arp_data.arp_tha = a->arp_data.arp_sha;
	a->arp_data.arp_tip = a->arp_data.arp_sip;
	a->arp_data.arp_sha = gen_mac;
	a->arp_data.arp_sip = tip;
	eth->dst_addr = eth->src_addr;
	eth->src_addr = gen_mac;
	c.answered++;
	send_one(m);
}

/* A neighbour solicitation (for anybody but the proxy): a solicited advertisement with our MAC,
 * built in place. Other ICMPv6 is ignored. Consumes m. */
static void icmp6_input(struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	struct nd_neighbor_solicit *ns = (struct nd_neighbor_solicit *)(ip + 1);
	const uint32_t na_len = sizeof(struct nd_neighbor_advert) + 8;
	if (m->data_len < ETH_LEN + IP6_LEN + sizeof(*ns) || ns->nd_ns_type != ND_NEIGHBOR_SOLICIT ||
	    memcmp(&ns->nd_ns_target, &o.dst6, 16) == 0 || m->buf_len - m->data_off < 200) {
		rte_pktmbuf_free(m);
		return;
	}
	c.ns_in++;
	struct in6_addr target = ns->nd_ns_target;
	struct nd_neighbor_advert *na = (struct nd_neighbor_advert *)(ip + 1);
	memset(na, 0, na_len);
	na->nd_na_type = ND_NEIGHBOR_ADVERT;
	na->nd_na_flags_reserved = ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE;
	na->nd_na_target = target;
	uint8_t *opt = (uint8_t *)(na + 1);
	opt[0] = ND_OPT_TARGET_LINKADDR;
	opt[1] = 1;
	memcpy(opt + 2, &gen_mac, 6);
	memcpy(ip->dst_addr, ip->src_addr, 16);
	memcpy(ip->src_addr, &target, 16);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)na_len);
	ip->hop_limits = 255;
	na->nd_na_cksum = 0;
	na->nd_na_cksum = rte_ipv6_udptcp_cksum(ip, na);
	eth->dst_addr = eth->src_addr;
	eth->src_addr = gen_mac;
	m->data_len = (uint16_t)(ETH_LEN + IP6_LEN + na_len);
	m->pkt_len = m->data_len;
	c.answered++;
	send_one(m);
}

/* A UDP frame back from the proxy (or the reflector): count it, check every CHECK_EVERY-th. */
static void udp_input(struct rte_mbuf *m, int v6)
{
	uint32_t l3 = v6 ? IP6_LEN : IP4_LEN;
	if (m->data_len < ETH_LEN + l3 + UDP_LEN + 8) {
		c.rx_other++;
		return;
	}
	uint8_t *ip = rte_pktmbuf_mtod_offset(m, uint8_t *, ETH_LEN);
	const char *sip = (const char *)ip + l3 + UDP_LEN;
	c.rx++;
	c.rx_bytes += m->pkt_len;
	c.rx_v6 += (uint64_t)v6;
	if (memcmp(sip, "SIP/2.0 ", 8) == 0)
		c.rx_resp++;
	else
		c.rx_req++;
	if (c.rx % CHECK_EVERY == 0) {
		int bad;
		if (v6)
			bad = rte_ipv6_udptcp_cksum_verify((void *)ip, ip + l3) != 0;
		else
			bad = rte_raw_cksum(ip, IP4_LEN) != 0xffff ||
			      rte_ipv4_udptcp_cksum_verify((void *)ip, ip + l3) != 0;
		c.rx_bad_cksum += (uint64_t)bad;
	}
}

static uint16_t rx_poll(void)
{
	struct rte_mbuf *pk[BURST];
	uint16_t n = rte_eth_rx_burst(port, 0, pk, BURST);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pk[i];
		uint16_t type = rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type;
		if (m->data_len < ETH_LEN + 20) {
			c.rx_other++;
		} else if (type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
			arp_input(m);
			continue;
		} else if (type == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
			   rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, ETH_LEN)->next_proto_id ==
				   IPPROTO_UDP) {
			udp_input(m, 0);
		} else if (type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
			uint8_t proto = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, ETH_LEN)->proto;
			if (proto == IPPROTO_ICMPV6) {
				icmp6_input(m);
				continue;
			}
			if (proto == IPPROTO_UDP)
				udp_input(m, 1);
			else
				c.rx_other++;
		} else {
			c.rx_other++;
		}
		rte_pktmbuf_free(m);
	}
	return n;
}

/* Send an ARP request for the proxy's address until its reply arrives (bounded). */
static int resolve_dut(void)
{
	uint64_t hz = rte_get_tsc_hz(), end = rte_get_tsc_cycles() + 3 * hz, next = 0;
	while (!stop && rte_is_zero_ether_addr(&dut_mac) && rte_get_tsc_cycles() < end) {
		if (rte_get_tsc_cycles() >= next) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
			if (!m)
				return -1;
			struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
			struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
			memset(eth->dst_addr.addr_bytes, 0xff, 6);
			eth->src_addr = gen_mac;
			eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
			*a = (struct rte_arp_hdr){
				.arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER),
				.arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4),
				.arp_hlen = 6, .arp_plen = 4,
				.arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST),
			};
			a->arp_data.arp_sha = gen_mac;
			a->arp_data.arp_sip = o.uac4.s_addr;
			a->arp_data.arp_tip = o.dst4.s_addr;
			m->data_len = m->pkt_len = (uint16_t)(ETH_LEN + sizeof(*a));
			send_one(m);
			next = rte_get_tsc_cycles() + hz / 10;
		}
		rx_poll();
		flush_ctl();
	}
	return rte_is_zero_ether_addr(&dut_mac) ? -1 : 0;
}

/* utime + stime of a process in seconds (clock ticks / CLK_TCK), or -1. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may contain spaces */
	unsigned long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds all CPUs spent busy (not idle/iowait) since boot, from /proc/stat. */
static double machine_busy(void)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		       &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return -1;
	/* user nice system idle iowait irq softirq steal: busy = all but idle and iowait */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static pid_t dut_pid(void)
{
	if (!o.dut_pid_file)
		return 0;
	FILE *f = fopen(o.dut_pid_file, "r");
	int pid = 0;
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* Start `sh -c o.mark siggen-mark what` (not waited for here: see reap_marks); 0 when none. */
static pid_t mark(const char *what)
{
	extern char **environ;
	pid_t pid = 0;
	char *argv[] = {"sh", "-c", (char *)o.mark, "siggen-mark", (char *)what, NULL};
	if (o.mark && posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0) {
		fprintf(stderr, "siggen: cannot run --mark command\n");
		pid = 0;
	}
	return pid;
}

/* Wait for the --mark commands (bounded by their own job: a kill or an echo). */
static void reap_marks(pid_t a, pid_t b)
{
	int st;
	if (a > 0)
		waitpid(a, &st, 0);
	if (b > 0)
		waitpid(b, &st, 0);
}

/* Frames built for a burst the TX ring did not take whole: sent first next time. */
static struct rte_mbuf *pend[BURST];
static unsigned n_pend;

/* Send (and receive) until the TSC passes `end`. */
static void run_until(uint64_t end)
{
	static unsigned next_frame;
	uint64_t hz = rte_get_tsc_hz(), credit_tsc = rte_get_tsc_cycles();
	double credit = 0;
	while (!stop) {
		uint64_t now = rte_get_tsc_cycles();
		if (now >= end)
			break;
		/* receive first (up to RX_BURSTS full bursts): the peer's TX ring must not fill */
		for (int k = 0; k < RX_BURSTS && rx_poll() == BURST; k++)
			;
		flush_ctl();
		unsigned want = BURST;
		if (o.rate) { /* token bucket, at most one burst of credit */
			credit += (double)(now - credit_tsc) * (double)o.rate / (double)hz;
			credit_tsc = now;
			if (credit > BURST)
				credit = BURST;
			want = (unsigned)credit;
			if (want == 0)
				continue;
		}
		if (n_pend == 0) {
			if (rte_pktmbuf_alloc_bulk(pool, pend, want) != 0)
				continue; /* all in flight: receive first */
			for (unsigned i = 0; i < want; i++) {
				const struct frame *fr = &frames[next_frame];
				if (++next_frame == n_frames)
					next_frame = 0;
				memcpy(rte_pktmbuf_mtod(pend[i], void *), fr->data, fr->len);
				pend[i]->data_len = pend[i]->pkt_len = fr->len;
			}
			n_pend = want;
		}
		uint16_t sent = rte_eth_tx_burst(port, 0, pend, (uint16_t)n_pend);
		for (uint16_t i = 0; i < sent; i++)
			c.tx_bytes += pend[i]->pkt_len;
		c.tx += sent;
		c.tx_calls++;
		c.tx_short += sent < n_pend;
		credit -= sent;
		/* what the ring did not take is sent first next time (memmove: a few pointers) */
		memmove(pend, pend + sent, (n_pend - sent) * sizeof(pend[0]));
		n_pend -= sent;
	}
}

/* Stop sending and receive until nothing has come back for --drain-ms (at most 10 times that):
 * the proxy empties the ring behind us even when it was preempted at the window's end, so the
 * totals compare what both sides saw, not what was still in flight when we stopped. */
static void drain(uint64_t hz)
{
	uint64_t quiet = o.drain_ms * hz / 1000, now = rte_get_tsc_cycles();
	uint64_t hard_end = now + 10 * quiet, last_rx = now;
	rte_pktmbuf_free_bulk(pend, n_pend); /* built, never sent: not counted */
	n_pend = 0;
	flush_ctl();
	while (!stop && now < hard_end && now - last_rx < quiet) {
		if (rx_poll() > 0)
			last_rx = rte_get_tsc_cycles();
		flush_ctl();
		now = rte_get_tsc_cycles();
	}
}

static int eal_port_setup(void)
{
	struct rte_eth_conf conf = {0};
	uint16_t nrx = 1024, ntx = 1024;
	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "siggen: no port (pass --vdev=net_memif0,role=server,...)\n");
		return -1;
	}
	pool = rte_pktmbuf_pool_create("gen_mbufs", NB_MBUFS, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!pool || rte_eth_dev_configure(port, 1, 1, &conf) < 0 ||
	    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx) < 0 ||
	    rte_eth_rx_queue_setup(port, 0, nrx, (unsigned)rte_eth_dev_socket_id(port), NULL,
				   pool) < 0 ||
	    rte_eth_tx_queue_setup(port, 0, ntx, (unsigned)rte_eth_dev_socket_id(port), NULL) < 0 ||
	    rte_eth_dev_start(port) < 0) {
		fprintf(stderr, "siggen: port %u setup failed (mbuf pool or queues; -m too small?)\n",
			port);
		return -1;
	}
	rte_eth_promiscuous_enable(port);
	return 0;
}

static int wait_link(void)
{
	struct rte_eth_link link = {0};
	for (uint64_t ms = 0; ms < o.link_ms && !stop; ms += 10) {
		rte_eth_link_get_nowait(port, &link);
		if (link.link_status == RTE_ETH_LINK_UP)
			return 0;
		rte_delay_us_sleep(10000);
	}
	fprintf(stderr, "siggen: link of port %u still down after %" PRIu64 " ms: no peer\n", port,
		o.link_ms);
	return -1;
}

int main(int argc, char **argv)
{
	/* options and message files before "--", EAL arguments after it */
	int split = 1;
	while (split < argc && strcmp(argv[split], "--") != 0)
		split++;
	if (split == argc) {
		usage(stderr);
		return 2;
	}
	argv[split] = argv[0]; /* EAL's argv[0] */
	int gen_argc = split;
	if (parse_opts(gen_argc, argv) < 0)
		return 2;
	char **files = argv + optind;
	int n_files = gen_argc - optind;
	size_t mix_bytes;
	unsigned n_resp;
	if (build_frames(files, n_files, &mix_bytes, &n_resp) < 0)
		return 2;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (rte_eal_init(argc - split, argv + split) < 0) {
		fprintf(stderr, "siggen: SKIP: EAL init failed (no memif PMD, no permission, or "
				"bad EAL arguments)\n");
		return EXIT_SKIP;
	}
	int rc = 1;
	if (eal_port_setup() < 0)
		goto out;
	fprintf(stderr, "siggen: %u frames (%d messages x %u variants, %u responses, avg %zu "
			"bytes of SIP), waiting for the peer\n",
		n_frames, n_files, o.variants, n_resp, mix_bytes / (size_t)n_files);
	rc = EXIT_NOLINK;
	if (wait_link() < 0)
		goto out;
	if (o.no_arp) {
		dut_mac = fallback_mac;
	} else if (resolve_dut() < 0) {
		fprintf(stderr, "siggen: no ARP reply from %s within 3 s\n", inet_ntoa(o.dst4));
		goto out;
	}
	set_dst_macs();
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_get_tsc_cycles();
	run_until(t0 + o.warmup_ms * hz / 1000);
	struct counts a = c;
	pid_t pid = dut_pid();
	double cpu0 = pid > 0 ? proc_cpu(pid) : -1, self0 = proc_cpu(getpid());
	double busy0 = machine_busy();
	pid_t mark0 = mark("start");
	uint64_t t1 = rte_get_tsc_cycles();
	run_until(t1 + o.duration_ms * hz / 1000);
	uint64_t t2 = rte_get_tsc_cycles();
	double cpu1 = pid > 0 ? proc_cpu(pid) : -1, self1 = proc_cpu(getpid());
	double busy1 = machine_busy();
	struct counts b = c;
	pid_t mark1 = mark("end");
	drain(hz);
	reap_marks(mark0, mark1);
	double secs = (double)(t2 - t1) / (double)hz;
	uint64_t rx = b.rx - a.rx, tx = b.tx - a.tx;
	double dut_cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
	printf("siggen window_s=%.3f tx=%" PRIu64 " rx=%" PRIu64 " tx_pps=%.0f rx_pps=%.0f "
	       "rx_req=%" PRIu64 " rx_resp=%" PRIu64 " rx_v6=%" PRIu64 " rx_mbps=%.1f "
	       "window_loss=%" PRId64 " window_arp_ns=%" PRIu64 " dut_cpu_s=%.3f gen_cpu_s=%.3f "
	       "machine_busy_s=%.3f total_tx=%" PRIu64 " total_rx=%" PRIu64 " total_lost=%" PRId64
	       " rx_other=%" PRIu64 " ctl_lost=%" PRIu64
	       " rx_bad_cksum=%" PRIu64 " answered_arp_ns=%" PRIu64 " tsc_hz=%" PRIu64
	       " frames=%u mix_msgs=%d mix_avg_bytes=%zu v6_every=%u backpressure=%.3f\n",
	       secs, tx, rx, (double)tx / secs, (double)rx / secs, b.rx_req - a.rx_req,
	       b.rx_resp - a.rx_resp, b.rx_v6 - a.rx_v6,
	       (double)(b.rx_bytes - a.rx_bytes) * 8 / secs / 1e6, (int64_t)(tx - rx),
	       (b.arp_in - a.arp_in) + (b.ns_in - a.ns_in), dut_cpu, self1 - self0, busy1 - busy0, c.tx, c.rx,
	       (int64_t)(c.tx - c.rx), c.rx_other, c.ctl_lost, c.rx_bad_cksum, c.answered, hz, n_frames,
	       n_files, mix_bytes / (size_t)n_files, o.v6_every,
	       b.tx_calls > a.tx_calls
		       ? (double)(b.tx_short - a.tx_short) / (double)(b.tx_calls - a.tx_calls)
		       : 0.0);
	fflush(stdout);
	rc = 0;
out:
	rte_pktmbuf_free_bulk(ctl_q, n_ctl);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	return rc;
}
