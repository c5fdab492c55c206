// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Pre-accept events held until their acceptor is known: a ring of slots in arrival order, each
 * connection's slots chained, and a cookie table pointing at each chain's first and last slot.
 */
#include <stdlib.h>
#include <string.h>
#include "acceptq.h"
#include "table.h"

#define NONE UINT32_MAX

struct held {
	struct tt_event ev;
	uint64_t at;
	uint32_t next; /* the connection's next held slot, or NONE */
	int live;      /* 0 once sent (the ring's head skips it) */
};

struct chain {
	uint64_t cookie; /* the key: the table's first 8 bytes */
	uint32_t first, last;
};

struct acceptq {
	struct held *slots;
	size_t cap, head, n; /* n: slots from head on, sent ones included */
	size_t live;
	uint64_t max_age, refused;
	struct table chains;
};

struct acceptq *acceptq_new(size_t cap, uint64_t max_age_ns)
{
	struct acceptq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->slots = calloc(cap ? cap : 1, sizeof(*q->slots));
	if (!q->slots) {
		free(q);
		return NULL;
	}
	q->cap = cap ? cap : 1;
	q->max_age = max_age_ns;
	table_init(&q->chains, sizeof(struct chain), sizeof(uint64_t), NULL);
	return q;
}

void acceptq_free(struct acceptq *q)
{
	if (!q)
		return;
	table_free(&q->chains);
	free(q->slots);
	free(q);
}

static struct chain *chain_of(const struct acceptq *q, uint64_t cookie)
{
	return cookie ? table_find(&q->chains, &cookie) : NULL;
}

int acceptq_holds(const struct acceptq *q, uint64_t cookie)
{
	/* Asked for every event: nothing held (the usual case) is one load, not a table probe. */
	return q->live && chain_of(q, cookie) != NULL;
}

int acceptq_hold(struct acceptq *q, const struct tt_event *e, uint64_t now)
{
	struct chain *c;
	struct held *h;
	uint32_t i;

	if (!e->sock_cookie || q->n == q->cap) {
		q->refused++;
		return -1;
	}
	c = chain_of(q, e->sock_cookie);
	if (!c) {
		c = table_add(&q->chains, &e->sock_cookie);
		if (!c) {
			q->refused++;
			return -1;
		}
		c->first = NONE;
	}
	i = (uint32_t)((q->head + q->n) % q->cap);
	h = &q->slots[i];
	h->ev = *e;
	h->at = now;
	h->next = NONE;
	h->live = 1;
	if (c->first == NONE)
		c->first = i;
	else
		q->slots[c->last].next = i;
	c->last = i;
	q->n++;
	q->live++;
	return 0;
}

/* Drops the sent slots at the head of the ring. */
static void trim(struct acceptq *q)
{
	while (q->n && !q->slots[q->head].live) {
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
}

void acceptq_release(struct acceptq *q, uint64_t cookie, const struct tt_event *owner,
		     acceptq_emit_fn emit, void *ctx)
{
	struct chain *c = chain_of(q, cookie);
	uint32_t i;

	if (!c)
		return;
	for (i = c->first; i != NONE; i = q->slots[i].next) {
		struct held *h = &q->slots[i];

		if (owner && (owner->flags & TT_F_OWNER_KNOWN)) {
			h->ev.pid = owner->pid;
			memcpy(h->ev.comm, owner->comm, sizeof(h->ev.comm));
			h->ev.flags |= TT_F_OWNER_KNOWN;
		}
		h->live = 0;
		q->live--;
		emit(ctx, &h->ev);
	}
	table_del(&q->chains, c);
	trim(q);
}

void acceptq_expire(struct acceptq *q, uint64_t now, acceptq_emit_fn emit, void *ctx)
{
	/* The oldest live slot is at the head once sent ones are trimmed. */
	while (q->n && now - q->slots[q->head].at >= q->max_age)
		acceptq_release(q, q->slots[q->head].ev.sock_cookie, NULL, emit, ctx);
}

void acceptq_flush(struct acceptq *q, acceptq_emit_fn emit, void *ctx)
{
	while (q->n)
		acceptq_release(q, q->slots[q->head].ev.sock_cookie, NULL, emit, ctx);
}

size_t acceptq_count(const struct acceptq *q)
{
	return q->live;
}

uint64_t acceptq_refused(const struct acceptq *q)
{
	return q->refused;
}
