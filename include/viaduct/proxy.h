/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stateless proxy core (RFC 3261 section 16.11, with RFC 3581 rport): the seam between the
 * SIP logic and any datapath.
 *
 * A datapath hands vd_proxy_process() a datagram in a buffer with headroom and tailroom, the
 * source address and the listener it arrived on. It gets back a verdict: forward the (edited in
 * place) buffer to an address, send a locally built reply, or drop with a counted reason. The
 * core knows nothing of sockets or DPDK; it never allocates, locks or makes a system call.
 */
#ifndef VIADUCT_PROXY_H
#define VIADUCT_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "viaduct/addr.h"
#include "viaduct/config.h"
#include "viaduct/lpm.h"
#include "viaduct/maglev.h"
#include "viaduct/sip.h"

struct vd_rules;
struct vd_rules_scratch;

/** A datagram in a buffer: data at base + off, len bytes; headroom = off,
 * tailroom = cap - off - len. The proxy may move the start into the headroom. */
struct vd_pktbuf {
	char *base;
	uint32_t cap;
	uint32_t off;
	uint32_t len;
};

/* Headroom a datapath must leave in front of a received message: our Via line (with an IPv6
 * advertised host), received/rport parameters and a Max-Forwards line all fit. */
#define VD_PROXY_HEADROOM 1024

#define VD_PROXY_MAX_LOCAL 32

/* Our Via branch: "z9hG4bK" "vd", 16 hex digits of transaction hash, 8 of loop key, 8 of
 * response check (src/proxy/branch.c); the check is keyed with VD_BRANCH_KEY_LEN bytes. A
 * request that came over a connection adds the connection's token, 16 hex digits, so its
 * response finds the way back (VD_BRANCH_CONN_LEN). */
#define VD_BRANCH_LEN 41
#define VD_BRANCH_CONN_LEN (VD_BRANCH_LEN + 16)
#define VD_BRANCH_KEY_LEN 16
#define VD_PROXY_OPTIONS_EXTRA_MAX \
	(256 + VD_CFG_MAX_OPTION_TAGS * (VD_CFG_OPTION_TAG_MAX + 2)) /* local interface addresses remembered for loop checks */

enum vd_verdict {
	VD_VERDICT_FORWARD = 0, /* send pkt (edited) to res->dst through listener res->egress */
	VD_VERDICT_REPLY,       /* send the reply buffer to res->dst through the arrival listener */
	VD_VERDICT_DROP,        /* count res->drop and free */
};

/* Why a message was dropped. Order is a contract with vd_drop_name() and the stats. */
enum vd_drop {
	VD_DROP_NONE = 0,
	VD_DROP_NOT_SIP,          /* not SIP text (binary, CRLF keepalive) */
	VD_DROP_BAD_RESPONSE,     /* malformed response (the scanner verdict is counted too) */
	VD_DROP_BAD_ACK,          /* an ACK we cannot forward: never answered (RFC 3261 17.2.1) */
	VD_DROP_VIA_NOT_OURS,     /* response whose top Via is not ours */
	VD_DROP_NO_NEXT_VIA,      /* response with only our Via */
	VD_DROP_UNRESOLVABLE,     /* next hop is an FQDN: no DNS on the datapath */
	VD_DROP_NO_EGRESS,        /* no listener of the next hop's address family */
	VD_DROP_NO_ROOM,          /* rewrite needs more headroom than the buffer has */
	VD_DROP_TOO_LARGE,        /* datagram over max_message_size */
	VD_DROP_REPLY_TOO_LARGE,  /* a local reply would not fit the reply buffer */
	VD_DROP_SEND_FAILED,      /* the datapath could not send it */
	VD_DROP_RULE,             /* a routing rule said drop */
	VD_DROP_ACK_ABSORBED,     /* the ACK of a final response we sent ourselves: it ends here */
	VD_DROP_FORGED_RESPONSE,  /* our Via on top, but its check does not match the next Via */
	VD_DROP_UNFRAMED,         /* a stream message without a usable Content-Length */
	VD_DROP_CONN_CLOSED,      /* its connection (request's, response's way back) is gone */
	VD_DROP_HANDOFF_FULL,     /* the owner worker of its connection is too far behind */
	VD_DROP_ACL,              /* its source is denied by acl: (before any parsing) */
	VD_DROP_BANNED,           /* its source is banned for exceeding its limit (no parsing) */
	VD_DROP_RATE_LIMITED,     /* over its source's or its method's limit (over: drop) */
	VD_DROP_SHED,             /* a new dialog or registration while the worker is behind */
	VD_DROP_REPLY_LIMITED,    /* a local reply over its source's reply budget */
	VD_DROP_REPLY_AMPLIFIES,  /* a reply to bad input would be larger than the input */
	VD_DROP__COUNT
};

const char *vd_drop_name(enum vd_drop d);

/* What became of a request's Route set (RFC 3261 16.4-16.6 under the trust policy). Order is a
 * contract with vd_route_outcome_name() and the stats. */
enum vd_route_outcome {
	VD_ROUTE_NONE = 0,  /* no Route left after ours were popped: the rules chose */
	VD_ROUTE_FOLLOWED,  /* the next Route value named a trusted hop: sent there */
	VD_ROUTE_TO_POOL,   /* it named an untrusted hop: sent to the pool, Route set intact */
	VD_ROUTE_REFUSED,   /* it named an untrusted hop: 403 Not relaying (untrusted_route) */
	VD_ROUTE_OUTBOUND,  /* from a member or trusted peer: by its Route, else Request-URI */
	VD_ROUTE__COUNT
};

const char *vd_route_outcome_name(enum vd_route_outcome o);

/** The branch key of a configured passphrase (config's branch_key:, and tools that play a
 * pool member in benchmarks). */
void vd_branch_key_derive(const char *text, uint8_t key[VD_BRANCH_KEY_LEN]);

struct vd_sip_msg;
/**
 * The branch our Via must carry for the scanned response `resp` (whose top Via is the one
 * below ours) to be relayed, with transaction hash `txn`: what a benchmark tool writes when
 * it plays a pool member answering without having seen the request. -1 when the Via names no
 * address a response could go to.
 */
int vd_branch_for_response(const uint8_t key[VD_BRANCH_KEY_LEN], const struct vd_sip_msg *resp,
			   uint64_t txn, char out[VD_BRANCH_LEN]);

/** One of our addresses, compiled from a config listener. */
struct vd_proxy_listener {
	union vd_sockaddr bind;
	char host[VD_CFG_HOST_MAX]; /* advertised host: in our Via, matched in Route/R-URI */
	uint16_t host_len;
	uint16_t port;              /* advertised port */
	uint8_t host_type;          /* enum vd_sip_host_type */
	uint8_t transport;          /* enum vd_transport: what the listener accepts */
	uint8_t ip[16];             /* binary advertised address when host_type is IPv4/IPv6 */
	/* "Via: SIP/2.0/UDP host:port;branch=z9hG4bK", one per transport a request leaves by */
	char via_prefix[VD_TP__COUNT][VD_CFG_HOST_MAX + 48];
	uint16_t via_prefix_len[VD_TP__COUNT];
	/* the same with RFC 7339's ";oc;oc-algo="loss"" before the branch: what a request to a
	 * member of a pool that honours overload control says (5.1: a client that supports it
	 * says so, and a server answers with oc only then) */
	char via_prefix_oc[VD_TP__COUNT][VD_CFG_HOST_MAX + 72];
	uint16_t via_prefix_oc_len[VD_TP__COUNT];
};

/**
 * One priority group of a pool: two Maglev tables over the pool's members (entries are pool
 * member indexes; members outside the group, down or weightless have no entries). `fresh`
 * leaves drained members out and serves initial requests; `dialog` keeps them and serves
 * in-dialog requests (To-tag present), so running calls finish where they are.
 */
struct vd_proxy_group {
	uint32_t priority;
	bool fresh_any, dialog_any; /* does the table have any entry? */
	struct vd_maglev fresh;
	struct vd_maglev dialog; /* entries == fresh.entries when nothing is drained */
};

/* Why a member is out of its pool besides health and drain (passive health, src/ctl). Order
 * is a contract with vd_eject_name() and the metrics. */
enum vd_eject {
	VD_EJECT_NONE = 0,
	VD_EJECT_RETRY_AFTER, /* it answered 503 with Retry-After */
	VD_EJECT_OUTLIER,     /* its success ratio was far below the pool's */
	VD_EJECT__COUNT
};

const char *vd_eject_name(enum vd_eject e);

/**
 * A member's passive-health state in a snapshot, decided by the control plane from what the
 * member's responses said. An ejected member is in no table (like one that is down); `share`
 * scales its weight in the table of new dialogs (slow start, RFC 7339 oc: the reduction a
 * member asks for goes to the others of its group). The table of in-dialog requests follows
 * slow start only (`slow`): a member that asks for less keeps its running calls, as a drained
 * one does. The rest is what /status and /metrics show.
 */
struct vd_member_passive {
	uint8_t ejected;   /* enum vd_eject */
	uint8_t oc;        /* RFC 7339 reduction in effect, percent */
	uint8_t slow;      /* slow start: percent of its weight reached (100: not ramping) */
	uint32_t share;    /* its weight for new dialogs, in VD_SHARE_WHOLE units of its
			    * configured weight: less when reduced, more when taking others' */
	uint64_t until_ms; /* ejected: when it may return (CLOCK_MONOTONIC ms) */
	uint32_t ejections[VD_EJECT__COUNT]; /* times ejected since start, by reason */
};

#define VD_SHARE_WHOLE 10000u       /* share of a member at its configured weight */
#define VD_SHARE_MAX 1000000u       /* 100x: weight (<= 1000) x share stays in 32 bits */

/* What the members of a pool may tell about themselves (struct vd_proxy_member_info). */
#define VD_SIGNAL_RETRY_AFTER 1u /* a 503 with Retry-After */
#define VD_SIGNAL_OC 2u          /* RFC 7339 overload control parameters in our Via */

/** A pool compiled for lookups. Member state (up, drained) is fixed per snapshot. */
struct vd_proxy_pool {
	char name[VD_CFG_NAME_MAX];
	enum vd_hash_key hash;
	char hash_header[VD_CFG_NAME_MAX];
	uint16_t hash_header_len;
	uint32_t table_size;
	unsigned n_members;
	union vd_sockaddr *members;
	char (*member_names)[VD_CFG_HOST_MAX + 8]; /* "host:port", Maglev identity and labels */
	char (*hosts)[VD_CFG_HOST_MAX]; /* as configured: the name a TLS member's certificate has */
	uint32_t *weights;
	uint32_t *priorities;
	uint8_t *transports; /* enum vd_transport of each member */
	uint32_t udp_max_bytes; /* larger requests to a UDP member go over TCP; 0 = never */
	bool *up;      /* health: down members get no traffic */
	bool *drained; /* admin: no new dialogs or registrations */
	struct vd_member_passive *passive; /* passive health: ejected, share of new dialogs */
	uint8_t signals; /* VD_SIGNAL_* its members' responses are read for (config outlier:) */
	unsigned n_groups; /* sorted by priority, lowest first */
	struct vd_proxy_group *groups;
	/* snapshots sharing this pool's arrays and tables (control plane only): a member change
	 * copies the one pool it changes, the others stay shared */
	unsigned *refs;
	bool dirty; /* member state set, tables not rebuilt yet (vd_proxy_pools_rebuild) */
};

/** What the edge admits, compiled from struct vd_cfg_guard (src/proxy/guard_init.c). Rates
 * are in milli-messages per millisecond, which is messages per second; bursts in
 * milli-messages. */
struct vd_proxy_guard {
	struct vd_lpm *acl;	  /* VD_GUARD_ALLOW / VD_GUARD_DENY by prefix; NULL: none */
	struct vd_lpm *exempt;	  /* 1: never limited nor shed (members, trusted, exempt:) */
	uint32_t rate, burst;	  /* per source; rate 0 = no per-source limit */
	uint32_t reply_rate, reply_burst; /* per source; reply_rate 0 = no reply budget */
	uint32_t ban_after, ban_ms;
	uint32_t overload_ms;	  /* behind this long: overloaded (overload.after_ms) */
	uint8_t over, shed;	  /* enum vd_guard_over, enum vd_shed */
	bool methods;		  /* any per-method limit */
	uint32_t method_rate[VD_M__COUNT], method_burst[VD_M__COUNT]; /* per worker */
};

enum { VD_GUARD_ALLOW = 0, VD_GUARD_DENY = 1 };

/** A member address of the member set: its first pool and index there (pool order, then
 * member order), and the signals any pool it is in reads from its responses. */
struct vd_proxy_member_info {
	uint16_t pool, member;
	uint8_t signals; /* VD_SIGNAL_* */
};

/** Everything the core reads per message. Built by the control plane, read-only afterwards. */
struct vd_proxy {
	unsigned n_listeners;
	struct vd_proxy_listener listeners[VD_CFG_MAX_LISTENERS];
	int egress_v4; /* UDP listener used to send to IPv4 next hops, -1 if none */
	int egress_v6;
	/* listener named in our Via when a request leaves over TCP: a TCP listener of the
	 * family, else the UDP one (the connection is ours either way) */
	int egress_stream_v4, egress_stream_v6;
	unsigned n_pools;
	struct vd_proxy_pool *pools; /* pools[0] takes the requests no rule routes elsewhere */
	struct vd_rules *rules;      /* NULL when the config has none */
	struct vd_rules_scratch **rules_scratch; /* one per worker, allocated for `rules` */
	unsigned n_rules_scratch;
	struct vd_sip_limits limits;
	uint32_t max_message_size;
	uint32_t retry_after;
	uint64_t branch_seed; /* named constant: branches must be stable across restarts */
	uint8_t branch_key[VD_BRANCH_KEY_LEN]; /* keys the response check of our branches */

	/* policy (struct vd_cfg_policy), compiled */
	char server_line[VD_CFG_SERVER_MAX + 12]; /* "Server: NAME\r\n", or "" for none */
	uint16_t server_line_len;
	unsigned n_option_tags; /* Proxy-Require tags that pass */
	char option_tags[VD_CFG_MAX_OPTION_TAGS][VD_CFG_OPTION_TAG_MAX];
	uint8_t option_tag_len[VD_CFG_MAX_OPTION_TAGS];
	unsigned n_trusted;
	struct vd_prefix trusted[VD_CFG_MAX_TRUSTED];
	uint8_t untrusted_route; /* enum vd_untrusted_route */
	/* header lines of our 200 to an OPTIONS for us: Allow, Accept..., Supported */
	char options_extra[VD_PROXY_OPTIONS_EXTRA_MAX];
	uint16_t options_extra_len;
	/* addresses of this host (wildcard, loopback, every interface at init): a Route or a
	 * Request-URI naming one at a listener's port is us, whatever we advertise */
	unsigned n_local;
	struct vd_prefix local[VD_PROXY_MAX_LOCAL];
	/* every member of every pool, open addressing by address hash (family 0 = empty slot):
	 * "does this come from / go to a member?" in one or two probes */
	union vd_sockaddr *member_set;
	struct vd_proxy_member_info *member_info; /* same index as member_set */
	uint32_t member_set_mask;
	struct vd_proxy_guard guard; /* its tables shared like the rules (shared_refs) */
	/* snapshots sharing the rules database, its scratch and member_set: compiled once per
	 * config load (control plane only) */
	unsigned *shared_refs;
};

/**
 * Compile a validated config into *px: listeners, pools with every member up and undrained,
 * Maglev tables built. Control plane only. Returns 0 or a negative errno code with a message
 * in err; on error *px holds nothing to free.
 */
int vd_proxy_init(struct vd_proxy *px, const struct vd_config *cfg, char *err, size_t errlen);
void vd_proxy_fini(struct vd_proxy *px);

/**
 * *dst becomes a snapshot of the same compiled config as src: the rules database, its scratch
 * and every pool shared by reference (nothing is compiled or copied but the pool array).
 * Control plane only, serialised with every other snapshot operation. 0 or -ENOMEM.
 */
int vd_proxy_clone(struct vd_proxy *dst, const struct vd_proxy *src);

/**
 * Set the state of a member (before the snapshot is published) and rebuild the pool's
 * tables; a pool shared with other snapshots is copied first (only that pool: its member
 * arrays and tables). Control plane only. Returns 0 or -ENOMEM / -EINVAL.
 */
int vd_proxy_member_state(struct vd_proxy *px, unsigned pool, unsigned member, bool up,
			  bool drained);
/** The same without rebuilding: several changes, then vd_proxy_pools_rebuild() once (a pool
 * changed several times has its tables built once). */
int vd_proxy_member_set(struct vd_proxy *px, unsigned pool, unsigned member, bool up,
			bool drained);
int vd_proxy_pools_rebuild(struct vd_proxy *px);
/** A member's passive-health state (ejection, share), tables rebuilt by
 * vd_proxy_pools_rebuild(). Control plane only. 0 or -ENOMEM / -EINVAL. */
int vd_proxy_member_passive(struct vd_proxy *px, unsigned pool, unsigned member,
			    const struct vd_member_passive *st);
/** The member set's entry of address a (address and port), NULL when a is no member. Hot
 * path: one hash, one or two compares. */
const struct vd_proxy_member_info *vd_proxy_member_find(const struct vd_proxy *px,
							const union vd_sockaddr *a);

/** What a member's response said about the member (struct vd_result signal). */
struct vd_peer_signal {
	uint8_t bits;            /* VD_SIGNAL_*; the fields below are valid for the bits set */
	uint8_t oc;              /* OC: reduction percent, 0..100 */
	bool oc_has_seq;
	uint32_t retry_after_s;  /* RETRY_AFTER: delta-seconds (capped, sip.h) */
	uint32_t oc_validity_ms; /* OC: 0 = stop */
	uint64_t oc_seq;         /* OC: oc-seq as fixed point (struct vd_sip_oc) */
};

/** What vd_proxy_process() decided. */
struct vd_result {
	uint8_t verdict;      /* enum vd_verdict */
	uint8_t drop;         /* enum vd_drop when verdict is DROP */
	uint8_t sip_err;      /* enum vd_sip_err of the scan (VD_SIP_OK or the problem) */
	uint8_t method;       /* enum vd_sip_method for requests */
	bool is_request;
	uint16_t status;      /* responses: the forwarded status; replies: the reply code */
	uint16_t egress;      /* FORWARD: listener whose socket sends it (UDP), named in our Via */
	uint8_t transport;    /* FORWARD: enum vd_transport to send it by */
	int16_t member;       /* pool member chosen, -1 when the next hop came from Route/Via */
	uint16_t pool;        /* the pool of `member` */
	int32_t rule;         /* the routing rule that decided, -1 when none did */
	/* the pool member this message concerns, -1 none: where a request goes (chosen from the
	 * pool, or named by a Route), where a response comes from (its first pool when the
	 * address is in several); its counters are passive health's input */
	int16_t peer;
	uint16_t peer_pool;
	struct vd_peer_signal signal; /* responses from a member: what it says of itself */
	uint8_t route;        /* requests: enum vd_route_outcome */
	uint8_t guard;        /* VD_GUARD_EV_* that this message caused */
	uint32_t reply_len;   /* REPLY: bytes written to the reply buffer */
	/* FORWARD over a connection the datapath knows by token (a response going back the way
	 * its request came); 0: by transport to dst (a connection to dst, opened if needed).
	 * A REPLY always leaves the way its request came. */
	uint64_t conn;
	union vd_sockaddr dst;
};

/* What a message did to the edge's limits (struct vd_result guard, counted per worker). */
#define VD_GUARD_EV_LIMITED 1u /* over its source's limit (dropped or answered 503) */
#define VD_GUARD_EV_BAN 2u     /* ... and that started a ban of its source */
#define VD_GUARD_EV_METHOD 4u  /* over its method's limit */
#define VD_GUARD_EV_SHED 8u    /* shed: a new dialog/registration while the worker is behind */

/* One source in a worker's table: an IPv4 address or an IPv6 /64. 32 bytes. */
struct vd_guard_src {
	uint64_t key;
	uint32_t seen_ms;      /* last refill of both buckets */
	uint32_t tokens;       /* milli-messages */
	uint32_t reply_tokens; /* milli-replies */
	uint32_t strikes;      /* messages over the limit since it was last well under it */
	uint32_t ban_until_ms; /* 0: not banned */
	uint8_t family;        /* 0: free slot */
	uint8_t pad[3];
};

/* A worker behind (with admitted work) for overload.after_ms (struct vd_proxy_guard
 * overload_ms) is overloaded: a shorter backlog (a burst, a moment off the cpu) is the socket
 * buffer's to absorb. Overloaded, new dialogs are shed first from the sources that spend their
 * allowance fastest (their bucket under half; every source when there is no per-source rate),
 * and from every source once the overload has lasted VD_GUARD_SHED_ALL_MS more. */
#define VD_GUARD_SHED_ALL_MS 500
#define VD_GUARD_WAYS 4 /* a source's entry is one of 4 slots of its set (128 bytes) */
#define VD_GUARD_HOT 16 /* sources a worker reports: banned, or the most limited */

/** A source a worker reports (vd_guard_hot): its key, limited count, ban end (0 = none). */
struct vd_guard_hot {
	uint64_t key;
	uint32_t strikes;
	uint32_t ban_until_ms;
	uint8_t family;
};

/**
 * A worker's admission state: its source table (fixed size, no allocation per message; a new
 * source takes a free slot of its set, else the one seen longest ago that is not banned),
 * per-method buckets, and what the datapath tells it once per batch. One writer: its worker.
 */
struct vd_guard {
	uint32_t now_ms;    /* set by the datapath once per batch (monotonic, wraps) */
	/* how long its receive queue has been behind with admitted work (vd_guard_tick), 0: it
	 * is not; overloaded from overload.after_ms on */
	uint32_t behind_ms;
	uint32_t behind_since_ms; /* 0: not behind */
	uint32_t set_mask;  /* sets - 1 */
	struct vd_guard_src *src; /* (set_mask + 1) * VD_GUARD_WAYS */
	struct {
		uint32_t tokens, seen_ms;
	} method[VD_M__COUNT];
	/* this message: its source's entry (NULL: exempt, or not looked up) and whether it is
	 * over the limit (decided before scanning, acted on after) */
	struct vd_guard_src *cur;
	bool limited;
	/* messages of this round, and those past admission (acl, bans, limits): a queue behind
	 * with what admission drops cheaply is no reason to shed (see vd_guard_tick) */
	uint32_t round_seen, round_admitted;
	int8_t exempt; /* 1: exempt, 0: not, -1: not looked up yet */
	/* read by the admin thread with relaxed loads: the hot sources */
	struct vd_guard_hot hot[VD_GUARD_HOT];
};

/** A worker's state with a table of at least `sources` entries (rounded up to a power of two
 * of sets); NULL on ENOMEM. Control plane. Memory: vd_guard_bytes(). */
struct vd_guard *vd_guard_new(uint32_t sources);
void vd_guard_free(struct vd_guard *g);
size_t vd_guard_bytes(uint32_t sources);
/**
 * The datapath, once per round of batches: the clock, and whether its receive queue was
 * still behind after the round. The worker counts as overloaded (and sheds new dialogs in
 * the next round) only if at least half of that round's messages got past admission: a
 * queue kept full by a flood that admission drops cheaply (banned, over its limit, acl) is
 * no reason to refuse the others.
 */
static inline void vd_guard_tick(struct vd_guard *g, uint32_t now_ms, bool behind)
{
	bool loaded = behind && g->round_admitted * 2 >= g->round_seen;
	g->round_seen = g->round_admitted = 0;
	if (!loaded)
		g->behind_since_ms = 0;
	else if (!g->behind_since_ms)
		g->behind_since_ms = now_ms ? now_ms : 1;
	/* at least 1 while behind: 0 means it is not */
	g->behind_ms = loaded ? (now_ms - g->behind_since_ms ? now_ms - g->behind_since_ms : 1) : 0;
	/* 0 means "never" in the table; the admin thread reads it (relaxed) to age bans */
	__atomic_store_n(&g->now_ms, now_ms ? now_ms : 1, __ATOMIC_RELAXED);
}
/** Copy the worker's hot sources (banned first, then most limited) into out (at most n):
 * how many. Any thread (relaxed loads). */
unsigned vd_guard_hot_read(const struct vd_guard *g, struct vd_guard_hot *out, unsigned n);
/** "203.0.113.7" or "2001:db8:1:2::/64" for a hot source's key. */
void vd_guard_key_text(const struct vd_guard_hot *h, char *out, size_t len);

/** Scratch a worker owns and passes to every call: the message view and reply space. */
struct vd_proxy_scratch {
	unsigned worker; /* index of the worker: picks its rules scratch in the snapshot */
	/* the token of the connection the message came in on (never 0), or 0 for a datagram:
	 * set by the datapath before each vd_proxy_process() */
	uint64_t conn;
	struct vd_sip_msg msg;
	struct vd_guard *guard; /* the worker's admission state; NULL: nothing is limited */
	char *reply;        /* caller-allocated, reply_cap bytes */
	uint32_t reply_cap;
};

/**
 * A datagram over limits.max_message_size (pkt holds at least its first max_message_size
 * bytes; the kernel datapath passes a truncated read): a request whose start line and top Via
 * can be read gets 513 Message Too Large (RFC 3261 21.5.14), anything else is dropped
 * (too-large). Replies are never larger than what they answer.
 */
void vd_proxy_too_large(const struct vd_proxy *px, const struct vd_pktbuf *pkt,
			const union vd_sockaddr *src, struct vd_proxy_scratch *scratch,
			struct vd_result *res);

/**
 * The header block of a stream message that cannot be framed (enum vd_frame NO_LENGTH or
 * BAD_LENGTH): a request whose start line and top Via can be read gets 400 with the reason
 * (Missing / Bad Content-Length), anything else is dropped (unframed). The datapath closes the
 * connection after sending it: nothing after it on the stream can be framed.
 */
void vd_proxy_unframed(const struct vd_proxy *px, const struct vd_pktbuf *pkt,
		       const union vd_sockaddr *src, bool missing,
		       struct vd_proxy_scratch *scratch, struct vd_result *res);

/**
 * Process one datagram. pkt->off must leave VD_PROXY_HEADROOM bytes of headroom for the
 * rewrite to succeed (less is a counted drop). `listener` is the index of the arrival
 * listener. Hot path: no allocation, no locks, no system calls.
 */
void vd_proxy_process(const struct vd_proxy *px, struct vd_pktbuf *pkt,
		      const union vd_sockaddr *src, unsigned listener,
		      struct vd_proxy_scratch *scratch, struct vd_result *res);

#endif
