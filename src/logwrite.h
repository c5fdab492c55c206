/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_LOGWRITE_H
#define TT_LOGWRITE_H

#include <stddef.h>
#include <stdint.h>

struct logw;
struct stuck_rule;
struct tt_filter;

/* A recording: its file, its rotation, and what its header says was asked for. */
struct logw_opts {
	const char *path;      /* -w FILE; "-" for standard output */
	uint64_t rotate_bytes; /* --rotate; 0: never */
	uint32_t keep;	       /* --keep: rotated files kept */
	/* The header's filters and stuck rules, read again for each file's header: keep them. */
	const struct tt_filter *filter;
	const struct stuck_rule *stuck;
	int nstuck;
};

/*
 * Opens the recording named by o->path (0600; gzip when it ends in ".gz"; rotation per
 * o->rotate_bytes/keep) and writes the header record. A new file, or an existing regular file
 * of the effective uid with no other link; never through a symbolic link (see logfile.h). NULL
 * with a one-line reason in err.
 */
struct logw *logw_open(const struct logw_opts *o, char *err, size_t errlen);

/*
 * Output to fd (standard output that is not a terminal) through a writer thread, so a slow
 * disk or reader never stops the event loop: no header, no rotation, no fdatasync. A write
 * error ends it: logw_failed() then returns its errno (EPIPE: the reader went away).
 */
struct logw *logw_open_stream(int fd, const char *name);
int logw_failed(const struct logw *w);

/* Lines dropped so far for want of room (call from the thread that writes to w). */
uint64_t logw_dropped(const struct logw *w);

/* Appends whole JSON lines. Write errors are counted and reported once, never fatal. */
void logw_write(struct logw *w, const char *buf, size_t len);

/*
 * Formatting straight into the recording: append one whole line to logw_buffer(), then call
 * logw_commit() with the buffer's length from before the line (a line cut short by lack of
 * memory is taken back and counted).
 */
struct outbuf *logw_buffer(struct logw *w);
void logw_commit(struct logw *w, size_t start);

/* Flushes when a second has passed since the last flush (gzip: Z_SYNC_FLUSH). */
void logw_tick(struct logw *w, uint64_t now_mono_ns);

/*
 * SIGHUP (logrotate moved the file): the lines written so far go to the old file, which is
 * finished and closed, and the later ones to a new file at the same path with its own header.
 * Nothing to do when the path still names the file, or for standard output. Asynchronous: a
 * file that cannot be opened is reported (the recording goes on in the old one).
 */
void logw_reopen(struct logw *w);

/* What became of a recording or a stream, for its final report (and tests). */
struct logw_report {
	/*
	 * Events (a stream: lines) that could not be written: those after a failure, and those
	 * dropped while 256 MiB were waiting for a disk or reader far too slow.
	 */
	uint64_t unwritten;
	uint64_t rotations, rotations_failed; /* failed: something went wrong, reported */
	uint64_t reopens, reopens_failed;
	uint32_t parts; /* files started: 1 + rotations and reopens done */
	int fail_errno; /* the write failure that ended the output, or 0 (EPIPE: reader gone) */
};

/*
 * Writes what is left, closes the file (a stream's fd stays open) and frees w, saying on stderr
 * how many events could not be written and how many rotations/reopens failed; after a stream's
 * reader went away nobody is left to miss its lines, so they are not said. 0, or -1 if anything
 * was lost or failed. rep (if not NULL) gets the details.
 */
int logw_close(struct logw *w, struct logw_report *rep);

#endif
