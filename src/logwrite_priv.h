/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_LOGWRITE_PRIV_H
#define TT_LOGWRITE_PRIV_H

/*
 * Inside a recording: the event loop's side (logwrite.c) hands lines to the writer thread's
 * (logwrite_file.c), which compresses, writes, rotates and reopens the files.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include "logwrite.h"
#include "outbuf.h"

#define IN_CAP	      (256 * 1024) /* pending JSON lines */
#define GZ_STEP	      (64 * 1024)
#define ZOUT_CAP      (128 * 1024)
#define FLUSH_NS      1000000000ULL
#define HANDOFF_BYTES (1024 * 1024)
#define HANDOFF_NS    20000000ULL	     /* lines reach the writer at least this often */
#define SHRINK_BYTES  (4 * 1024 * 1024)	     /* buffers kept: twice a handoff (they double) */
#define QUEUE_MAX     (256ULL * 1024 * 1024) /* bytes waiting for the writer */
#define REPORTED_MAX  32
#ifndef GZIP_LEVEL
#define GZIP_LEVEL 1
#endif

struct logw {
	struct logw_opts opts;
	const char *path;
	int fd;
	int to_stdout;
	int stream; /* plain output (no header, written at once); a write error ends it */
	int fail_errno;
	int gz;
	int zinit;
	int zpending; /* deflate holds input not yet flushed */
	z_stream zs;
	char *in;
	size_t in_len;
	size_t in_hdr; /* w->in starts with a header line this long: not an event */
	unsigned char *zout;
	uint64_t file_bytes; /* bytes in the current file */
	uint64_t rotate_bytes;
	uint64_t rotate_at; /* file_bytes that start a rotation */
	uint32_t part;	    /* files started after the first (rotations, reopens) */
	/*
	 * "seq": the event loop numbers the records it hands over (seq, the next one's), and
	 * the writer reads back the number of the last line it took (wseq: the next one's), for
	 * the header of a file it starts. A stream numbers nothing.
	 */
	uint64_t seq;
	uint64_t wseq;
	uint64_t last_flush;
	int unsynced; /* written since the last fdatasync */
	int failed;   /* a write failed: the rest is dropped and counted */
	uint64_t errors;
	uint64_t start_ns;

	/*
	 * gzip: where the file last ended in a flush, so that it decodes up to there, and what the
	 * trailer would hold then. A failed write cuts the file back to that point: exactly the
	 * events handed to the compressor since then are the ones missing.
	 */
	uint64_t gz_good_bytes;
	uint64_t gz_good_crc;
	uint64_t gz_good_isize;
	uint64_t gz_pending; /* events handed to deflate since */
	int gz_hdr_pending;  /* and the header line among them (a file's first flush) */
	/*
	 * The compressor's window at that point: when the cut fails (EROFS), the lines a reader
	 * still decodes from what is left past it are found by inflating it from there.
	 */
	unsigned char *gz_dict;
	uInt gz_dict_len;

	uint64_t rotations, rotations_failed;
	uint64_t reopens, reopens_failed;
	int problem;			 /* a rotation step went wrong */
	uint32_t reported[REPORTED_MAX]; /* hashes of the problems printed */
	int nreported;

	/*
	 * The event loop only appends to `front`; a writer thread does the compression, write(2),
	 * rotation and fdatasync, whose stalls on a busy disk (dirty-page throttling, a sync of a
	 * second's data) would otherwise stop the loop long enough to fill the ring buffer.
	 */
	struct outbuf front;	/* event loop side */
	uint64_t front_handoff; /* CLOCK_MONOTONIC of the last handoff */
	uint64_t dropped;	/* lines the queue had no room for */
	uint64_t queue_max;	/* QUEUE_MAX, or lower for tests */
	pthread_t writer;
	int writer_running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct outbuf queue; /* handed over, not yet taken by the writer */
	int flush_req;
	int reopen_req; /* SIGHUP: reopen after the first reopen_at bytes of queue */
	size_t reopen_at;
	int stop;
};

/* logwrite_file.c */
uint64_t lw_count_lines(const char *buf, size_t len);
uint64_t lw_now_ns(clockid_t clk);
void lw_header(struct logw *w);
int lw_start_file(struct logw *w);
void lw_close_file(struct logw *w);
void lw_reopen(struct logw *w);
void lw_engine_write(struct logw *w, const char *buf, size_t len);
void lw_engine_flush(struct logw *w);
void *lw_writer_thread(void *arg);

#endif
