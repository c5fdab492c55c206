// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/table.[ch]: insert, find and delete (backward shift across the wrap, with
 * chains built on purpose), growth at 3/4 or 1/2, the budget (refusal at 7/8, charges given
 * back), top-k against a sort, and a random model with both key kinds and the inline cookie
 * fast paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "table.h"

/* Cookie-keyed, as the summary's open sockets and the stuck watch. */
struct cookie_ent {
	uint64_t cookie;
	uint64_t value;
};

/* A longer key hashed byte by byte, as the summary's processes. */
struct name_key {
	uint32_t id;
	char name[12];
};

struct name_ent {
	struct name_key k;
	uint64_t value;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static struct name_key name_key(uint32_t id)
{
	struct name_key k;

	memset(&k, 0, sizeof(k));
	k.id = id;
	snprintf(k.name, sizeof(k.name), "n%u", id % 1000);
	return k;
}

static void test_add_find_del(void **state)
{
	struct table t;
	struct cookie_ent *e;
	uint64_t c;

	table_init(&t, sizeof(struct cookie_ent), sizeof(uint64_t), NULL);
	c = 7;
	assert_null(table_find(&t, &c)); /* nothing allocated yet */
	e = table_add(&t, &c);
	assert_non_null(e);
	assert_int_equal(e->cookie, 7);
	assert_int_equal(e->value, 0); /* zero-filled */
	e->value = 70;
	assert_int_equal(t.n, 1);
	assert_int_equal(t.cap, 64);
	assert_ptr_equal(table_find(&t, &c), e);
	c = 0; /* 0 is a key like any other */
	assert_null(table_find(&t, &c));
	e = table_add(&t, &c);
	assert_non_null(e);
	e->value = 1;
	assert_int_equal(((struct cookie_ent *)table_find(&t, &c))->value, 1);
	table_del(&t, e);
	assert_null(table_find(&t, &c));
	c = 7;
	assert_int_equal(((struct cookie_ent *)table_find(&t, &c))->value, 70);
	table_del(&t, table_find(&t, &c));
	assert_int_equal(t.n, 0);
	assert_null(table_find(&t, &c));
	table_free(&t);
	table_free(&t); /* twice is harmless */
	assert_int_equal(t.cap, 0);
}

/* Cookies whose probe starts at one of the given slots of a table of cap slots. */
static size_t colliding(const struct table *t, size_t cap, size_t lo, size_t hi, uint64_t *out,
			size_t n)
{
	uint64_t c = 0;

	for (size_t i = 0; i < n; i++) {
		size_t h;

		do {
			c++;
			h = table_home(t, &c, cap);
		} while ((h + cap - lo) % cap > (hi + cap - lo) % cap);
		out[i] = c;
	}
	return n;
}

/*
 * A chain that wraps from the last slot to the first: deleting from its front, back and middle
 * shifts entries back across the wrap, and every survivor is still found.
 */
static void test_backward_shift(void **state)
{
	enum {
		N = 40
	};
	uint64_t keys[N];

	for (int pattern = 0; pattern < 3; pattern++) {
		struct table t;
		uint8_t alive[N];

		table_init(&t, sizeof(struct cookie_ent), sizeof(uint64_t), NULL);
		assert_int_equal(table_reserve(&t, 128), 0);
		colliding(&t, 128, 126, 1, keys, N);
		for (int i = 0; i < N; i++) {
			struct cookie_ent *e = table_add(&t, &keys[i]);

			assert_non_null(e);
			e->value = keys[i] * 3;
			alive[i] = 1;
		}
		assert_int_equal(t.cap, 128); /* 40 of 128: no growth, one long chain */
		for (int i = 0; i < N / 2; i++) {
			int k = pattern == 0 ? i : pattern == 1 ? N - 1 - i : (i * 7) % N;

			table_del(&t, table_find(&t, &keys[k]));
			alive[k] = 0;
			for (int j = 0; j < N; j++) {
				struct cookie_ent *e = table_find(&t, &keys[j]);

				if (!alive[j]) {
					assert_null(e);
					continue;
				}
				assert_non_null(e);
				assert_int_equal(e->value, keys[j] * 3);
			}
		}
		assert_int_equal(t.n, N / 2);
		table_free(&t);
	}
}

/* Doubles past 3/4 (1/2 when sparse), keeping every entry. */
static void test_growth(void **state)
{
	for (int sparse = 0; sparse < 2; sparse++) {
		struct table t;
		size_t cap = 64;

		table_init(&t, sizeof(struct name_ent), sizeof(struct name_key), NULL);
		t.sparse = sparse;
		for (uint32_t i = 0; i < 5000; i++) {
			struct name_key k = name_key(i);
			struct name_ent *e = table_add(&t, &k);

			assert_non_null(e);
			e->value = i;
			if (t.cap != cap) {
				/* it grew on this add: the add before it fitted */
				assert_int_equal(t.cap, cap * 2);
				assert_true(sparse ? i * 2 <= cap : i * 4 <= cap * 3);
				assert_true(sparse ? (i + 1) * 2 > cap : (i + 1) * 4 > cap * 3);
				cap = t.cap;
			}
		}
		assert_int_equal(t.cap, sparse ? 16384 : 8192);
		for (uint32_t i = 0; i < 5000; i++) {
			struct name_key k = name_key(i);
			struct name_ent *e = table_find(&t, &k);

			assert_non_null(e);
			assert_int_equal(e->value, i);
		}
		table_free(&t);
	}
}

/*
 * With a budget: a table that may not double fills to 7/8 and then refuses; the budget is
 * charged the old and the new array while it moves, and everything is given back at the end.
 */
static void test_budget(void **state)
{
	struct table_budget b = {.used = 0, .max = 0};
	struct table t;
	uint64_t c;

	table_init(&t, sizeof(struct cookie_ent), sizeof(uint64_t), &b);
	/* room for 256 slots and then 512: growing to 1024 needs both arrays at once */
	b.max = table_bytes(&t, 512) + table_bytes(&t, 256);
	for (c = 1;; c++) {
		if (!table_add(&t, &c))
			break;
		assert_true(b.used <= b.max);
	}
	assert_int_equal(t.cap, 512);
	assert_int_equal(t.n, 512 * 7 / 8);
	assert_true(t.capped && t.refused);
	assert_int_equal(t.oom, 0);
	assert_int_equal(b.used, table_bytes(&t, 512));
	/* a delete makes room for exactly one */
	c = 5;
	table_del(&t, table_find(&t, &c));
	c = 100000;
	assert_non_null(table_add(&t, &c));
	c++;
	assert_null(table_add(&t, &c));
	/* everything added is still there */
	for (c = 1; c <= 448; c++)
		assert_true(c == 5 ? !table_find(&t, &c) : !!table_find(&t, &c));
	table_free(&t);
	assert_int_equal(b.used, 0);

	/* a budget too small for the first array: nothing is ever taken */
	b.max = table_bytes(&t, 64) - 1;
	table_init(&t, sizeof(struct cookie_ent), sizeof(uint64_t), &b);
	c = 1;
	assert_null(table_add(&t, &c));
	assert_true(t.refused);
	assert_null(table_find(&t, &c));
	table_free(&t);
	assert_int_equal(b.used, 0);
}

static int by_value_desc(const void *a, const void *b)
{
	const struct cookie_ent *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? 1 : -1;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static int by_value_desc_qsort(const void *a, const void *b)
{
	return by_value_desc(a, b);
}

/* The k first in cmp's order, sorted, for every k from 0 to past the table's size. */
static void test_top(void **state)
{
	enum {
		N = 300
	};
	struct cookie_ent all[N];
	const void *top[N + 10];
	struct table t;

	table_init(&t, sizeof(struct cookie_ent), sizeof(uint64_t), NULL);
	assert_int_equal(table_top(&t, 10, by_value_desc, top), 0);
	for (int i = 0; i < N; i++) {
		uint64_t c = i ? rnd() : 0; /* key 0 has a slot of its own */
		struct cookie_ent *e = table_add(&t, &c);

		assert_non_null(e);
		e->value = rnd() % 50; /* many ties: broken by cookie */
		all[i] = *e;
	}
	qsort(all, N, sizeof(all[0]), by_value_desc_qsort);
	for (size_t k = 0; k < N + 10; k += k < 20 ? 1 : 37) {
		size_t n = table_top(&t, k, by_value_desc, top);

		assert_int_equal(n, k < N ? k : N);
		for (size_t i = 0; i < n; i++) {
			const struct cookie_ent *e = top[i];

			assert_int_equal(e->cookie, all[i].cookie);
			assert_int_equal(e->value, all[i].value);
		}
	}
	table_free(&t);
}

/* Random adds and deletes of both key kinds against a plain array. */
static void test_model(void **state)
{
	enum {
		N = 3000
	};
	struct name_key *keys = calloc(N, sizeof(*keys));
	uint64_t *value = calloc(N, sizeof(*value)); /* 0: absent */
	struct table names, cookies, fast;	     /* fast: through the inline uint64_t paths */
	size_t live = 0;

	assert_non_null(keys);
	assert_non_null(value);
	table_init(&names, sizeof(struct name_ent), sizeof(struct name_key), NULL);
	table_init(&cookies, sizeof(struct cookie_ent), sizeof(uint64_t), NULL);
	cookies.sparse = 1;
	table_init(&fast, sizeof(struct cookie_ent), sizeof(uint64_t), NULL);
	assert_null(table_find_cookie(&fast, 1, sizeof(struct cookie_ent))); /* no slots yet */
	for (int i = 0; i < N; i++)
		keys[i] = name_key((uint32_t)i * 2654435761u);
	for (int op = 0; op < 200000; op++) {
		uint64_t r = rnd();
		size_t i = (size_t)(r >> 16) % (op < 20000 ? N : N / 3); /* grow, then churn */
		uint64_t cookie = i * 4096; /* sequential-ish, as cookies are */
		struct name_ent *ne = table_find(&names, &keys[i]);
		struct cookie_ent *ce = table_find(&cookies, &cookie);
		uint64_t fast_cookie = cookie ? cookie : 1;
		struct cookie_ent *fe = table_find_cookie(&fast, fast_cookie, sizeof(*fe));

		assert_true(value[i] ? ne && ce && fe : !ne && !ce && !fe);
		if (value[i]) {
			assert_int_equal(ne->value, value[i]);
			assert_int_equal(ce->value, value[i]);
			assert_int_equal(fe->cookie, fast_cookie);
			assert_int_equal(fe->value, value[i]);
		}
		if (r & 1 && !value[i]) {
			ne = table_add(&names, &keys[i]);
			ce = table_add(&cookies, &cookie);
			fe = table_add_cookie_unzeroed(&fast, fast_cookie, sizeof(*fe));
			assert_non_null(ne);
			assert_non_null(ce);
			assert_non_null(fe);
			value[i] = ne->value = ce->value = fe->value = (r >> 32) | 1;
			live++;
		} else if (!(r & 1) && value[i]) {
			table_del(&names, ne);
			table_del(&cookies, ce);
			table_del_cookie(&fast, fe, sizeof(*fe));
			value[i] = 0;
			live--;
		}
		assert_int_equal(names.n, live);
		assert_int_equal(cookies.n, live);
		assert_int_equal(fast.n, live);
	}
	for (size_t i = 0; i < N; i++) {
		uint64_t cookie = i * 4096;

		assert_true(!!table_find(&names, &keys[i]) == !!value[i]);
		assert_true(!!table_find(&cookies, &cookie) == !!value[i]);
		assert_true(!!table_find_cookie(&fast, cookie ? cookie : 1,
						sizeof(struct cookie_ent)) == !!value[i]);
	}
	table_free(&names);
	table_free(&cookies);
	table_free(&fast);
	assert_null(table_find_cookie(&fast, 1, sizeof(struct cookie_ent))); /* freed: no slots */
	free(keys);
	free(value);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find_del), cmocka_unit_test(test_backward_shift),
		cmocka_unit_test(test_growth),	     cmocka_unit_test(test_budget),
		cmocka_unit_test(test_top),	     cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
