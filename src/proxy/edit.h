/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Edit lists: the proxy's only way to change a message.
 *
 * Decisions record edits (delete `del` bytes at `off`, insert `ins`) against the ORIGINAL
 * offsets of the scanned message; vd_edits_apply() then moves every header byte at most once,
 * in place. The body is the fixed point: it never moves and stays byte-identical, the header
 * section grows into the headroom (or shrinks away from it). vd_edits_copy() applies the same
 * edits while copying a range out (used to build replies).
 *
 * Inserted text must not point into the packet (apply moves packet bytes before writing
 * inserts): copy such text into the list's scratch first with vd_edits_text().
 */
#ifndef VD_PROXY_EDIT_H
#define VD_PROXY_EDIT_H

#include <stdint.h>

#include "viaduct/proxy.h"

#define VD_EDITS_MAX 16
#define VD_EDITS_SCRATCH 1024

/*
 * Where an edit sits among edits at the same offset (the sort key after the offset), so that
 * the result does not depend on the order in which callers add edits:
 *   VD_EDIT_SUFFIX   an insert that completes the text ending at `off`, e.g. "=40123" after
 *                    ";rport": it must stay glued to that text, so it comes first;
 *   VD_EDIT_INSERT   new text starting at `off` (a parameter appended after a Via value, a
 *                    line in front of a line): after the suffixes, in the order added;
 *   VD_EDIT_REPLACE  an edit that deletes bytes from `off` on (with or without new text):
 *                    last, since whatever is inserted at `off` goes in front of what it
 *                    removes.
 */
enum vd_edit_rank { VD_EDIT_SUFFIX = 0, VD_EDIT_INSERT, VD_EDIT_REPLACE };

struct vd_edit {
	uint32_t off; /* original offset, relative to the message start */
	uint32_t del;
	const char *ins;
	uint16_t ins_len; /* inserts are header text: our Via line at most */
	uint8_t rank;     /* enum vd_edit_rank */
};

struct vd_edits {
	unsigned n;
	uint32_t used; /* bytes of scratch in use */
	struct vd_edit e[VD_EDITS_MAX];
	char scratch[VD_EDITS_SCRATCH];
};

static inline void vd_edits_init(struct vd_edits *ed)
{
	ed->n = 0;
	ed->used = 0;
}

/** Add an edit: an insert (del == 0, rank VD_EDIT_INSERT) or a replacement of `del` bytes
 * (rank VD_EDIT_REPLACE). Edits are kept sorted by (offset, rank), equal keys in the order
 * added. Returns 0, or -1 when the list is full or the edit overlaps the range another edit
 * deletes (the list is then unchanged). */
int vd_edits_add(struct vd_edits *ed, uint32_t off, uint32_t del, const char *ins,
		 uint32_t ins_len);

/** Add an insert that completes the text ending at `off` (rank VD_EDIT_SUFFIX): it goes in
 * front of every other edit at `off`, whenever it is added. Returns as vd_edits_add(). */
int vd_edits_add_suffix(struct vd_edits *ed, uint32_t off, const char *ins, uint32_t ins_len);

/** Reserve n bytes of scratch for inserted text; NULL when full. */
char *vd_edits_text(struct vd_edits *ed, uint32_t n);

/** Net size change of the edits. */
int32_t vd_edits_delta(const struct vd_edits *ed);

/**
 * Apply edits to pkt in place. Bytes from `anchor` (relative to the data start, after every
 * edit) to the end stay where they are; the data start moves by minus the net delta.
 * Returns 0, or -1 when the headroom is too small (pkt unchanged).
 */
int vd_edits_apply(struct vd_pktbuf *pkt, uint32_t anchor, const struct vd_edits *ed);

/**
 * Copy src[from, to) to dst applying the edits that fall in that range.
 * Returns bytes written, or -1 if dst_cap is too small.
 */
int vd_edits_copy(char *dst, uint32_t dst_cap, const char *src, uint32_t from, uint32_t to,
		  const struct vd_edits *ed);

#endif
