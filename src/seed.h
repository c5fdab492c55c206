/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SEED_H
#define TT_SEED_H

/*
 * The start-up walk of sockets that predate the tracer (iter/task_file for their owners, then
 * iter/tcp in every network namespace): run once, after the programs are attached, so no socket
 * falls between the walk and the first event.
 */
#include "filter_match.h" /* the skeleton's read-only data holds a struct tt_kfilter */
#include "tcptrail.skel.h"
#include "cgroup.h"
#include "filter.h"
#include "metrics.h"
#include "stuck.h"
#include "twwatch.h"

/* Where the older sockets go; stuck and metrics may be NULL. */
struct seed_sinks {
	struct stuck *stuck;
	struct metrics *metrics;
	struct cg_cache *cg;
	const struct tt_filter *filter;
	struct twwatch *tw; /* TIME_WAIT overflow baselines, one per namespace */
};

void seed_walk(struct tcptrail_bpf *skel, const struct seed_sinks *s, int verbose);

#endif
