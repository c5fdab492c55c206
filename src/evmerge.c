// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The CPU rings and the shared ring's records, in order of time (evmerge.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "evmerge.h"

#define MIN_SHIFT 10
#define NONE	  UINT32_MAX

struct evmerge_side {
	struct tt_event ev;
	size_t len;
};

unsigned int evmerge_slot_shift(uint64_t bytes, unsigned int ncpus)
{
	uint64_t slots = bytes / sizeof(struct tt_event) / (ncpus ? ncpus : 1);
	unsigned int shift = MIN_SHIFT;

	while (shift < 31 && slots >> (shift + 1))
		shift++;
	/* Slot numbers are 32 bits on the BPF side. */
	while (shift > MIN_SHIFT && ((uint64_t)ncpus << shift) > UINT32_MAX)
		shift--;
	return shift;
}

int evmerge_init(struct evmerge *m, struct tt_ring_pos *pos, const struct tt_event *slots,
		 unsigned int ncpus, unsigned int shift)
{
	memset(m, 0, sizeof(*m));
	m->pos = pos;
	m->slots = slots;
	m->ncpus = ncpus;
	m->shift = shift;
	m->next = calloc(ncpus ? ncpus : 1, sizeof(*m->next));
	m->head = calloc(ncpus ? ncpus : 1, sizeof(*m->head));
	if (!m->next || !m->head) {
		evmerge_free(m);
		return -ENOMEM;
	}
	for (unsigned int c = 0; c < ncpus; c++) {
		m->next[c] = __atomic_load_n(&pos[c].tail, __ATOMIC_RELAXED);
		m->head[c] = m->next[c];
	}
	return 0;
}

void evmerge_free(struct evmerge *m)
{
	free(m->next);
	free(m->head);
	free(m->side);
	memset(m, 0, sizeof(*m));
}

/* In order of time: shared records come almost in order, so the place is found from the end. */
int evmerge_add(struct evmerge *m, const void *data, size_t len)
{
	const struct tt_event *e = data;
	size_t at;

	if (len > sizeof(struct tt_event))
		len = sizeof(struct tt_event);
	if (m->side_len == m->side_cap) {
		if (m->side_first) {
			memmove(m->side, m->side + m->side_first,
				(m->side_len - m->side_first) * sizeof(*m->side));
			m->side_len -= m->side_first;
			m->side_first = 0;
		} else {
			size_t cap = m->side_cap ? m->side_cap * 2 : 64;
			struct evmerge_side *s = realloc(m->side, cap * sizeof(*s));

			if (!s)
				return -ENOMEM;
			m->side = s;
			m->side_cap = cap;
		}
	}
	at = m->side_len;
	/* A record too short for a time goes last, as it came: the reader reports it. */
	while (at > m->side_first && len >= sizeof(e->ts_ns) && m->side[at - 1].ev.ts_ns > e->ts_ns)
		at--;
	memmove(m->side + at + 1, m->side + at, (m->side_len - at) * sizeof(*m->side));
	memset(&m->side[at].ev, 0, sizeof(m->side[at].ev));
	memcpy(&m->side[at].ev, data, len);
	m->side[at].len = len;
	m->side_len++;
	return 0;
}

void evmerge_look(struct evmerge *m)
{
	/* Acquire: the records up to head are all written (the BPF side stores head last). */
	for (unsigned int c = 0; c < m->ncpus; c++)
		m->head[c] = __atomic_load_n(&m->pos[c].head, __ATOMIC_ACQUIRE);
}

static const struct tt_event *slot_of(const struct evmerge *m, unsigned int cpu, uint64_t n)
{
	return &m->slots[((uint64_t)cpu << m->shift) | (n & ((1ULL << m->shift) - 1))];
}

/* A CPU ring's record is as long as the BPF side copied. */
static size_t slot_len(const struct tt_event *e)
{
	return e->flags & TT_F_TOTALS ? sizeof(*e) : TT_EVENT_BASE_SIZE;
}

static void free_slots(struct evmerge *m)
{
	for (unsigned int c = 0; c < m->ncpus; c++)
		if (m->pos[c].tail != m->next[c])
			__atomic_store_n(&m->pos[c].tail, m->next[c], __ATOMIC_RELEASE);
}

int evmerge_run(struct evmerge *m, uint64_t until, evmerge_fn fn, void *ctx)
{
	int n = 0, ret = 0;

	for (;;) {
		uint64_t best_ts = until;
		unsigned int best = NONE;
		const struct tt_event *e;

		/* Each CPU's ring is in order of time (but held children): the oldest first one. */
		for (unsigned int c = 0; c < m->ncpus; c++) {
			if (m->next[c] == m->head[c])
				continue;
			e = slot_of(m, c, m->next[c]);
			if (e->ts_ns < best_ts) {
				best_ts = e->ts_ns;
				best = c;
			}
		}
		if (m->side_first < m->side_len && m->side[m->side_first].ev.ts_ns < best_ts) {
			struct evmerge_side *s = &m->side[m->side_first++];

			/* Copied out first: fn may add records behind it. */
			struct evmerge_side rec = *s;

			if (m->side_first == m->side_len)
				m->side_first = m->side_len = 0;
			ret = fn(ctx, &rec.ev, rec.len);
		} else if (best != NONE) {
			e = slot_of(m, best, m->next[best]);
			/* The slot stays ours until its tail moves past it, after fn. */
			ret = fn(ctx, (void *)e, slot_len(e));
			m->next[best]++;
		} else {
			break;
		}
		if (n < INT32_MAX)
			n++;
		if (ret)
			break;
	}
	free_slots(m);
	return ret ? ret : n;
}
