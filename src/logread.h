/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_LOGREAD_H
#define TT_LOGREAD_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cgroup.h"
#include "owners.h"
#include "tcptrail.h"

/* Reading recordings made by `tcptrail -w`: one JSON line -> a record, and a line reader. */

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
 * Checking that every record of a run is there: each record's "seq" must be the one after the
 * previous record's, and a header's the one after the last record of the same run (the file
 * before it, read first). What breaks that is a gap: records written and then lost on their
 * way to the file (or cut out of it). The kernel's lost events never had a number: they are
 * in the `lost` records, which do.
 */
struct lr_seq {
	uint64_t next;	 /* the seq the next record must carry, when known */
	uint64_t run_ns; /* start_time of the run it belongs to (0: not known) */
	int known;
};

struct lr_gap {
	uint64_t from, to; /* the seqs missing, from..to; or when back: to came after from - 1 */
	int back;	   /* the seq went back (files out of order, or repeated) */
	int at_header;	   /* between files: the header does not follow the previous file */
};

/* Before the first record of the input. */
void lr_seq_init(struct lr_seq *s);

/* Takes record r in: 1 with g filled when r does not follow the records before it, else 0. */
int lr_seq_check(struct lr_seq *s, const struct lr_record *r, struct lr_gap *g);

#define LR_MAX_LINE (64 * 1024)

struct lr_reader;

/*
 * A line reader over a plain or gzip stream (by the magic bytes 1f 8b; concatenated gzip members
 * are read in turn). The fd is not closed by lr_free. The memory variant, for tests and the
 * fuzzer, does not copy buf.
 */
struct lr_reader *lr_open_fd(int fd);
struct lr_reader *lr_open_mem(const void *buf, size_t len);
void lr_free(struct lr_reader *r);

/*
 * Next line without its '\n' (valid until the next call; empty lines are skipped): 1, 0 at the
 * clean end, -1 with a reason in err (truncated or corrupt gzip, an incomplete last line, a line
 * over LR_MAX_LINE, a read error). Every complete line before the problem is returned first.
 */
int lr_next(struct lr_reader *r, const char **line, size_t *len, char *err, size_t errlen);

/* Number of the line last returned, or where the error was found. */
uint64_t lr_lineno(const struct lr_reader *r);

/* 1 when the input is gzip (known after the first lr_next); for tests. */
int lr_is_gzip(const struct lr_reader *r);

#endif
