/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zero-copy SIP message scanner.
 *
 * vd_sip_scan() makes one pass over the bytes of a datagram and fills a caller-owned view
 * (struct vd_sip_msg) with slices into the buffer: no copies, no allocation, no logging, and it
 * never writes the input. Only what every forwarding decision needs is parsed eagerly (start
 * line, top Via, top Route, Max-Forwards, Call-ID, CSeq, From/To tags, Content-Length, body);
 * every other header stays an unparsed slice found with vd_sip_find().
 *
 * A malformed message gets a verdict (enum vd_sip_err) that names the problem; the proxy turns
 * it into a 400/505 reply (requests) or a counted drop (responses).
 */
#ifndef VIADUCT_SIP_H
#define VIADUCT_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A run of bytes inside the packet. Never a copy; p is NULL when absent. */
struct vd_slice {
	const char *p;
	uint32_t len;
};

/* Request methods, usable as bits of a method set (1u << m). */
enum vd_sip_method {
	VD_M_UNKNOWN = 0, /* an extension method: the token is in msg->method_name */
	VD_M_INVITE,
	VD_M_ACK,
	VD_M_BYE,
	VD_M_CANCEL,
	VD_M_REGISTER,
	VD_M_OPTIONS,
	VD_M_PRACK,
	VD_M_UPDATE,
	VD_M_SUBSCRIBE,
	VD_M_NOTIFY,
	VD_M_MESSAGE,
	VD_M_INFO,
	VD_M_REFER,
	VD_M_PUBLISH,
	VD_M__COUNT
};

/* Header kinds the scanner recognises by name (full or compact form), usable as bits. Every
 * other header is VD_H_OTHER and is found by name with vd_sip_find(). */
enum vd_sip_hdr {
	VD_H_OTHER = 0,
	VD_H_VIA,            /* v */
	VD_H_ROUTE,
	VD_H_RECORD_ROUTE,
	VD_H_MAX_FORWARDS,
	VD_H_CALL_ID,        /* i */
	VD_H_CSEQ,
	VD_H_FROM,           /* f */
	VD_H_TO,             /* t */
	VD_H_CONTENT_LENGTH, /* l */
	VD_H_CONTACT,        /* m */
	VD_H_CONTENT_TYPE,   /* c */
	VD_H_CONTENT_ENCODING, /* e */
	VD_H_SUPPORTED,      /* k */
	VD_H_SUBJECT,        /* s */
	VD_H_EVENT,          /* o */
	VD_H_ALLOW_EVENTS,   /* u */
	VD_H_REFER_TO,       /* r */
	VD_H_REFERRED_BY,    /* b */
	VD_H_SESSION_EXPIRES, /* x */
	VD_H_IDENTITY,       /* y */
	VD_H_ACCEPT_CONTACT, /* a */
	VD_H_REJECT_CONTACT, /* j */
	VD_H_REQUEST_DISPOSITION, /* d */
	VD_H_PROXY_REQUIRE,  /* no compact form */
	VD_H__COUNT
};

/* Why a message was refused. The order is a contract with vd_sip_err_reason() and the stats
 * (metrics are labelled by vd_sip_err_name(), indexed by this enum): add new verdicts at the
 * end, before VD_SIP_E__COUNT, with their line in names.c. */
enum vd_sip_err {
	VD_SIP_OK = 0,
	VD_SIP_E_NOT_SIP,          /* no CRLF-terminated text line at all: dropped, never answered */
	VD_SIP_E_BAD_START_LINE,
	VD_SIP_E_BAD_VERSION,      /* SIP version other than 2.0: 505 */
	VD_SIP_E_BAD_STATUS_LINE,  /* responses: dropped */
	VD_SIP_E_NO_HEADER_END,    /* no empty line after the headers (truncated datagram) */
	VD_SIP_E_BAD_HEADER,       /* a header line without a colon or with a bad name */
	VD_SIP_E_BAD_CHAR,         /* NUL or another control byte inside the header section */
	VD_SIP_E_TOO_MANY_HEADERS,
	VD_SIP_E_TOO_MANY_VIAS,
	VD_SIP_E_MISSING_VIA,
	VD_SIP_E_MISSING_FROM,
	VD_SIP_E_MISSING_TO,
	VD_SIP_E_MISSING_CALL_ID,
	VD_SIP_E_MISSING_CSEQ,
	VD_SIP_E_BAD_VIA,
	VD_SIP_E_BAD_CSEQ,
	VD_SIP_E_CSEQ_MISMATCH,
	VD_SIP_E_BAD_CONTENT_LENGTH,
	VD_SIP_E_BODY_TOO_SHORT,
	VD_SIP_E_BAD_MAX_FORWARDS,
	VD_SIP_E_DUP_HEADER,
	VD_SIP_E_BAD_ROUTE,
	VD_SIP_E_TOO_LARGE,        /* larger than the configured maximum: dropped by the datapath */
	VD_SIP_E_BAD_REQUEST_URI,  /* Request-URI in <>, with LWS, or with escaped headers */
	VD_SIP_E_BAD_FROM,         /* From not a name-addr/addr-spec (unbalanced quote, bare ',') */
	VD_SIP_E_BAD_TO,           /* To likewise */
	VD_SIP_E__COUNT
};

/** One header line (with its folded continuation lines). Offsets are from the buffer start. */
struct vd_sip_header {
	struct vd_slice name;  /* as written, e.g. "v" or "Via" */
	struct vd_slice value; /* after the colon and leading whitespace, up to (not incl.) the CRLF;
				* may contain folding (CRLF followed by SP/HT) */
	uint32_t line_off;     /* first byte of the name */
	uint32_t line_end;     /* one past the CRLF that ends the header (incl. continuations) */
	uint8_t kind;          /* enum vd_sip_hdr */
};

/** A parsed host: IPv4 dotted quad, bracketed IPv6 (brackets included in `host`) or FQDN. */
enum vd_sip_host_type { VD_HOST_FQDN = 0, VD_HOST_IPV4, VD_HOST_IPV6 };

/** The top Via value. Parameter slices are the parameter values (empty slice = flag present,
 * NULL p = absent). `value_off..value_end` is the via-parm inside the header line, so the
 * proxy can append parameters or remove exactly this value. */
struct vd_sip_via {
	struct vd_slice transport; /* "UDP", "TCP", ... */
	struct vd_slice host;
	uint8_t host_type;         /* enum vd_sip_host_type */
	uint16_t port;             /* 0 when absent */
	struct vd_slice branch;
	struct vd_slice received;
	struct vd_slice rport;     /* p != NULL and len == 0: ";rport" without a value */
	struct vd_slice maddr;
	struct vd_slice oc;        /* RFC 7339 overload control: the oc parameter's value (empty
				    * slice: the bare flag); the other oc-* parameters are read by
				    * vd_sip_via_oc() only when this one is there */
	uint32_t value_off;        /* first byte of "SIP/2.0/..." */
	uint32_t value_end;        /* one past the last byte of this via-parm (before ',' or CRLF) */
	uint16_t hdr;              /* index into msg->hdrs */
	bool more_in_line;         /* another Via value follows on the same header line */
};

/** A name-addr/addr-spec value of Route or Record-Route. */
struct vd_sip_route {
	struct vd_slice uri;   /* inside the <>, e.g. "sip:10.0.0.1:5060;lr" */
	struct vd_slice host;
	uint8_t host_type;
	uint16_t port;         /* 0 when absent */
	bool lr;
	struct vd_slice maddr;
	uint32_t value_off;    /* first byte of the value ('<' or the URI) */
	uint32_t value_end;    /* one past its last byte (before ',' or CRLF) */
	uint16_t hdr;          /* index into msg->hdrs */
	bool more_in_line;     /* another value follows on the same header line */
	bool more_after;       /* another value follows on this or a later Route line */
};

/** Scanner limits; a message over any of them gets a verdict, never a buffer overrun. */
struct vd_sip_limits {
	uint32_t max_headers; /* <= VD_SIP_HDRS_CAP */
	uint32_t max_vias;
};

#define VD_SIP_HDRS_CAP 256
#define VD_SIP_NO_HDR UINT16_MAX

/** The message view. Caller-owned; vd_sip_scan() initialises every field it reports. */
struct vd_sip_msg {
	const char *buf;
	uint32_t len;         /* after UDP truncation to Content-Length (RFC 3261 18.3) */
	bool is_request;

	/* request line */
	uint8_t method;       /* enum vd_sip_method */
	struct vd_slice method_name;
	struct vd_slice ruri;
	/* status line */
	uint16_t status;
	struct vd_slice reason;

	uint32_t start_line_end; /* offset one past the start line's CRLF = first header */
	uint32_t headers_end;    /* offset of the empty line's CRLF */
	uint32_t body_off;       /* first byte of the body (headers_end + 2) */
	uint32_t body_len;

	uint16_t n_hdrs;
	uint16_t first[VD_H__COUNT]; /* index of the first header of each kind, VD_SIP_NO_HDR */
	uint32_t seen;               /* bit set of enum vd_sip_hdr kinds present */

	struct vd_sip_via via;    /* top Via */
	uint32_t via_count;       /* values over all Via headers */

	bool has_route;
	struct vd_sip_route route; /* top Route value (when has_route) */

	int32_t max_forwards;     /* -1 when absent */
	struct vd_slice call_id;
	uint32_t cseq;
	uint8_t cseq_method;
	struct vd_slice cseq_method_name;
	struct vd_slice from_tag; /* NULL p when absent */
	struct vd_slice to_tag;
	int64_t content_length;   /* -1 when absent */

	struct vd_sip_header hdrs[VD_SIP_HDRS_CAP];
};

/**
 * Scan `len` bytes at `buf` into *msg.
 * Returns VD_SIP_OK or the first problem found. On error the fields scanned so far are valid
 * (the proxy uses them to build a 400 reply); msg->is_request tells whether a reply is possible.
 * Over UDP a body longer than Content-Length is cut: msg->len is the length to forward.
 */
enum vd_sip_err vd_sip_scan(const char *buf, size_t len, const struct vd_sip_limits *lim,
			    struct vd_sip_msg *msg);

/** Index of the first header named `name` (case-insensitive, compact forms of known headers
 * match too) at index >= from, or VD_SIP_NO_HDR. */
uint16_t vd_sip_find(const struct vd_sip_msg *msg, const char *name, size_t name_len,
		     uint16_t from);

/** Reason phrase for a 400/505 reply ("Missing Via"), or a counter name for drops. */
const char *vd_sip_err_reason(enum vd_sip_err err);
/** Short stable identifier for logs and metrics ("missing-via"). */
const char *vd_sip_err_name(enum vd_sip_err err);
/** Reply code for an error found in a request (400 or 505). */
int vd_sip_err_code(enum vd_sip_err err);

/** "INVITE" for VD_M_INVITE, "unknown" for extension methods. */
const char *vd_sip_method_name(enum vd_sip_method m);
/** Method enum for a token (case-sensitive, RFC 3261 7.1). */
enum vd_sip_method vd_sip_method_parse(const char *p, size_t len);
/** Header kind for a name, full or compact form, case-insensitive. */
enum vd_sip_hdr vd_sip_hdr_kind(const char *p, size_t len);

/**
 * Parse a SIP URI's host part: "sip:user@host:port;params" -> host, port (0 if absent),
 * maddr and lr parameters. Returns 0 or -1 if the URI has no parseable host.
 * user_present is set when the URI has a user part.
 */
int vd_sip_uri_parse(struct vd_slice uri, struct vd_slice *host, uint8_t *host_type,
		     uint16_t *port, bool *user_present, bool *lr, struct vd_slice *maddr);

/**
 * Parse one comma-separated name-addr value of a Route/Record-Route header line starting at
 * `off`. Fills *r (hdr set to `hdr`) and returns the offset after it (at ',' or line end),
 * or 0 on a malformed value.
 */
uint32_t vd_sip_route_parse(const struct vd_sip_msg *msg, uint16_t hdr, uint32_t off,
			    struct vd_sip_route *r);

/**
 * Parse host[:port] at *pp (IPv4, "[IPv6]" or FQDN); advances *pp past it. Port 0 = absent.
 * Returns false when there is no host or the port is not 1..65535.
 */
bool vd_sip_host_parse(const char **pp, const char *end, struct vd_slice *host, uint8_t *type,
		       uint16_t *port);

/**
 * Parse one via-parm at p (sent-protocol, sent-by, parameters) up to end or a ','.
 * Fills *via except value_off/value_end/hdr; returns one past its last byte, or NULL.
 */
const char *vd_sip_via_parse(const char *p, const char *end, struct vd_sip_via *via);

/* RFC 7339 overload control parameters of one Via value (a member's feedback in our Via). */
struct vd_sip_oc {
	uint8_t oc;           /* reduction, percent 0..100 (the loss algorithm's) */
	bool loss;            /* oc-algo absent or "loss": the one algorithm we apply */
	bool has_seq;         /* oc-seq present */
	uint32_t validity_ms; /* oc-validity, capped at VD_SIP_OC_VALIDITY_MAX; absent:
			       * VD_SIP_OC_VALIDITY_DEFAULT; 0: stop overload control */
	uint64_t seq;         /* oc-seq "seconds.fraction" as fixed point: seconds * 10^5 +
			       * the fraction's first five digits (compare with <) */
};

#define VD_SIP_OC_VALIDITY_DEFAULT 500u	    /* ms: oc without oc-validity */
#define VD_SIP_OC_VALIDITY_MAX 86400000u    /* a day: longer values are cut to it */

/**
 * The oc, oc-validity, oc-seq and oc-algo parameters of the via-parm at [p, end) (value_off
 * to value_end of a parsed Via); the last of a name counts, a bare "oc" flag (what the proxy
 * offered, echoed) is skipped. False when no oc has a value (the flag alone carries no
 * feedback) or a value is malformed (oc over 100, a non-numeric validity or seq).
 */
bool vd_sip_via_oc(const char *p, const char *end, struct vd_sip_oc *oc);

#define VD_SIP_RETRY_AFTER_MAX 86400u /* seconds: a larger delta-seconds is cut to it */

/**
 * The delta-seconds of a Retry-After value (RFC 3261 20.33: "120", "18000;duration=3600",
 * "120 (in a meeting)"), capped at VD_SIP_RETRY_AFTER_MAX. False when it does not start with
 * a number.
 */
bool vd_sip_retry_after(struct vd_slice value, uint32_t *seconds);

/* What vd_sip_frame() found at the start of a stream's buffered bytes. */
enum vd_frame {
	VD_FRAME_MORE = 0,    /* incomplete: read more */
	VD_FRAME_MESSAGE,     /* one message of *out bytes (headers + Content-Length of body) */
	VD_FRAME_PING,        /* "\r\n\r\n" (RFC 5626 3.5.1): consume *out bytes, answer "\r\n" */
	VD_FRAME_SKIP,        /* a CRLF between messages (RFC 3261 7.5): consume *out bytes */
	VD_FRAME_NO_LENGTH,   /* headers of *out bytes without Content-Length: 400, then close */
	VD_FRAME_BAD_LENGTH,  /* Content-Length not a number, or two that differ: 400, close */
	VD_FRAME_TOO_LARGE,   /* the message would exceed max bytes (513 when *out > 0), close */
};

/**
 * Frame the next message of a stream (RFC 3261 18.3): `buf` holds the `len` bytes received
 * and not yet consumed, `max` is the largest message accepted. Reads only the header block;
 * never writes the input.
 */
enum vd_frame vd_sip_frame(const char *buf, uint32_t len, uint32_t max, uint32_t *out);

/* What framing learnt of a message that is not complete yet (all zero for a new message). */
struct vd_frame_progress {
	uint32_t searched; /* leading bytes known to hold no end of the header block */
	uint32_t need;	   /* the message's length once its header block is in, else 0 */
};

/**
 * vd_sip_frame() for bytes that arrive in pieces: `pr` carries what the call over a prefix
 * of the same bytes learnt, so that a message arriving a byte at a time is scanned once, not
 * once per byte (a slowloris would otherwise cost its length squared). Same results as
 * vd_sip_frame(); `pr` is updated on VD_FRAME_MORE and zeroed by every other result, ready
 * for the next message.
 */
enum vd_frame vd_sip_frame_resume(const char *buf, uint32_t len, uint32_t max,
				  struct vd_frame_progress *pr, uint32_t *out);

/** Case-insensitive equality of two slices. */
bool vd_slice_eq_nocase(struct vd_slice a, struct vd_slice b);

/** Is s a token (RFC 3261 25.1: one or more of alphanum - . ! % * _ + ` ' ~)? An option tag
 * or a method name is one. */
bool vd_sip_is_token(struct vd_slice s);

#endif
