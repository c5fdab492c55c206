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
 *
 * A table keyed by 8 bytes (a cookie table) marks an empty slot by key 0, as a private table
 * would: a probe reads one word per slot, not a flag and then the key. Key 0's own entry, if
 * any, sits after the cap slots. Other tables keep a used byte per slot.
 */

/* Bytes several tables may take together; a table that would go over it stops growing. */
struct table_budget {
	size_t used, max;
};

struct table {
	size_t esz, ksz;
	size_t n, cap; /* cap is 0 or a power of two */
	/* cap - 1; 0 with no slots, a cookie table's slots then a lone empty one: no test first */
	size_t mask;
	unsigned char *slots;
	unsigned char *used; /* not a cookie table: a byte per slot, after the slots, same block */
	int zero_used;	     /* a cookie table: key 0's entry, slot cap, is in use */
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
 * A cookie table's find, add and delete of cookies other than 0 are inline, and take the entry size (t->esz) from the
 * caller as a constant: the stuck watch and the metrics find, add or delete on every event they
 * are fed, and a call out of the file, a multiply by a size read from memory, a divide or a
 * memcpy() call cost as much as the probe. Growth, the budget and top-k stay in table.c.
 */

static inline unsigned char *table_entry_at(const struct table *t, size_t i, size_t esz)
{
	return t->slots + i * esz;
}

static inline uint64_t table_key_at(const struct table *t, size_t i, size_t esz)
{
	uint64_t key;

	memcpy(&key, table_entry_at(t, i, esz), sizeof(key));
	return key;
}

/* The entry with this key, or NULL. */
void *table_find(const struct table *t, const void *key);

/*
 * table_find() for a cookie table of esz-byte entries and a cookie that is not 0 (the kernel's
 * start at 1, and the stuck watch and the metrics skip 0): key 0 is table_find()'s, out of line.
 */
static inline void *table_find_cookie(const struct table *t, uint64_t cookie, size_t esz)
{
	for (size_t i = table_cookie_home(cookie, t->mask + 1);; i = (i + 1) & t->mask) {
		uint64_t k = table_key_at(t, i, esz);

		if (k == cookie)
			return table_entry_at(t, i, esz);
		if (!k)
			return NULL;
	}
}

/* Grows the table when an add is due to; -1 (refused set) when it is full within its bound. */
int table_make_room(struct table *t);

/* A cookie table's slot for a new cookie (not 0), counted, with its key set; the rest as it was. */
static inline unsigned char *table_claim_cookie(struct table *t, uint64_t cookie, size_t esz)
{
	unsigned char *e;
	size_t i;

	for (i = table_cookie_home(cookie, t->mask + 1); table_key_at(t, i, esz);
	     i = (i + 1) & t->mask)
		;
	t->n++;
	e = table_entry_at(t, i, esz);
	memcpy(e, &cookie, sizeof(cookie));
	return e;
}

/*
 * A new entry for a key that is not in the table, zero-filled with the key set; NULL when
 * there is no room within the budget (refused is set) or memory.
 */
void *table_add(struct table *t, const void *key);

/*
 * table_add() for a cookie (not 0) whose caller sets every other byte itself: only the key is
 * written (the stuck watch copies a whole event in; clearing it first was a third of its cost).
 */
static inline void *table_add_cookie_unzeroed(struct table *t, uint64_t cookie, size_t esz)
{
	if (t->n >= t->grow_at && table_make_room(t))
		return NULL;
	return table_claim_cookie(t, cookie, esz);
}

/* Removes the entry at e (from table_find or table_add). */
void table_del(struct table *t, void *e);

/* table_del() for a cookie table's entry whose cookie is not 0. */
static inline void table_del_cookie(struct table *t, void *e, size_t esz)
{
	size_t i = (size_t)((unsigned char *)e - t->slots) / esz, j = i;
	uint64_t none = 0;

	t->n--;
	/* backward shift: the entries after the hole move into it, so no tombstones */
	for (;;) {
		j = (j + 1) & t->mask;
		uint64_t k = table_key_at(t, j, esz);

		if (!k)
			break;
		size_t h = table_cookie_home(k, t->mask + 1);

		/* move j into the hole at i unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		memcpy(table_entry_at(t, i, esz), table_entry_at(t, j, esz), esz);
		i = j;
	}
	memcpy(table_entry_at(t, i, esz), &none, sizeof(none));
}

/* What a table of cap slots is charged to its budget (a cookie table takes a little less). */
size_t table_bytes(const struct table *t, size_t cap);

/* Orders entries: < 0 when a comes first. */
typedef int (*table_cmp)(const void *a, const void *b);

/*
 * The k first entries in cmp's order, into out (room for k), first first; returns how many.
 * Pointers into the table, valid until it changes: no copy of it is made to sort it.
 */
size_t table_top(const struct table *t, size_t k, table_cmp cmp, const void **out);

#endif
