/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stream framing, vd_sip_frame() (src/sip/frame.c): RFC 3261 18.3 (a message is its header
 * block plus Content-Length bytes of body, Content-Length mandatory), RFC 3261 7.5 (CRLFs
 * between messages are skipped) and RFC 5626 3.5.1 (CRLFCRLF is a keepalive ping). Every
 * corpus message (good/, captured/, the forwarded ones of rfc4475/) is framed whole, cut in
 * two at every byte and fed in chunks inside a stream with pings and CRLFs between messages;
 * the expected lengths are computed here, apart from frame.c. Inputs are copied into heap
 * buffers of their exact size, so AddressSanitizer catches a read past the end.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corpus.h"
#include "viaduct/sip.h"

#define MAX	 65536u
#define MAX_MSGS 128

static enum vd_frame frame_max(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	char *b = malloc(n ? n : 1);
	memcpy(b, s, n);
	enum vd_frame f = vd_sip_frame(b, (uint32_t)n, max, out);
	cr_assert(memcmp(b, s, n) == 0, "the input is never written");
	free(b);
	return f;
}

/* Frame a string: kind `want`, *out `want_out` (unless MORE, where *out means nothing). */
static void is(const char *s, enum vd_frame want, uint32_t want_out)
{
	uint32_t out;
	enum vd_frame f = frame_max(s, strlen(s), MAX, &out);
	cr_assert_eq(f, want, "kind of \"%s\": %d, not %d", s, f, want);
	if (want != VD_FRAME_MORE)
		cr_assert_eq(out, want_out, "*out of \"%s\": %u, not %u", s, out, want_out);
}

#define REQ "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"

/* The length of a header block: REQ, the header lines `h` and the empty line. */
static uint32_t head_len(const char *h)
{
	return (uint32_t)(strlen(REQ) + strlen(h) + 2);
}

/* REQ, header lines `h`, the empty line, `body`: kind `want`, *out the header block + `extra`. */
static void hdrs(const char *h, const char *body, enum vd_frame want, uint32_t extra)
{
	char s[512];
	snprintf(s, sizeof(s), REQ "%s\r\n%s", h, body);
	is(s, want, head_len(h) + extra);
}

struct msg {
	char name[96];
	struct corpus_msg m;
	uint32_t head;	/* header block, through its empty line */
	int64_t framed; /* head + Content-Length; -1 without one, -2 ambiguous */
};

static struct msg msgs[MAX_MSGS];
static size_t nmsgs;

/* Expected framing, written apart from frame.c: the header block ends at the first CRLFCRLF
 * and has no bare LF; Content-Length is the one numeric value of the lines named
 * "Content-Length" or "l" (any case, blanks before the colon). */
static void expect_of(struct msg *x)
{
	const char *b = x->m.buf, *end = NULL;
	size_t n = x->m.len;
	x->framed = -2;
	for (size_t i = 0; i + 4 <= n && !end; i++) {
		if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r'))
			return; /* a bare LF before the empty line */
		if (memcmp(b + i, "\r\n\r\n", 4) == 0)
			end = b + i + 4;
	}
	if (!end)
		return;
	x->head = (uint32_t)(end - b);
	int64_t clen = -1;
	/* header lines: after each CRLF but the start line's (memmem: a header may hold a NUL) */
	for (const char *l = memmem(b, n, "\r\n", 2) + 2, *eol; l < end - 2; l = eol + 2) {
		eol = memmem(l, (size_t)(end - l), "\r\n", 2);
		const char *colon = memchr(l, ':', (size_t)(eol - l));
		size_t nl = colon ? (size_t)(colon - l) : 0;
		while (nl && (l[nl - 1] == ' ' || l[nl - 1] == '\t'))
			nl--;
		if (!((nl == 14 && strncasecmp(l, "Content-Length", 14) == 0) ||
		      (nl == 1 && (*l == 'l' || *l == 'L'))))
			continue;
		const char *d = colon + 1 + strspn(colon + 1, " \t"), *e = d;
		int64_t v = 0;
		while (e < eol && *e >= '0' && *e <= '9' && v < 1000000000)
			v = v * 10 + (*e++ - '0');
		if (e == d || e + strspn(e, " \t") != eol || (clen >= 0 && v != clen))
			return;
		clen = v;
	}
	x->framed = clen < 0 ? -1 : (int64_t)x->head + clen;
	if (x->framed > (int64_t)n)
		x->framed = -2; /* the body is not all there */
}

static void add(const char *rel)
{
	cr_assert_lt(nmsgs, MAX_MSGS);
	struct msg *x = &msgs[nmsgs++];
	snprintf(x->name, sizeof(x->name), "%s", rel);
	x->m = corpus_load(rel);
	cr_assert_lt(x->m.len, MAX);
	expect_of(x);
}

static void load_corpus(void)
{
	char path[512], line[512], file[64], outcome[32];
	int root = snprintf(path, sizeof(path), "%s/tests/corpus/", VD_SOURCE_ROOT);
	glob_t g;
	snprintf(path + root, sizeof(path) - (size_t)root, "good/*.sip");
	cr_assert_eq(glob(path, 0, NULL, &g), 0, "no %s", path);
	snprintf(path + root, sizeof(path) - (size_t)root, "captured/*.sip");
	cr_assert_eq(glob(path, GLOB_APPEND, NULL, &g), 0, "no %s", path);
	for (size_t i = 0; i < g.gl_pathc; i++)
		add(g.gl_pathv[i] + root);
	globfree(&g);
	snprintf(path + root, sizeof(path) - (size_t)root, "rfc4475/MANIFEST");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && sscanf(line, "%63s | %31s", file, outcome) == 2 &&
		    strcmp(outcome, "forward") == 0) {
			snprintf(path, sizeof(path), "rfc4475/%s", file);
			add(path);
		}
	fclose(f);
}

static void free_corpus(void)
{
	for (size_t i = 0; i < nmsgs; i++)
		corpus_free(&msgs[i].m);
	nmsgs = 0;
}

TestSuite(corpus, .init = load_corpus, .fini = free_corpus);

/* Each message, cut after every byte: the first k bytes are MORE until the framed length,
 * then one MESSAGE of exactly that length (bytes past it are the next message's). */
Test(corpus, every_cut)
{
	size_t framed = 0, no_length = 0;
	for (size_t i = 0; i < nmsgs; i++) {
		struct msg *x = &msgs[i];
		cr_assert_neq(x->framed, -2, "%s: expectation ambiguous", x->name);
		uint32_t want = x->framed < 0 ? x->head : (uint32_t)x->framed;
		enum vd_frame want_f = x->framed < 0 ? VD_FRAME_NO_LENGTH : VD_FRAME_MESSAGE;
		*(x->framed < 0 ? &no_length : &framed) += 1;
		for (size_t k = 1; k <= x->m.len; k++) {
			uint32_t out;
			enum vd_frame f = frame_max(x->m.buf, k, MAX, &out);
			if (k < want)
				cr_assert_eq(f, VD_FRAME_MORE, "%s, %zu bytes: %d", x->name, k, f);
			else
				cr_assert(f == want_f && out == want,
					  "%s, %zu bytes: %d, %u, not %d, %u", x->name, k, f, out,
					  want_f, want);
		}
	}
	cr_assert_geq(framed, 69, "%zu messages framed", framed);
	cr_assert_eq(no_length, 1, "only rfc4475/inv2543.sip has no Content-Length");
}

struct ev {
	enum vd_frame f;
	uint32_t n;
};

/* A receiver: bytes arrive `first` then `chunk` at a time, each arrival framed until MORE,
 * from scratch and resumed (vd_sip_frame_resume, as a connection does): both the same. The
 * events must be `want` and all bytes consumed. */
static void feed(const char *s, size_t n, size_t first, size_t chunk, const struct ev *want,
		 size_t nwant, const char *what)
{
	size_t start = 0, recv = 0, k = 0;
	struct vd_frame_progress pr = { 0, 0 };
	for (size_t piece = first; recv < n; piece = chunk) {
		recv = recv + piece < n ? recv + piece : n;
		for (uint32_t out;; start += out, k++) {
			enum vd_frame f = frame_max(s + start, recv - start, MAX, &out);
			uint32_t rout;
			enum vd_frame rf = vd_sip_frame_resume(s + start, (uint32_t)(recv - start),
							       MAX, &pr, &rout);
			cr_assert(rf == f && (f == VD_FRAME_MORE || rout == out),
				  "%s (pieces %zu, %zu): resumed %d, %u; from scratch %d, %u", what,
				  first, chunk, rf, rout, f, out);
			if (f == VD_FRAME_MORE)
				break;
			cr_assert(k < nwant && f == want[k].f && out == want[k].n,
				  "%s (pieces %zu, %zu): event %zu is %d, %u", what, first, chunk,
				  k, f, out);
		}
	}
	cr_assert(k == nwant && start == n, "%s (pieces %zu, %zu): %zu events", what, first, chunk,
		  k);
}

/* Three messages in one stream, a ping after the first, a lone CRLF after the second: cut in
 * two at every byte, and fed 1, 4 and 7 bytes at a time. */
Test(corpus, streams)
{
	for (size_t j = 0; j < nmsgs; j++) {
		const struct msg *a = &msgs[j], *b = &msgs[(j + 1) % nmsgs],
				 *c = &msgs[(j + 2) % nmsgs];
		if (a->framed < 0 || b->framed < 0 || c->framed < 0)
			continue;
		size_t la = (size_t)a->framed, lb = (size_t)b->framed, lc = (size_t)c->framed;
		size_t n = la + 4 + lb + 2 + lc;
		char *s = malloc(n);
		memcpy(s, a->m.buf, la);
		memcpy(s + la, "\r\n\r\n", 4);
		memcpy(s + la + 4, b->m.buf, lb);
		memcpy(s + la + 4 + lb, "\r\n", 2);
		memcpy(s + la + 6 + lb, c->m.buf, lc);
		const struct ev want[] = {{VD_FRAME_MESSAGE, (uint32_t)la},
					  {VD_FRAME_PING, 4},
					  {VD_FRAME_MESSAGE, (uint32_t)lb},
					  {VD_FRAME_SKIP, 2},
					  {VD_FRAME_MESSAGE, (uint32_t)lc}};
		for (size_t k = 1; k < n; k++)
			feed(s, n, k, n, want, 5, a->name);
		for (size_t chunk = 1; chunk <= 7; chunk += 3)
			feed(s, n, chunk, chunk, want, 5, a->name);
		free(s);
	}
}

Test(frame, keepalive)
{
	is("", VD_FRAME_MORE, 0);
	is("\r\n\r\n", VD_FRAME_PING, 4);
	is("\r\n\r\nOPTIONS", VD_FRAME_PING, 4);
	is("\r", VD_FRAME_MORE, 0);
	is("\r\n", VD_FRAME_MORE, 0); /* may be the first half of a ping */
	is("\r\n\r", VD_FRAME_MORE, 0);
	is("\r\nO", VD_FRAME_SKIP, 2);
	is("\r\n\n", VD_FRAME_SKIP, 2);
	is("\r\n\rX", VD_FRAME_SKIP, 2);
	is("\n", VD_FRAME_SKIP, 1);
	is("\nOPTIONS", VD_FRAME_SKIP, 1);
	/* a CR without LF is no CRLF: it starts a (bad) message, bounded by max */
	const char *s = "\rOPTIONS sip:a SIP/2.0\r\nX: 1\r\n\r\n";
	is(s, VD_FRAME_NO_LENGTH, (uint32_t)strlen(s));
	char big[300];
	memset(big, 'x', sizeof(big));
	big[0] = '\r';
	uint32_t out;
	cr_assert_eq(frame_max(big, sizeof(big), sizeof(big), &out), VD_FRAME_TOO_LARGE);
	cr_assert_eq(out, 0);
}

Test(frame, no_length)
{
	hdrs("", "", VD_FRAME_NO_LENGTH, 0);
	hdrs("Max-Forwards: 70\r\n", "body", VD_FRAME_NO_LENGTH, 0);
	const char *lf = "OPTIONS sip:a SIP/2.0\nVia: x\n\n"; /* bare LFs */
	is(lf, VD_FRAME_NO_LENGTH, (uint32_t)strlen(lf));
	is(REQ "Max-Forwards: 70\r\n", VD_FRAME_MORE, 0);
	is(REQ "Max-Forwards: 70\r\n\r", VD_FRAME_MORE, 0);
}

Test(frame, length_forms)
{
	hdrs("l: 0\r\n", "", VD_FRAME_MESSAGE, 0);
	hdrs("L:3\r\n", "abc", VD_FRAME_MESSAGE, 3);
	hdrs("content-length: 2\r\n", "abc", VD_FRAME_MESSAGE, 2);
	hdrs("CONTENT-LENGTH: 1\r\n", "x", VD_FRAME_MESSAGE, 1);
	hdrs("Content-Length : 5\r\n", "hello", VD_FRAME_MESSAGE, 5);
	hdrs("Content-Length:\t 05 \t\r\n", "hello", VD_FRAME_MESSAGE, 5);
	hdrs("Content-Length: 5\r\n", "hell", VD_FRAME_MORE, 0);
	hdrs("Content-Length: 5\r\nContent-Length: 5\r\n", "hello", VD_FRAME_MESSAGE, 5);
	hdrs("l: 5\r\nContent-Length: 5\r\n", "hello", VD_FRAME_MESSAGE, 5);
}

Test(frame, bad_length)
{
	static const char *const bad[] = {
		"Content-Length: abc\r\n",
		"Content-Length: -1\r\n",
		"Content-Length:\r\n",
		"Content-Length: 5x\r\n",
		"Content-Length: 1 2\r\n",
		"l: +3\r\n",
		"Content-Length: 5\r\nContent-Length: 6\r\n",
		"Content-Length: 0\r\nl: 1\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		hdrs(bad[i], "hello!", VD_FRAME_BAD_LENGTH, 0);
}

/* Only a header named exactly Content-Length or l counts. */
Test(frame, other_names)
{
	static const char *const other[] = {
		"Lx: 3\r\n",
		"Location: 3\r\n",
		"l-x: 3\r\n",
		"Content-Lengths: 3\r\n",
		"Content-Len: 3\r\n",
		"X-Content-Length: 3\r\n",
		"Subject: a\r\n l: 3\r\n",
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++) {
		char h[128];
		hdrs(other[i], "abc", VD_FRAME_NO_LENGTH, 0);
		snprintf(h, sizeof(h), "%sContent-Length: 1\r\n", other[i]);
		hdrs(h, "abc", VD_FRAME_MESSAGE, 1);
	}
}

/* Only the header block is read: an empty line and a Content-Length in the body are body. */
Test(frame, body_lookalike)
{
	const char body[] = "v=0\r\n\r\nContent-Length: 999\r\n\r\nl: 7\r\n";
	char s[512], h[64];
	snprintf(h, sizeof(h), "Content-Length: %zu\r\n", strlen(body));
	size_t n = (size_t)snprintf(s, sizeof(s), REQ "%s\r\n%s" REQ "l: 0\r\n\r\n", h, body);
	const struct ev want[] = {{VD_FRAME_MESSAGE, head_len(h) + (uint32_t)strlen(body)},
				  {VD_FRAME_MESSAGE, head_len("l: 0\r\n")}};
	is(s, want[0].f, want[0].n);
	for (size_t k = 1; k < n; k++)
		feed(s, n, k, n, want, 2, "body lookalike");
}

Test(frame, too_large)
{
	const char *s = REQ "Max-Forwards: 70\r\n";
	uint32_t n = (uint32_t)strlen(s), out;
	cr_assert_eq(frame_max(s, n, n + 1, &out), VD_FRAME_MORE);
	cr_assert_eq(frame_max(s, n, n, &out), VD_FRAME_TOO_LARGE);
	cr_assert_eq(out, 0, "no header block yet");
	s = REQ "Content-Length: 10\r\n\r\n0123456789";
	uint32_t head = head_len("Content-Length: 10\r\n");
	cr_assert_eq(frame_max(s, strlen(s), head + 10, &out), VD_FRAME_MESSAGE);
	cr_assert_eq(out, head + 10);
	cr_assert_eq(frame_max(s, head, head + 10, &out), VD_FRAME_MORE);
	cr_assert_eq(frame_max(s, head, head + 9, &out), VD_FRAME_TOO_LARGE);
	cr_assert_eq(out, head, "the header block, for a 513");
	/* 2^32 + 3 must not wrap to a 3-byte body; 2^64 + 3 is refused one way or the other */
	hdrs("Content-Length: 4294967299\r\n", "abc", VD_FRAME_TOO_LARGE, 0);
	s = REQ "Content-Length: 18446744073709551619\r\n\r\nabc";
	enum vd_frame f = frame_max(s, strlen(s), MAX, &out);
	cr_assert(f == VD_FRAME_TOO_LARGE || f == VD_FRAME_BAD_LENGTH, "2^64 + 3: %d", f);
	cr_assert_eq(out, head_len("Content-Length: 18446744073709551619\r\n"));
}

/* Resuming: a header block a byte at a time, then its body a byte at a time; what the
 * progress holds at each step, and a ping, a skip and a bad message after a resumed one
 * start from zero. */
Test(frame, resume_progress)
{
	const char *m = REQ "Content-Length: 3\r\n\r\nabc";
	uint32_t len = (uint32_t)strlen(m), head = len - 3, out;
	struct vd_frame_progress pr = { 0, 0 };
	for (uint32_t k = 1; k < head; k++) {
		cr_assert_eq(vd_sip_frame_resume(m, k, MAX, &pr, &out), VD_FRAME_MORE);
		cr_assert_eq(pr.searched, k > 2 ? k - 2 : 0, "%u bytes: searched %u", k, pr.searched);
		cr_assert_eq(pr.need, 0);
	}
	for (uint32_t k = head; k < len; k++) {
		cr_assert_eq(vd_sip_frame_resume(m, k, MAX, &pr, &out), VD_FRAME_MORE);
		cr_assert_eq(pr.need, len, "%u bytes: the length is known", k);
	}
	cr_assert_eq(vd_sip_frame_resume(m, len, MAX, &pr, &out), VD_FRAME_MESSAGE);
	cr_assert_eq(out, len);
	cr_assert(pr.searched == 0 && pr.need == 0, "zeroed for the next message");
	cr_assert_eq(vd_sip_frame_resume("\r\n\r\n", 4, MAX, &pr, &out), VD_FRAME_PING);
	cr_assert(pr.searched == 0 && pr.need == 0);
	/* a header block with no end, over max: too large, then zeroed */
	char big[600];
	memset(big, 'a', sizeof(big));
	for (uint32_t k = 100; k <= 512; k += 100)
		cr_assert_eq(vd_sip_frame_resume(big, k, 512, &pr, &out), VD_FRAME_MORE);
	cr_assert_eq(vd_sip_frame_resume(big, 512, 512, &pr, &out), VD_FRAME_TOO_LARGE);
	cr_assert(pr.searched == 0 && pr.need == 0);
}
