/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_LOGREAD_H
#define TT_LOGREAD_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cgroup.h"
#include "owners.h"
#include "record.h"
#include "tcptrail.h"

/*
 * Reading recordings made by `tcptrail -w`: a line reader, and the check that no record of a run
 * is missing. A line -> a record is record.h's.
 */

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
