/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over stream framing (vd_sip_frame_resume, src/sip/frame.c) as a connection
 * runs it (src/dp/conn.c frame_all and conn_read), each result checked against vd_sip_frame
 * from scratch: a buffer of max_message_size bytes, each read
 * at most the room left, every complete frame consumed from the front, the rest kept. A byte
 * stream must frame the same whatever sizes its reads have: the events (message, ping, skip,
 * no length, bad length, too large, with their bytes) of reads cut at fuzz-chosen points equal
 * those of reads as large as the room allows. And a connection never stalls: a full buffer
 * always frames something (else it would wait for bytes it has no room to read).
 *
 * Input: n (1 byte), max (1 byte), n read sizes (1 byte each), then the stream. A read size
 * byte b reads b + 1 bytes (0xff: all the room); the sizes repeat when the stream is longer.
 * max picks the buffer size from maxes[]. Bytes past the buffered ones are poisoned for ASan,
 * so the framer reading past what it was given is a finding.
 */
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct/sip.h"

#define MAX_EVENTS 70000 /* a stream of max_len bytes has at most one event per byte */

struct event {
	uint8_t kind; /* enum vd_frame */
	uint32_t pos; /* stream offset of its first byte */
	uint32_t len; /* bytes it covers (*out) */
};

struct run {
	struct event ev[MAX_EVENTS];
	unsigned n_ev;
	uint32_t consumed; /* stream bytes consumed */
	bool closed;
	struct vd_frame_progress pr; /* as conn.c keeps it per connection */
};

/* 512 is the smallest max_message_size a config takes; 64 and 100 test the framer below it */
static const uint32_t maxes[8] = { 64, 100, 512, 1300, 4096, 16384, 65507, 65535 };

static char *rbuf;

/* frame_all() of conn.c over rbuf[0..*rlen), recording events instead of acting on them. */
static void frame_all(struct run *r, uint32_t *rlen, uint32_t max)
{
	uint32_t off = 0, n;
	while (!r->closed && off < *rlen) {
		uint32_t n1;
		enum vd_frame f = vd_sip_frame_resume(rbuf + off, *rlen - off, max, &r->pr, &n);
		/* resuming never changes what framing from scratch finds */
		if (vd_sip_frame(rbuf + off, *rlen - off, max, &n1) != f || (f != VD_FRAME_MORE && n1 != n))
			abort();
		if (f == VD_FRAME_MORE)
			break;
		if (n > *rlen - off || r->n_ev == MAX_EVENTS)
			abort();
		r->ev[r->n_ev++] = (struct event){ (uint8_t)f, r->consumed + off, n };
		switch (f) {
		case VD_FRAME_MESSAGE:
		case VD_FRAME_PING:
		case VD_FRAME_SKIP:
			if (n == 0) /* no progress: the connection would spin */
				abort();
			off += n;
			break;
		default: /* the connection closes after answering: nothing more is read */
			r->closed = true;
			off = *rlen;
			break;
		}
	}
	if (!r->closed && off == 0 && *rlen == max)
		abort(); /* a full buffer that frames nothing: the connection stalls */
	memmove(rbuf, rbuf + off, *rlen - off);
	*rlen -= off;
	r->consumed += off;
}

/* Feed the stream through reads of the sizes given (NULL: always all the room). */
static void run_stream(struct run *r, const char *s, uint32_t len, uint32_t max,
		       const uint8_t *sizes, unsigned n_sizes)
{
	uint32_t rlen = 0, pos = 0;
	unsigned k = 0;
	r->n_ev = 0;
	r->consumed = 0;
	r->closed = false;
	r->pr = (struct vd_frame_progress){ 0, 0 };
	while (!r->closed && pos < len) {
		uint32_t room = max - rlen, want = room;
		if (sizes && sizes[k % n_sizes] != 0xff)
			want = sizes[k % n_sizes] + 1u;
		k++;
		uint32_t got = want < room ? want : room;
		if (got > len - pos)
			got = len - pos;
		memcpy(rbuf + rlen, s + pos, got);
		pos += got;
		rlen += got;
		ASAN_POISON_MEMORY_REGION(rbuf + rlen, max - rlen);
		frame_all(r, &rlen, max);
		ASAN_UNPOISON_MEMORY_REGION(rbuf, max);
	}
}

static bool same(const struct run *a, const struct run *b)
{
	/* a closed connection drops what it buffered after the frame that closed it: how much
	 * that was depends on the reads */
	if (a->n_ev != b->n_ev || a->closed != b->closed ||
	    (!a->closed && a->consumed != b->consumed))
		return false;
	for (unsigned i = 0; i < a->n_ev; i++)
		if (a->ev[i].kind != b->ev[i].kind || a->ev[i].pos != b->ev[i].pos ||
		    a->ev[i].len != b->ev[i].len)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, cut;
	if (!rbuf && !(rbuf = malloc(65535)))
		abort();
	if (size < 3)
		return -1;
	unsigned n_sizes = data[0] % 16 + 1;
	uint32_t max = maxes[data[1] % 8];
	if (size < 2 + n_sizes)
		return -1;
	const uint8_t *sizes = data + 2;
	const char *s = (const char *)data + 2 + n_sizes;
	uint32_t len = (uint32_t)(size - 2 - n_sizes);

	run_stream(&whole, s, len, max, NULL, 0);
	run_stream(&cut, s, len, max, sizes, n_sizes);
	if (!same(&whole, &cut))
		abort();
	/* a message frame, framed alone, is the same message */
	for (unsigned i = 0; i < whole.n_ev; i++) {
		const struct event *e = &whole.ev[i];
		uint32_t n;
		if (e->kind == VD_FRAME_MESSAGE &&
		    (vd_sip_frame(s + e->pos, e->len, max, &n) != VD_FRAME_MESSAGE || n != e->len))
			abort();
	}
	return 0;
}
