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

static int is_cookie_table(const struct table *t)
{
	return t->ksz == sizeof(uint64_t);
}

/* The slot and used byte of a table without slots: probing them ends at once. Never written. */
static uint64_t no_slot;
static unsigned char no_used;

static void set_empty(struct table *t)
{
	t->slots = is_cookie_table(t) ? (unsigned char *)&no_slot : NULL;
	t->used = &no_used;
	t->cap = t->mask = t->n = t->grow_at = t->full_at = 0;
	t->zero_used = 0;
}

void table_init(struct table *t, size_t esz, size_t ksz, struct table_budget *budget)
{
	memset(t, 0, sizeof(*t));
	t->esz = esz;
	t->ksz = ksz;
	t->budget = budget;
	set_empty(t);
}

/* Rounded to pages, as a mapping takes them; the byte per slot is the used array. */
size_t table_bytes(const struct table *t, size_t cap)
{
	return (cap * (t->esz + 1) + 4095) & ~(size_t)4095;
}

/*
 * What is allocated: a cookie table's slots and key 0's entry, no used array. It is charged
 * the byte per slot all the same, so the summary's bound is reached where it always was.
 */
static size_t block_bytes(const struct table *t, size_t cap)
{
	return is_cookie_table(t) ? (cap + 1) * t->esz : table_bytes(t, cap);
}

static int slot_used(const struct table *t, size_t i)
{
	return is_cookie_table(t) ? table_key_at(t, i, t->esz) != 0 : t->used[i];
}

static int resize(struct table *t, size_t ncap)
{
	struct table n = *t;

	/* the old and the new array are both held while the entries move */
	if (budget_take(t->budget, table_bytes(t, ncap)))
		return -1;
	n.slots = block_alloc(block_bytes(t, ncap));
	if (!n.slots) {
		budget_give(t->budget, table_bytes(t, ncap));
		t->oom = 1;
		return -1;
	}
	n.used = is_cookie_table(t) ? &no_used : n.slots + ncap * t->esz;
	n.cap = ncap;
	n.mask = ncap - 1;
	for (size_t i = 0; i < t->cap && is_cookie_table(t); i++) {
		uint64_t k = table_key_at(t, i, t->esz);

		/* the metrics' table doubles while its sockets pile up: moved as cheaply as found */
		if (k)
			memcpy(table_claim_cookie(&n, k, t->esz), table_entry_at(t, i, t->esz),
			       t->esz);
	}
	for (size_t i = 0; i < t->cap && !is_cookie_table(t); i++) {
		if (!t->used[i])
			continue;
		size_t j = table_home(t, table_entry_at(t, i, t->esz), ncap);

		while (n.used[j])
			j = (j + 1) & n.mask;
		n.used[j] = 1;
		memcpy(table_entry_at(&n, j, t->esz), table_entry_at(t, i, t->esz), t->esz);
	}
	if (t->zero_used)
		memcpy(table_entry_at(&n, ncap, t->esz), table_entry_at(t, t->cap, t->esz), t->esz);
	if (t->cap) {
		block_free(t->slots, block_bytes(t, t->cap));
		budget_give(t->budget, table_bytes(t, t->cap));
	}
	n.n = t->n; /* table_claim_cookie() counted the moves */
	n.grow_at = t->sparse ? ncap / 2 : ncap / 4 * 3;
	n.full_at = ncap / 8 * 7;
	*t = n;
	return 0;
}

int table_reserve(struct table *t, size_t cap)
{
	return cap > t->cap ? resize(t, cap) : 0;
}

void table_free(struct table *t)
{
	if (t->cap) {
		block_free(t->slots, block_bytes(t, t->cap));
		budget_give(t->budget, table_bytes(t, t->cap));
	}
	set_empty(t);
}

void *table_find(const struct table *t, const void *key)
{
	size_t i;

	if (is_cookie_table(t)) {
		uint64_t cookie;

		memcpy(&cookie, key, sizeof(cookie));
		if (!cookie)
			return t->zero_used ? table_entry_at(t, t->cap, t->esz) : NULL;
		return table_find_cookie(t, cookie, t->esz);
	}
	if (!t->n)
		return NULL;
	for (i = table_home(t, key, t->cap); t->used[i]; i = (i + 1) & t->mask) {
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
	size_t i;

	if (table_make_room(t))
		return NULL;
	if (is_cookie_table(t)) {
		uint64_t cookie;

		memcpy(&cookie, key, sizeof(cookie));
		if (cookie) {
			e = table_claim_cookie(t, cookie, t->esz);
		} else {
			t->zero_used = 1;
			t->n++;
			e = table_entry_at(t, t->cap, t->esz);
		}
		memset(e + sizeof(cookie), 0, t->esz - sizeof(cookie));
		return e;
	}
	for (i = table_home(t, key, t->cap); t->used[i]; i = (i + 1) & t->mask)
		;
	t->used[i] = 1;
	t->n++;
	e = table_entry_at(t, i, t->esz);
	memset(e, 0, t->esz);
	memcpy(e, key, t->ksz);
	return e;
}

void table_del(struct table *t, void *e)
{
	size_t i, j;

	if (is_cookie_table(t) && e == table_entry_at(t, t->cap, t->esz)) {
		t->zero_used = 0;
		t->n--;
		return;
	}
	if (is_cookie_table(t)) {
		table_del_cookie(t, e, t->esz);
		return;
	}
	i = j = (size_t)((unsigned char *)e - t->slots) / t->esz;
	t->used[i] = 0;
	t->n--;
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->used[j])
			return;
		size_t h = table_home(t, table_entry_at(t, j, t->esz), t->cap);

		/* move j into the hole at i unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		memcpy(table_entry_at(t, i, t->esz), table_entry_at(t, j, t->esz), t->esz);
		t->used[i] = 1;
		t->used[j] = 0;
		i = j;
	}
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
	/* slot cap: a cookie table's key 0 */
	for (size_t i = 0; i <= t->cap; i++) {
		const void *e;

		if (i < t->cap ? !slot_used(t, i) : !t->zero_used)
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
