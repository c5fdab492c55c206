// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/hist.[ch]: exact counts, min and max; exact percentiles below 128;
 * nearest-rank percentiles within 1.6% across the whole 64-bit range; none and one value; the
 * bucket edges at powers of two.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "hist.h"

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of sorted v[0..n). */
static uint64_t exact_pct(const uint64_t *v, size_t n, unsigned p)
{
	uint64_t rank = (n * p + 99) / 100;

	return v[(rank ? rank : 1) - 1];
}

static void check_within(uint64_t got, uint64_t want)
{
	/* 64 buckets per power of two: half a bucket off at most, 1/128 of the value < 1.6% */
	uint64_t d = got > want ? got - want : want - got;

	if ((double)d > want * 0.016 + 0.5)
		fail_msg("%llu for %llu", (unsigned long long)got, (unsigned long long)want);
}

static void test_empty_and_one(void **state)
{
	struct hist h;

	memset(&h, 0, sizeof(h));
	assert_null(h.b); /* nothing allocated before the first value */
	/* empty: 0, and no bucket read */
	assert_int_equal(hist_pct(&h, 50), 0);
	assert_int_equal(hist_pct(&h, 100), 0);
	hist_free(&h);
	assert_int_equal(hist_add(&h, 123456789), 0);
	assert_non_null(h.b);
	assert_int_equal(h.n, 1);
	/* one value: every percentile is it (the bucket's middle, clamped to min and max) */
	for (unsigned p = 0; p <= 100; p += 10)
		assert_int_equal(hist_pct(&h, p), 123456789);
	hist_free(&h);
	assert_null(h.b);
	hist_free(&h); /* twice is harmless */
}

static void test_small_exact(void **state)
{
	struct hist h;

	memset(&h, 0, sizeof(h));
	for (uint64_t v = 0; v < 100; v++)
		assert_int_equal(hist_add(&h, v), 0);
	assert_int_equal(h.n, 100);
	assert_int_equal(h.min, 0);
	assert_int_equal(h.max, 99);
	assert_int_equal(hist_pct(&h, 0), 0);
	assert_int_equal(hist_pct(&h, 1), 0);
	assert_int_equal(hist_pct(&h, 50), 49);
	assert_int_equal(hist_pct(&h, 90), 89);
	assert_int_equal(hist_pct(&h, 99), 98);
	assert_int_equal(hist_pct(&h, 100), 99);
	hist_free(&h);
}

/* Random values of every magnitude: percentiles within 1.6%, count, min and max exact. */
static void test_random_within(void **state)
{
	enum {
		N = 20000
	};
	static uint64_t v[N];
	uint64_t x = 88172645463325252ULL;

	for (int scale = 8; scale <= 64; scale += 8) {
		struct hist h;

		memset(&h, 0, sizeof(h));
		for (int i = 0; i < N; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			v[i] = scale == 64 ? x : x >> (64 - scale);
			assert_int_equal(hist_add(&h, v[i]), 0);
		}
		qsort(v, N, sizeof(v[0]), by_u64);
		assert_int_equal(h.n, N);
		assert_int_equal(h.min, v[0]);
		assert_int_equal(h.max, v[N - 1]);
		for (unsigned p = 1; p <= 100; p++)
			check_within(hist_pct(&h, p), exact_pct(v, N, p));
		hist_free(&h);
	}
}

/* Values either side of each power of two land in neighbouring buckets, none lost. */
static void test_power_edges(void **state)
{
	for (int e = 7; e < 64; e++) {
		uint64_t lo = (1ULL << e) - 1, hi = 1ULL << e;
		struct hist h;

		memset(&h, 0, sizeof(h));
		assert_int_equal(hist_add(&h, lo), 0);
		assert_int_equal(hist_add(&h, hi), 0);
		check_within(hist_pct(&h, 50), lo);
		assert_int_equal(hist_pct(&h, 100), hi);
		assert_int_equal(hist_pct(&h, 0), lo);
		hist_free(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_one),
		cmocka_unit_test(test_small_exact),
		cmocka_unit_test(test_random_within),
		cmocka_unit_test(test_power_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
