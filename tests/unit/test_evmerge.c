// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/evmerge.[ch]: CPU rings and shared records go out oldest first; a record at
 * or after the read's time waits for the next read; short and full records keep their lengths;
 * slots are freed (tail) only after they were handed on; a stop keeps the rest; the rings wrap;
 * the sizes for a budget.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "evmerge.h"

#define NCPUS	 3
#define SHIFT	 2 /* 4 slots a CPU: wraps soon */
#define SEEN_MAX 64

struct rings {
	struct tt_ring_pos pos[NCPUS];
	struct tt_event slots[NCPUS << SHIFT];
	struct evmerge m;
};

struct seen {
	uint64_t ts[SEEN_MAX];
	size_t len[SEEN_MAX];
	int n;
	int stop_at; /* the record count after which fn returns nonzero; 0: never */
};

static int collect(void *ctx, void *data, size_t len)
{
	struct seen *s = ctx;
	const struct tt_event *e = data;

	assert_true(s->n < SEEN_MAX);
	s->ts[s->n] = e->ts_ns;
	s->len[s->n] = len;
	s->n++;
	return s->stop_at && s->n == s->stop_at ? -1 : 0;
}

/* What the BPF side does: the record in the next slot, then head. */
static void produce(struct rings *r, unsigned int cpu, uint64_t ts, int totals)
{
	struct tt_ring_pos *p = &r->pos[cpu];
	struct tt_event *e = &r->slots[(cpu << SHIFT) | (p->head & ((1u << SHIFT) - 1))];

	assert_true(p->head - p->tail < (1u << SHIFT));
	memset(e, 0, sizeof(*e));
	e->ts_ns = ts;
	e->flags = totals ? TT_F_TOTALS : 0;
	p->head++;
}

static void shared(struct rings *r, uint64_t ts)
{
	struct tt_event e = {.ts_ns = ts, .type = TT_EV_ACCEPTED};

	assert_int_equal(evmerge_add(&r->m, &e, TT_EVENT_BASE_SIZE), 0);
}

static struct rings *rings_new(void)
{
	struct rings *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(evmerge_init(&r->m, r->pos, r->slots, NCPUS, SHIFT), 0);
	return r;
}

static void rings_free(struct rings *r)
{
	evmerge_free(&r->m);
	free(r);
}

static int run(struct rings *r, uint64_t until, struct seen *s)
{
	evmerge_look(&r->m);
	return evmerge_run(&r->m, until, collect, s);
}

static void test_oldest_first(void **state)
{
	struct rings *r = rings_new();
	struct seen s = {0};
	const uint64_t want[] = {5, 10, 11, 20, 25, 30, 40};

	produce(r, 0, 10, 0);
	produce(r, 0, 20, 0);
	produce(r, 0, 40, 0);
	produce(r, 1, 5, 0);
	produce(r, 1, 30, 0);
	produce(r, 2, 25, 0);
	evmerge_look(&r->m);
	/* Shared records arrive in any order: the merge sorts them in. */
	shared(r, 11);
	assert_int_equal(evmerge_run(&r->m, 1000, collect, &s), 7);
	assert_int_equal(s.n, 7);
	assert_memory_equal(s.ts, want, sizeof(want));
	for (unsigned int c = 0; c < NCPUS; c++)
		assert_int_equal(r->pos[c].tail, r->pos[c].head);
	rings_free(r);
}

static void test_shared_sorted(void **state)
{
	struct rings *r = rings_new();
	struct seen s = {0};
	const uint64_t want[] = {3, 7, 8, 9};

	shared(r, 9);
	shared(r, 3);
	shared(r, 8);
	produce(r, 2, 7, 0);
	assert_int_equal(run(r, 100, &s), 4);
	assert_memory_equal(s.ts, want, sizeof(want));
	rings_free(r);
}

/* A record at or after the read's time is not handed on, nor is its slot freed. */
static void test_until_waits(void **state)
{
	struct rings *r = rings_new();
	struct seen s = {0};

	produce(r, 0, 10, 0);
	produce(r, 0, 50, 0);
	produce(r, 1, 49, 0);
	shared(r, 60);
	assert_int_equal(run(r, 50, &s), 2);
	assert_int_equal(s.ts[0], 10);
	assert_int_equal(s.ts[1], 49);
	assert_int_equal(r->pos[0].tail, 1);
	assert_int_equal(r->pos[1].tail, 1);
	/* Written meanwhile on another CPU, older than what waited: it goes first. */
	produce(r, 2, 45, 0);
	assert_int_equal(run(r, 100, &s), 3);
	assert_int_equal(s.ts[2], 45);
	assert_int_equal(s.ts[3], 50);
	assert_int_equal(s.ts[4], 60);
	rings_free(r);
}

/* Only what head said when looked at: a record written after the look waits. */
static void test_look_bounds(void **state)
{
	struct rings *r = rings_new();
	struct seen s = {0};

	produce(r, 0, 10, 0);
	evmerge_look(&r->m);
	produce(r, 0, 11, 0);
	assert_int_equal(evmerge_run(&r->m, 100, collect, &s), 1);
	assert_int_equal(r->pos[0].tail, 1);
	assert_int_equal(run(r, 100, &s), 1);
	assert_int_equal(s.ts[1], 11);
	rings_free(r);
}

static void test_lengths(void **state)
{
	struct rings *r = rings_new();
	struct seen s = {0};

	produce(r, 0, 1, 0);
	produce(r, 0, 2, 1);
	assert_int_equal(run(r, 100, &s), 2);
	assert_int_equal(s.len[0], TT_EVENT_BASE_SIZE);
	assert_int_equal(s.len[1], sizeof(struct tt_event));
	rings_free(r);
}

/* fn's nonzero return stops after that record, which is consumed; the rest waits. */
static void test_stop(void **state)
{
	struct rings *r = rings_new();
	struct seen s = {.stop_at = 2};

	produce(r, 0, 1, 0);
	produce(r, 1, 2, 0);
	produce(r, 0, 3, 0);
	assert_int_equal(run(r, 100, &s), -1);
	assert_int_equal(s.n, 2);
	assert_int_equal(r->pos[0].tail + r->pos[1].tail, 2);
	s.stop_at = 0;
	assert_int_equal(run(r, 100, &s), 1);
	assert_int_equal(s.ts[2], 3);
	rings_free(r);
}

/* Heads and tails run past the ring's size: slots are reused in turn. */
static void test_wrap(void **state)
{
	struct rings *r = rings_new();
	struct seen s = {0};
	uint64_t ts = 1;

	for (int round = 0; round < 10; round++) {
		s.n = 0;
		for (int i = 0; i < 3; i++)
			produce(r, 1, ts++, 0);
		assert_int_equal(run(r, ts, &s), 3);
		assert_int_equal(s.ts[0], ts - 3);
		assert_int_equal(s.ts[2], ts - 1);
	}
	assert_int_equal(r->pos[1].tail, 30);
	rings_free(r);
}

/* Many shared records: the queue grows, and is compacted as it is read. */
static int in_order(void *ctx, void *data, size_t len)
{
	uint64_t *last = ctx;
	const struct tt_event *e = data;

	assert_true(e->ts_ns == *last + 1);
	*last = e->ts_ns;
	return 0;
}

static void test_shared_many(void **state)
{
	struct rings *r = rings_new();
	uint64_t last = 0;

	for (uint64_t ts = 1; ts <= 200; ts++)
		shared(r, ts);
	evmerge_look(&r->m);
	assert_int_equal(evmerge_run(&r->m, 151, in_order, &last), 150);
	for (uint64_t ts = 201; ts <= 300; ts++)
		shared(r, ts);
	assert_int_equal(evmerge_run(&r->m, 1000, in_order, &last), 150);
	assert_int_equal(last, 300);
	rings_free(r);
}

static void test_slot_shift(void **state)
{
	/* 16 MiB over 2 CPUs: 52428 slots each, down to a power of two. */
	assert_int_equal(evmerge_slot_shift(16 << 20, 2), 15);
	assert_int_equal(evmerge_slot_shift(16 << 20, 1), 16);
	/* Never below 1024 slots a CPU. */
	assert_int_equal(evmerge_slot_shift(1 << 20, 64), 10);
	assert_int_equal(evmerge_slot_shift(0, 0), 10);
	/* Slot numbers stay within 32 bits. */
	assert_true(((uint64_t)4096 << evmerge_slot_shift(1ULL << 40, 4096)) <= UINT32_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oldest_first), cmocka_unit_test(test_shared_sorted),
		cmocka_unit_test(test_until_waits),  cmocka_unit_test(test_look_bounds),
		cmocka_unit_test(test_lengths),	     cmocka_unit_test(test_stop),
		cmocka_unit_test(test_wrap),	     cmocka_unit_test(test_shared_many),
		cmocka_unit_test(test_slot_shift),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
