// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/stuck.[ch], --stuck while tracing: one alert per stay and never early,
 * cancel on leaving, new episode on re-entry, several rules, seeded sockets, ordering over many
 * sockets, the hash table against a reference model (colliding cookies, growth, deletion), and
 * bounded memory over a million sockets passing through a watched state.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "stuck.h"

#define MS 1000000ULL
#define S  1000000000ULL
/* CLOCK_BOOTTIME of a machine up for a while: catches code that assumes time starts at 0. */
#define T0 (86400 * S)

struct alerts {
	struct tt_event *v;
	size_t n, cap;
};

static void record(void *ctx, const struct tt_event *a)
{
	struct alerts *al = ctx;

	if (al->n == al->cap) {
		al->cap = al->cap ? al->cap * 2 : 64;
		al->v = realloc(al->v, al->cap * sizeof(*al->v));
		assert_non_null(al->v);
	}
	al->v[al->n++] = *a;
}

static void alerts_free(struct alerts *al)
{
	free(al->v);
	memset(al, 0, sizeof(*al));
}

struct ruleset {
	int n;
	struct stuck_rule r[TT_MAX_STUCK];
};

static struct ruleset rules(int n, ...)
{
	struct ruleset rs;
	va_list ap;

	memset(&rs, 0, sizeof(rs));
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		rs.r[i].state = va_arg(ap, int);
		rs.r[i].ns = va_arg(ap, uint64_t);
	}
	va_end(ap);
	rs.n = n;
	return rs;
}

static struct tt_event ev(uint64_t cookie, int oldstate, int newstate, uint64_t ts, uint16_t flags)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.type = TT_EV_STATE;
	e.ts_ns = ts;
	e.sock_cookie = cookie;
	e.oldstate = (__u8)oldstate;
	e.newstate = (__u8)newstate;
	e.flags = flags;
	e.delta_ns = 123;
	e.family = AF_INET;
	e.netns = 4026531840U;
	inet_pton(AF_INET, "10.0.0.1", e.saddr);
	inet_pton(AF_INET, "10.0.0.2", e.daddr);
	e.sport = (__u16)(40000 + cookie % 20000);
	e.dport = 443;
	if (flags & TT_F_OWNER_KNOWN) {
		e.pid = 4242;
		strcpy(e.comm, "curl");
	}
	return e;
}

static void update(struct stuck *s, uint64_t cookie, int o, int n, uint64_t ts, uint16_t flags)
{
	struct tt_event e = ev(cookie, o, n, ts, flags);

	stuck_update(s, &e);
}

static void seed(struct stuck *s, uint64_t cookie, int state, uint64_t ts, uint16_t flags)
{
	struct tt_event e = ev(cookie, state, state, ts, flags);

	stuck_seed_socket(s, &e);
}

/* Checks one alert against what the socket's entering event said. */
static void check_alert(const struct tt_event *a, uint64_t cookie, int state, uint64_t entered,
			uint64_t now, uint16_t flags)
{
	assert_int_equal(a->type, TT_EV_STUCK);
	assert_int_equal(a->sock_cookie, cookie);
	assert_int_equal(a->oldstate, state);
	assert_int_equal(a->newstate, state);
	assert_int_equal(a->ts_ns, now);
	assert_int_equal(a->delta_ns, now - entered);
	assert_int_equal(a->flags, flags);
	/* Addresses, ports and owner come from the entering event. */
	assert_int_equal(a->family, AF_INET);
	assert_int_equal(a->sport, 40000 + cookie % 20000);
	assert_int_equal(a->dport, 443);
	assert_int_equal(a->netns, 4026531840U);
	assert_memory_equal(a->saddr, "\x0a\x00\x00\x01", 4);
	assert_memory_equal(a->daddr, "\x0a\x00\x00\x02", 4);
	if (flags & TT_F_OWNER_KNOWN) {
		assert_int_equal(a->pid, 4242);
		assert_string_equal(a->comm, "curl");
	}
}

static void test_one_alert_per_stay(void **state)
{
	struct ruleset rs = rules(1, TT_SYN_SENT, 2 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);

	assert_non_null(s);
	assert_int_equal(stuck_tracked(s), 0);
	update(s, 7, TT_CLOSE, TT_SYN_SENT, T0 + S, TT_F_OWNER_KNOWN | TT_F_DELTA_KNOWN);
	assert_int_equal(stuck_tracked(s), 1);
	stuck_tick(s, T0 + S, SIZE_MAX);
	stuck_tick(s, T0 + 2 * S, SIZE_MAX);
	stuck_tick(s, T0 + 3 * S - 1, SIZE_MAX);
	assert_int_equal(al.n, 0);
	stuck_tick(s, T0 + 3 * S, SIZE_MAX);
	assert_int_equal(al.n, 1);
	check_alert(&al.v[0], 7, TT_SYN_SENT, T0 + S, T0 + 3 * S,
		    TT_F_DELTA_KNOWN | TT_F_OWNER_KNOWN);
	for (int i = 0; i < 50; i++)
		stuck_tick(s, T0 + 3 * S + (uint64_t)i * 10 * S, SIZE_MAX);
	assert_int_equal(al.n, 1);
	/* Still watched (it has not left), until it leaves. */
	assert_int_equal(stuck_tracked(s), 1);
	update(s, 7, TT_SYN_SENT, TT_CLOSE, T0 + 600 * S, 0);
	assert_int_equal(stuck_tracked(s), 0);
	stuck_tick(s, T0 + 700 * S, SIZE_MAX);
	assert_int_equal(al.n, 1);
	stuck_free(s);
	alerts_free(&al);
}

/* A late first tick still alerts once, with the real time in state. */
static void test_late_tick(void **state)
{
	struct ruleset rs = rules(1, TT_CLOSE_WAIT, 30 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);

	update(s, 9, TT_ESTABLISHED, TT_CLOSE_WAIT, T0, 0);
	stuck_tick(s, T0 + 3600 * S, SIZE_MAX);
	stuck_tick(s, T0 + 3601 * S, SIZE_MAX);
	assert_int_equal(al.n, 1);
	check_alert(&al.v[0], 9, TT_CLOSE_WAIT, T0, T0 + 3600 * S, TT_F_DELTA_KNOWN);
	stuck_free(s);
	alerts_free(&al);
}

/* The alert's flags: DELTA_KNOWN, OWNER_KNOWN if known, nothing of the entering event's others. */
static void test_alert_flags(void **state)
{
	struct ruleset rs = rules(1, TT_CLOSE_WAIT, S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);

	update(s, 1, TT_ESTABLISHED, TT_CLOSE_WAIT, T0,
	       TT_F_OWNER_KNOWN | TT_F_DELTA_KNOWN | TT_F_FIN_SEEN | TT_F_RESET | TT_F_DELTA_MIN);
	update(s, 2, TT_ESTABLISHED, TT_CLOSE_WAIT, T0, TT_F_FIN_SEEN | TT_F_TW_HANDOFF);
	stuck_tick(s, T0 + S, SIZE_MAX);
	assert_int_equal(al.n, 2);
	for (size_t i = 0; i < al.n; i++) {
		if (al.v[i].sock_cookie == 1)
			check_alert(&al.v[i], 1, TT_CLOSE_WAIT, T0, T0 + S,
				    TT_F_DELTA_KNOWN | TT_F_OWNER_KNOWN);
		else
			check_alert(&al.v[i], 2, TT_CLOSE_WAIT, T0, T0 + S, TT_F_DELTA_KNOWN);
	}
	stuck_free(s);
	alerts_free(&al);
}

static void test_leave_cancels(void **state)
{
	struct ruleset rs = rules(1, TT_SYN_SENT, 2 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);

	update(s, 5, TT_CLOSE, TT_SYN_SENT, T0, 0);
	stuck_tick(s, T0 + S, SIZE_MAX);
	update(s, 5, TT_SYN_SENT, TT_ESTABLISHED, T0 + 2 * S - 1, 0);
	assert_int_equal(stuck_tracked(s), 0);
	stuck_tick(s, T0 + 2 * S, SIZE_MAX);
	stuck_tick(s, T0 + 100 * S, SIZE_MAX);
	assert_int_equal(al.n, 0);
	/* Leaving without any tick in between cancels too. */
	update(s, 6, TT_CLOSE, TT_SYN_SENT, T0 + 200 * S, 0);
	update(s, 6, TT_SYN_SENT, TT_CLOSE, T0 + 201 * S, 0);
	stuck_tick(s, T0 + 300 * S, SIZE_MAX);
	assert_int_equal(al.n, 0);
	assert_int_equal(stuck_tracked(s), 0);
	stuck_free(s);
	alerts_free(&al);
}

static void test_reenter_new_episode(void **state)
{
	struct ruleset rs = rules(1, TT_CLOSE_WAIT, 2 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);

	/* Alerted, left, back: a second episode with its own alert. */
	update(s, 3, TT_ESTABLISHED, TT_CLOSE_WAIT, T0, 0);
	stuck_tick(s, T0 + 2 * S, SIZE_MAX);
	assert_int_equal(al.n, 1);
	update(s, 3, TT_CLOSE_WAIT, TT_ESTABLISHED, T0 + 3 * S, 0);
	update(s, 3, TT_ESTABLISHED, TT_CLOSE_WAIT, T0 + 4 * S, TT_F_OWNER_KNOWN);
	stuck_tick(s, T0 + 6 * S - 1, SIZE_MAX);
	assert_int_equal(al.n, 1);
	stuck_tick(s, T0 + 6 * S, SIZE_MAX);
	assert_int_equal(al.n, 2);
	check_alert(&al.v[1], 3, TT_CLOSE_WAIT, T0 + 4 * S, T0 + 6 * S,
		    TT_F_DELTA_KNOWN | TT_F_OWNER_KNOWN);
	stuck_tick(s, T0 + 60 * S, SIZE_MAX);
	assert_int_equal(al.n, 2);

	/* Left and back before the first stay was due: the clock restarts, still one alert. */
	update(s, 4, TT_ESTABLISHED, TT_CLOSE_WAIT, T0 + 100 * S, 0);
	update(s, 4, TT_CLOSE_WAIT, TT_LAST_ACK, T0 + 101 * S, 0);
	update(s, 4, TT_LAST_ACK, TT_CLOSE_WAIT, T0 + 101 * S + 500 * MS, 0);
	stuck_tick(s, T0 + 102 * S, SIZE_MAX);
	stuck_tick(s, T0 + 103 * S + 499 * MS, SIZE_MAX);
	assert_int_equal(al.n, 2);
	stuck_tick(s, T0 + 103 * S + 500 * MS, SIZE_MAX);
	stuck_tick(s, T0 + 200 * S, SIZE_MAX);
	assert_int_equal(al.n, 3);
	check_alert(&al.v[2], 4, TT_CLOSE_WAIT, T0 + 101 * S + 500 * MS, T0 + 103 * S + 500 * MS,
		    TT_F_DELTA_KNOWN);
	stuck_free(s);
	alerts_free(&al);
}

static void test_several_rules(void **state)
{
	struct ruleset rs = rules(4, TT_SYN_SENT, 2 * S, TT_CLOSE_WAIT, 30 * S, TT_FIN_WAIT1, S,
				  TT_FIN_WAIT2, 5 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);

	update(s, 10, TT_CLOSE, TT_SYN_SENT, T0, 0);
	update(s, 11, TT_ESTABLISHED, TT_CLOSE_WAIT, T0, 0);
	/* From one watched state straight into another: only the second one counts. */
	update(s, 12, TT_ESTABLISHED, TT_FIN_WAIT1, T0, 0);
	update(s, 12, TT_FIN_WAIT1, TT_FIN_WAIT2, T0 + 500 * MS, 0);
	/* Unwatched states are not tracked. */
	update(s, 13, TT_SYN_SENT, TT_ESTABLISHED, T0, 0);
	update(s, 14, TT_CLOSE, TT_LISTEN, T0, 0);
	assert_int_equal(stuck_tracked(s), 3);

	stuck_tick(s, T0 + S, SIZE_MAX);
	assert_int_equal(al.n, 0);
	stuck_tick(s, T0 + 2 * S, SIZE_MAX);
	assert_int_equal(al.n, 1);
	check_alert(&al.v[0], 10, TT_SYN_SENT, T0, T0 + 2 * S, TT_F_DELTA_KNOWN);
	stuck_tick(s, T0 + 5 * S + 500 * MS, SIZE_MAX);
	assert_int_equal(al.n, 2);
	check_alert(&al.v[1], 12, TT_FIN_WAIT2, T0 + 500 * MS, T0 + 5 * S + 500 * MS,
		    TT_F_DELTA_KNOWN);
	stuck_tick(s, T0 + 30 * S, SIZE_MAX);
	assert_int_equal(al.n, 3);
	check_alert(&al.v[2], 11, TT_CLOSE_WAIT, T0, T0 + 30 * S, TT_F_DELTA_KNOWN);

	/* Alerted in one watched state, then into another: a new alert for that one. */
	update(s, 10, TT_SYN_SENT, TT_FIN_WAIT1, T0 + 40 * S, 0);
	stuck_tick(s, T0 + 41 * S, SIZE_MAX);
	assert_int_equal(al.n, 4);
	check_alert(&al.v[3], 10, TT_FIN_WAIT1, T0 + 40 * S, T0 + 41 * S, TT_F_DELTA_KNOWN);
	stuck_tick(s, T0 + 100 * S, SIZE_MAX);
	assert_int_equal(al.n, 4);

	update(s, 10, TT_FIN_WAIT1, TT_CLOSE, T0 + 101 * S, 0);
	update(s, 11, TT_CLOSE_WAIT, TT_LAST_ACK, T0 + 101 * S, 0);
	update(s, 12, TT_FIN_WAIT2, TT_TIME_WAIT, T0 + 101 * S, 0);
	assert_int_equal(stuck_tracked(s), 0);
	stuck_free(s);
	alerts_free(&al);
}

/* No rules is a watcher that never alerts; more rules than TT_MAX_STUCK is no watcher. */
static void test_rule_count(void **state)
{
	struct ruleset rs = rules(1, TT_SYN_SENT, S);
	struct stuck *s = stuck_new(NULL, 0, record, NULL);

	assert_non_null(s);
	stuck_free(s);
	assert_null(stuck_new(rs.r, TT_MAX_STUCK + 1, record, NULL));
	assert_null(stuck_new(rs.r, -1, record, NULL));
}

/* What is not a transition, or has no cookie, or with no rules at all: nothing. */
static void test_ignored(void **state)
{
	struct ruleset rs = rules(1, TT_SYN_SENT, S), none = rules(0);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al),
		     *n = stuck_new(none.r, none.n, record, &al);
	struct tt_event e = ev(1, TT_SYN_SENT, TT_SYN_SENT, T0, 0);

	e.type = TT_EV_STUCK;
	stuck_update(s, &e);
	update(s, 0, TT_CLOSE, TT_SYN_SENT, T0, 0);
	seed(s, 0, TT_SYN_SENT, T0, 0);
	seed(s, 2, TT_ESTABLISHED, T0, 0);
	assert_int_equal(stuck_tracked(s), 0);
	update(n, 1, TT_CLOSE, TT_SYN_SENT, T0, 0);
	seed(n, 2, TT_SYN_SENT, T0, 0);
	assert_int_equal(stuck_tracked(n), 0);
	stuck_tick(s, T0 + 10 * S, SIZE_MAX);
	stuck_tick(n, T0 + 10 * S, SIZE_MAX);
	assert_int_equal(al.n, 0);
	stuck_free(s);
	stuck_free(n);
	stuck_free(NULL);
	alerts_free(&al);
}

static void test_seeded(void **state)
{
	struct ruleset rs = rules(2, TT_CLOSE_WAIT, 10 * S, TT_ESTABLISHED, 3600 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);

	/* The walk reports sockets one after the other, at increasing times. */
	/* Predates the tracer: "at least" 10 s. */
	seed(s, 20, TT_CLOSE_WAIT, T0, TT_F_DELTA_MIN | TT_F_OWNER_KNOWN);
	/* Seeded with a known entry time (no DELTA_MIN): exact. */
	seed(s, 21, TT_CLOSE_WAIT, T0 + 1 * MS, 0);
	/* An event got to this socket first: the seed must not override it. */
	update(s, 22, TT_ESTABLISHED, TT_CLOSE_WAIT, T0 + 2 * MS, TT_F_OWNER_KNOWN);
	seed(s, 22, TT_CLOSE_WAIT, T0 + 3 * MS, TT_F_DELTA_MIN);
	/* Nor a second seed the first. */
	seed(s, 20, TT_CLOSE_WAIT, T0 + 4 * MS, 0);
	/* Seeded, then an event says when it really got there: no more "at least". */
	seed(s, 23, TT_CLOSE_WAIT, T0 + 5 * MS, TT_F_DELTA_MIN | TT_F_OWNER_KNOWN);
	update(s, 23, TT_ESTABLISHED, TT_CLOSE_WAIT, T0 + 5 * MS, 0);
	/* Seeded, then it leaves: nothing. */
	seed(s, 24, TT_CLOSE_WAIT, T0 + 6 * MS, TT_F_DELTA_MIN);
	update(s, 24, TT_CLOSE_WAIT, TT_LAST_ACK, T0 + S, 0);
	/* Seeded in an unwatched state, then into a watched one. */
	seed(s, 25, TT_SYN_SENT, T0 + 7 * MS, TT_F_DELTA_MIN);
	update(s, 25, TT_ESTABLISHED, TT_CLOSE_WAIT, T0 + 2 * S, 0);
	assert_int_equal(stuck_tracked(s), 5);

	stuck_tick(s, T0 + 10 * S - 1, SIZE_MAX);
	assert_int_equal(al.n, 0);
	stuck_tick(s, T0 + 10 * S, SIZE_MAX);
	assert_int_equal(al.n, 1);
	check_alert(&al.v[0], 20, TT_CLOSE_WAIT, T0, T0 + 10 * S,
		    TT_F_DELTA_KNOWN | TT_F_OWNER_KNOWN | TT_F_DELTA_MIN);
	stuck_tick(s, T0 + 10 * S + 1 * MS, SIZE_MAX);
	assert_int_equal(al.n, 2);
	check_alert(&al.v[1], 21, TT_CLOSE_WAIT, T0 + 1 * MS, T0 + 10 * S + 1 * MS,
		    TT_F_DELTA_KNOWN);
	stuck_tick(s, T0 + 10 * S + 4 * MS, SIZE_MAX);
	assert_int_equal(al.n, 3);
	check_alert(&al.v[2], 22, TT_CLOSE_WAIT, T0 + 2 * MS, T0 + 10 * S + 4 * MS,
		    TT_F_DELTA_KNOWN | TT_F_OWNER_KNOWN);
	stuck_tick(s, T0 + 10 * S + 5 * MS, SIZE_MAX);
	assert_int_equal(al.n, 4);
	check_alert(&al.v[3], 23, TT_CLOSE_WAIT, T0 + 5 * MS, T0 + 10 * S + 5 * MS,
		    TT_F_DELTA_KNOWN);
	stuck_tick(s, T0 + 12 * S, SIZE_MAX);
	assert_int_equal(al.n, 5);
	check_alert(&al.v[4], 25, TT_CLOSE_WAIT, T0 + 2 * S, T0 + 12 * S, TT_F_DELTA_KNOWN);
	stuck_tick(s, T0 + 1000 * S, SIZE_MAX);
	assert_int_equal(al.n, 5);

	/* A seeded ESTABLISHED socket gets its hour-long alert too, once. */
	seed(s, 26, TT_ESTABLISHED, T0 + 1000 * S, TT_F_DELTA_MIN);
	stuck_tick(s, T0 + 4600 * S, SIZE_MAX);
	stuck_tick(s, T0 + 9000 * S, SIZE_MAX);
	assert_int_equal(al.n, 6);
	check_alert(&al.v[5], 26, TT_ESTABLISHED, T0 + 1000 * S, T0 + 4600 * S,
		    TT_F_DELTA_KNOWN | TT_F_DELTA_MIN);
	stuck_free(s);
	alerts_free(&al);
}

/*
 * Entries are kept in arrival order, so one that arrives later with an earlier entry time (an
 * event queued during the walk of existing sockets, CPUs racing to the ring buffer) waits for
 * the ones ahead of it: never early, never twice, at the latest when the one ahead is due.
 */
static void test_out_of_order_entry(void **state)
{
	struct ruleset rs = rules(1, TT_CLOSE_WAIT, 10 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);

	seed(s, 30, TT_CLOSE_WAIT, T0, TT_F_DELTA_MIN);
	update(s, 31, TT_ESTABLISHED, TT_CLOSE_WAIT, T0 - 2 * MS, 0);
	stuck_tick(s, T0 + 10 * S - 2 * MS - 1, SIZE_MAX);
	assert_int_equal(al.n, 0);
	stuck_tick(s, T0 + 10 * S, SIZE_MAX);
	stuck_tick(s, T0 + 20 * S, SIZE_MAX);
	assert_int_equal(al.n, 2);
	assert_int_equal(al.v[1].sock_cookie, 31);
	assert_int_equal(al.v[1].delta_ns, 10 * S + 2 * MS);
	stuck_free(s);
	alerts_free(&al);
}

/*
 * 100k sockets: a third leave before their time, the rest alert exactly once, never early, in
 * the order they entered, with ticks every 10 ms of simulated time.
 */
static void test_many_sockets_in_order(void **state)
{
	enum {
		N = 100000
	};
	struct ruleset rs = rules(1, TT_SYN_SENT, 2 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);
	uint8_t *seen = calloc(N, 1);
	uint64_t now = T0, last_entered = 0;
	size_t checked = 0;

	assert_non_null(seen);
	for (uint64_t i = 0; i < N; i++) {
		/* 1 socket every 50 us: 40k sockets in the state at once. */
		now = T0 + i * 50000;
		update(s, i * 2654435761ULL + 1, TT_CLOSE, TT_SYN_SENT, now, TT_F_OWNER_KNOWN);
		if (i >= 300 && (i - 300) % 3 == 0)
			update(s, (i - 300) * 2654435761ULL + 1, TT_SYN_SENT, TT_ESTABLISHED, now,
			       0);
		if (i % 200 == 0)
			stuck_tick(s, now, SIZE_MAX);
		for (; checked < al.n; checked++) {
			const struct tt_event *a = &al.v[checked];
			uint64_t entered = a->ts_ns - a->delta_ns;
			uint64_t k = (entered - T0) / 50000;

			assert_true(a->delta_ns >= 2 * S);
			assert_true(a->delta_ns < 2 * S + 10 * MS);
			assert_true(entered >= last_entered);
			last_entered = entered;
			assert_int_equal(a->sock_cookie, k * 2654435761ULL + 1);
			assert_false(k % 3 == 0 && k + 300 < N);
			assert_false(seen[k]);
			seen[k] = 1;
		}
	}
	stuck_tick(s, now + 3 * S, SIZE_MAX);
	for (; checked < al.n; checked++) {
		const struct tt_event *a = &al.v[checked];
		uint64_t k = (a->ts_ns - a->delta_ns - T0) / 50000;

		assert_true(a->ts_ns - a->delta_ns >= last_entered);
		last_entered = a->ts_ns - a->delta_ns;
		assert_false(seen[k]);
		seen[k] = 1;
	}
	for (uint64_t k = 0; k < N; k++)
		assert_int_equal(seen[k], !(k % 3 == 0 && k + 300 < N));
	for (uint64_t k = 0; k < N; k++)
		update(s, k * 2654435761ULL + 1, TT_SYN_SENT, TT_CLOSE, now + 4 * S, 0);
	assert_int_equal(stuck_tracked(s), 0);
	stuck_free(s);
	free(seen);
	alerts_free(&al);
}

/* Home slot of a cookie in stuck.c's table of `cap` slots, to build collisions on purpose. */
static size_t home(uint64_t cookie, size_t cap)
{
	return (size_t)((cookie * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible, no libc state. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

struct model {
	uint64_t cookie;
	int state; /* 0: not watched */
	uint64_t entered;
	int alerted;
	uint16_t flags; /* the alert's flags */
};

static int by_cookie(const void *a, const void *b)
{
	const struct tt_event *x = a, *y = b;

	return x->sock_cookie < y->sock_cookie ? -1 : x->sock_cookie > y->sock_cookie;
}

/*
 * Random updates, seeds and ticks over `n` cookies, against a plain array model. Most cookies
 * share a few home slots around the table's wrap point (1022, 1023, 0, 1 of the first 1024), so
 * inserts probe long runs, the table grows through them, and erases shift entries backwards
 * across the wrap. Alert sets, their fields and stuck_tracked() must match after every step.
 */
static void model_run(size_t n, int ops, uint64_t seedval)
{
	static const int states[] = {TT_SYN_SENT,    TT_CLOSE_WAIT, TT_FIN_WAIT2,
				     TT_ESTABLISHED, TT_CLOSE,	    TT_LAST_ACK};
	struct ruleset rs = rules(3, TT_SYN_SENT, 2 * S, TT_CLOSE_WAIT, 3 * S, TT_FIN_WAIT2, S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);
	struct model *m = calloc(n, sizeof(*m));
	struct tt_event *want = calloc(n, sizeof(*want));
	uint64_t now = T0, c = 0;
	size_t tracked = 0, nwant, nalerts = 0, max_tracked = 0;

	assert_non_null(m);
	assert_non_null(want);
	rng_state = seedval;
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 7) { /* a few anywhere */
			m[i].cookie = rnd() | 1;
			continue;
		}
		do
			c++;
		while ((home(c, 1024) + 2) % 1024 > 3);
		m[i].cookie = c;
	}
	for (int op = 0; op < ops; op++) {
		uint64_t r = rnd();
		struct model *x = &m[(r >> 8) % n];
		int st = states[(r >> 40) % 6];
		int watched = st == TT_SYN_SENT || st == TT_CLOSE_WAIT || st == TT_FIN_WAIT2;
		uint16_t owner = (r >> 50) & 1 ? TT_F_OWNER_KNOWN : 0;

		switch (r % 16) {
		case 0: /* time passes, in quarter seconds so deadlines are hit exactly */
			now += ((r >> 20) % 9) * 250 * MS;
			al.n = 0;
			stuck_tick(s, now, SIZE_MAX);
			nwant = 0;
			for (size_t i = 0; i < n; i++) {
				uint64_t ns = m[i].state == TT_SYN_SENT	    ? 2 * S
					      : m[i].state == TT_CLOSE_WAIT ? 3 * S
									    : S;

				if (!m[i].state || m[i].alerted || now - m[i].entered < ns)
					continue;
				m[i].alerted = 1;
				want[nwant] = ev(m[i].cookie, m[i].state, m[i].state, now, 0);
				want[nwant].delta_ns = now - m[i].entered;
				want[nwant++].flags = m[i].flags;
			}
			assert_int_equal(al.n, nwant);
			if (nwant) {
				qsort(al.v, al.n, sizeof(*al.v), by_cookie);
				qsort(want, nwant, sizeof(*want), by_cookie);
			}
			for (size_t i = 0; i < nwant; i++)
				check_alert(&al.v[i], want[i].sock_cookie, want[i].newstate,
					    now - want[i].delta_ns, now, want[i].flags);
			nalerts += nwant;
			break;
		case 1:
		case 2:				  /* a walk finds it (only before it is known) */
			update(s, 0, 0, 0, 0, 0); /* no cookie: ignored */
			seed(s, x->cookie, st, now, owner | ((r >> 51) & 1 ? TT_F_DELTA_MIN : 0));
			if (watched && !x->state) {
				x->state = st;
				x->entered = now;
				x->alerted = 0;
				x->flags = TT_F_DELTA_KNOWN | owner |
					   ((r >> 51) & 1 ? TT_F_DELTA_MIN : 0);
				tracked++;
			}
			break;
		default: /* a transition */
			update(s, x->cookie, x->state ? x->state : TT_ESTABLISHED, st, now, owner);
			if (watched) {
				tracked += !x->state;
				x->state = st;
				x->entered = now;
				x->alerted = 0;
				x->flags = TT_F_DELTA_KNOWN | owner;
			} else if (x->state) {
				x->state = 0;
				tracked--;
			}
			break;
		}
		assert_int_equal(stuck_tracked(s), tracked);
		if (tracked > max_tracked)
			max_tracked = tracked;
	}
	/* Everything leaves, in random order: the table must find every entry to erase it. */
	for (size_t i = 0; i < n; i++) {
		struct model *x = &m[(i * 7919) % n];

		update(s, x->cookie, TT_CLOSE_WAIT, TT_CLOSE, now, 0);
		if (x->state) {
			x->state = 0;
			tracked--;
		}
		assert_int_equal(stuck_tracked(s), tracked);
	}
	assert_int_equal(stuck_tracked(s), 0);
	al.n = 0;
	stuck_tick(s, now + 100 * S, SIZE_MAX);
	assert_int_equal(al.n, 0);
	assert_true(nalerts > 0);
	assert_true(max_tracked > n / 4);
	stuck_free(s);
	free(m);
	free(want);
	alerts_free(&al);
}

static void test_model_small(void **state)
{
	model_run(16, 20000, 1);
	model_run(40, 20000, 2);
}

static void test_model_growth(void **state)
{
	/* Up to 1500 live entries: the 1024-slot table doubles twice through the collisions. */
	model_run(600, 60000, 3);
	model_run(1500, 100000, 4);
}

/* Deterministic interleavings: fill a collision run, erase from the front, back and middle. */
static void test_collision_erase(void **state)
{
	enum {
		N = 700
	};
	struct ruleset rs = rules(1, TT_CLOSE_WAIT, S);
	struct alerts al = {0};
	uint64_t cookies[N], c = 0;
	uint8_t alive[N];

	/* Everything lands on slots 1023 and 0 while the table has 1024 slots. */
	for (int i = 0; i < N; i++) {
		do
			c++;
		while ((home(c, 1024) + 1) % 1024 > 1);
		cookies[i] = c;
	}
	for (int pattern = 0; pattern < 4; pattern++) {
		struct stuck *s = stuck_new(rs.r, rs.n, record, &al);
		size_t live = 0;

		al.n = 0;
		memset(alive, 0, sizeof(alive));
		for (int i = 0; i < N; i++) {
			update(s, cookies[i], TT_ESTABLISHED, TT_CLOSE_WAIT, T0, 0);
			live += !alive[i];
			alive[i] = 1;
			/* Erase some as we go, so the run has holes filled by backward shifts. */
			if (pattern >= 2 && i % 5 == 4) {
				int k = pattern == 2 ? i - 2 : i / 2;

				update(s, cookies[k], TT_CLOSE_WAIT, TT_LAST_ACK, T0, 0);
				live -= alive[k];
				alive[k] = 0;
			}
			assert_int_equal(stuck_tracked(s), live);
		}
		/* Erase half: from the front, from the back, or spread out. */
		for (int i = 0; i < N / 2; i++) {
			int k = pattern == 0 ? i : pattern == 1 ? N - 1 - i : (i * 7) % N;

			update(s, cookies[k], TT_CLOSE_WAIT, TT_CLOSE, T0, 0);
			live -= alive[k];
			alive[k] = 0;
			assert_int_equal(stuck_tracked(s), live);
		}
		/* The survivors are still found: seeding them adds nothing, the others come back. */
		for (int i = 0; i < N; i++)
			seed(s, cookies[i], TT_CLOSE_WAIT, alive[i] ? T0 + 5 * S : T0, 0);
		assert_int_equal(stuck_tracked(s), N);
		stuck_tick(s, T0 + S, SIZE_MAX);
		assert_int_equal(al.n, N);
		qsort(al.v, al.n, sizeof(*al.v), by_cookie);
		for (int i = 0; i < N; i++) {
			assert_int_equal(al.v[i].sock_cookie, cookies[i]);
			assert_int_equal(al.v[i].delta_ns, S);
		}
		for (int i = 0; i < N; i++)
			update(s, cookies[i], TT_CLOSE_WAIT, TT_CLOSE, T0 + S, 0);
		assert_int_equal(stuck_tracked(s), 0);
		stuck_free(s);
	}
	alerts_free(&al);
}

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/*
 * A watchdog runs for days: a million sockets through SYN_SENT and CLOSE_WAIT (20k/s of
 * simulated time, a tick every 10 ms, a few stuck for good) keep the table and the heap bounded.
 */
static void test_million_churn_bounded(void **state)
{
	enum {
		N = 1000000
	};
	struct ruleset rs = rules(2, TT_SYN_SENT, 2 * S, TT_CLOSE_WAIT, 30 * S);
	struct alerts al = {0};
	struct stuck *s = stuck_new(rs.r, rs.n, record, &al);
	uint64_t now = T0, max_tracked = 0;
	size_t heap_early = 0, heap_end;

	/* Stuck for good from the start: they sit at the head of their FIFOs until alerted. */
	update(s, 1ULL << 60, TT_CLOSE, TT_SYN_SENT, now, 0);
	update(s, (1ULL << 60) + 1, TT_ESTABLISHED, TT_CLOSE_WAIT, now, 0);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t c = i + 1;

		now = T0 + i * 50000;
		update(s, c, TT_CLOSE, TT_SYN_SENT, now, TT_F_OWNER_KNOWN);
		update(s, c, TT_SYN_SENT, TT_ESTABLISHED, now + 100000, 0);
		update(s, c, TT_ESTABLISHED, TT_CLOSE_WAIT, now + 200000, 0);
		/* Sockets leave a few ms later, so some are always in the table. */
		if (i >= 100) {
			update(s, c - 100, TT_CLOSE_WAIT, TT_LAST_ACK, now, 0);
			update(s, c - 100, TT_LAST_ACK, TT_CLOSE, now, 0);
		}
		if (i % 200 == 0)
			stuck_tick(s, now, SIZE_MAX);
		if (stuck_tracked(s) > max_tracked)
			max_tracked = stuck_tracked(s);
		if (i == 700000)
			heap_early = heap_bytes();
	}
	heap_end = heap_bytes();
	for (uint64_t c = N - 99; c <= N; c++)
		update(s, c, TT_CLOSE_WAIT, TT_CLOSE, now, 0);
	stuck_tick(s, now + S, SIZE_MAX);
	/* Only the two stuck for good alerted, once each. */
	assert_int_equal(al.n, 2);
	assert_int_equal(stuck_tracked(s), 2);
	assert_true(max_tracked <= 103);
	/*
	 * A FIFO keeps up to its rule's duration of entries (CLOSE_WAIT: 30 s, 600k here), so the
	 * heap peaks once; past that window (700k sockets in) it must not grow any more. Under ASan
	 * mallinfo2 sees nothing (0 <= 0); the ASan build still checks for leaks.
	 */
	print_message("stuck: %d sockets, max tracked %llu, heap %zu KiB at 700k, %zu KiB at end\n",
		      N, (unsigned long long)max_tracked, heap_early >> 10, heap_end >> 10);
	assert_true(heap_end <= heap_early + (1 << 20));
	update(s, 1ULL << 60, TT_SYN_SENT, TT_CLOSE, now, 0);
	update(s, (1ULL << 60) + 1, TT_CLOSE_WAIT, TT_CLOSE, now, 0);
	assert_int_equal(stuck_tracked(s), 0);
	stuck_free(s);
	alerts_free(&al);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_alert_per_stay),
		cmocka_unit_test(test_late_tick),
		cmocka_unit_test(test_alert_flags),
		cmocka_unit_test(test_leave_cancels),
		cmocka_unit_test(test_reenter_new_episode),
		cmocka_unit_test(test_several_rules),
		cmocka_unit_test(test_rule_count),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_seeded),
		cmocka_unit_test(test_out_of_order_entry),
		cmocka_unit_test(test_many_sockets_in_order),
		cmocka_unit_test(test_model_small),
		cmocka_unit_test(test_model_growth),
		cmocka_unit_test(test_collision_erase),
		cmocka_unit_test(test_million_churn_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
