/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Edit-list tests: in-place application must equal a naive rebuild (concatenate the kept
 * segments and the inserts) for any mix of growing and shrinking edits, keep the bytes from
 * the anchor on where they were, and refuse when the headroom is too small.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"

#define HEADROOM 256
#define BODY 64

/* Naive reference: a fresh buffer built front to back. */
static size_t reference(const char *src, size_t len, const struct vd_edits *ed, char *out)
{
	size_t w = 0, pos = 0;
	for (unsigned k = 0; k < ed->n; k++) {
		memcpy(out + w, src + pos, ed->e[k].off - pos);
		w += ed->e[k].off - pos;
		memcpy(out + w, ed->e[k].ins, ed->e[k].ins_len);
		w += ed->e[k].ins_len;
		pos = ed->e[k].off + ed->e[k].del;
	}
	memcpy(out + w, src + pos, len - pos);
	return w + len - pos;
}

Test(edit, random_edit_lists_match_the_naive_rebuild)
{
	static const char *const texts[] = { "", "X", "Via: SIP/2.0/UDP 10.0.0.1:5060\r\n",
					     ";received=192.0.2.1", "=40000", "69" };
	char orig[400], buf[HEADROOM + 400], want[800];
	unsigned seed = 7;
	for (int round = 0; round < 20000; round++) {
		size_t hdr = 40 + (size_t)(round % 200), len = hdr + BODY;
		for (size_t i = 0; i < len; i++)
			orig[i] = (char)('!' + (i * 7 + (size_t)round) % 90);
		struct vd_edits ed;
		vd_edits_init(&ed);
		uint32_t pos = 0;
		while (ed.n < 6) {
			seed = seed * 1103515245u + 12345u;
			uint32_t gap = (seed >> 8) % 30, del = (seed >> 16) % 12;
			if (pos + gap + del > hdr)
				break;
			const char *t = texts[(seed >> 24) % 6];
			vd_edits_add(&ed, pos + gap, del, t, (uint32_t)strlen(t));
			pos += gap + del;
		}
		size_t want_len = reference(orig, len, &ed, want);
		memcpy(buf + HEADROOM, orig, len);
		struct vd_pktbuf pkt = { buf, sizeof(buf), HEADROOM, (uint32_t)len };
		cr_assert_eq(vd_edits_apply(&pkt, (uint32_t)hdr, &ed), 0);
		cr_assert_eq(pkt.len, want_len, "round %d", round);
		cr_assert(memcmp(buf + pkt.off, want, want_len) == 0, "round %d", round);
		/* the body did not move */
		cr_assert(memcmp(buf + HEADROOM + hdr, orig + hdr, BODY) == 0, "round %d", round);
		/* out-of-place copy of the whole range gives the same bytes */
		char copy[800];
		int n = vd_edits_copy(copy, sizeof(copy), orig, 0, (uint32_t)len, &ed);
		cr_assert_eq((size_t)n, want_len);
		cr_assert(memcmp(copy, want, want_len) == 0);
	}
}

Test(edit, too_little_headroom_is_refused_and_leaves_the_packet_alone)
{
	char buf[64] = "....Via: x\r\n\r\n";
	struct vd_pktbuf pkt = { buf, sizeof(buf), 4, 10 };
	struct vd_edits ed;
	vd_edits_init(&ed);
	vd_edits_add(&ed, 0, 0, "Max-Forwards: 70\r\n", 18);
	cr_expect_eq(vd_edits_apply(&pkt, 10, &ed), -1);
	cr_expect_eq(pkt.off, 4);
	cr_expect_eq(pkt.len, 10);
	cr_expect(memcmp(buf, "....Via: x\r\n", 12) == 0);
}

Test(edit, ties_keep_the_order_added_and_the_list_has_a_bound)
{
	char buf[64], *p;
	memcpy(buf + 32, "B\r\n", 3);
	struct vd_pktbuf pkt = { buf, sizeof(buf), 32, 3 };
	struct vd_edits ed;
	vd_edits_init(&ed);
	vd_edits_add(&ed, 0, 0, "1", 1);
	vd_edits_add(&ed, 0, 0, "2", 1);
	cr_assert_eq(vd_edits_apply(&pkt, 1, &ed), 0);
	p = buf + pkt.off;
	cr_expect(memcmp(p, "12B\r\n", 5) == 0);
	vd_edits_init(&ed);
	for (int i = 0; i < VD_EDITS_MAX; i++)
		cr_expect_eq(vd_edits_add(&ed, 0, 0, "x", 1), 0);
	cr_expect_eq(vd_edits_add(&ed, 0, 0, "x", 1), -1, "a full list says so");
	cr_expect_null(vd_edits_text(&ed, VD_EDITS_SCRATCH + 1));
}

/* Edits at one offset land in rank order whatever order the callers add them in: a suffix
 * (completes the text before the offset), then inserts, then a replacement. This is the
 * contract the Via rewrite relies on: ";rport" last gets "=PORT" glued to it before the
 * appended ";received=IP". */
Test(edit, edits_at_one_offset_land_in_rank_order_whatever_the_order_added)
{
	static const char orig[] = "v: a;rport\r\nX: 69\r\n";
	static const char want[] = "v: a;rport=1234;received=1.2.3.4\r\nX: 68\r\n";
	const uint32_t end = 10; /* one past ";rport" */
	for (int order = 0; order < 2; order++) {
		char buf[128];
		memcpy(buf + 64, orig, sizeof(orig) - 1);
		struct vd_pktbuf pkt = { buf, sizeof(buf), 64, sizeof(orig) - 1 };
		struct vd_edits ed;
		vd_edits_init(&ed);
		if (order == 0) {
			cr_assert_eq(vd_edits_add(&ed, end, 0, ";received=1.2.3.4", 17), 0);
			cr_assert_eq(vd_edits_add_suffix(&ed, end, "=1234", 5), 0);
		} else {
			cr_assert_eq(vd_edits_add_suffix(&ed, end, "=1234", 5), 0);
			cr_assert_eq(vd_edits_add(&ed, end, 0, ";received=1.2.3.4", 17), 0);
		}
		cr_assert_eq(vd_edits_add(&ed, 15, 2, "68", 2), 0);
		cr_assert_eq(vd_edits_apply(&pkt, sizeof(orig) - 1, &ed), 0);
		cr_expect_eq(pkt.len, sizeof(want) - 1);
		cr_expect(memcmp(buf + pkt.off, want, pkt.len) == 0, "order %d: %.*s", order,
			  (int)pkt.len, buf + pkt.off);
		char copy[128];
		int n = vd_edits_copy(copy, sizeof(copy), orig, 0, sizeof(orig) - 1, &ed);
		cr_expect(n == (int)sizeof(want) - 1 && memcmp(copy, want, (size_t)n) == 0);
	}

	/* an insert at the start of a replaced range goes in front of the replacement */
	struct vd_edits ed;
	vd_edits_init(&ed);
	cr_assert_eq(vd_edits_add(&ed, 4, 2, "YY", 2), 0);
	cr_assert_eq(vd_edits_add(&ed, 4, 0, "i", 1), 0);
	char copy[32];
	int n = vd_edits_copy(copy, sizeof(copy), "abcdefgh", 0, 8, &ed);
	cr_expect(n == 9 && memcmp(copy, "abcdiYYgh", 9) == 0, "%.*s", n, copy);
}

Test(edit, overlapping_edits_are_refused_and_leave_the_list_unchanged)
{
	struct vd_edits ed;
	vd_edits_init(&ed);
	cr_assert_eq(vd_edits_add(&ed, 10, 5, NULL, 0), 0);
	cr_expect_eq(vd_edits_add(&ed, 12, 0, "x", 1), -1, "insert inside a deleted range");
	cr_expect_eq(vd_edits_add(&ed, 8, 4, NULL, 0), -1, "deletion running into another");
	cr_expect_eq(vd_edits_add(&ed, 14, 3, NULL, 0), -1, "deletion starting inside another");
	cr_expect_eq(vd_edits_add(&ed, 10, 1, "y", 1), -1, "two replacements of one byte");
	cr_expect_eq(ed.n, 1);
	cr_expect_eq(vd_edits_add(&ed, 15, 0, "z", 1), 0, "an insert where the deletion ends");
	cr_expect_eq(vd_edits_add(&ed, 10, 0, "w", 1), 0, "an insert where the deletion starts");
	cr_expect_eq(vd_edits_add(&ed, 5, 5, NULL, 0), 0, "a deletion that ends where it starts");
	cr_expect_eq(ed.n, 4);
}
