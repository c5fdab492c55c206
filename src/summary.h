/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SUMMARY_H
#define TT_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include "logread.h"
#include "outbuf.h"

/*
 * What a reviewer of a recording wants first: transition counts, connections opened and closed,
 * resets, time spent per state (count, p50/p90/p99 within 1.6%, exact max), top processes,
 * containers/units and remote endpoints, sockets still open at the end, stuck alerts.
 *
 * Memory is bounded whatever the log: the counts (transitions, connections, durations, alerts,
 * lost) take fixed memory and stay exact; the tables of sockets, processes and remote endpoints
 * stop taking new entries at the bound, and the summary says how much it could not follow.
 */
struct summary;

/*
 * The summary's tables and histograms never hold more than this: with the program, the reader
 * and the output (a few MiB), replay --summary stays under the 256 MiB the documentation
 * promises, whatever the log.
 */
#define SUMMARY_MEM_MAX ((size_t)248 << 20)

struct summary_opts {
	size_t mem_max; /* bytes; 0 or more than SUMMARY_MEM_MAX: SUMMARY_MEM_MAX */
};

/* What the bound left out. */
struct summary_untracked {
	uint64_t sockets;	 /* sockets never entered in the table: not in open at end */
	uint64_t socket_events;	 /* transitions of those sockets */
	uint64_t process_events; /* events of processes first seen with the table full */
	uint64_t remote_events;	 /* events of remote endpoints first seen with the table full */
	uint64_t cgroup_events;	 /* events of containers/units/cgroups first seen with it full */
};

/* summary_new(): the default bound, for tests and the fuzzer (replay passes its options). */
struct summary *summary_new(void);
struct summary *summary_new_opts(const struct summary_opts *o);
void summary_free(struct summary *s);

/* Accounts one record (already filtered). Returns -1 when an allocation failed. */
int summary_add(struct summary *s, const struct lr_record *r);

/*
 * Sockets open at the end among those tracked (a lower bound when untracked.sockets > 0), for
 * tests.
 */
uint64_t summary_open(const struct summary *s);
/* What the bound left out so far, for tests and the fuzzer: the renderers say it themselves. */
void summary_get_untracked(const struct summary *s, struct summary_untracked *u);
/* Bytes the summary holds now, and its bound, for tests and the fuzzer. */
size_t summary_mem_used(const struct summary *s);
size_t summary_mem_max(const struct summary *s);

/* Renders as text (numeric: port numbers, no service names) or one JSON object line. */
void summary_text(struct summary *s, struct outbuf *ob, int numeric);
void summary_json(struct summary *s, struct outbuf *ob);

#endif
