/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal state of the kernel-socket datapath, shared by its files: setup (dp.c), the worker
 * loop and UDP batches (worker.c), TCP connections (conn.c, conn_io.c) and the hand-off of
 * messages between workers (handoff.c). Not a public header.
 */
#ifndef VD_DP_INTERNAL_H
#define VD_DP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>

#include "viaduct/dp.h"
#include "viaduct/dpview.h"
#include "viaduct/hep.h"

#define VD_DP_POLL_MS 100     /* how often an idle worker looks at the stop flag */
#define VD_DP_TICK_MS 100     /* connection timers are checked this often */
#define VD_DP_MAX_BURSTS 8    /* batches read from one socket before polling again */
#define VD_DP_SOCKBUF (4 << 20) /* socket buffer size asked for (capped by rmem_max) */
#define VD_DP_EVENTS 256      /* epoll events taken per wait */
#define VD_DP_RING_BYTES (256u << 10) /* hand-off ring from one worker to another */
#define VD_DP_PER_IP_SLOTS 65536 /* hashed per-source connection counters (shared) */
#define VD_DP_OUTBOUND_MAX 4096  /* connections a worker opens itself (to members) */

/* Why a connection was closed: an array index of the counters, names in conn.c. */
enum vd_close {
	VD_CLOSE_PEER = 0,     /* the other side closed it */
	VD_CLOSE_ERROR,        /* read/write error (reset, ...) */
	VD_CLOSE_HEADER_TIMEOUT, /* a message did not complete in time (slowloris) */
	VD_CLOSE_IDLE,         /* nothing received for idle_timeout_ms */
	VD_CLOSE_WRITE_QUEUE,  /* the peer does not read: write queue over its bound */
	VD_CLOSE_UNFRAMED,     /* a message that cannot be framed (after our 400) */
	VD_CLOSE_TOO_LARGE,    /* a message over max_message_size (after our 513) */
	VD_CLOSE_CONNECT_FAILED, /* our connection to a member failed or timed out */
	VD_CLOSE_NO_BUFFER,    /* no read buffer left for its partial message */
	VD_CLOSE_TLS,          /* TLS handshake failed (certificate, protocol) or a bad record */
	VD_CLOSE_SHUTDOWN,     /* viaduct stopping */
	VD_CLOSE__COUNT
};

/* Connection counters of one worker (single writer, relaxed like struct vd_stats). */
struct vd_tcp_stats {
	uint64_t accepted;       /* connections accepted */
	uint64_t refused_per_ip; /* accepted and closed at once: source over its limit */
	uint64_t refused_acl;    /* accepted and closed at once: source denied by acl: */
	uint64_t paused;         /* times accepting paused at max_connections (backpressure) */
	uint64_t connected;      /* connections we opened to members */
	uint64_t closed[VD_CLOSE__COUNT];
	uint64_t pings;          /* RFC 5626 CRLFCRLF keepalives answered */
	uint64_t handoff_out;    /* messages passed to the worker owning their connection */
	uint64_t handoff_in;
	uint64_t handoff_lost;   /* passed on, but the connection was gone on arrival */
	uint64_t unsent_bytes;   /* bytes queued on a connection when it closed */
	uint64_t tls_handshakes; /* TLS handshakes completed (both directions) */
	uint64_t tls_failed;     /* TLS handshakes or records that failed: connection closed */
	uint64_t open;           /* gauge: connections this worker holds now */
} __attribute__((aligned(64)));

struct ssl_st;

/* A connection of a worker (inbound from a client, or ours to a member). */
struct vd_conn {
	int fd;                /* -1: free slot */
	struct ssl_st *ssl;    /* TLS, NULL for plain TCP */
	uint8_t tls_ready;     /* handshake done */
	uint8_t tls_want_write; /* the handshake or a record waits for the socket to be writable */
	uint8_t tls_failed;    /* the handshake failed on TLS grounds (not a socket error) */
	uint8_t transport;     /* enum vd_transport */
	uint32_t gen;          /* the token's generation: a reused slot never matches an old one */
	uint8_t connecting;    /* outbound, connect() in progress */
	uint8_t outbound;
	uint8_t closing;       /* enum: 0 open, 1 close once written, 2 close now */
	uint8_t close_reason;  /* enum vd_close */
	uint8_t want_out;      /* EPOLLOUT armed */
	uint8_t dirty;         /* on the worker's flush list */
	uint16_t listener;     /* listener it arrived on; for ours, the one our Via names */
	union vd_sockaddr peer;
	uint32_t ip_slot;      /* per-source counter index (inbound) */
	char *rbuf;            /* partial message, NULL when none */
	uint32_t rlen;
	char *wbuf;            /* unsent bytes wbuf[woff..wlen), NULL when none */
	uint32_t woff, wlen, wcap;
	uint64_t last_rx_ms;   /* idle timer */
	uint64_t msg_start_ms; /* when the pending partial message began (0: none) */
	struct vd_frame_progress frame; /* of the partial message at rbuf (sip.h) */
	uint64_t opened_ms;
	uint32_t next_free;    /* free list link */
	uint32_t out_entry;    /* outbound: its entry in the outbound map */
};

/* Connections of one worker: a slot array, a free list, the dirty (to flush) list, and the
 * outbound connections by member address (open addressing, linear probing). */
struct vd_conn_table {
	struct vd_conn *c;
	uint32_t cap, n_open, high; /* high: one past the highest slot ever used */
	uint32_t free_head;    /* a freed slot, UINT32_MAX: none (then the next at high) */
	uint32_t gen_base;     /* random per process: first generation of every slot */
	uint32_t *dirty;       /* allocated with the table: touched only as far as used */
	uint32_t n_dirty;
	uint32_t *out_slot;    /* outbound map: slot + 1 of the connection, 0 none */
	uint32_t out_mask;
	uint64_t *out_retry_ms; /* per map entry: no new connect before (backoff after failures) */
	uint32_t *out_backoff_ms;
	union vd_sockaddr *out_addr;
	uint8_t *out_tp;       /* transport of each outbound map entry */
	char **bufpool;        /* free message buffers (read and write), buf_bytes each */
	uint32_t n_bufpool, buf_limit, bufs_out, buf_bytes;
	uint32_t busy;         /* slot being read: flush must not free it (UINT32_MAX: none) */
};

/* A one-producer, one-consumer byte ring between two workers: records {len, token, bytes}. */
struct vd_ring {
	_Atomic uint32_t head; /* producer's */
	char pad1[60];
	_Atomic uint32_t tail; /* consumer's */
	char pad2[60];
	char *data;
	uint32_t size;
} __attribute__((aligned(64))); /* an array of them is aligned_alloc'd: size % 64 == 0 */

/* A worker's HEP capture (capture.c); `on` only when the config had hep: at start. */
struct vd_capture {
	bool on;
	bool connected;            /* the socket of to's family is connected to it */
	const struct vd_hep_params *p; /* the batch in progress captures with these, NULL: not */
	char *rx;                  /* batch x max_message: each slot's message as received */
	uint8_t *take;             /* per batch slot: its call is captured */
	uint32_t *corr_off;        /* per batch slot: its Call-ID in rx */
	uint16_t *corr_len;        /* 0: none (or too long for a correlation chunk) */
	uint32_t sec, usec;        /* wall clock of the copies being added */
	int fd4, fd6;              /* UDP sockets to the collector, one per family */
	int fd;                    /* this batch's: connected to the collector, or -1 */
	union vd_sockaddr to;      /* what the socket of its family is connected to */
	uint64_t connect_retry_ms; /* after a failed connect(): not tried again before */
	union vd_sockaddr local[VD_CFG_MAX_LISTENERS]; /* each listener as captures show it */
	struct vd_hep_batch batch;
};

struct vd_dp;

/* One worker: its counters first (own cache lines), then its sockets and batch buffers. */
struct vd_worker {
	struct vd_stats stats;
	struct vd_tcp_stats tcp;
	const struct vd_proxy *px; /* the snapshot of the batch in progress, NULL between */
	const struct vd_route *route; /* the same snapshot, whole (TLS contexts) */
	struct vd_dp *dp;
	const int *stop;
	uint64_t rounds; /* loop rounds, idle ones too: the watchdog's sign of life */
	unsigned id;
	int cpu;
	pthread_t thread;
	bool started;
	unsigned n_fds; /* one per listener, same index as px->listeners */
	int fds[VD_CFG_MAX_LISTENERS];   /* UDP socket, -1 for a TCP listener */
	int lfds[VD_CFG_MAX_LISTENERS];  /* TCP listening socket, -1 for a UDP listener */
	bool accept_paused;
	int epfd, evfd;   /* epoll set; eventfd other workers wake us with */
	bool wake[256];   /* workers to wake after this batch (hand-off) */
	uint64_t now_ms, next_tick_ms;
	/* a UDP socket still had datagrams after VD_DP_MAX_BURSTS full batches this round: the
	 * worker is behind, and the next round sheds new dialogs (struct vd_guard overloaded) */
	bool behind;
	struct vd_guard *guard; /* admission state: sources, buckets (scratch.guard) */
	unsigned batch;
	uint32_t buf_size;     /* headroom + max message */
	uint32_t max_message;
	char *bufs;            /* batch receive buffers */
	struct vd_proxy_scratch scratch;
	char *replies;         /* batch reply buffers, scratch.reply_cap each */
	struct mmsghdr *rx;
	struct iovec *rx_iov;
	union vd_sockaddr *rx_src;
	struct vd_result *res;
	struct vd_pktbuf *pkt;
	uint64_t *slot_conn;   /* per batch slot: arrival connection token, 0 for UDP */
	uint16_t *slot_listener;
	uint32_t *pend_len;    /* stream messages framed into slots [0, n_pend), not yet run */
	uint8_t *pend_kind;    /* enum vd_slot_kind */
	unsigned n_pend;
	struct mmsghdr *tx;
	struct iovec *tx_iov;
	struct vd_conn_table ct;
	/* to the control thread: failed member connections, members' 503 Retry-After and
	 * overload control (a full ring drops: the probes and the next response say it again) */
	struct vd_mev_ring events;
	struct vd_capture cap;
};

struct vd_dp {
	int stop;
	unsigned n_workers;
	struct vd_worker *workers;
	struct vd_cfg_tcp tcp;
	bool any_tcp;
	/* shared between workers, atomics (connection setup only, never per message) */
	_Atomic uint32_t conns_total;
	_Atomic uint32_t *per_ip; /* VD_DP_PER_IP_SLOTS counters by source address hash */
	struct vd_ring *rings;    /* rings[from * n_workers + to]; from >= n_workers: external */
	unsigned n_external;      /* producers outside this datapath (DPDK lcores) */
	bool *ext_wake;           /* [external producer * n_workers + worker]: wake after its batch */
	bool pin;                 /* pin worker i to the i-th allowed cpu */
	bool freebind;            /* bind listeners before their address exists (DPDK: the
				   * exception interface gets it after start) */
	unsigned scratch_base;    /* rules scratch of worker i: scratch_base + i */
	int ctl_evfd;             /* wakes the control loop: member events to read */
};

void *vd_worker_main(void *arg);

/* ---- worker.c ---- */
/* What a batch slot holds. */
enum vd_slot_kind {
	VD_SLOT_MESSAGE = 0,
	VD_SLOT_TOO_LARGE,  /* (the start of) a message over max_message_size: 513 or drop */
	VD_SLOT_NO_LENGTH,  /* a stream message's headers without Content-Length: 400 or drop */
	VD_SLOT_BAD_LENGTH, /* with a bad Content-Length */
};
/** Decide and send batch slots [0, n): each slot's buffer, length, source, listener and
 * connection are set; kinds NULL = all messages. Reads w->px (set by the caller). */
void vd_batch_run(struct vd_worker *w, unsigned n, const uint32_t *lens, const uint8_t *kinds);

/* ---- capture.c: HEP v3 copies (the calls below are made only while w->cap.p is set, by
 * vd_capture_begin returning true, and in this order per batch) ---- */
int vd_capture_init(struct vd_worker *w, const struct vd_config *cfg, const struct vd_proxy *px);
void vd_capture_fini(struct vd_worker *w);
/** Does this batch capture (hep: on, sample > 0)? Reads the clock for received copies. */
bool vd_capture_begin(struct vd_worker *w);
/** Keep slot k's message as received, before the core edits it. */
static inline void vd_capture_keep(struct vd_worker *w, unsigned k, uint32_t len)
{
	memcpy(w->cap.rx + (size_t)k * w->max_message, w->bufs + (size_t)k * w->buf_size +
	       VD_PROXY_HEADROOM, len);
	w->scratch.msg.buf = NULL; /* the scan of this message sets it: "was it read?" */
}
/** After the core: is slot k's call captured (its Call-ID, sampling)? If so, its received copy. */
void vd_capture_received(struct vd_worker *w, unsigned k, uint32_t len);
/** The clock for the sent copies. */
void vd_capture_sending(struct vd_worker *w);
/** A copy of slot k's outcome, sent (p, len: where it is until the flush). */
void vd_capture_add(struct vd_worker *w, unsigned k, const union vd_sockaddr *src,
		    const union vd_sockaddr *dst, uint8_t proto, const char *p, uint32_t len);
static inline void vd_capture_sent(struct vd_worker *w, unsigned k, const union vd_sockaddr *src,
				   const union vd_sockaddr *dst, uint8_t proto, const char *p,
				   uint32_t len)
{
	if (w->cap.p && w->cap.take[k])
		vd_capture_add(w, k, src, dst, proto, p, len);
}
/** One sendmmsg of the batch's copies; counts into w->stats. */
void vd_capture_flush(struct vd_worker *w);

/* ---- conn.c: the table, accepting, reading and framing ---- */
int vd_conns_init(struct vd_worker *w, const struct vd_config *cfg);
void vd_conns_fini(struct vd_worker *w);
/** Accept what the listening socket of listener j has (bounded), set up each connection. */
void vd_conn_accept(struct vd_worker *w, unsigned j);
/** Events on the connection of epoll data d (slot and generation). */
void vd_conn_event(struct vd_worker *w, uint64_t d, uint32_t events);
/** Decide and send the stream messages framed so far (before anything else uses the slots). */
void vd_conn_run_pending(struct vd_worker *w);
/** Timers: header, idle and connect timeouts; accept resume. Every VD_DP_TICK_MS. */
void vd_conn_tick(struct vd_worker *w);
/** The connection of a token if it is this worker's and still open, else NULL. */
struct vd_conn *vd_conn_of(struct vd_worker *w, uint64_t token);
uint64_t vd_conn_token(const struct vd_worker *w, const struct vd_conn *c);
/** Our connection to dst by transport tp (TCP or TLS, opened if needed; peer_name: SNI and
 * the name its certificate must carry, may be NULL), NULL in backoff or failure. */
struct vd_conn *vd_conn_to(struct vd_worker *w, const union vd_sockaddr *dst, uint8_t tp,
			   const char *peer_name);
/** Our connection to a member ended (failed: back off before the next connect). */
void vd_conn_outbound_closed(struct vd_worker *w, struct vd_conn *c, bool failed);

/* ---- conn_io.c: writing ---- */
/** Queue len bytes on c (sent at the next flush). -1 when c is closing or its queue would
 * exceed the bound (then it is closed: a reader that slow is dropped). */
int vd_conn_queue(struct vd_worker *w, struct vd_conn *c, const char *p, uint32_t len);
/** Write what every dirty connection holds (one send each), then close what must close. */
void vd_conn_flush(struct vd_worker *w);
/** The socket is writable again (EPOLLOUT), or an outbound connect completed. */
void vd_conn_writable(struct vd_worker *w, struct vd_conn *c);
void vd_conn_close(struct vd_worker *w, struct vd_conn *c, enum vd_close why);
/** A message buffer from the worker's pool (NULL when the pool is at its bound). */
char *vd_conn_buf_get(struct vd_worker *w);
void vd_conn_buf_put(struct vd_worker *w, char *b);
void vd_conn_epoll_set(struct vd_worker *w, struct vd_conn *c, bool want_out);

/* ---- conn_tls.c: bytes in and out, plain or TLS ---- */
enum { VD_IO_CLOSED = 0, VD_IO_AGAIN = -1, VD_IO_ERROR = -2 /* socket */, VD_IO_TLS = -3 };
struct ssl_ctx_st;
int vd_conn_tls_start(struct vd_worker *w, struct vd_conn *c, struct ssl_ctx_st *ctx,
		      bool server, const char *peer_name);
void vd_conn_tls_free(struct vd_conn *c);
/** Plaintext OpenSSL has read but not yet handed over (no socket event will announce it). */
bool vd_conn_tls_pending(const struct vd_conn *c);
/** Drive the handshake: 1 done, 0 waiting for the socket, -1 failed. */
int vd_conn_tls_progress(struct vd_worker *w, struct vd_conn *c);
/** Bytes read (> 0) or VD_IO_CLOSED / VD_IO_AGAIN / VD_IO_ERROR / VD_IO_TLS. */
ssize_t vd_conn_recv(struct vd_worker *w, struct vd_conn *c, char *buf, size_t len);
/** Bytes written (>= 0) or VD_IO_AGAIN / VD_IO_ERROR / VD_IO_TLS. */
ssize_t vd_conn_send(struct vd_worker *w, struct vd_conn *c, const char *buf, size_t len);

/* ---- tcp_stats.c: the view's print and metrics (dp is a struct vd_dp) ---- */
struct vd_buf;
void vd_dp_tcp_print(const void *dp, FILE *f);
void vd_dp_tcp_metrics(const void *dp, struct vd_buf *b);
/* the view's member_events and member_events_lost (dp is a struct vd_dp) */
void vd_dp_member_events(void *dp, void (*fn)(void *arg, const struct vd_member_event *e),
			 void *arg);
uint64_t vd_dp_member_events_lost(const void *dp);
/** Wake the control loop if this worker pushed events since the last call: one eventfd
 * write at most (worker.c, once per batch and once per loop round). */
void vd_dp_events_wake(struct vd_worker *w);

/* ---- handoff.c ---- */
int vd_handoff_init(struct vd_dp *dp);
void vd_handoff_fini(struct vd_dp *dp);
/** Pass a message for connection `token` (owned by another worker) to its owner, which
 * writes it only if the connection's peer has dst's IP (NULL: no check). -1: full. */
int vd_handoff_push(struct vd_worker *w, uint64_t token, const union vd_sockaddr *dst,
		    const char *p, uint32_t len);
/** Wake the workers this batch passed messages to (one eventfd write each). */
void vd_handoff_wake(struct vd_worker *w);
/** Queue what other workers passed us on our connections. */
void vd_handoff_drain(struct vd_worker *w);
static inline unsigned vd_token_worker(uint64_t token)
{
	return (unsigned)(token >> 24) & 0xff;
}

/* epoll data: kind in the high half, index in the low */
enum { VD_EV_UDP = 1, VD_EV_LISTEN, VD_EV_WAKE, VD_EV_CONN };
static inline uint64_t vd_ev(unsigned kind, uint32_t idx)
{
	return (uint64_t)kind << 32 | idx;
}

#endif
