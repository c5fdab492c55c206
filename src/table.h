/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_TABLE_H
#define TT_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * An open-addressing hash table of fixed-size entries whose key is their first ksz bytes:
 * linear probing, deletion by backward shift (no tombstones, so lookups never slow down with
 * churn), growth by doubling, and an optional memory budget it never goes over. Pure.
 */

/* Bytes several tables may take together; a table that would go over it stops growing. */
struct table_budget {
	size_t used, max;
};

struct table {
	size_t esz, ksz;
	size_t n, cap; /* cap is 0 or a power of two */
	/* cap - 1; 0 with no slots, used then a lone empty byte: a lookup needs no test first */
	size_t mask;
	unsigned char *slots;
	unsigned char *used;	     /* a byte per slot, after the slots in the same block */
	struct table_budget *budget; /* NULL: no bound but the allocator's */
	size_t grow_at, full_at;     /* entries at which an add grows the table, or refuses */
	/* grow at half full instead of 3/4, for a hot lookup; set before the first add */
	int sparse;
	int capped;  /* growing was refused (bound or allocation): fill up to 7/8, then refuse */
	int refused; /* an entry was refused once */
	int oom;     /* an allocation failed below the bound */
};

/* An empty table of esz-byte entries keyed by their first ksz bytes; allocates nothing yet. */
void table_init(struct table *t, size_t esz, size_t ksz, struct table_budget *budget);
/* Makes room for at least cap slots now (a power of two); -1 when it cannot. */
int table_reserve(struct table *t, size_t cap);
void table_free(struct table *t);

/* FNV-1a: the hash of keys of other sizes than 8 bytes, and a fingerprint of long names. */
uint64_t table_hash(const void *key, size_t n);

/*
 * Eight-byte keys are socket cookies, which the kernel hands out in sequence: one multiply
 * spreads them (Fibonacci hashing) where hashing byte by byte would cost a loop per lookup.
 */
static inline size_t table_cookie_home(uint64_t cookie, size_t cap)
{
	return (size_t)((cookie * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

/* The slot where a key's probe starts in a table of cap slots. */
size_t table_home(const struct table *t, const void *key, size_t cap);

/*
 * The fast paths are inline, and take the entry size (t->esz) from the caller as a constant:
 * the stuck watch finds, adds or deletes on every event it is fed, and a call out of the file,
 * a multiply by a size read from memory, a divide or a memcpy() call cost as much as the probe.
 * Growth, the budget and top-k stay in table.c.
 */

static inline unsigned char *table_entry_at(const struct table *t, size_t i, size_t esz)
{
	return t->slots + i * esz;
}

/* The entry with this key, or NULL. */
void *table_find(const struct table *t, const void *key);

/* table_find() for a table of esz-byte entries keyed by a uint64_t. */
static inline void *table_find_u64(const struct table *t, uint64_t key, size_t esz)
{
	for (size_t i = table_cookie_home(key, t->mask + 1); t->used[i]; i = (i + 1) & t->mask) {
		unsigned char *e = table_entry_at(t, i, esz);
		uint64_t k;

		memcpy(&k, e, sizeof(k));
		if (k == key)
			return e;
	}
	return NULL;
}

/* Grows the table when an add is due to; -1 (refused set) when it is full within its bound. */
int table_make_room(struct table *t);

/* The free slot a new key's probe from home ends at, marked used and counted; not cleared. */
static inline unsigned char *table_claim(struct table *t, size_t home, size_t esz)
{
	size_t i;

	for (i = home; t->used[i]; i = (i + 1) & t->mask)
		;
	t->used[i] = 1;
	t->n++;
	return table_entry_at(t, i, esz);
}

/*
 * A new entry for a key that is not in the table, zero-filled with the key set; NULL when
 * there is no room within the budget (refused is set) or memory.
 */
void *table_add(struct table *t, const void *key);

/*
 * table_add() for a uint64_t key whose caller sets every other byte itself: only the key is
 * written (the stuck watch copies a whole event in; clearing it first was a third of its cost).
 */
static inline void *table_add_u64_unzeroed(struct table *t, uint64_t key, size_t esz)
{
	unsigned char *e;

	if (t->n >= t->grow_at && table_make_room(t))
		return NULL;
	e = table_claim(t, table_cookie_home(key, t->mask + 1), esz);
	memcpy(e, &key, sizeof(key));
	return e;
}

/* The home of the entry in slot i: cookie keys hashed inline, others through table_home(). */
static inline size_t table_home_of(const struct table *t, size_t i, size_t esz, int cookie_key)
{
	uint64_t cookie;

	if (!cookie_key)
		return table_home(t, table_entry_at(t, i, esz), t->cap);
	memcpy(&cookie, table_entry_at(t, i, esz), sizeof(cookie));
	return table_cookie_home(cookie, t->cap);
}

/* Backward-shift delete: the entries after the hole move into it, so no tombstones. */
static inline void table_del_keyed(struct table *t, void *e, size_t esz, int cookie_key)
{
	size_t i = (size_t)((unsigned char *)e - t->slots) / esz, j = i;

	t->used[i] = 0;
	t->n--;
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->used[j])
			return;
		size_t h = table_home_of(t, j, esz, cookie_key);

		/* move j into the hole at i unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		memcpy(table_entry_at(t, i, esz), table_entry_at(t, j, esz), esz);
		t->used[i] = 1;
		t->used[j] = 0;
		i = j;
	}
}

/* Removes the entry at e (from table_find or table_add). */
void table_del(struct table *t, void *e);

/* table_del() for a table of esz-byte entries keyed by a uint64_t. */
static inline void table_del_u64(struct table *t, void *e, size_t esz)
{
	table_del_keyed(t, e, esz, 1);
}

/* What a table of cap slots takes, as charged to its budget. */
size_t table_bytes(const struct table *t, size_t cap);

/* Orders entries: < 0 when a comes first. */
typedef int (*table_cmp)(const void *a, const void *b);

/*
 * The k first entries in cmp's order, into out (room for k), first first; returns how many.
 * Pointers into the table, valid until it changes: no copy of it is made to sort it.
 */
size_t table_top(const struct table *t, size_t k, table_cmp cmp, const void **out);

#endif
