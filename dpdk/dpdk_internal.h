/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal state of the DPDK datapath: the per-lcore struct (one cache-aligned struct per
 * worker lcore, single writer), its counters, the neighbour cache and the helpers the poll
 * loop (worker.c), the neighbour code (neigh.c) and the setup (port.c) share. TX (queue,
 * flush, encapsulation) has its own header, tx.h.
 *
 * Calls between the per-packet files go one way: worker.c -> probe.c -> neigh.c ->
 * exception.c -> tx.c (a file may skip steps; frag.c and cksum.c are leaves too). Nothing
 * calls back up that chain: keep it so when adding a call.
 */
#ifndef VD_DPDK_INTERNAL_H
#define VD_DPDK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "viaduct/dpview.h"
#include "viaduct/proxy.h"
#include "viaduct/stats.h"

#define VD_DPDK_BURST	   32		       /* packets per rx_burst, as in l3fwd */
#define VD_DPDK_BEHIND_BURSTS 8		       /* full bursts in a row: count the RX ring */
#define VD_DPDK_PREFETCH   3		       /* prefetch packet i + 3 while handling packet i */
#define VD_DPDK_TX_MAX	   (2 * VD_DPDK_BURST) /* a burst's packets plus one ARP/NS per packet */
#define VD_DPDK_TX_RETRIES 4 /* tx_burst attempts on a full TX ring before dropping */
#define VD_DPDK_RX_DESC	   1024
#define VD_DPDK_TX_DESC	   1024
#define VD_DPDK_EXC_MBUFS  512 /* mbufs one exception queue pair can hold (exception.c) */
#define VD_DPDK_POOL_CACHE 256
#define VD_DPDK_MIN_MBUFS  8191 /* 2^n - 1: the mempool ring's best size */
/* Data room after the headroom: a whole SIP datagram in one segment, plus room to move it
 * toward the tail when the rewrite needs more headroom than RTE_PKTMBUF_HEADROOM leaves. */
#define VD_DPDK_DATA_ROOM (RTE_PKTMBUF_HEADROOM + 4096)
/* Bytes kept in front of the SIP payload for the headers we prepend on TX (Ethernet 14 +
 * IPv6 40 + UDP 8 = 62, rounded up): the core never gets to use them. */
#define VD_DPDK_HDR_RESERVE 64
/* Idle policy: after this many empty polls, sleep briefly (RCU-offline) so that a shared
 * core is given back; a dedicated core could spin instead (set VD_DPDK_IDLE_SLEEP_US 0). */
#define VD_DPDK_IDLE_POLLS    256
#define VD_DPDK_IDLE_SLEEP_US 50

/*
 * IP reassembly, per worker lcore (frag.c). A table of VD_FRAG_BUCKETS x VD_FRAG_BUCKET_ENTRIES
 * slots (the associativity, a power of two) holds at most VD_FRAG_MAX_FLOWS datagrams in
 * assembly; one is given up VD_FRAG_TIMEOUT_MS after its first fragment. Each holds at most
 * RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) mbufs: the pool reserves VD_FRAG_POOL_MBUFS per worker for
 * them (~36 MB with 4 KB mbufs), so that incomplete datagrams cannot starve RX. Raise the
 * flows for heavy fragmented traffic, at that memory cost.
 */
#define VD_FRAG_MAX_FLOWS      1024
#define VD_FRAG_BUCKETS	       1024
#define VD_FRAG_BUCKET_ENTRIES 4
#define VD_FRAG_TIMEOUT_MS     2000
#define VD_FRAG_POOL_MBUFS     (VD_FRAG_MAX_FLOWS * RTE_LIBRTE_IP_FRAG_MAX_FRAG)
/* Fragments one datagram may become on TX: a 4 KB datagram at the IPv4 minimum MTU of 576 */
#define VD_FRAG_TX_MAX 8

#define VD_NEIGH_SIZE	     1024 /* entries per lcore, a power of two */
#define VD_NEIGH_PROBE	     8	  /* slots probed from the hash position */
#define VD_NEIGH_RETRY_MS    200  /* at most one ARP request / NS per next hop per interval */
#define VD_NEIGH_INBOX	     256  /* neighbour updates queued to one lcore (power of two) */
#define VD_NEIGH_INBOX_BURST 32	  /* updates applied per loop iteration */

/* Why a frame was dropped before or after the SIP core (the core's own reasons are in
 * struct vd_stats). Order is a contract with vd_dpdk_drop_names in port.c. */
enum vd_dpdk_drop {
	VD_DPDK_DROP_NO_MBUF = 0, /* no mbuf for an ARP request / NS */
	VD_DPDK_DROP_NOT_FOR_US,  /* not ours: other IP/port/protocol, TCP, unknown ethertype */
	VD_DPDK_DROP_NEIGH,	  /* next hop MAC unknown: solicited, the endpoint retransmits */
	VD_DPDK_DROP_BAD_CKSUM,	  /* IPv4 header or UDP checksum wrong */
	VD_DPDK_DROP_TOO_BIG,	  /* multi-segment frame, a reassembled datagram or a reply larger
				     than the mbuf, more fragments than VD_FRAG_TX_MAX */
	VD_DPDK_DROP_MALFORMED,	  /* truncated or inconsistent L2/L3/L4 headers */
	VD_DPDK_DROP_REASSEMBLY,  /* fragment given up: table full, timed out, overlapping, too many */
	VD_DPDK_DROP_TX_FULL,	  /* the TX ring stayed full */
	VD_DPDK_DROP_NO_ROUTE,	  /* off-link destination and no gateway of its family */
	VD_DPDK_DROP_PROBE_RX_FULL,   /* a health probe reply; the control thread's ring was full */
	VD_DPDK_DROP_PROBE_NO_SOURCE, /* a health probe from an address that is no longer ours */
	VD_DPDK_DROP__COUNT
};

struct vd_dpdk_counters {
	uint64_t rx_pkts, tx_pkts;	/* frames, all kinds */
	uint64_t busy_cycles;		/* TSC in iterations that received frames */
	uint64_t arp_replies, na_sent;	/* answers to ARP requests / neighbour solicitations */
	uint64_t arp_requests, ns_sent; /* our own solicitations */
	uint64_t neigh_learned;		/* new or changed cache entries */
	uint64_t neigh_inbox_full;	/* updates another lcore could not take (it relearns) */
	uint64_t echo_replies;		/* ICMP and ICMPv6 */
	uint64_t room_moves;		/* SIP payload moved toward the tail for headroom */
	uint64_t frags_rx, reassembled; /* IP fragments for us; datagrams rebuilt from them */
	uint64_t fragmented, frags_tx;	/* datagrams over the MTU split on TX; their fragments */
	uint64_t probe_tx, probe_rx;	/* health probes sent (worker 0); replies to the control */
	uint64_t exc_tx, exc_tx_drops;	/* frames to the kernel (exception.c); ring full, no copy */
	uint64_t exc_rx, exc_rx_drops;	/* frames from the kernel; refused by the data port's TX */
	uint64_t drop[VD_DPDK_DROP__COUNT];
};

/*
 * The fields of struct vd_dpdk_counters (but drop[], exported by reason from
 * vd_dpdk_drop_names) as the control plane shows them (stats.c): X(field, key in the printed
 * "stats dpdk" line, Prometheus family viaduct_dpdk_<metric>_total, help). A new counter
 * field gets a line here; a field without one is simply not exported.
 * Compatibility: keys and metric names are a contract with scripts and dashboards.
 */
#define VD_DPDK_COUNTER_FIELDS(X)                                                               \
	X(rx_pkts, "rx", "rx_packets", "Frames received, all kinds.")                           \
	X(tx_pkts, "tx", "tx_packets", "Frames sent, all kinds.")                               \
	X(busy_cycles, "busy_cycles", "busy_cycles",                                            \
	  "TSC cycles spent in poll iterations that received frames (rx to tx).")               \
	X(arp_replies, "arp_replies", "arp_replies", "ARP requests for our addresses answered.") \
	X(na_sent, "na_sent", "na_sent", "Neighbour advertisements sent for our addresses.")    \
	X(arp_requests, "arp_requests", "arp_requests", "ARP requests sent for next hops.")     \
	X(ns_sent, "ns_sent", "ns_sent", "Neighbour solicitations sent for next hops.")         \
	X(neigh_learned, "neigh_learned", "neigh_learned", "Neighbour cache entries learned.")  \
	X(neigh_inbox_full, "neigh_inbox_full", "neigh_inbox_full",                            \
	  "Neighbour updates another lcore could not take (it relearns).")                      \
	X(echo_replies, "echo_replies", "echo_replies", "ICMP and ICMPv6 echo requests answered.") \
	X(room_moves, "room_moves", "room_moves",                                              \
	  "SIP payloads moved toward the tail for headroom (slow path).")                       \
	X(frags_rx, "frags_rx", "fragments_received", "IP fragments received for us.")          \
	X(reassembled, "reassembled", "reassembled", "Datagrams rebuilt from fragments.")       \
	X(fragmented, "fragmented", "fragmented", "Datagrams over the MTU split on TX.")        \
	X(frags_tx, "frags_tx", "fragments_sent", "IP fragments sent.")                         \
	X(probe_tx, "probe_tx", "health_probes_sent", "Health probes sent for the control thread.") \
	X(probe_rx, "probe_rx", "health_probe_replies",                                        \
	  "Health probe replies passed to the control thread.") \
	X(exc_tx, "exception_tx", "exception_tx_packets",                                       \
	  "Frames given to the kernel through the exception port.")                              \
	X(exc_tx_drops, "exception_tx_drops", "exception_tx_drops",                             \
	  "Frames for the kernel dropped: exception TX ring full, or no mbuf for a copy.")       \
	X(exc_rx, "exception_rx", "exception_rx_packets",                                       \
	  "Frames from the kernel (exception port) for the data port.")                          \
	X(exc_rx_drops, "exception_rx_drops", "exception_rx_drops",                             \
	  "Frames from the kernel the data port's TX ring refused.")

/** Names of enum vd_dpdk_drop (port.c): "drop_<name>" keys, reason="<name>" labels. */
extern const char *const vd_dpdk_drop_names[VD_DPDK_DROP__COUNT];

enum vd_neigh_state { VD_NEIGH_FREE = 0, VD_NEIGH_INCOMPLETE, VD_NEIGH_REACHABLE };

/* One next hop: an IPv4 address is stored in the first 4 bytes. */
struct vd_neigh {
	uint8_t ip[16];
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t state;	/* enum vd_neigh_state */
	struct rte_ether_addr mac;
	uint64_t solicited_tsc; /* when we last sent an ARP request / NS for it */
};

/*
 * A neighbour learned from ARP or NDP, passed to the other lcores. ARP has no ports and NICs
 * steer it to queue 0 (RSS hashes IP/UDP only), so the reply to one lcore's request often
 * reaches another lcore: whoever receives it tells everybody through their inbox rings.
 */
struct vd_neigh_update {
	uint8_t ip[16];
	struct rte_ether_addr mac;
	uint8_t family;
	uint8_t pad;
};

/* What stage 1 found in a received frame. */
enum vd_rx_kind { VD_RX_DONE = 0, VD_RX_SIP, VD_RX_PROBE /* a reply to a health probe */ };

struct vd_rx_meta {
	uint8_t kind;	  /* enum vd_rx_kind */
	uint8_t listener; /* arrival listener (SIP) */
	uint16_t l4_off;  /* offset of the UDP header from the frame start */
	uint32_t sip_len; /* UDP payload bytes */
	union vd_sockaddr src;
};

/* Everything one worker lcore owns. Only that lcore writes it; the main lcore reads the
 * counters after the workers returned. */
struct vd_lcore {
	struct vd_stats stats; /* SIP counters, the same struct as the kernel datapath's */
	struct vd_dpdk_counters c;
	unsigned worker; /* 0..n-1: the queue pair and the rules scratch index */
	uint16_t port, queue;
	struct rte_ether_addr mac;
	struct rte_mempool *pool;
	volatile int *stop;
	uint64_t rounds;	   /* loop rounds, idle ones too: the watchdog's sign of life */
	uint64_t retry_tsc;	   /* VD_NEIGH_RETRY_MS in TSC ticks */
	uint64_t tx_ol;		   /* RTE_ETH_TX_OFFLOAD_{IPV4,UDP}_CKSUM enabled on the port */
	uint16_t mtu;		   /* the port's: larger IP datagrams are fragmented on TX */
	uint32_t ip_id;		   /* IPv4 identification / IPv6 fragment id sequence (frag.c) */
	struct rte_ip_frag_tbl *frag_tbl;
	struct rte_ip_frag_death_row frag_dr; /* freed after every burst */
	struct rte_ring *inbox;	   /* neighbour updates from the other lcores (MP/SC) */
	struct rte_ring **inboxes; /* every lcore's inbox, n_workers of them */
	unsigned n_workers;
	const struct vd_proxy *px;	  /* the snapshot of the current burst */
	const struct vd_route_ip *net; /* its next hops (networks, gateways), compiled */
	struct vd_proxy_scratch scratch;
	struct vd_guard *guard;	   /* admission state (scratch.guard) */
	uint64_t tsc_per_ms;
	/* the RX queue is behind when it holds behind_desc descriptors or more (checked every
	 * VD_DPDK_BEHIND_BURSTS full bursts in a row; 0: the driver cannot count, no signal) */
	unsigned full_bursts;
	uint16_t behind_desc;
	bool behind;
	unsigned n_tx;
	struct rte_mbuf *tx[VD_DPDK_TX_MAX];
	const struct vd_result *tx_res[VD_DPDK_TX_MAX]; /* SIP result of tx[i], or NULL */
	struct vd_rx_meta meta[VD_DPDK_BURST];
	struct vd_result res[VD_DPDK_BURST];
	struct vd_neigh neigh[VD_NEIGH_SIZE];
	/* exception path (exception.c): this worker's queue pair there is lc->queue */
	bool exc_on;	   /* an exception port is configured */
	uint16_t exc_port;
	uint16_t exc_polls; /* bursts since the exception RX queue was last polled */
	unsigned n_exc;
	struct rte_mbuf *exc_tx[VD_DPDK_BURST]; /* this burst's frames for the kernel */
	/* TCP/TLS: the kernel datapath that owns the connections (vd_dp_submit), or NULL */
	struct vd_dp *streams;
	bool submitted; /* this burst submitted to it: wake its workers once at the end */
	/* members' 503 Retry-After and overload control, to the control thread (which polls
	 * every VD_DPDK_CONTROL_POLL_MS: no wake-up to write) */
	struct vd_mev_ring events;
} __rte_cache_aligned;

/* worker.c */
int vd_dpdk_worker_main(void *arg); /* lcore entry point, arg = struct vd_lcore * */

/* frag.c */
/** Create this lcore's reassembly table (setup, before the lcore runs). */
int vd_frag_init(struct vd_lcore *lc, int socket);
/** Free the table and every mbuf it holds (after the lcore returned). */
void vd_frag_fini(struct vd_lcore *lc);
/** After every burst: give up timed-out datagrams, count and free the death row. */
void vd_frag_burst_end(struct vd_lcore *lc);
/**
 * Feed an IPv4 fragment for us (header checked, ETH + tot <= data_len). Consumes m; returns
 * the whole datagram in one segment, its header checksum valid, or NULL (held, or dropped
 * and counted).
 */
struct rte_mbuf *vd_frag_ipv4_input(struct vd_lcore *lc, struct rte_mbuf *m,
				    struct rte_ipv4_hdr *ip, uint16_t ihl, uint16_t tot);
/** Same for IPv6, the fragment header right after the fixed header. */
struct rte_mbuf *vd_frag_ipv6_input(struct vd_lcore *lc, struct rte_mbuf *m,
				    struct rte_ipv6_hdr *ip);
/** The identification for the next IPv4 datagram this lcore sends. */
uint16_t vd_frag_ipv4_id(struct vd_lcore *lc);
/**
 * Copy frame m (Ethernet + IPv4/IPv6 without options or extension headers + a UDP datagram,
 * checksums final) into lc->mtu-sized fragments out[0..n-1]. Returns n (at least 1), or 0 with
 * *why set and nothing allocated. m stays the caller's.
 */
unsigned vd_frag_split(struct vd_lcore *lc, const struct rte_mbuf *m, struct rte_mbuf **out,
		       unsigned max, enum vd_dpdk_drop *why);

/*
 * probe.c: health probes for the control thread. Probes leave from a listener address and
 * the probe port, a UDP port on our addresses that no listener may use (replies come back to
 * it). A per-process constant for now (configurable later).
 */
#define VD_DPDK_PROBE_PORT  50600
#define VD_DPDK_PROBE_RING  1024 /* elements per ring, both directions (a power of two) */
#define VD_DPDK_PROBE_BURST 16	 /* probes worker 0 takes per loop iteration */
/** Control-thread side counters (monotonic; the workers count probe_tx/probe_rx). */
struct vd_dpdk_probe_counters {
	uint64_t queued;       /* probes handed to worker 0 */
	uint64_t delivered;    /* replies handed to the prober */
	uint64_t tx_ring_full; /* probes refused: the TX ring was full */
	uint64_t no_mbuf;      /* probes refused: the pool was empty */
	uint64_t refused;      /* probes refused: too large, or mixed address families */
};
/** Network byte order; 0 = probing off. Set before the workers start. */
extern uint16_t vd_dpdk_probe_port_be;
/** Create the rings (setup, after the pool, with the first snapshot published): 0 or -ENOMEM.
 * A listener on the probe port leaves probing off (logged), which is not an error. */
int vd_dpdk_probe_init(struct rte_mempool *pool);
/** Free the rings and the mbufs in them: after the workers and the control thread stopped. */
void vd_dpdk_probe_fini(void);
/** Any worker: a datagram to the probe port (meta as for SIP). Consumes m. */
void vd_dpdk_probe_input(struct vd_lcore *lc, struct rte_mbuf *m, const struct vd_rx_meta *meta);
/** Worker 0, once per loop iteration: queue up to VD_DPDK_PROBE_BURST probes (and the ARP/NS
 * they need) for TX; returns how many probes it took (the caller flushes when > 0). */
unsigned vd_dpdk_probe_tx_drain(struct vd_lcore *lc);
/** The control-side counters as a "stats dpdk_probe k=v ..." line (control thread). */
void vd_dpdk_probe_print(FILE *f);

/* exception.c: the kernel's share of the port (see there) */
/** Setup: open the exception port `name` ("" = none: *exc_port = RTE_MAX_ETHPORTS) with one
 * queue pair per worker and the data port's MAC, and attach it to the lcores. */
int vd_dpdk_exc_open(const char *name, uint16_t data_port, struct rte_mempool *pool,
		     struct vd_lcore *const *lcores, unsigned n_workers, uint16_t *exc_port);
/** Teardown, after the workers returned (any exc_port, RTE_MAX_ETHPORTS included). */
void vd_dpdk_exc_close(uint16_t exc_port);
/** A frame the loop does not consume: to the kernel if it may want it, else dropped as
 * not_for_us (always so without an exception port). Consumes m. */
void vd_dpdk_exc_punt(struct vd_lcore *lc, struct rte_mbuf *m);
/** A copy of m for the kernel (ARP/ND the datapath answers); m stays the caller's. */
void vd_dpdk_exc_copy(struct vd_lcore *lc, const struct rte_mbuf *m);
/** Once per loop iteration when exc_on: send what the burst punted, relay the kernel's
 * frames to the data port (when `idle`, else every few bursts). Returns frames relayed. */
unsigned vd_dpdk_exc_service(struct vd_lcore *lc, bool idle);

/* What the listener lookups (vd_dpdk_our_ip, worker.c's listener_for) return for none. */
enum { VD_DPDK_NO_LISTENER = -1 };

/**
 * Index of a listener whose address is `ip` (4 or 16 bytes by family), or VD_DPDK_NO_LISTENER.
 * Here rather than in neigh.c: stage 1, neigh.c, probe.c and exception.c all ask, and a call
 * from exception.c into neigh.c would close a cycle (neigh.c punts to exception.c).
 */
static inline int vd_dpdk_our_ip(const struct vd_proxy *px, int family, const void *ip)
{
	for (unsigned j = 0; j < px->n_listeners; j++) {
		const union vd_sockaddr *b = &px->listeners[j].bind;
		if (b->sa.sa_family != family)
			continue;
		if (family == AF_INET ? memcmp(&b->in.sin_addr, ip, 4) == 0
				      : memcmp(&b->in6.sin6_addr, ip, 16) == 0)
			return (int)j;
	}
	return VD_DPDK_NO_LISTENER;
}

/* neigh.c */
/** Learn ip -> mac (from an ARP/NA or from any packet for us from that address). */
void vd_neigh_learn(struct vd_lcore *lc, int family, const void *ip,
		    const struct rte_ether_addr *mac);
/** Learn from ARP/NDP: this lcore and, through their inboxes, every other one. */
void vd_neigh_learn_all(struct vd_lcore *lc, int family, const void *ip,
			const struct rte_ether_addr *mac);
/** Apply what other lcores learned (once per loop iteration). */
void vd_neigh_inbox_drain(struct vd_lcore *lc);
/**
 * The MAC of the next hop towards `dst`: dst itself when it is on-link (inside one of the
 * configured networks, or no networks configured), else the gateway of its family. NULL with
 * *why = VD_DPDK_DROP_NEIGH after soliciting it (ARP request or NS from listener
 * `src_listener`, at most once per VD_NEIGH_RETRY_MS), or VD_DPDK_DROP_NO_ROUTE when dst is
 * off-link and its family has no gateway.
 */
const struct rte_ether_addr *vd_neigh_resolve(struct vd_lcore *lc, const union vd_sockaddr *dst,
					      unsigned src_listener, enum vd_dpdk_drop *why);
/** Frames that are not UDP to a listener: ARP, ICMP(v6) echo, NS/NA. Consumes m. */
void vd_dpdk_arp_input(struct vd_lcore *lc, struct rte_mbuf *m);
void vd_dpdk_icmp4_input(struct vd_lcore *lc, struct rte_mbuf *m, uint16_t l3_off);
void vd_dpdk_icmp6_input(struct vd_lcore *lc, struct rte_mbuf *m, uint16_t l3_off);

static inline void vd_dpdk_drop(struct vd_lcore *lc, struct rte_mbuf *m, enum vd_dpdk_drop why)
{
	VD_STAT_ADD(lc->c.drop[why], 1);
	rte_pktmbuf_free(m);
}

#endif
