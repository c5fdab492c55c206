// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * replay --html's connections: the open ones, found by socket cookie, and the lanes kept for the
 * page, a bounded min-heap by how much a connection is worth showing. Pure.
 */
#include <stdlib.h>
#include "html_priv.h"

static uint32_t conn_hash(uint64_t cookie, uint32_t netns)
{
	uint64_t x = (cookie ^ ((uint64_t)netns << 32)) * 0x9e3779b97f4a7c15ULL;

	return (uint32_t)(x >> 32);
}

int html_slots_grow(uint32_t **slots, uint32_t *nslots,
		    uint32_t (*hash)(const void *ctx, uint32_t v), const void *ctx)
{
	uint32_t ns = *nslots ? *nslots * 2 : 1024;
	uint32_t *sl = calloc(ns, sizeof(*sl));

	if (!sl)
		return -1;
	for (uint32_t i = 0; i < *nslots; i++) {
		uint32_t v = (*slots)[i], j;

		if (!v)
			continue;
		j = hash(ctx, v) & (ns - 1);
		while (sl[j])
			j = (j + 1) & (ns - 1);
		sl[j] = v;
	}
	free(*slots);
	*slots = sl;
	*nslots = ns;
	return 0;
}

static uint32_t conn_slot_hash(const void *ctx, uint32_t v)
{
	const struct html *h = ctx;

	return conn_hash(h->pool[v - 1].cookie, h->pool[v - 1].netns);
}

int html_idx_grow(struct html *h)
{
	return html_slots_grow(&h->idx, &h->idx_slots, conn_slot_hash, h);
}

/* The index slot of the connection, or of the empty slot where it would go. */
uint32_t html_idx_find(const struct html *h, uint64_t cookie, uint32_t netns)
{
	uint32_t j = conn_hash(cookie, netns) & (h->idx_slots - 1), v;

	while ((v = h->idx[j])) {
		if (h->pool[v - 1].cookie == cookie && h->pool[v - 1].netns == netns)
			break;
		j = (j + 1) & (h->idx_slots - 1);
	}
	return j;
}

/* Removes slot j (linear probing: the entries after it move back). */
static void idx_del(struct html *h, uint32_t j)
{
	uint32_t mask = h->idx_slots - 1, k = j;

	h->idx[j] = 0;
	for (;;) {
		uint32_t v, home;

		k = (k + 1) & mask;
		v = h->idx[k];
		if (!v)
			return;
		home = conn_hash(h->pool[v - 1].cookie, h->pool[v - 1].netns) & mask;
		/* v may move to j when j lies cyclically in [home, k) */
		if ((k > j && (home <= j || home > k)) || (k < j && home <= j && home > k)) {
			h->idx[j] = v;
			h->idx[k] = 0;
			j = k;
		}
	}
}

struct hconn *html_conn_new(struct html *h, const struct lr_record *r, uint32_t slot)
{
	const struct tt_event *e = &r->ev;
	struct hconn *c;
	uint32_t i;

	if (h->nfree) {
		i = h->freel[--h->nfree];
	} else {
		if (h->pool_used == h->pool_cap) {
			uint32_t nc = h->pool_cap ? h->pool_cap * 2 : 256;
			struct hconn *np = realloc(h->pool, (size_t)nc * sizeof(*np));
			uint32_t *nf;

			if (!np)
				return NULL;
			h->pool = np;
			nf = realloc(h->freel, (size_t)nc * sizeof(*nf));
			if (!nf)
				return NULL;
			h->freel = nf;
			h->pool_cap = nc;
		}
		i = h->pool_used++;
	}
	c = &h->pool[i];
	memset(c, 0, sizeof(*c));
	c->cookie = e->sock_cookie;
	c->netns = e->netns;
	c->seq = h->seq++;
	c->first_t = r->wall_ns;
	h->idx[slot] = i + 1;
	h->nopen++;
	h->conns++;
	return c;
}

int html_conn_push(struct hconn *c, const struct hev *v)
{
	if (c->nev == HTML_LANE_EVENTS) {
		/* the first events and the last one: how it started and how it ended */
		c->ev[c->nev - 1] = *v;
		c->dropped++;
		return 0;
	}
	if (c->nev == c->cap) {
		uint32_t nc = c->cap ? c->cap * 2 : 4;
		struct hev *ne;

		if (nc > HTML_LANE_EVENTS)
			nc = HTML_LANE_EVENTS;
		ne = realloc(c->ev, nc * sizeof(*ne));
		if (!ne)
			return -1;
		c->ev = ne;
		c->cap = nc;
	}
	c->ev[c->nev++] = *v;
	return 0;
}

uint64_t html_cw_total(const struct hconn *c, uint64_t end)
{
	uint64_t ns = c->cw_ns;

	if (c->state == TT_CLOSE_WAIT && end > c->cw_since)
		ns += end - c->cw_since;
	return ns;
}

/* What a connection is worth a lane for: alerts, resets, a leak, a long life. */
static uint8_t conn_score(const struct hconn *c, int open, uint64_t end)
{
	uint64_t life = c->fin.has ? c->fin.life_ns : 0;
	uint8_t s = 0;

	if (c->nstuck)
		s += 8;
	if (c->reset)
		s += 4;
	if (html_cw_total(c, end) >= SEC || (open && c->state == TT_CLOSE_WAIT))
		s += 2;
	if (c->last_t - c->first_t > life)
		life = c->last_t - c->first_t;
	if (open || life >= SEC)
		s += 1;
	return s;
}

/* Heap order: the lane to give up first is the least worth, and the newest among equals. */
static int lane_less(const struct html *h, uint32_t a, uint32_t b)
{
	const struct hconn *x = &h->lanes[a], *y = &h->lanes[b];

	return x->score < y->score || (x->score == y->score && x->seq > y->seq);
}

static void heap_down(struct html *h, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i, t;

		if (l < h->nlanes && lane_less(h, h->heap[l], h->heap[m]))
			m = l;
		if (r < h->nlanes && lane_less(h, h->heap[r], h->heap[m]))
			m = r;
		if (m == i)
			return;
		t = h->heap[i];
		h->heap[i] = h->heap[m];
		h->heap[m] = t;
		i = m;
	}
}

static void heap_up(struct html *h, uint32_t i)
{
	while (i) {
		uint32_t p = (i - 1) / 2, t;

		if (!lane_less(h, h->heap[i], h->heap[p]))
			return;
		t = h->heap[i];
		h->heap[i] = h->heap[p];
		h->heap[p] = t;
		i = p;
	}
}

/* A connection leaves the open table: it gets a lane, or is folded into the overview. */
void html_conn_retire(struct html *h, struct hconn *c, int open, uint64_t end)
{
	c->score = conn_score(c, open, end);
	if (h->nlanes < h->o.lanes_max) {
		h->lanes[h->nlanes] = *c;
		h->heap[h->nlanes] = h->nlanes;
		h->nlanes++;
		heap_up(h, h->nlanes - 1);
	} else if (c->score > h->lanes[h->heap[0]].score) {
		struct hconn *old = &h->lanes[h->heap[0]];

		free(old->ev);
		*old = *c;
		heap_down(h, 0);
		h->folded++;
	} else {
		free(c->ev);
		h->folded++;
	}
	c->ev = NULL;
}

void html_conn_close(struct html *h, uint32_t slot)
{
	uint32_t i = h->idx[slot] - 1;

	idx_del(h, slot);
	h->freel[h->nfree++] = i;
	h->nopen--;
}
