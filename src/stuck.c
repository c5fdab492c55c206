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
#include "table.h"

struct watched {
	uint64_t cookie; /* the key */
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
	struct table watched; /* struct watched by cookie */
	int nrules;
	struct rule rules[TT_MAX_STUCK];
	stuck_alert_fn alert;
	void *ctx;
	uint64_t unwatched; /* sockets not watched: out of memory */
};

static struct watched *find(struct stuck *s, uint64_t cookie)
{
	return table_find_cookie(&s->watched, cookie, sizeof(struct watched));
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
	/* looked up on every event: kept at most half full */
	table_init(&s->watched, sizeof(struct watched), sizeof(uint64_t), NULL);
	s->watched.sparse = 1;
	if (table_reserve(&s->watched, 1024)) {
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
	struct watched *w = find(s, e->sock_cookie);

	if (!w)
		w = table_add_cookie_unzeroed(&s->watched, e->sock_cookie, sizeof(*w));
	if (!w || fifo_push(&r->q, e->sock_cookie, e->ts_ns)) {
		s->unwatched++;
		if (w)
			table_del_cookie(&s->watched, w, sizeof(*w));
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
		table_del_cookie(&s->watched, w, sizeof(*w));
}

void stuck_seed_socket(struct stuck *s, const struct tt_event *e)
{
	struct rule *r = rule_for(s, e->newstate);

	/* An event may have beaten the walk to this socket; the event knows better. */
	if (r && e->sock_cookie && !find(s, e->sock_cookie))
		watch(s, e, r, !!(e->flags & TT_F_DELTA_MIN));
}

size_t stuck_tick(struct stuck *s, uint64_t now, size_t max)
{
	size_t raised = 0;

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

					/* Left at the head: raised by a later tick, with more time. */
					if (raised == max)
						return raised;
					raised++;
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
	return raised;
}

uint64_t stuck_unwatched(const struct stuck *s)
{
	return s->unwatched;
}

uint64_t stuck_tracked(const struct stuck *s)
{
	return s->watched.n;
}

void stuck_free(struct stuck *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nrules; i++)
		free(s->rules[i].q.items);
	table_free(&s->watched);
	free(s);
}
