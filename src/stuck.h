/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_STUCK_H
#define TT_STUCK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "stuck_rule.h"
#include "tcptrail.h"

/* Watches sockets for --stuck STATE=DURATION: one alert per socket per stay in a state. */
struct stuck;

typedef void (*stuck_alert_fn)(void *ctx, const struct tt_event *alert);

/* rules: the --stuck rules, at most TT_MAX_STUCK (NULL with 0 for none); copied. */
struct stuck *stuck_new(const struct stuck_rule *rules, int nrules, stuck_alert_fn alert,
			void *ctx);
/* Feeds one transition (TT_EVENT_CLOCK timestamps). */
void stuck_update(struct stuck *s, const struct tt_event *e);
/* Registers a socket that predates the tracer as in its state since at least `now`. */
void stuck_seed_socket(struct stuck *s, const struct tt_event *e);
/*
 * Raises the alerts that are due at `now`, at most max of them (the oldest first): the rest stay
 * due for a later tick. Returns how many it raised.
 */
size_t stuck_tick(struct stuck *s, uint64_t now, size_t max);
/* Sockets watched right now (memory bound checks). */
uint64_t stuck_tracked(const struct stuck *s);
/* Sockets that entered a watched state but could not be watched (out of memory): no alert. */
uint64_t stuck_unwatched(const struct stuck *s);
void stuck_free(struct stuck *s);

#endif
