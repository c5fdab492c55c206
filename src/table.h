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

/* The entry with this key, or NULL. */
void *table_find(const struct table *t, const void *key);

/* table_find() for a table keyed by a uint64_t, inline: the stuck watch looks up every event. */
static inline void *table_find_u64(const struct table *t, uint64_t key)
{
	if (!t->n)
		return NULL;
	for (size_t i = table_cookie_home(key, t->cap); t->used[i]; i = (i + 1) & (t->cap - 1)) {
		unsigned char *e = t->slots + i * t->esz;
		uint64_t k;

		memcpy(&k, e, sizeof(k));
		if (k == key)
			return e;
	}
	return NULL;
}

/*
 * A new entry for a key that is not in the table, zero-filled with the key set; NULL when
 * there is no room within the budget (refused is set) or memory.
 */
void *table_add(struct table *t, const void *key);
/* Removes the entry at e (from table_find or table_add). */
void table_del(struct table *t, void *e);

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
