// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The start-up walk (seed.h): sockets older than the tracer get their owners and a time in state
 * counted from now, in every network namespace, and are handed to --stuck and --metrics.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "bpfcommon.h"
#include "netns.h"
#include "filter_match.h" /* the skeleton's read-only data holds a struct tt_kfilter */
#include "tcptrail.skel.h"
#include "seed.h"

static int discard_chunk(void *ctx, const void *buf, size_t len)
{
	return 0;
}

/* Gives sockets that predate the tracer their owners (and listeners their children's). */
static void seed_owners(struct tcptrail_bpf *skel, int verbose)
{
	struct bpf_link *link = bpf_program__attach_iter(skel->progs.seed_owners, NULL);
	int err;

	if (!link) {
		if (verbose)
			fprintf(stderr,
				"tcptrail: cannot walk existing sockets (%s); their owners "
				"show as '-' until they make a system call\n",
				strerror(errno));
		return;
	}
	err = tt_iter_read(bpf_link__fd(link), discard_chunk, NULL);
	if (err && verbose)
		fprintf(stderr, "tcptrail: walking existing sockets: %s\n", strerror(-err));
	bpf_link__destroy(link);
}

struct seed_ctx {
	const struct seed_sinks *sinks;
	struct bpf_link *link;
	struct tt_event rec; /* put together by tt_iter_read_records() */
};

/* A socket older than the tracer, for the gauges: the filters the kernel applies to events. */
static void seed_metrics(const struct seed_sinks *s, const struct tt_event *e)
{
	const struct cg_desc *cg = cg_cache_get(s->cg, e->cgroup_id);

	/* filter_match_cgroup() checks --container too */
	if (filter_match(s->filter, e) && filter_match_cgroup(s->filter, cg))
		metrics_seed(s->metrics, e, cg);
}

static void seed_record(void *vctx, const void *rec)
{
	struct seed_ctx *c = vctx;
	const struct tt_event *e = rec;

	if (c->sinks->stuck)
		stuck_seed_socket(c->sinks->stuck, e);
	if (c->sinks->metrics)
		seed_metrics(c->sinks, e);
}

static int seed_netns(void *vctx, uint64_t netns_ino, uint32_t pid)
{
	struct seed_ctx *c = vctx;

	/* Overflow baselines before any event, through a process that lives in each netns. */
	twwatch_seed(c->sinks->tw, (uint32_t)netns_ino, pid);
	return tt_iter_read_records(bpf_link__fd(c->link), &c->rec, sizeof(c->rec), seed_record, c);
}

/*
 * Sockets that predate the tracer, in every namespace: their time in state counts from now
 * ("at least"), and --stuck watches the ones already in a watched state.
 */
static void seed_states(struct tcptrail_bpf *skel, const struct seed_sinks *s, int verbose)
{
	struct seed_ctx c = {.sinks = s};
	struct tt_netns_walk walk;
	int err;

	c.link = bpf_program__attach_iter(skel->progs.seed_states, NULL);
	if (!c.link) {
		fprintf(stderr,
			"tcptrail: warning: cannot walk existing sockets (%s): sockets "
			"stuck before the start go unnoticed\n",
			strerror(errno));
		return;
	}
	err = tt_for_each_netns(seed_netns, &c, &walk);
	if (err)
		fprintf(stderr, "tcptrail: warning: walking existing sockets: %s%s%s\n",
			walk.failed ? walk.failed : "", walk.failed ? ": " : "", strerror(-err));
	/* Always with --stuck: its alerts for sockets stuck before the start depend on it. */
	if (verbose)
		tt_netns_report_found("walking existing sockets", &walk);
	if (verbose || s->stuck)
		tt_netns_report_skips("walking existing sockets", &walk,
				      "their sockets older than the tracer show no time in state "
				      "and raise no --stuck alert");
	bpf_link__destroy(c.link);
}

void seed_walk(struct tcptrail_bpf *skel, const struct seed_sinks *s, int verbose)
{
	seed_owners(skel, verbose);
	seed_states(skel, s, verbose);
}
