/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SUMMARY_H
#define TT_SUMMARY_H

#include "logread.h"
#include "outbuf.h"

/*
 * What a reviewer of a recording wants first: transition counts, connections opened and closed,
 * resets, time spent per state (count, p50/p90/p99 within 1.6%, exact max), top processes and
 * remote endpoints, sockets still open at the end, stuck alerts.
 */
struct summary;

struct summary *summary_new(void);
void summary_free(struct summary *s);

/* Accounts one record (already filtered). Returns -1 when out of memory. */
int summary_add(struct summary *s, const struct lr_record *r);

/* Renders as text (numeric: port numbers, no service names) or one JSON object line. */
void summary_text(struct summary *s, struct outbuf *ob, int numeric);
void summary_json(struct summary *s, struct outbuf *ob);

#endif
