/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_TRACEBPF_H
#define TT_TRACEBPF_H

/*
 * The tracer's BPF object, one lifecycle: open (probe the kernel, set filters and the event
 * rings' sizes, load; a refused optional part is switched off and the object loaded again
 * without it), attach per part, read the events, close. One cleanup path: trace_bpf_close.
 */
#include <stdint.h>
#include <bpf/libbpf.h>
#include "filter_match.h" /* the skeleton's read-only data holds a struct tt_kfilter */
#include "tcptrail.skel.h"
#include "bpfparts.h"
#include "evring.h"

struct config;

struct trace_bpf {
	struct tcptrail_bpf *skel;
	struct evring *events; /* hands each record to the open's fn, in order of time */
	struct tt_part parts[TT_PART_COUNT];
	const char *send_hook; /* the send part's program this kernel takes, NULL if none */
};

/* Loads and attaches, and maps the event rings; *what names a failed step. */
int trace_bpf_open(struct trace_bpf *b, const struct config *cfg, evmerge_fn fn, void *ctx,
		   const char **what);
void trace_bpf_close(struct trace_bpf *b);

/* Sum over CPUs of one of the kernel's `lost` counters (enum tt_lost). */
uint64_t trace_bpf_lost(const struct trace_bpf *b, __u32 key);
/*
 * Runs the kernel skipped because the program was already running on that CPU (a softirq
 * that interrupted it hit the tracepoint again): events that never reached the program.
 */
uint64_t trace_bpf_missed(const struct trace_bpf *b);

#endif
