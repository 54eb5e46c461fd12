/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Edit list application. See edit.h for the contract.
 *
 * In-place application moves the unchanged segments between edits so that the byte at the
 * anchor stays put. A segment moving left can only land on bytes of segments before it, a
 * segment moving right only on bytes after it; so all left-movers are moved first in
 * increasing order, then all right-movers in decreasing order, and only then are the inserts
 * written into the gaps. Every header byte moves at most once: one pass.
 */
#include <string.h>

#include "edit.h"

/* Insert in (offset, rank) order; parameters instead of a struct by value keep the common
 * case (append at the end) to a few register moves. */
static inline int add_ranked(struct vd_edits *ed, uint32_t off, uint32_t del, const char *ins,
			     uint32_t ins_len, uint8_t rank)
{
	unsigned n = ed->n, i = n;
	if (n >= VD_EDITS_MAX || ins_len > UINT16_MAX)
		return -1;
	while (i > 0 && (ed->e[i - 1].off > off || (ed->e[i - 1].off == off && ed->e[i - 1].rank > rank)))
		i--;
	/* no overlap: the edit before must end by our offset, ours by the next one's */
	if ((i > 0 && ed->e[i - 1].off + ed->e[i - 1].del > off) || (i < n && off + del > ed->e[i].off))
		return -1;
	for (unsigned k = n; k > i; k--) /* usually none or one: no memmove call */
		ed->e[k] = ed->e[k - 1];
	struct vd_edit *e = &ed->e[i];
	e->off = off;
	e->del = del;
	e->ins = ins;
	e->ins_len = (uint16_t)ins_len;
	e->rank = rank;
	ed->n = n + 1;
	return 0;
}

int vd_edits_add(struct vd_edits *ed, uint32_t off, uint32_t del, const char *ins,
		 uint32_t ins_len)
{
	return add_ranked(ed, off, del, ins, ins_len, del ? VD_EDIT_REPLACE : VD_EDIT_INSERT);
}

int vd_edits_add_suffix(struct vd_edits *ed, uint32_t off, const char *ins, uint32_t ins_len)
{
	return add_ranked(ed, off, 0, ins, ins_len, VD_EDIT_SUFFIX);
}

char *vd_edits_text(struct vd_edits *ed, uint32_t n)
{
	if (n > VD_EDITS_SCRATCH - ed->used)
		return NULL;
	char *p = ed->scratch + ed->used;
	ed->used += n;
	return p;
}

int32_t vd_edits_delta(const struct vd_edits *ed)
{
	int32_t d = 0;
	for (unsigned i = 0; i < ed->n; i++)
		d += (int32_t)ed->e[i].ins_len - (int32_t)ed->e[i].del;
	return d;
}

/* Unchanged segment k: [start, end) in original offsets, moved by `shift`. */
struct segment {
	uint32_t start, end;
	int32_t shift;
};

int vd_edits_apply(struct vd_pktbuf *pkt, uint32_t anchor, const struct vd_edits *ed)
{
	int32_t total = vd_edits_delta(ed);
	if (total > (int32_t)pkt->off)
		return -1;
	char *data = pkt->base + pkt->off;
	struct segment seg[VD_EDITS_MAX + 1];

	int32_t cum = 0; /* size change of the edits before segment k: one running sum */
	for (unsigned k = 0; k <= ed->n; k++) {
		uint32_t start = k == 0 ? 0 : ed->e[k - 1].off + ed->e[k - 1].del;
		uint32_t end = k < ed->n ? ed->e[k].off : anchor;
		seg[k] = (struct segment){ start, end, cum - total };
		if (k < ed->n)
			cum += (int32_t)ed->e[k].ins_len - (int32_t)ed->e[k].del;
	}
	for (unsigned k = 0; k <= ed->n; k++)
		if (seg[k].shift < 0 && seg[k].end > seg[k].start)
			memmove(data + seg[k].start + seg[k].shift, data + seg[k].start,
				seg[k].end - seg[k].start);
	for (unsigned k = ed->n + 1; k-- > 0;)
		if (seg[k].shift > 0 && seg[k].end > seg[k].start)
			memmove(data + seg[k].start + seg[k].shift, data + seg[k].start,
				seg[k].end - seg[k].start);
	/* insert k lands where edit k's deleted range began, shifted like the segment before it */
	for (unsigned k = 0; k < ed->n; k++)
		if (ed->e[k].ins_len)
			memcpy(data + ed->e[k].off + seg[k].shift, ed->e[k].ins, ed->e[k].ins_len);
	pkt->off = (uint32_t)((int32_t)pkt->off - total);
	pkt->len = (uint32_t)((int32_t)pkt->len + total);
	return 0;
}

int vd_edits_copy(char *dst, uint32_t dst_cap, const char *src, uint32_t from, uint32_t to,
		  const struct vd_edits *ed)
{
	uint32_t w = 0, pos = from;
	for (unsigned k = 0; k <= ed->n; k++) {
		bool last = k == ed->n;
		uint32_t stop = last ? to : ed->e[k].off;
		if (!last && (stop < from || stop >= to))
			continue; /* edit outside the copied range */
		if (stop > pos) {
			if (stop - pos > dst_cap - w)
				return -1;
			memcpy(dst + w, src + pos, stop - pos);
			w += stop - pos;
		}
		if (last)
			break;
		if (ed->e[k].ins_len > dst_cap - w)
			return -1;
		if (ed->e[k].ins_len)
			memcpy(dst + w, ed->e[k].ins, ed->e[k].ins_len);
		w += ed->e[k].ins_len;
		pos = stop + ed->e[k].del;
	}
	return (int)w;
}
