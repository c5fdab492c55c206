// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --stuck STATE=DURATION while tracing. Sockets in a watched state sit in a hash table keyed by
 * cookie; each rule keeps a FIFO of (cookie, entry time) in the order sockets entered its state,
 * so a tick only looks at the oldest entries: O(1) per socket, however many come and go. Entries
 * whose socket has moved on are dropped when they reach the head.
 */
#include <stdlib.h>
#include <string.h>
#include "stuck.h"

struct watched {
	uint64_t cookie; /* 0 = empty slot */
	uint64_t entered;
	uint8_t alerted;
	uint8_t at_least;   /* predates the tracer: entered is a lower bound */
	struct tt_event ev; /* the transition into the state: owner, addresses */
};

struct fifo_item {
	uint64_t cookie;
	uint64_t entered;
};

struct fifo {
	struct fifo_item *items;
	size_t head, len, cap; /* ring of cap (power of two) items */
};

struct rule {
	int state;
	uint64_t ns;
	struct fifo q;
};

struct stuck {
	struct watched *slots;
	size_t cap; /* power of two */
	size_t used;
	int nrules;
	struct rule rules[TT_MAX_STUCK];
	stuck_alert_fn alert;
	void *ctx;
	int oom;
};

static size_t slot_of(const struct stuck *s, uint64_t cookie)
{
	/* Cookies are sequential: mix the bits before masking. */
	uint64_t h = cookie * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (s->cap - 1);
}

static struct watched *find(struct stuck *s, uint64_t cookie)
{
	for (size_t i = slot_of(s, cookie);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i].cookie == cookie)
			return &s->slots[i];
		if (!s->slots[i].cookie)
			return NULL;
	}
}

static int grow(struct stuck *s)
{
	size_t old_cap = s->cap;
	struct watched *old = s->slots;
	struct watched *slots = calloc(old_cap * 2, sizeof(*slots));

	if (!slots)
		return -1;
	s->slots = slots;
	s->cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].cookie)
			continue;
		size_t j = slot_of(s, old[i].cookie);

		while (s->slots[j].cookie)
			j = (j + 1) & (s->cap - 1);
		s->slots[j] = old[i];
	}
	free(old);
	return 0;
}

static struct watched *insert(struct stuck *s, uint64_t cookie)
{
	struct watched *w = find(s, cookie);
	size_t i;

	if (w)
		return w;
	if ((s->used + 1) * 2 > s->cap && grow(s))
		return NULL;
	for (i = slot_of(s, cookie); s->slots[i].cookie; i = (i + 1) & (s->cap - 1))
		;
	s->used++;
	s->slots[i].cookie = cookie;
	return &s->slots[i];
}

/* Linear-probing delete by backward shift, so lookups never need tombstones. */
static void erase(struct stuck *s, struct watched *w)
{
	size_t i = (size_t)(w - s->slots), j = i;

	s->slots[i].cookie = 0;
	s->used--;
	for (;;) {
		j = (j + 1) & (s->cap - 1);
		if (!s->slots[j].cookie)
			return;
		size_t home = slot_of(s, s->slots[j].cookie);

		/* Move j back into the hole unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			s->slots[i] = s->slots[j];
			s->slots[j].cookie = 0;
			i = j;
		}
	}
}

static int fifo_push(struct fifo *q, uint64_t cookie, uint64_t entered)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct fifo_item *items = malloc(cap * sizeof(*items));

		if (!items)
			return -1;
		for (size_t k = 0; k < q->len; k++)
			items[k] = q->items[(q->head + k) & (q->cap - 1)];
		free(q->items);
		q->items = items;
		q->cap = cap;
		q->head = 0;
	}
	q->items[(q->head + q->len) & (q->cap - 1)] = (struct fifo_item){cookie, entered};
	q->len++;
	return 0;
}

static struct rule *rule_for(struct stuck *s, int state)
{
	for (int i = 0; i < s->nrules; i++) {
		if (s->rules[i].state == state)
			return &s->rules[i];
	}
	return NULL;
}

struct stuck *stuck_new(const struct stuck_rule *rules, int nrules, stuck_alert_fn alert, void *ctx)
{
	struct stuck *s;

	if (nrules < 0 || nrules > TT_MAX_STUCK)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = 1024;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	s->nrules = nrules;
	for (int i = 0; i < nrules; i++) {
		s->rules[i].state = rules[i].state;
		s->rules[i].ns = rules[i].ns;
	}
	s->alert = alert;
	s->ctx = ctx;
	return s;
}

static void watch(struct stuck *s, const struct tt_event *e, struct rule *r, int at_least)
{
	struct watched *w = insert(s, e->sock_cookie);

	if (!w || fifo_push(&r->q, e->sock_cookie, e->ts_ns)) {
		s->oom = 1;
		if (w)
			erase(s, w);
		return;
	}
	w->entered = e->ts_ns;
	w->alerted = 0;
	w->at_least = (uint8_t)at_least;
	w->ev = *e;
}

void stuck_update(struct stuck *s, const struct tt_event *e)
{
	struct rule *r;
	struct watched *w;

	if (e->type != TT_EV_STATE || !e->sock_cookie)
		return;
	r = rule_for(s, e->newstate);
	if (r) {
		watch(s, e, r, 0);
		return;
	}
	w = find(s, e->sock_cookie);
	if (w)
		erase(s, w);
}

void stuck_seed_socket(struct stuck *s, const struct tt_event *e)
{
	struct rule *r = rule_for(s, e->newstate);

	/* An event may have beaten the walk to this socket; the event knows better. */
	if (r && e->sock_cookie && !find(s, e->sock_cookie))
		watch(s, e, r, !!(e->flags & TT_F_DELTA_MIN));
}

void stuck_tick(struct stuck *s, uint64_t now)
{
	for (int i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		struct fifo *q = &r->q;

		while (q->len) {
			struct fifo_item it = q->items[q->head];
			struct watched *w = find(s, it.cookie);

			if (w && w->entered == it.entered && w->ev.newstate == r->state) {
				if (now - it.entered < r->ns)
					break;
				if (!w->alerted) {
					struct tt_event a = w->ev;

					w->alerted = 1;
					a.type = TT_EV_STUCK;
					a.oldstate = (uint8_t)r->state;
					a.newstate = (uint8_t)r->state;
					a.ts_ns = now;
					a.delta_ns = now - it.entered;
					a.flags = (uint16_t)((a.flags & TT_F_OWNER_KNOWN) |
							     TT_F_DELTA_KNOWN |
							     (w->at_least ? TT_F_DELTA_MIN : 0));
					s->alert(s->ctx, &a);
				}
			}
			q->head = (q->head + 1) & (q->cap - 1);
			q->len--;
		}
	}
}

uint64_t stuck_tracked(const struct stuck *s)
{
	return s->used;
}

void stuck_free(struct stuck *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nrules; i++)
		free(s->rules[i].q.items);
	free(s->slots);
	free(s);
}
