/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the proxy fuzz targets (fuzz_proxy.c, fuzz_proxy_rules.c) require of every outcome of
 * vd_proxy_process(): a forward stays inside its buffer and is still SIP, a reply fits its
 * buffer and is a SIP response with the status it claims, a drop names a reason. A broken
 * promise aborts, so libFuzzer records the input.
 */
#ifndef VD_FUZZ_CHECK_H
#define VD_FUZZ_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/proxy.h"
#include "viaduct/sip.h"

/* Re-scanning what we send: our Via (and a Max-Forwards line) come on top of at most the
 * configured header and Via counts, so the scanner's own ceilings are the limits here. */
static const struct vd_sip_limits fuzz_rescan_limits = { VD_SIP_HDRS_CAP, VD_CFG_MAX_VIAS_CEIL };

/* `in_len`: bytes of the message processed (the reply-amplification promise compares with it);
 * `guarded`: the scratch had admission state (it makes that promise); `scanned`: the message
 * went through vd_proxy_process (vd_proxy_too_large and vd_proxy_unframed read only its start
 * line and top Via, so a reply of theirs may copy any header as it came). */
static inline void fuzz_check_result(const struct vd_proxy *px, const struct vd_pktbuf *pkt,
				     const struct vd_result *res, const char *reply,
				     uint32_t reply_cap, uint32_t in_len, bool guarded,
				     bool scanned)
{
	static struct vd_sip_msg m; /* a view is large: not on the stack */
	switch (res->verdict) {
	case VD_VERDICT_FORWARD:
		if ((uint64_t)pkt->off + pkt->len > pkt->cap || pkt->len == 0)
			abort();
		if (res->egress >= px->n_listeners || res->transport >= VD_TP__COUNT)
			abort();
		if (res->dst.sa.sa_family != AF_INET && res->dst.sa.sa_family != AF_INET6)
			abort();
		if (res->member >= 0 && (res->pool >= px->n_pools ||
					 (unsigned)res->member >= px->pools[res->pool].n_members))
			abort();
		/* what leaves is still a message the next hop can scan */
		if (vd_sip_scan(pkt->base + pkt->off, pkt->len, &fuzz_rescan_limits, &m) !=
		    VD_SIP_OK)
			abort();
		break;
	case VD_VERDICT_REPLY:
		if (res->reply_len > reply_cap || res->reply_len < 8 ||
		    memcmp(reply, "SIP/2.0 ", 8) != 0 || res->status < 100 || res->status > 699)
			abort();
		/* a reply copies the request's From, To, Call-ID, CSeq and Vias (RFC 3261 8.2.6.2),
		 * so only a reply to a well-formed request is a well-formed response throughout */
		enum vd_sip_err re = vd_sip_scan(reply, res->reply_len, &fuzz_rescan_limits, &m);
		if (re == VD_SIP_E_NOT_SIP || re == VD_SIP_E_BAD_STATUS_LINE ||
		    re == VD_SIP_E_NO_HEADER_END || m.is_request || m.status != res->status ||
		    (scanned && res->sip_err == VD_SIP_OK && re != VD_SIP_OK))
			abort();
		/* garbage never gets more bytes back than it sent (guard.c) */
		if (guarded && res->sip_err != VD_SIP_OK && res->reply_len > in_len)
			abort();
		break;
	case VD_VERDICT_DROP:
		if (res->drop == VD_DROP_NONE || res->drop >= VD_DROP__COUNT)
			abort();
		break;
	default:
		abort();
	}
}

#endif
