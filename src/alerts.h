/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_ALERTS_H
#define TT_ALERTS_H

/*
 * --stuck alerts name who holds the socket when they are raised, as `snapshot -p` would. The
 * alerts that fall due wait here; one owner walk (iter/task_file) re-checks the holders of all
 * of them on a thread of its own, since it reads every open file of the machine; the event loop
 * then hands them on with their holders a bounded number per turn, so that neither the walk nor
 * an alert storm keeps it from draining the ring buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "filter.h"
#include "owners.h"
#include "tcptrail.h"

struct alerts;

/* What alerts did, for the final report. */
struct alerts_stats {
	uint64_t emitted;     /* alerts handed on (those the filters pass) */
	uint64_t unchecked;   /* of them, without re-checked holders: no walk, or out of memory */
	uint64_t walks;	      /* owner walks */
	uint64_t walk_max_ns; /* the longest */
};

/* holders is NULL when the walk could not run: the alert keeps the owner the tracer knew. */
typedef void (*alerts_emit_fn)(void *ctx, const struct tt_event *alert,
			       const struct owners_list *holders);

/*
 * Loads and attaches the owner walk and starts its thread (a failure is reported on stderr
 * once, and alerts go out without re-checked holders). f: the filters, applied to every alert
 * (the kernel filtered the events, but not the start-up walk of older sockets); --pid/--comm
 * match any holder. NULL only when out of memory. Everything else is called from one thread.
 */
struct alerts *alerts_new(const struct tt_filter *f, alerts_emit_fn emit, void *ctx);
/*
 * How many more alerts alerts_add() takes now: the queue is bounded, and the alerts a full
 * queue leaves out stay due in stuck (stuck_tick()'s max) for a later tick, none dropped.
 */
size_t alerts_room(const struct alerts *a);
/* Queues an alert that fell due; a copy is kept. */
void alerts_add(struct alerts *a, const struct tt_event *alert);
/*
 * One turn of the event loop (now: CLOCK_MONOTONIC ns): emits at most max alerts whose walk is
 * done, in the order they were added, and starts the next walk for the queued ones. A walk
 * reads every open file of every process, so after one the next waits nine times as long as it
 * took: walks use at most a tenth of the time however alerts are spread.
 */
void alerts_pump(struct alerts *a, uint64_t now, size_t max);
/* At the end: waits for the walks and emits every alert queued. */
void alerts_flush(struct alerts *a);
void alerts_stats(struct alerts *a, struct alerts_stats *st);
void alerts_free(struct alerts *a);

#endif
