// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Stuck alerts with the holders of their socket, from one owner walk per tick. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alerts.h"
#include "bpfcommon.h"
#include "outbuf.h"
#include "snapshot.h"

#define WALK_GAP_FACTOR 9 /* idle time after a walk, in walk durations */

struct alerts {
	const struct tt_filter *filter;
	struct tt_filter rest; /* filter without --pid/--comm, which are matched to the holders */
	alerts_emit_fn emit;
	void *ctx;
	struct owner_walk *walk; /* NULL: could not be loaded, alerts keep the known owner */
	struct outbuf recs;	 /* a walk's struct tt_owner_rec, while its alerts go out */
	struct tt_event *queue;
	size_t n, cap;
	uint64_t next_ns; /* CLOCK_MONOTONIC: no tick before this */
	int warned;
};

struct alerts *alerts_new(const struct tt_filter *f, alerts_emit_fn emit, void *ctx)
{
	struct alerts *a = calloc(1, sizeof(*a));
	const char *what;
	int err;

	if (!a)
		return NULL;
	a->filter = f;
	a->rest = *f;
	a->rest.npids = 0;
	a->rest.ncomms = 0;
	a->emit = emit;
	a->ctx = ctx;
	ob_init(&a->recs);
	err = owner_walk_open(&a->walk, &what);
	if (err) {
		fprintf(stderr,
			"tcptrail: warning: %s: %s: stuck alerts name the owner the tracer knew, "
			"not re-checked\n",
			what, strerror(-err));
		a->warned = 1;
	}
	return a;
}

void alerts_add(struct alerts *a, const struct tt_event *alert)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct tt_event *q = realloc(a->queue, cap * sizeof(*q));

		if (!q) {
			/* Out of memory: better the alert with the owner known so far than none. */
			if (filter_match(a->filter, alert))
				a->emit(a->ctx, alert, NULL);
			return;
		}
		a->queue = q;
		a->cap = cap;
	}
	a->queue[a->n++] = *alert;
}

int alerts_may_tick(const struct alerts *a, uint64_t now)
{
	return now >= a->next_ns;
}

/* One walk into a->recs, sorted by cookie; the number of records, or -errno. */
static long walk(struct alerts *a)
{
	int err;

	if (!a->walk)
		return -ENOENT;
	err = owner_walk_read(a->walk, &a->recs);
	if (!err && a->recs.oom)
		err = -ENOMEM;
	if (err) {
		if (!a->warned)
			fprintf(stderr,
				"tcptrail: warning: reading the process file iterator: %s: stuck "
				"alerts name the owner the tracer knew, not re-checked\n",
				strerror(-err));
		a->warned = 1;
		return err;
	}
	return (long)owners_sort((struct tt_owner_rec *)a->recs.data,
				 a->recs.len / sizeof(struct tt_owner_rec), OWNERS_BY_COOKIE);
}

void alerts_raise(struct alerts *a)
{
	uint64_t start, took;
	long nrecs;

	if (!a->n)
		return;
	start = tt_now_ns(CLOCK_MONOTONIC);
	nrecs = walk(a);
	took = tt_now_ns(CLOCK_MONOTONIC) - start;
	a->next_ns = start + took + WALK_GAP_FACTOR * took;
	for (size_t i = 0; i < a->n; i++) {
		struct tt_event *e = &a->queue[i];
		struct owners_list h;

		/*
		 * Sockets that predate the tracer are watched whatever the filters (the kernel
		 * filters events, not the start-up walk): the filters apply here.
		 */
		if (!filter_match(&a->rest, e))
			continue;
		if (nrecs < 0) {
			if (filter_match(a->filter, e))
				a->emit(a->ctx, e, NULL);
			continue;
		}
		owners_for_alert(e, (const struct tt_owner_rec *)a->recs.data, (size_t)nrecs, &h);
		/* As in snapshot: the socket is shown when any process holding it matches. */
		if (owners_match(a->filter, h.recs, h.n + h.more))
			a->emit(a->ctx, e, &h);
	}
	a->n = 0;
	/* 40 bytes per open socket file of the whole machine, for an event that is rare. */
	ob_free(&a->recs);
}

void alerts_free(struct alerts *a)
{
	if (!a)
		return;
	owner_walk_close(a->walk);
	ob_free(&a->recs);
	free(a->queue);
	free(a);
}
