/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HEP v3 encoding, sampling and a worker's batch of copies (include/viaduct/hep.h).
 *
 * The encoder writes chunks with explicit big-endian stores (no packed structs), so the
 * bytes are the same on any host; the unit test pins them. The batch keeps each datagram as
 * two iovecs, the header written here and the payload where the caller has it (the datapath's
 * batch buffers), so a sent message is not copied again on its way to the collector.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <xxhash.h>

#include "viaduct/hep.h"

#define HEP_CHUNK_HDR 6 /* vendor id, type id, length: 16 bits each */
#define HEP_CTRL 6      /* "HEP3" and the total length */

/* Chunk types (generic vendor 0) */
enum {
	CH_FAMILY = 0x0001,
	CH_PROTO = 0x0002,
	CH_SRC4 = 0x0003,
	CH_DST4 = 0x0004,
	CH_SRC6 = 0x0005,
	CH_DST6 = 0x0006,
	CH_SPORT = 0x0007,
	CH_DPORT = 0x0008,
	CH_TS_SEC = 0x0009,
	CH_TS_USEC = 0x000a,
	CH_PROTO_TYPE = 0x000b,
	CH_CAPTURE_ID = 0x000c,
	CH_AUTH = 0x000e,
	CH_PAYLOAD = 0x000f,
	CH_CORRELATION = 0x0011,
};

/* Seed of the sampling hash: changing it changes which calls a given percentage captures. */
#define HEP_SAMPLE_SEED 0x6865703373616d70ULL /* "hep3samp" */

const char *vd_hep_drop_name(enum vd_hep_drop d)
{
	static const char *const names[VD_HEP_DROP__COUNT] = { "full", "too-large", "socket-full",
							       "refused", "error" };
	return (unsigned)d < VD_HEP_DROP__COUNT ? names[d] : "unknown";
}

static char *put16(char *p, uint16_t v)
{
	p[0] = (char)(v >> 8);
	p[1] = (char)v;
	return p + 2;
}

static char *put32(char *p, uint32_t v)
{
	p = put16(p, (uint16_t)(v >> 16));
	return put16(p, (uint16_t)v);
}

/* A chunk's 6-byte head; the caller writes `len` bytes of data after it. */
static char *chunk(char *p, uint16_t type, size_t len)
{
	p = put16(p, 0);
	p = put16(p, type);
	return put16(p, (uint16_t)(HEP_CHUNK_HDR + len));
}

static char *chunk_bytes(char *p, uint16_t type, const void *data, size_t len)
{
	p = chunk(p, type, len);
	memcpy(p, data, len);
	return p + len;
}

size_t vd_hep_header(char *buf, size_t cap, const struct vd_hep_meta *m, size_t payload_len)
{
	int fam = m->src->sa.sa_family;
	if (fam != m->dst->sa.sa_family || (fam != AF_INET && fam != AF_INET6))
		return 0;
	size_t alen = fam == AF_INET ? 4 : 16;
	size_t corr = m->corr && m->corr_len && m->corr_len <= VD_HEP_CORR_MAX ? m->corr_len : 0;
	size_t auth = m->auth && m->auth_len && m->auth_len <= VD_HEP_AUTH_MAX ? m->auth_len : 0;
	size_t hlen = HEP_CTRL + 2 * (HEP_CHUNK_HDR + 1)      /* family, protocol */
		      + 2 * (HEP_CHUNK_HDR + alen)          /* addresses */
		      + 2 * (HEP_CHUNK_HDR + 2)             /* ports */
		      + 2 * (HEP_CHUNK_HDR + 4)             /* time */
		      + (HEP_CHUNK_HDR + 1) + (HEP_CHUNK_HDR + 4) /* protocol type, capture id */
		      + (corr ? HEP_CHUNK_HDR + corr : 0) + (auth ? HEP_CHUNK_HDR + auth : 0)
		      + HEP_CHUNK_HDR;                      /* the payload's chunk head */
	if (hlen > cap || payload_len > VD_HEP_MAX - hlen)
		return 0;
	char *p = buf;
	memcpy(p, "HEP3", 4);
	p = put16(p + 4, (uint16_t)(hlen + payload_len));
	p = chunk(p, CH_FAMILY, 1);
	*p++ = (char)fam;
	p = chunk(p, CH_PROTO, 1);
	*p++ = (char)m->ip_proto;
	if (fam == AF_INET) {
		p = chunk_bytes(p, CH_SRC4, &m->src->in.sin_addr, 4);
		p = chunk_bytes(p, CH_DST4, &m->dst->in.sin_addr, 4);
	} else {
		p = chunk_bytes(p, CH_SRC6, &m->src->in6.sin6_addr, 16);
		p = chunk_bytes(p, CH_DST6, &m->dst->in6.sin6_addr, 16);
	}
	/* the ports are in network order in the sockaddrs already */
	p = chunk_bytes(p, CH_SPORT, fam == AF_INET ? (const void *)&m->src->in.sin_port
						  : (const void *)&m->src->in6.sin6_port, 2);
	p = chunk_bytes(p, CH_DPORT, fam == AF_INET ? (const void *)&m->dst->in.sin_port
						  : (const void *)&m->dst->in6.sin6_port, 2);
	p = put32(chunk(p, CH_TS_SEC, 4), m->ts_sec);
	p = put32(chunk(p, CH_TS_USEC, 4), m->ts_usec);
	p = chunk(p, CH_PROTO_TYPE, 1);
	*p++ = VD_HEP_PROTO_SIP;
	p = put32(chunk(p, CH_CAPTURE_ID, 4), m->capture_id);
	if (corr)
		p = chunk_bytes(p, CH_CORRELATION, m->corr, corr);
	if (auth)
		p = chunk_bytes(p, CH_AUTH, m->auth, auth);
	p = chunk(p, CH_PAYLOAD, payload_len);
	return (size_t)(p - buf);
}

size_t vd_hep_encode(char *buf, size_t cap, const struct vd_hep_meta *m, const char *payload,
		     size_t payload_len)
{
	size_t h = vd_hep_header(buf, cap, m, payload_len);
	if (!h || payload_len > cap - h)
		return 0;
	memcpy(buf + h, payload, payload_len);
	return h + payload_len;
}

bool vd_hep_sampled(const char *call_id, size_t len, uint32_t percent)
{
	if (percent >= 100)
		return true;
	if (percent == 0)
		return false;
	return XXH3_64bits_withSeed(call_id, len, HEP_SAMPLE_SEED) % 100 < percent;
}

int vd_hep_batch_init(struct vd_hep_batch *b, unsigned slots)
{
	memset(b, 0, sizeof(*b));
	b->slots = slots;
	b->hdrs = malloc((size_t)slots * VD_HEP_HEADER_MAX);
	b->iov = calloc((size_t)slots * 2, sizeof(*b->iov));
	b->msgs = calloc(slots, sizeof(*b->msgs));
	if (!b->hdrs || !b->iov || !b->msgs) {
		vd_hep_batch_fini(b);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < slots; i++) {
		b->iov[2 * i].iov_base = b->hdrs + (size_t)i * VD_HEP_HEADER_MAX;
		b->msgs[i].msg_hdr.msg_iov = &b->iov[2 * i];
		b->msgs[i].msg_hdr.msg_iovlen = 2;
	}
	return 0;
}

void vd_hep_batch_fini(struct vd_hep_batch *b)
{
	free(b->hdrs);
	free(b->iov);
	free(b->msgs);
	memset(b, 0, sizeof(*b));
}

int vd_hep_add(struct vd_hep_batch *b, const struct vd_hep_meta *m, const char *payload,
	       uint32_t len)
{
	if (b->paused) {
		b->dropped[VD_HEP_DROP_REFUSED]++;
		return -1;
	}
	if (b->n == b->slots) {
		b->dropped[VD_HEP_DROP_FULL]++;
		return -1;
	}
	if (m->src->sa.sa_family != m->dst->sa.sa_family) {
		b->dropped[VD_HEP_DROP_ERROR]++; /* a datapath's mistake: counted, not sent */
		return -1;
	}
	struct iovec *iov = &b->iov[2 * b->n];
	size_t h = vd_hep_header(iov[0].iov_base, VD_HEP_HEADER_MAX, m, len);
	if (!h) {
		b->dropped[VD_HEP_DROP_TOO_LARGE]++;
		return -1;
	}
	iov[0].iov_len = h;
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	b->n++;
	return 0;
}

/* Why one datagram failed: the reason it is counted under, and whether the rest may go. */
static enum vd_hep_drop send_error(int e, bool *stop)
{
	*stop = e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS;
	if (*stop)
		return VD_HEP_DROP_SOCKET;
	return e == ECONNREFUSED ? VD_HEP_DROP_REFUSED : VD_HEP_DROP_ERROR;
}

void vd_hep_flush(struct vd_hep_batch *b, int fd, uint64_t now_ms)
{
	unsigned done = 0, n = b->n;
	b->n = 0;
	if (fd < 0) {
		b->dropped[VD_HEP_DROP_ERROR] += n;
		return;
	}
	while (done < n) {
		int r = sendmmsg(fd, b->msgs + done, n - done, MSG_DONTWAIT);
		if (r > 0) {
			b->sent += (unsigned)r;
			done += (unsigned)r;
			continue;
		}
		/* the first unsent datagram failed alone: count it, then the rest may still go
		 * (a refusal is reported once per ICMP message, a full buffer stops the batch) */
		bool stop;
		enum vd_hep_drop why = send_error(r < 0 ? errno : EIO, &stop);
		if (r < 0 && errno == EINTR)
			why = VD_HEP_DROP_ERROR, stop = false;
		if (why == VD_HEP_DROP_REFUSED) { /* the collector is not there: pause */
			b->refused_until_ms = now_ms + VD_HEP_REFUSED_PAUSE_MS;
			stop = true;
		}
		unsigned lost = stop ? n - done : 1;
		b->dropped[why] += lost;
		done += lost;
	}
}
