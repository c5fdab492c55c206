/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_RECORD_H
#define TT_RECORD_H

/*
 * The record format: a JSON record of a -w log or of -o json read back into a struct lr_record
 * (record.c), beside its writing (record_write.c): state and stuck records (fmt_event_json(),
 * declared with the other formatters in format.h), a file's header and a final transition's
 * totals. lr_parse_line() reverses fmt_event_json() byte for byte (test_record.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cgroup.h"
#include "outbuf.h"
#include "owners.h"
#include "tcptrail.h"

struct stuck_rule;
struct tt_filter;

enum lr_type {
	LR_STATE = 1,  /* a transition, ev filled */
	LR_STUCK = 2,  /* a stuck alert, ev filled (oldstate = newstate = the state) */
	LR_LOST = 3,   /* lost_count/lost_total */
	LR_HEADER = 4, /* the self-description at the start of each file */
	LR_OTHER = 5,  /* a type this version does not know: skipped */
};

#define LR_SVC_LEN 64

struct lr_record {
	enum lr_type type;
	uint64_t wall_ns; /* CLOCK_REALTIME; 0 when a header has no "time" */
	/*
	 * "seq": the record's number in its run (a header: the first record's after it), when
	 * the line has one (has_seq); logs before it have none.
	 */
	uint64_t seq;
	int has_seq;
	uint64_t start_ns;  /* a header's "start_time" (which run), 0 when it has none */
	struct tt_event ev; /* ev.ts_ns = wall_ns */
	const char *lsvc;   /* recorded service names: NULL, or the bufs below */
	const char *rsvc;
	/* A stuck alert's "owners" (who held the socket): NULL when the record has none. */
	const struct owners_list *holders;
	/*
	 * The socket's cgroup as recorded ("cgroup", "container_id", "pod", "unit"; null ones
	 * empty): NULL when the record has none of the keys (a version before them: replayed
	 * without them). Its serial is 0: not memoised.
	 */
	const struct cg_desc *cg;
	struct owners_list holders_buf; /* what holders points to; its recs are holder_recs */
	char lsvc_buf[LR_SVC_LEN];
	char rsvc_buf[LR_SVC_LEN];
	struct cg_desc cg_buf; /* what cg points to; its path is cg_path */
	char cg_path[CG_PATH_MAX];
	uint64_t lost_count;
	uint64_t lost_total;
	struct tt_owner_rec holder_recs[OWNERS_MAX_LISTED]; /* pid and comm filled */
};

/*
 * Parses one line (without its '\n') into r, so that fmt_event_json() of r reproduces a line
 * written by it byte for byte. 0, or -1 with a one-line reason in err.
 */
int lr_parse_line(const char *line, size_t len, struct lr_record *r, char *err, size_t errlen);

/* "2026-11-26T13:07:01.123456Z" (any RFC 3339 form parse_time_ns takes) -> ns. 0 or -1. */
int lr_parse_time(const char *s, size_t len, uint64_t *ns);

/*
 * The keys of a final transition, each with its leading comma: cause, error, sk_err,
 * reset_reason, bytes_sent, bytes_received, segs_out, segs_in, retrans, syn_retrans, srtt_ms,
 * rttvar_ms, life_ms and life_min (only when true). Only for events with TT_F_TOTALS.
 * reset_reason is the reason of the reset this end sent: named for reset_out only.
 */
void totals_json(struct outbuf *ob, const struct tt_event *e);

/* What the header record of each file of a -w log says. */
struct record_header {
	uint64_t now_ns;   /* "time" */
	uint64_t boot_ns;  /* "boot_time" */
	uint64_t start_ns; /* "start_time": which run */
	uint32_t part;	   /* files started before this one in the run */
	uint64_t seq;	   /* the first record's after it */
	const char *hostname, *kernel;
	size_t hostname_len, kernel_len;
	const struct tt_filter *filter;
	const struct stuck_rule *stuck;
	int nstuck;
};

/* The header record, with its '\n': the filters and stuck rules as given. */
void record_header_json(struct outbuf *ob, const struct record_header *h);

#endif
