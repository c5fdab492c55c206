/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_ACCEPTQ_H
#define TT_ACCEPTQ_H

/*
 * Events of connections still waiting in the accept queue of a listener that several processes
 * hold (TT_F_PRE_ACCEPT): any of them may accept the connection, and the kernel names the
 * listener's owner. They are held here until the acceptor is known (a TT_EV_ACCEPTED record),
 * the connection's next event that is not pre-accept, or at most max_age; then they go out in
 * their order, naming the acceptor when it is known (the flag stays: they happened before the
 * accept). Pure: no libbpf, no system calls.
 */
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "tcptrail.h"

struct acceptq;

typedef void (*acceptq_emit_fn)(void *ctx, const struct tt_event *e);

/* At most cap events held (a full queue refuses); NULL when out of memory. */
struct acceptq *acceptq_new(size_t cap, uint64_t max_age_ns);
void acceptq_free(struct acceptq *q);

/* Whether events of this connection are held (a later one must wait behind them). */
int acceptq_holds(const struct acceptq *q, uint64_t cookie);

/* Holds a copy of e, arrived at now (ns, any clock); -1 when full: emit it as it is. */
int acceptq_hold(struct acceptq *q, const struct tt_event *e, uint64_t now);

/*
 * The connection's events go out: naming pid/comm when owner is not NULL (its acceptor or the
 * holder its later event names), else as they are.
 */
void acceptq_release(struct acceptq *q, uint64_t cookie, const struct tt_event *owner,
		     acceptq_emit_fn emit, void *ctx);

/* Events held longer than max_age go out as they are (with their connection's later ones). */
void acceptq_expire(struct acceptq *q, uint64_t now, acceptq_emit_fn emit, void *ctx);

/* Everything held goes out as it is, in order (the end of a run). */
void acceptq_flush(struct acceptq *q, acceptq_emit_fn emit, void *ctx);

size_t acceptq_count(const struct acceptq *q);
/* Events that found the queue full and went out naming the listener's owner. */
uint64_t acceptq_refused(const struct acceptq *q);

#endif
