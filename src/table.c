// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* An open-addressing hash table with backward-shift deletion and a memory budget. Pure. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "table.h"

#define FIRST_CAP 64

/*
 * Large blocks are mapped directly: a heap block freed when its table doubles can stay resident
 * (malloc raises its mmap threshold after such frees), and the process would hold more than the
 * budget says. Small ones stay on the heap, where sanitizers see them.
 */
#define MAP_MIN (1 << 20)

static void *block_alloc(size_t n)
{
	void *p;

	if (n < MAP_MIN)
		return calloc(1, n);
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void block_free(void *p, size_t n)
{
	if (!p)
		return;
	if (n < MAP_MIN)
		free(p);
	else
		munmap(p, n);
}

static int budget_take(struct table_budget *b, size_t n)
{
	if (!b)
		return 0;
	if (n > b->max || b->used > b->max - n)
		return -1;
	b->used += n;
	return 0;
}

static void budget_give(struct table_budget *b, size_t n)
{
	if (b)
		b->used -= n;
}

uint64_t table_hash(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

size_t table_home(const struct table *t, const void *key, size_t cap)
{
	uint64_t cookie;

	if (t->ksz != sizeof(cookie))
		return (size_t)table_hash(key, t->ksz) & (cap - 1);
	memcpy(&cookie, key, sizeof(cookie));
	return table_cookie_home(cookie, cap);
}

/* The used byte of a table without slots: probing it ends at once. Never written. */
static unsigned char no_slots[1];

void table_init(struct table *t, size_t esz, size_t ksz, struct table_budget *budget)
{
	memset(t, 0, sizeof(*t));
	t->esz = esz;
	t->ksz = ksz;
	t->budget = budget;
	t->used = no_slots;
}

/* Rounded to pages, as a mapping takes them. */
size_t table_bytes(const struct table *t, size_t cap)
{
	return (cap * (t->esz + 1) + 4095) & ~(size_t)4095;
}

static int resize(struct table *t, size_t ncap)
{
	unsigned char *slots, *used;

	/* the old and the new array are both held while the entries move */
	if (budget_take(t->budget, table_bytes(t, ncap)))
		return -1;
	slots = block_alloc(table_bytes(t, ncap));
	if (!slots) {
		budget_give(t->budget, table_bytes(t, ncap));
		t->oom = 1;
		return -1;
	}
	used = slots + ncap * t->esz;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->used[i])
			continue;
		size_t j = table_home(t, table_entry_at(t, i, t->esz), ncap);

		while (used[j])
			j = (j + 1) & (ncap - 1);
		used[j] = 1;
		memcpy(slots + j * t->esz, table_entry_at(t, i, t->esz), t->esz);
	}
	block_free(t->slots, table_bytes(t, t->cap));
	budget_give(t->budget, table_bytes(t, t->cap));
	t->slots = slots;
	t->used = used;
	t->cap = ncap;
	t->mask = ncap - 1;
	t->grow_at = t->sparse ? ncap / 2 : ncap / 4 * 3;
	t->full_at = ncap / 8 * 7;
	return 0;
}

int table_reserve(struct table *t, size_t cap)
{
	return cap > t->cap ? resize(t, cap) : 0;
}

void table_free(struct table *t)
{
	block_free(t->slots, table_bytes(t, t->cap));
	if (t->cap)
		budget_give(t->budget, table_bytes(t, t->cap));
	t->slots = NULL;
	t->used = no_slots;
	t->cap = t->mask = t->n = t->grow_at = t->full_at = 0;
}

void *table_find(const struct table *t, const void *key)
{
	size_t i;

	if (t->ksz == sizeof(uint64_t)) {
		uint64_t cookie;

		memcpy(&cookie, key, sizeof(cookie));
		return table_find_u64(t, cookie, t->esz);
	}
	if (!t->n)
		return NULL;
	for (i = table_home(t, key, t->cap); t->used[i]; i = (i + 1) & (t->cap - 1)) {
		if (!memcmp(table_entry_at(t, i, t->esz), key, t->ksz))
			return table_entry_at(t, i, t->esz);
	}
	return NULL;
}

/*
 * Past 3/4 full (1/2 when sparse) the table doubles if the budget allows; when it does not, it
 * takes entries up to 7/8 (probe chains stay short enough) and then refuses them.
 */
int table_make_room(struct table *t)
{
	/* without a budget, a failed allocation is tried again next time */
	if (t->n >= t->grow_at && !t->capped && resize(t, t->cap ? t->cap * 2 : FIRST_CAP) &&
	    t->budget)
		t->capped = 1;
	if (t->n >= t->full_at) {
		t->refused = 1;
		return -1;
	}
	return 0;
}

void *table_add(struct table *t, const void *key)
{
	unsigned char *e;

	if (table_make_room(t))
		return NULL;
	e = table_claim(t, table_home(t, key, t->cap), t->esz);
	memset(e, 0, t->esz);
	if (t->ksz == sizeof(uint64_t))
		memcpy(e, key, sizeof(uint64_t)); /* a store, not a call */
	else
		memcpy(e, key, t->ksz);
	return e;
}

void table_del(struct table *t, void *e)
{
	table_del_keyed(t, e, t->esz, t->ksz == sizeof(uint64_t));
}

static void heap_down(const void **h, size_t n, size_t i, table_cmp cmp)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;

		if (l < n && cmp(h[l], h[w]) > 0)
			w = l;
		if (r < n && cmp(h[r], h[w]) > 0)
			w = r;
		if (w == i)
			return;
		const void *x = h[i];

		h[i] = h[w];
		h[w] = x;
		i = w;
	}
}

/* A heap of pointers whose root is the last one kept; then sorted in place. */
size_t table_top(const struct table *t, size_t k, table_cmp cmp, const void **out)
{
	size_t n = 0;

	if (!k)
		return 0;
	for (size_t i = 0; i < t->cap; i++) {
		const void *e;

		if (!t->used[i])
			continue;
		e = table_entry_at(t, i, t->esz);
		if (n < k) {
			size_t c = n++;

			out[c] = e;
			while (c && cmp(out[(c - 1) / 2], out[c]) < 0) {
				const void *x = out[c];

				out[c] = out[(c - 1) / 2];
				out[(c - 1) / 2] = x;
				c = (c - 1) / 2;
			}
		} else if (cmp(e, out[0]) < 0) {
			out[0] = e;
			heap_down(out, n, 0, cmp);
		}
	}
	/* pop the last-ordered to the back: out ends up sorted */
	for (size_t m = n; m > 1; m--) {
		const void *x = out[0];

		out[0] = out[m - 1];
		out[m - 1] = x;
		heap_down(out, m - 1, 0, cmp);
	}
	return n;
}
