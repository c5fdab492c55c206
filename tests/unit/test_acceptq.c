// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/acceptq.[ch]: held events go out in their order, naming the acceptor once it
 * is known; a connection's events stay together; expiry and the final flush send them as they
 * are; a full queue refuses; the ring wraps around.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "acceptq.h"

#define SENT_MAX 64

struct sent {
	struct tt_event ev[SENT_MAX];
	int n;
};

static void collect(void *ctx, const struct tt_event *e)
{
	struct sent *s = ctx;

	assert_true(s->n < SENT_MAX);
	s->ev[s->n++] = *e;
}

static struct tt_event queued(uint64_t cookie, uint8_t newstate, uint32_t listener_pid)
{
	struct tt_event e = {0};

	e.sock_cookie = cookie;
	e.newstate = newstate;
	e.pid = listener_pid;
	memcpy(e.comm, "master", 7);
	e.flags = TT_F_OWNER_KNOWN | TT_F_PRE_ACCEPT;
	return e;
}

static struct tt_event acceptor(uint64_t cookie, uint32_t pid, const char *comm)
{
	struct tt_event e = {0};

	e.type = TT_EV_ACCEPTED;
	e.sock_cookie = cookie;
	e.pid = pid;
	strncpy(e.comm, comm, sizeof(e.comm));
	e.flags = TT_F_OWNER_KNOWN;
	return e;
}

static void test_named_by_acceptor_in_order(void **state)
{
	struct acceptq *q = acceptq_new(8, 1000);
	struct sent s = {0};
	struct tt_event a = acceptor(7, 42, "worker");
	struct tt_event e1 = queued(7, 3, 1), e2 = queued(9, 3, 1), e3 = queued(7, 8, 1);

	assert_int_equal(acceptq_hold(q, &e1, 10), 0);
	assert_int_equal(acceptq_hold(q, &e2, 11), 0);
	assert_int_equal(acceptq_hold(q, &e3, 12), 0);
	assert_true(acceptq_holds(q, 7));
	assert_int_equal(acceptq_count(q), 3);
	acceptq_release(q, 7, &a, collect, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ev[0].newstate, 3);
	assert_int_equal(s.ev[1].newstate, 8);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s.ev[i].pid, 42);
		assert_string_equal(s.ev[i].comm, "worker");
		assert_true(s.ev[i].flags & TT_F_PRE_ACCEPT); /* it still happened before accept */
	}
	assert_false(acceptq_holds(q, 7));
	assert_true(acceptq_holds(q, 9));
	acceptq_release(q, 8, &a, collect, &s); /* nothing held: nothing sent */
	assert_int_equal(s.n, 2);
	acceptq_free(q);
}

static void test_expiry_and_flush_as_they_are(void **state)
{
	struct acceptq *q = acceptq_new(8, 100);
	struct sent s = {0};
	struct tt_event e1 = queued(1, 3, 5), e2 = queued(2, 3, 5), e3 = queued(1, 8, 5);

	acceptq_hold(q, &e1, 0);
	acceptq_hold(q, &e2, 50);
	acceptq_hold(q, &e3, 60);
	acceptq_expire(q, 99, collect, &s);
	assert_int_equal(s.n, 0);
	/* Connection 1's oldest is due: both its events go, connection 2 waits. */
	acceptq_expire(q, 100, collect, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ev[0].sock_cookie, 1);
	assert_int_equal(s.ev[1].sock_cookie, 1);
	assert_int_equal(s.ev[0].pid, 5);
	assert_int_equal(acceptq_count(q), 1);
	acceptq_flush(q, collect, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ev[2].sock_cookie, 2);
	assert_int_equal(acceptq_count(q), 0);
	acceptq_free(q);
}

static void test_full_refuses_and_ring_wraps(void **state)
{
	struct acceptq *q = acceptq_new(3, 1000);
	struct sent s = {0};
	struct tt_event a = acceptor(0, 1, "x");

	for (uint64_t c = 1; c <= 3; c++) {
		struct tt_event e = queued(c, 3, 1);

		assert_int_equal(acceptq_hold(q, &e, c), 0);
	}
	struct tt_event more = queued(4, 3, 1), none = queued(0, 3, 1);

	assert_int_equal(acceptq_hold(q, &more, 4), -1);
	assert_int_equal(acceptq_hold(q, &none, 4), -1); /* no cookie: nothing to wait for */
	assert_int_equal(acceptq_refused(q), 2);
	/* Releasing the oldest frees a slot at the head; the next hold wraps around. */
	acceptq_release(q, 1, &a, collect, &s);
	assert_int_equal(acceptq_hold(q, &more, 5), 0);
	acceptq_release(q, 3, &a, collect, &s); /* in the middle: its slot waits behind 2 */
	assert_int_equal(acceptq_count(q), 2);
	acceptq_flush(q, collect, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.ev[2].sock_cookie, 2);
	assert_int_equal(s.ev[3].sock_cookie, 4);
	for (uint64_t c = 10; c < 13; c++) {
		struct tt_event e = queued(c, 3, 1);

		assert_int_equal(acceptq_hold(q, &e, c), 0);
	}
	acceptq_free(q);
}

static void test_release_without_owner_keeps_listener(void **state)
{
	struct acceptq *q = acceptq_new(4, 1000);
	struct sent s = {0};
	struct tt_event e = queued(3, 3, 9), later = {0};

	acceptq_hold(q, &e, 0);
	later.sock_cookie = 3; /* a later event that names no one */
	acceptq_release(q, 3, &later, collect, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0].pid, 9);
	assert_string_equal(s.ev[0].comm, "master");
	acceptq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_by_acceptor_in_order),
		cmocka_unit_test(test_expiry_and_flush_as_they_are),
		cmocka_unit_test(test_full_refuses_and_ring_wraps),
		cmocka_unit_test(test_release_without_owner_keeps_listener),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
