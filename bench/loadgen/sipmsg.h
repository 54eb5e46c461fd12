/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The little SIP parsing the load generator and the responder need, and the responder's reply.
 *
 * Deliberately independent of viaduct's scanner: the generator must not share code (or bugs)
 * with what it measures. It is simple and careful rather than fast-at-all-costs: it walks header
 * lines (CRLF or bare LF, folded continuation lines kept with their header), matches names in
 * full and compact form, case-insensitively, and never reads past @p len. Nothing allocates.
 */
#ifndef LG_SIPMSG_H
#define LG_SIPMSG_H

#include <stdbool.h>
#include <stddef.h>

struct lg_slice {
	const char *p;
	size_t len;
};

/** What the responder made of a datagram. */
enum lg_rx_kind {
	LG_RX_REQUEST,	/* a request: a reply was built */
	LG_RX_ACK,	/* an ACK: never answered (RFC 3261 17.2.1: ACK has no response) */
	LG_RX_RESPONSE, /* a response: ignored */
	LG_RX_BAD,	/* not SIP, a required header missing, or no room for the reply */
};

/**
 * Build the 200 OK for request @p req of @p len bytes per RFC 3261 8.2.6: every Via line copied in
 * order, From, To (a To-tag added when missing, derived from the Call-ID so a retransmission gets
 * the same one), Call-ID, CSeq, and Content-Length: 0. The reply goes into @p out (@p cap bytes);
 * its length into @p out_len when LG_RX_REQUEST is returned, untouched otherwise.
 */
enum lg_rx_kind lg_sip_reply(const char *req, size_t len, char *out, size_t cap, size_t *out_len);

/**
 * For a response: its status code and the branch parameter of its top Via (the first value of
 * the first Via header). Returns 0, or -EINVAL when it is not a response or has no branch.
 */
int lg_sip_response_branch(const char *buf, size_t len, unsigned *status, struct lg_slice *branch);

/**
 * Find header @p name (full form; @p compact is its one-letter form or 0) in message @p buf.
 * @p nth picks the nth occurrence (0 = first). On success @p value is the header value (leading
 * and trailing white space trimmed, continuation lines included) and @p line the whole header
 * from its name to the end of its last continuation line, without the line end. Either may be
 * NULL. Returns true when found.
 */
bool lg_sip_header(const char *buf, size_t len, const char *name, char compact, unsigned nth,
		   struct lg_slice *value, struct lg_slice *line);

/**
 * Find parameter @p name in a header value (after the URI: a <...> part and quoted strings are
 * skipped; a comma ends the value, as in a Via list). @p val is the value, empty for a flag
 * parameter such as ";rport". Returns true when found.
 */
bool lg_sip_param(struct lg_slice hvalue, const char *name, struct lg_slice *val);

#endif
