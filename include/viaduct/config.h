/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration: the YAML file turned into one plain, validated struct.
 *
 * Config flows one way: file -> struct vd_config (this header) -> compiled runtime state
 * (the routing snapshot: Maglev tables, rules, listener sockets). Workers never read a struct
 * vd_config. Pools and members are allocated (free with vd_config_free); a failed load leaves
 * the caller's previous config untouched.
 */
#ifndef VIADUCT_CONFIG_H
#define VIADUCT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "viaduct/addr.h"

#define VD_CFG_MAX_LISTENERS 16
#define VD_CFG_MAX_MEMBERS 256
#define VD_CFG_NAME_MAX 64
#define VD_CFG_HOST_MAX 256 /* an FQDN is at most 253 characters */
#define VD_CFG_MAX_WORKERS 256
#define VD_CFG_MAX_RULES 100000

struct vd_rule_spec;

/* Defaults applied when a field is absent. */
#define VD_CFG_DEFAULT_PORT 5060
#define VD_CFG_DEFAULT_WEIGHT 1
#define VD_CFG_DEFAULT_TABLE_SIZE 65537 /* prime: Maglev needs a prime table size */
#define VD_CFG_DEFAULT_MAX_MESSAGE 16384
#define VD_CFG_DEFAULT_MAX_HEADERS 96
#define VD_CFG_DEFAULT_MAX_VIAS 70 /* = the Max-Forwards a UA starts with (RFC 3261 8.1.1.6) */
#define VD_CFG_DEFAULT_RETRY_AFTER 5 /* seconds, in the 503 sent when no member can be chosen */
#define VD_CFG_DEFAULT_BATCH 32

/* Hard ceilings that validation enforces (the datapath sizes its buffers from them). */
#define VD_CFG_MAX_MESSAGE_CEIL 65507 /* largest UDP payload over IPv4 */
#define VD_CFG_MAX_HEADERS_CEIL 256
#define VD_CFG_MAX_VIAS_CEIL 255

/* What a pool hashes to pick a member: every message with the same key goes to the same member. */
enum vd_hash_key {
	VD_HASH_CALL_ID = 0, /* "call-id": all messages of a dialog/registration to one member */
	VD_HASH_SOURCE_IP,   /* "source-ip": UE affinity, all messages of a UE to one member */
	VD_HASH_FROM_USER,   /* "from-user": the user part of the From URI */
	VD_HASH_TO_USER,     /* "to-user" */
	VD_HASH_RURI_USER,   /* "ruri-user": the user part of the Request-URI */
	VD_HASH_HEADER,      /* "header:NAME": the value of header NAME */
};

/* How SIP travels to or from an address (RFC 3261 18). */
enum vd_transport { VD_TP_UDP = 0, VD_TP_TCP, VD_TP_TLS, VD_TP__COUNT };

/** "udp", "tcp", "tls". */
const char *vd_transport_name(enum vd_transport t);

#define VD_CFG_PATH_MAX 512

/* TLS credentials and peer verification (OpenSSL 3): a TLS listener's `tls:`, and
 * `tls_client:` for viaduct's connections to TLS members. Paths are made absolute (relative
 * to the config file) by the loader; the files are read when a snapshot is built (start,
 * reload), so a renewed certificate is taken by the next reload. */
struct vd_cfg_tls {
	char certificate[VD_CFG_PATH_MAX]; /* PEM chain, leaf first ("" = none) */
	char key[VD_CFG_PATH_MAX];         /* PEM private key of the certificate */
	char ca[VD_CFG_PATH_MAX];          /* PEM bundle of trusted CAs ("": the system's) */
	bool verify_peer; /* listener: verify_client (mutual TLS); tls_client: verify_server */
};

struct vd_cfg_listener {
	union vd_sockaddr addr; /* IPv4 or IPv6 address + port to bind (port in network order) */
	socklen_t addrlen;
	/* Host and port we put in our Via and recognise in Route/Request-URI as ourselves.
	 * Defaults: the textual bind address (IPv6 in brackets) and the bind port. */
	char advertise[VD_CFG_HOST_MAX];
	uint16_t advertise_port;
	enum vd_transport transport; /* a UDP and a TCP listener may share address and port */
	struct vd_cfg_tls tls;       /* transport tls: certificate and key required */
};

struct vd_cfg_member {
	char host[VD_CFG_HOST_MAX];   /* as written in the config, for logs and metrics */
	union vd_sockaddr addr; /* resolved numeric address + port (network order) */
	socklen_t addrlen;
	uint32_t weight;   /* >= 1 */
	uint32_t priority; /* group: the lowest group with a member up takes the traffic */
	enum vd_transport transport; /* default: the pool's */
};

/*
 * Passive health of a pool's members: what their responses say (README "Passive health").
 *   retry_after:       a 503 with Retry-After takes the member out of the pool for that long
 *                      (cut to retry_after_max_s);
 *   overload_control:  RFC 7339 oc in our Via cuts the member's share of new dialogs by oc
 *                      percent for oc-validity;
 *   detection:         outlier detection: every interval_ms, a member with min_requests
 *                      requests whose success ratio (final non-5xx responses / requests) is
 *                      below min_success_percent, or (3 or more members judged) below the
 *                      pool's mean by stdev_permille/1000 standard deviations and by at least
 *                      VD_CFG_OUTLIER_MIN_GAP points, is ejected for ejection_ms times its
 *                      consecutive ejections (at most max_ejection_ms);
 *   max_ejection_percent: of the pool's members out at once, for any reason (at least one
 *                      when not 0; never the last member available);
 *   slow_start_ms:     a member back (ejection over, health up) ramps from
 *                      VD_CFG_SLOW_START_FIRST percent of its weight to all of it.
 */
struct vd_cfg_outlier {
	bool retry_after, overload_control, detection;
	uint32_t retry_after_max_s;
	uint32_t interval_ms, min_requests, min_success_percent, stdev_permille;
	uint32_t ejection_ms, max_ejection_ms, max_ejection_percent;
	uint32_t slow_start_ms;
};

#define VD_CFG_DEFAULT_RETRY_AFTER_MAX_S 300
#define VD_CFG_DEFAULT_OUTLIER_INTERVAL_MS 10000
#define VD_CFG_DEFAULT_OUTLIER_MIN_REQUESTS 50
#define VD_CFG_DEFAULT_OUTLIER_MIN_SUCCESS 50   /* percent */
#define VD_CFG_DEFAULT_OUTLIER_STDEV 1900       /* per mille: 1.9 standard deviations */
#define VD_CFG_DEFAULT_EJECTION_MS 30000
#define VD_CFG_DEFAULT_MAX_EJECTION_MS 300000
#define VD_CFG_DEFAULT_MAX_EJECTION_PERCENT 10
#define VD_CFG_OUTLIER_MIN_GAP 10  /* percentage points below the mean, at least */
#define VD_CFG_SLOW_START_FIRST 10 /* percent of its weight a returning member starts at */

struct vd_cfg_pool {
	char name[VD_CFG_NAME_MAX];
	enum vd_hash_key hash;
	char hash_header[VD_CFG_NAME_MAX]; /* VD_HASH_HEADER: the header's name */
	uint32_t table_size; /* prime; default VD_CFG_DEFAULT_TABLE_SIZE */
	enum vd_transport transport; /* to the members; default udp */
	/* a request over this many bytes goes to a UDP member over TCP instead, same address
	 * and port (RFC 3261 18.1.1: 1300 when the path MTU is unknown); 0 = never */
	uint32_t udp_max_bytes;
	unsigned n_members;  /* 1..VD_CFG_MAX_MEMBERS */
	struct vd_cfg_member *members; /* owned by the config (vd_config_free) */
	struct vd_cfg_outlier outlier;
};

/* Health probing of members with SIP OPTIONS (include/viaduct/health.h). */
struct vd_cfg_health {
	bool enabled;
	uint32_t interval_ms, timeout_ms, down_after, up_after;
};

/* SIP over TCP (listeners with transport tcp, pools and members over tcp): limits that keep
 * one client from holding a worker's connections or memory. */
struct vd_cfg_tcp {
	uint32_t max_connections;        /* accepted connections, all workers together */
	uint32_t max_connections_per_ip; /* accepted connections from one source address */
	uint32_t header_timeout_ms;      /* a started message must be complete within (slowloris) */
	uint32_t idle_timeout_ms;        /* a connection with nothing received is closed after */
	uint32_t write_queue_bytes;      /* unsent bytes one connection may hold: over -> closed */
	uint32_t connect_timeout_ms;     /* connecting to a member */
};

#define VD_CFG_DEFAULT_TCP_MAX_CONNECTIONS 100000
#define VD_CFG_DEFAULT_TCP_MAX_PER_IP 1000
#define VD_CFG_DEFAULT_TCP_HEADER_TIMEOUT_MS 10000
#define VD_CFG_DEFAULT_TCP_IDLE_TIMEOUT_MS 600000
#define VD_CFG_DEFAULT_TCP_WRITE_QUEUE 1048576
#define VD_CFG_DEFAULT_TCP_CONNECT_TIMEOUT_MS 3000

/* The admin HTTP API (include/viaduct/admin.h). */
struct vd_cfg_admin {
	bool enabled;
	char address[VD_CFG_HOST_MAX]; /* numeric, local */
	uint16_t port;
};

/*
 * The DPDK datapath (include/viaduct/dpdk.h). A `dpdk:` section selects it (enabled: false
 * keeps the kernel datapath). EAL arguments, ports and sizes are read once at start; networks
 * and gateways are read from the snapshot, so a reload changes them live.
 */
#define VD_CFG_DPDK_MAX_EAL 32
#define VD_CFG_DPDK_ARG_MAX 256
#define VD_CFG_DPDK_MAX_NETS 16

struct vd_cfg_dpdk {
	bool enabled;
	unsigned n_eal;                              /* EAL arguments, argv[0] excluded */
	char eal[VD_CFG_DPDK_MAX_EAL][VD_CFG_DPDK_ARG_MAX];
	char port[VD_CFG_DPDK_ARG_MAX];      /* data port device name; "" = the first port that is
						not the exception port */
	char exception[VD_CFG_DPDK_ARG_MAX]; /* exception-path port device name; "" = none */
	uint32_t mbufs;                      /* 0 = sized from the queues */
	uint16_t rx_desc, tx_desc;           /* 0 = defaults */
	/* On-link prefixes: a destination inside one is resolved directly, any other through the
	 * gateway of its family. None listed = every destination is on-link. */
	unsigned n_networks;
	struct vd_prefix networks[VD_CFG_DPDK_MAX_NETS];
	union vd_sockaddr gateway4, gateway6; /* sa_family 0 = none */
};

#define VD_CFG_DEFAULT_HEALTH_INTERVAL_MS 1000
#define VD_CFG_DEFAULT_HEALTH_TIMEOUT_MS 500
#define VD_CFG_DEFAULT_DOWN_AFTER 3
#define VD_CFG_DEFAULT_UP_AFTER 2
#define VD_CFG_MAX_POOLS 256

struct vd_cfg_limits {
	uint32_t max_message_size; /* bytes; larger datagrams are dropped and counted */
	uint32_t max_headers;      /* header lines; more -> 400 */
	uint32_t max_vias;         /* Via values over all Via headers; more -> 400 */
};

/*
 * What the proxy lets through and says about itself (top-level keys of the main file).
 *   proxy_require:      option tags a request may name in Proxy-Require (RFC 3261 16.3 step 5);
 *                       any other gets 420 Bad Extension with an Unsupported header.
 *   server_header:      the Server header of our replies; "" = none (default "viaduct").
 *   trusted_next_hops:  where a Route (or, from a member, a Request-URI) may send a request
 *                       besides pool members: prefixes, addresses or names resolved at load.
 *   untrusted_route:    what a request whose Route names anyone else gets: "pool" (default:
 *                       routed to the pool with its Route set intact) or "reject" (403).
 *   branch_key:         passphrase keying the response check in our Via branch; instances
 *                       behind one address must share it. Absent: a random key made once per
 *                       process (kept across reloads; a restart changes it).
 */
#define VD_CFG_MAX_OPTION_TAGS 16
#define VD_CFG_OPTION_TAG_MAX 48
#define VD_CFG_SERVER_MAX 128
#define VD_CFG_MAX_TRUSTED 64

enum vd_untrusted_route { VD_UNTRUSTED_TO_POOL = 0, VD_UNTRUSTED_REJECT };

struct vd_cfg_policy {
	unsigned n_proxy_require;
	char proxy_require[VD_CFG_MAX_OPTION_TAGS][VD_CFG_OPTION_TAG_MAX];
	char server_header[VD_CFG_SERVER_MAX];
	unsigned n_trusted;
	struct vd_prefix trusted[VD_CFG_MAX_TRUSTED];
	enum vd_untrusted_route untrusted_route;
	uint8_t branch_key[16]; /* = VD_BRANCH_KEY_LEN (proxy.h) */
};

/*
 * What the edge admits (src/proxy/guard.c), top-level keys acl:, rate_limit:, replies: and
 * overload: (README "Edge protection" explains each value).
 */
enum vd_guard_over { VD_OVER_DROP = 0, VD_OVER_REPLY };	   /* past a limit: drop, or 503 */
enum vd_shed { VD_SHED_DROP = 0, VD_SHED_REPLY, VD_SHED_OFF }; /* new requests when behind */

struct vd_cfg_acl_entry {
	struct vd_prefix prefix;
	bool deny;
};

#define VD_CFG_DEFAULT_SOURCES 262144	/* per-source table entries over all workers */
#define VD_CFG_DEFAULT_REPLY_RATE 100	/* local replies per source per second */
#define VD_CFG_DEFAULT_REPLY_BURST 200
#define VD_CFG_DEFAULT_BAN_SECONDS 60
#define VD_CFG_DEFAULT_OVERLOAD_MS 50	/* far under SIP's T1 (500 ms), over a burst's backlog */
#define VD_CFG_GUARD_METHODS 32		/* >= VD_M__COUNT (sip.h) */

struct vd_cfg_guard {
	bool acl_default_deny;		/* acl.default: deny */
	unsigned n_acl;
	struct vd_cfg_acl_entry *acl;	/* owned */
	uint32_t rate, burst;		/* messages/s per source (IPv6: per /64); 0 = no limit */
	enum vd_guard_over over;
	uint32_t ban_after;		/* messages over the limit (none well under it between) ->
					 * banned; 0 = never */
	uint32_t ban_seconds;
	unsigned n_exempt;
	struct vd_prefix *exempt;	/* owned: never limited (members, trusted hops too) */
	uint32_t sources;		/* per-source table entries, all workers together */
	uint32_t method_rate[VD_CFG_GUARD_METHODS]; /* per method, whole instance; 0 = none */
	uint32_t method_burst[VD_CFG_GUARD_METHODS];
	uint32_t reply_rate, reply_burst; /* local replies per source; 0 = unlimited */
	enum vd_shed shed;
	uint32_t overload_ms;		/* overload.after_ms: behind this long before shedding */
};

/*
 * HEP v3 capture (include/viaduct/hep.h): a copy of every SIP message received and sent, to
 * a collector (Homer). Whether the section is there is fixed at start (the workers' buffers
 * and sockets); every value in it reloads.
 */
#define VD_CFG_HEP_PASSWORD_MAX 64 /* = VD_HEP_AUTH_MAX */

struct vd_cfg_hep {
	bool enabled;
	union vd_sockaddr addr; /* the collector, port included (default 9060) */
	uint32_t id;            /* capture agent id */
	uint32_t sample;        /* percent of calls (by Call-ID) captured, 0..100 */
	char password[VD_CFG_HEP_PASSWORD_MAX + 1]; /* "" = no authentication chunk */
};

struct vd_config {
	unsigned workers; /* 0 in the file means: one per online core (resolved by the loader) */
	unsigned batch;   /* messages per recvmmsg/sendmmsg batch */
	uint32_t retry_after;
	unsigned log_level;   /* enum vd_log_level (log.h): applied at start, by reloads changing it */
	unsigned n_listeners; /* >= 1 */
	struct vd_cfg_listener listeners[VD_CFG_MAX_LISTENERS];
	unsigned n_pools;           /* >= 1; pools[0] takes requests no rule routes */
	struct vd_cfg_pool *pools;  /* owned */
	struct vd_cfg_limits limits;
	struct vd_cfg_tcp tcp;
	struct vd_cfg_tls tls_client; /* connections to members over TLS */
	struct vd_cfg_health health;
	struct vd_cfg_admin admin;
	struct vd_cfg_dpdk dpdk;
	struct vd_cfg_policy policy;
	struct vd_cfg_guard guard;
	struct vd_cfg_hep hep;
	unsigned n_rules;            /* routing rules, in order: the first match wins */
	struct vd_rule_spec *rules;  /* owned, strings included (include/viaduct/rules.h) */
	unsigned n_files; /* the file loaded and every file it includes (reload watches them) */
	char **files;     /* owned */
};

/** Free what a loaded config owns (pools, members); the struct itself is the caller's. */
void vd_config_free(struct vd_config *cfg);

/** Deep copy of src into *dst (pools, members, files). 0 or -ENOMEM (*dst then empty). */
int vd_config_dup(struct vd_config *dst, const struct vd_config *src);

/** Index of the pool named `name`, or -1. */
int vd_config_pool_index(const struct vd_config *cfg, const char *name);

/** "call-id", "source-ip", "from-user", "to-user", "ruri-user" or "header". */
const char *vd_hash_key_name(enum vd_hash_key key);

#endif
