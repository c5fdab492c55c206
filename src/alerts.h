/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_ALERTS_H
#define TT_ALERTS_H

/*
 * --stuck alerts name who holds the socket when they are raised, as `snapshot -p` would: the
 * alerts that fall due in one stuck tick wait here, one owner walk (iter/task_file) re-checks
 * the holders of all of them, and each is handed on with its holders.
 */
#include <stdint.h>
#include <linux/types.h>
#include "filter.h"
#include "owners.h"
#include "tcptrail.h"

struct alerts;

/* holders is NULL when the walk could not run: the alert keeps the owner the tracer knew. */
typedef void (*alerts_emit_fn)(void *ctx, const struct tt_event *alert,
			       const struct owners_list *holders);

/*
 * Loads and attaches the owner walk (a failure is reported on stderr once, and alerts go out
 * without re-checked holders). f: the filters, applied to every alert (the kernel filtered the
 * events, but not the start-up walk of older sockets); --pid/--comm match any holder. NULL
 * only when out of memory.
 */
struct alerts *alerts_new(const struct tt_filter *f, alerts_emit_fn emit, void *ctx);
/* Queues an alert that fell due; a copy is kept. */
void alerts_add(struct alerts *a, const struct tt_event *alert);
/*
 * Whether a stuck tick may run at now (CLOCK_MONOTONIC ns). A walk reads every open file of
 * every process, so after one the next waits nine times as long as it took: walks use at most
 * a tenth of the time however alerts are spread. Alerts that fall due meanwhile are raised by
 * the next tick (stuck keeps them).
 */
int alerts_may_tick(const struct alerts *a, uint64_t now);
/* Runs the walk once for the queued alerts, if any, and emits each. */
void alerts_raise(struct alerts *a);
void alerts_free(struct alerts *a);

#endif
