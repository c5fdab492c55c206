// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stuck alerts with the holders of their socket. The owner walk runs on a thread of its own, one
 * batch of alerts at a time: the event loop queues the alerts that fall due, hands the queue to
 * the walker when it is idle (and the walks' spacing allows), and emits the walked batch a
 * bounded number per loop turn, so the ring buffer is drained between them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "alerts.h"
#include "bpfcommon.h"
#include "outbuf.h"
#include "snapshot.skel.h"
#include "snapbpf.h"
#include "thread.h"

#define WALK_GAP_FACTOR 9 /* idle time after a walk, in walk durations */
/* Alerts queued at most (168 bytes each): past it stuck keeps them due. */
#define QUEUE_MAX  (256 * 1024)
#define BATCH_KEEP 4096 /* a batch array larger than this is freed once emitted */

enum batch_state {
	BATCH_IDLE,
	BATCH_WALKING,
	BATCH_READY
};

struct alerts {
	const struct tt_filter *filter;
	struct tt_filter rest; /* filter without --pid/--comm, which are matched to the holders */
	alerts_emit_fn emit;
	void *ctx;
	struct owner_walk *walk; /* NULL: could not be loaded, alerts keep the known owner */

	/* The event loop's: alerts queued for the next walk, and the batch being walked/emitted. */
	struct tt_event *queue;
	size_t n, cap;
	struct tt_event *batch;
	size_t bn, bcap, bpos; /* bpos: the next alert of the batch to emit */
	enum batch_state state;

	/*
	 * The walker's while a batch is BATCH_WALKING, the loop's once it is BATCH_READY: the
	 * mutex hands them over.
	 */
	struct outbuf recs; /* the walk's struct tt_owner_rec, sorted by cookie */
	long nrecs;	    /* records in recs, or -errno: no holders for this batch */
	uint64_t next_ns;   /* CLOCK_MONOTONIC: no walk before this */
	int warned;
	struct alerts_stats st; /* walks and walk_max_ns under the mutex, the rest the loop's */

	pthread_t walker;
	int walker_running;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* go or stop set */
	pthread_cond_t done_cond;
	int go, done, stop;
};

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

/*
 * A walk, timed: the next waits WALK_GAP_FACTOR times as long as this one took. Returns how long
 * it took.
 */
static uint64_t timed_walk(struct alerts *a, long *nrecs, uint64_t *next_ns)
{
	uint64_t start = tt_now_ns(CLOCK_MONOTONIC), took;

	*nrecs = walk(a);
	took = tt_now_ns(CLOCK_MONOTONIC) - start;
	*next_ns = start + took + WALK_GAP_FACTOR * took;
	return took;
}

static void count_walk(struct alerts *a, uint64_t took)
{
	a->st.walks++;
	if (took > a->st.walk_max_ns)
		a->st.walk_max_ns = took;
}

static void *walker_thread(void *arg)
{
	struct alerts *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		long nrecs;
		uint64_t next, took;

		while (!a->go && !a->stop)
			pthread_cond_wait(&a->cond, &a->lock);
		if (!a->go)
			break;
		pthread_mutex_unlock(&a->lock);
		took = timed_walk(a, &nrecs, &next);
		pthread_mutex_lock(&a->lock);
		count_walk(a, took);
		a->nrecs = nrecs;
		a->next_ns = next;
		a->go = 0;
		a->done = 1;
		pthread_cond_signal(&a->done_cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

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
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	pthread_cond_init(&a->done_cond, NULL);
	err = owner_walk_open(&a->walk, &what);
	if (err) {
		fprintf(stderr,
			"tcptrail: warning: %s: %s: stuck alerts name the owner the tracer knew, "
			"not re-checked\n",
			what, strerror(-err));
		a->warned = 1;
		return a;
	}
	/* Without the thread the walk runs on the loop, as it did before there was one. */
	a->walker_running = !pthread_create(&a->walker, NULL, walker_thread, a);
	return a;
}

size_t alerts_room(const struct alerts *a)
{
	return a->n < QUEUE_MAX ? QUEUE_MAX - a->n : 0;
}

void alerts_add(struct alerts *a, const struct tt_event *alert)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct tt_event *q = realloc(a->queue, cap * sizeof(*q));

		if (!q) {
			/* Out of memory: better the alert with the owner known so far than none. */
			if (filter_match(a->filter, alert)) {
				a->st.emitted++;
				a->st.unchecked++;
				a->emit(a->ctx, alert, NULL);
			}
			return;
		}
		a->queue = q;
		a->cap = cap;
	}
	a->queue[a->n++] = *alert;
}

/* The queued alerts become the batch, and the walker (or, without it, the loop) walks. */
static void start_batch(struct alerts *a)
{
	struct tt_event *q = a->batch;
	size_t cap = a->bcap;

	a->batch = a->queue;
	a->bcap = a->cap;
	a->bn = a->n;
	a->bpos = 0;
	a->queue = q;
	a->cap = cap;
	a->n = 0;
	if (!a->walker_running) {
		count_walk(a, timed_walk(a, &a->nrecs, &a->next_ns));
		a->state = BATCH_READY;
		return;
	}
	pthread_mutex_lock(&a->lock);
	a->go = 1;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	a->state = BATCH_WALKING;
}

/* Whether the walker is done with the batch (wait: block until it is). */
static int batch_walked(struct alerts *a, int wait)
{
	pthread_mutex_lock(&a->lock);
	while (wait && !a->done)
		pthread_cond_wait(&a->done_cond, &a->lock);
	if (a->done) {
		a->done = 0;
		a->state = BATCH_READY;
	}
	pthread_mutex_unlock(&a->lock);
	return a->state == BATCH_READY;
}

static void emit_one(struct alerts *a, struct tt_event *e)
{
	struct owners_list h;

	/*
	 * Sockets that predate the tracer are watched whatever the filters (the kernel filters
	 * events, not the start-up walk): the filters apply here.
	 */
	if (!filter_match(&a->rest, e))
		return;
	if (a->nrecs < 0) {
		if (filter_match(a->filter, e)) {
			a->st.emitted++;
			a->st.unchecked++;
			a->emit(a->ctx, e, NULL);
		}
		return;
	}
	owners_for_alert(e, (const struct tt_owner_rec *)a->recs.data, (size_t)a->nrecs, &h);
	/* As in snapshot: the socket is shown when any process holding it matches. */
	if (owners_match(a->filter, h.recs, h.n + h.more)) {
		a->st.emitted++;
		a->emit(a->ctx, e, &h);
	}
}

void alerts_pump(struct alerts *a, uint64_t now, size_t max)
{
	if (a->state == BATCH_WALKING && !batch_walked(a, 0))
		return;
	if (a->state == BATCH_READY) {
		while (max && a->bpos < a->bn) {
			emit_one(a, &a->batch[a->bpos++]);
			max--;
		}
		if (a->bpos < a->bn)
			return;
		a->state = BATCH_IDLE;
		a->bn = a->bpos = 0;
		/* 40 bytes per open socket file of the whole machine, for an event that is rare. */
		ob_free(&a->recs);
		if (a->bcap > BATCH_KEEP) {
			free(a->batch);
			a->batch = NULL;
			a->bcap = 0;
		}
	}
	if (a->state == BATCH_IDLE && a->n && now >= a->next_ns)
		start_batch(a);
}

void alerts_flush(struct alerts *a)
{
	while (a->state != BATCH_IDLE || a->n) {
		if (a->state == BATCH_WALKING)
			batch_walked(a, 1);
		alerts_pump(a, UINT64_MAX, SIZE_MAX);
	}
}

void alerts_stats(struct alerts *a, struct alerts_stats *st)
{
	pthread_mutex_lock(&a->lock);
	*st = a->st;
	pthread_mutex_unlock(&a->lock);
}

void alerts_free(struct alerts *a)
{
	if (!a)
		return;
	if (a->walker_running)
		tt_thread_stop(a->walker, &a->lock, &a->cond, &a->stop);
	pthread_cond_destroy(&a->cond);
	pthread_cond_destroy(&a->done_cond);
	pthread_mutex_destroy(&a->lock);
	owner_walk_close(a->walk);
	ob_free(&a->recs);
	free(a->queue);
	free(a->batch);
	free(a);
}
