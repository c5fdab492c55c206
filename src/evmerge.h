/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_EVMERGE_H
#define TT_EVMERGE_H

/*
 * The records of the CPU rings (include/tcptrail.h: struct tt_ring_pos) and of the shared ring
 * buffer, handed on in order of time. Pure: the rings are memory (the maps' mmap, or a test's
 * arrays), the shared ring's records are added by the caller.
 *
 * A record goes out only once its time is before `until`, a clock read before the rings were
 * looked at: a record still being written then may be missed by this read, but everything that
 * happened after it (the same socket's next transition, under the socket's lock) has a later
 * time and waits for the next read too. So each socket's events keep their order, though the
 * CPUs write without a lock.
 *
 * Two exceptions: a child's first event, held by the BPF side until the child's next transition
 * (bpf/children.bpf.h), is written just before that transition with its older time, so it comes
 * out with it, in its place; and a shared record committed behind one still being written is
 * read a read later, after CPU records younger than it: those are accepted sockets' records,
 * which the reader matches by cookie, not by place.
 */
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "tcptrail.h"

/* What a record is handed to; nonzero stops the read (after this record) and is returned. */
typedef int (*evmerge_fn)(void *ctx, void *data, size_t len);

struct evmerge_side; /* a shared ring's record waiting for its time */

struct evmerge {
	struct tt_ring_pos *pos;      /* per CPU */
	const struct tt_event *slots; /* CPU after CPU, 1 << shift each */
	unsigned int ncpus;
	unsigned int shift;
	uint64_t *next; /* per CPU: the next record to read */
	uint64_t *head; /* per CPU: records written, as last read */
	struct evmerge_side *side;
	size_t side_first, side_len, side_cap;
};

/* The log2 of each CPU's slots for a budget of bytes shared by ncpus CPUs: 10 at least. */
unsigned int evmerge_slot_shift(uint64_t bytes, unsigned int ncpus);

/* Reads rings at pos and slots from where their tails stand: 0, or -ENOMEM. */
int evmerge_init(struct evmerge *m, struct tt_ring_pos *pos, const struct tt_event *slots,
		 unsigned int ncpus, unsigned int shift);
void evmerge_free(struct evmerge *m);

/* A record of the shared ring (copied, at most a struct tt_event): 0, or -ENOMEM. */
int evmerge_add(struct evmerge *m, const void *data, size_t len);

/* Looks at where each CPU's ring stands: call before adding the shared ring's records. */
void evmerge_look(struct evmerge *m);

/*
 * Hands on the records looked at whose time is before until, oldest first, and frees their
 * slots: how many, or fn's nonzero return.
 */
int evmerge_run(struct evmerge *m, uint64_t until, evmerge_fn fn, void *ctx);

#endif
