// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Recording (-w FILE): JSON lines buffered in memory and written in large chunks, gzip-compressed
 * at a fast level when FILE ends in .gz. Flushed (gzip: Z_SYNC_FLUSH) and fdatasync'ed at least
 * once a second, so a crash loses at most the last second; rotated like logrotate, and reopened
 * on SIGHUP after logrotate moved it. Which names may be opened or moved: logfile.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "causes.h"
#include "filter.h"
#include "jsonw.h"
#include "logfile.h"
#include "logwrite.h"
#include "outbuf.h"
#include "parse.h"
#include "states.h"
#include "stuck_rule.h"

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

static void *writer_thread(void *arg);
static void engine_write(struct logw *w, const char *buf, size_t len);

static uint64_t count_lines(const char *buf, size_t len)
{
	uint64_t n = 0;
	const char *p = buf, *end = buf + len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/*
 * The "seq" that ends the last line of buf[0, len) (each line ...,"seq":N}\n), plus one: what
 * the next line carries. 0 when the last line has none.
 */
static uint64_t seq_after(const char *buf, size_t len)
{
	static const char key[] = "\"seq\":";
	const size_t klen = sizeof(key) - 1;
	uint64_t v = 0, mul = 1;
	size_t i;

	if (len < klen + 3 || buf[len - 1] != '\n' || buf[len - 2] != '}')
		return 0;
	for (i = len - 2; i > 0 && buf[i - 1] >= '0' && buf[i - 1] <= '9'; i--) {
		if (len - 2 - i >= 19)
			return 0;
		v += (uint64_t)(buf[i - 1] - '0') * mul;
		mul *= 10;
	}
	if (i == len - 2 || i < klen || memcmp(buf + i - klen, key, klen))
		return 0;
	return v + 1;
}

/* Event lines in buf[off, len): buf's first hdr bytes are a header line, not an event. */
static uint64_t events_in(const char *buf, size_t len, size_t off, size_t hdr)
{
	uint64_t n = count_lines(buf + off, len - off);

	return n && off < hdr ? n - 1 : n;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One line on stderr, unless the same line was printed before (a rotation failing each time). */
static void report_once(struct logw *w, const char *msg)
{
	uint32_t h = 2166136261u;

	for (const char *p = msg; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (int i = 0; i < w->nreported; i++)
		if (w->reported[i] == h)
			return;
	/* past the limit they are only counted: no flood from a name that changes */
	if (w->nreported >= REPORTED_MAX)
		return;
	w->reported[w->nreported++] = h;
	fprintf(stderr, "tcptrail: %s\n", msg);
}

static void write_failed(struct logw *w, int err, const char *what)
{
	if (w->failed)
		return;
	__atomic_store_n(&w->fail_errno, err, __ATOMIC_RELEASE);
	if (!w->stream) /* a stream's owner reports it, see logw_failed() */
		fprintf(stderr,
			"tcptrail: %s %s: %s; events are no longer recorded (tracing goes on)\n",
			what, w->path, strerror(err));
	w->failed = 1;
}

/* 0, or -1 with *done set to the bytes that did get written. */
static int write_all(struct logw *w, const void *buf, size_t len, size_t *done)
{
	const char *p = buf;

	*done = 0;

	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			write_failed(w, errno, "writing");
			return -1;
		}
		p += n;
		len -= (size_t)n;
		*done += (size_t)n;
		w->file_bytes += (uint64_t)n;
		w->unsynced = 1;
	}
	return 0;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/*
 * Whole lines a reader decodes from the file past the last flush, which a failed cut left
 * there: inflated from there with the window the compressor had. -1 if it cannot be read.
 */
static int64_t gz_tail_lines(struct logw *w)
{
	unsigned char in[16384], out[65536];
	uint64_t off = w->gz_good_bytes, lines = 0;
	int64_t ret = -1;
	z_stream zs;
	int z = Z_OK;

	memset(&zs, 0, sizeof(zs));
	/* before the first flush the gzip header itself is past the cut: a whole gzip stream */
	if (inflateInit2(&zs, off ? -15 : 15 + 16) != Z_OK)
		return -1;
	if (off && w->gz_dict_len && inflateSetDictionary(&zs, w->gz_dict, w->gz_dict_len) != Z_OK)
		goto out;
	while (off < w->file_bytes && z == Z_OK) {
		size_t want = w->file_bytes - off < sizeof(in) ? w->file_bytes - off : sizeof(in);
		ssize_t n = pread(w->fd, in, want, (off_t)off);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			goto out;
		}
		off += (uint64_t)n;
		zs.next_in = in;
		zs.avail_in = (uInt)n;
		do {
			zs.next_out = out;
			zs.avail_out = sizeof(out);
			z = inflate(&zs, Z_NO_FLUSH);
			lines += count_lines((char *)out, sizeof(out) - zs.avail_out);
		} while (z == Z_OK && !zs.avail_out);
	}
	/* Z_BUF_ERROR: the input ends mid-block, as a cut-off file does */
	if (z == Z_OK || z == Z_BUF_ERROR || z == Z_STREAM_END)
		ret = (int64_t)lines;
out:
	inflateEnd(&zs);
	return ret;
}

/*
 * gzip after a failed write: back to where the last flush ended, so the file decodes to its end
 * without a broken block, and count every event handed to the compressor since. Then a final
 * empty block and the trailer of what was kept make it a whole gzip file, if they fit.
 */
static void gz_cut(struct logw *w)
{
	unsigned char tail[13] = {0x01, 0x00, 0x00, 0xff, 0xff}; /* final stored block, empty */
	size_t done;

	if (ftruncate(w->fd, (off_t)w->gz_good_bytes)) {
		/*
		 * Read-only now (EROFS), or worse: what was written past the flush stays, and the
		 * lines a reader gets from it are not missing. Unreadable: all of them are.
		 */
		int64_t kept = gz_tail_lines(w);

		if (kept > 0 && w->gz_hdr_pending)
			kept--;
		if (kept < 0 || (uint64_t)kept > w->gz_pending)
			kept = 0;
		w->errors += w->gz_pending - (uint64_t)kept;
		w->gz_pending = 0;
		return;
	}
	w->errors += w->gz_pending;
	w->gz_pending = 0;
	/* the offset too: writing on from the old one would leave a hole of zeros */
	if (lseek(w->fd, (off_t)w->gz_good_bytes, SEEK_SET) < 0)
		return;
	w->file_bytes = w->gz_good_bytes;
	if (!w->file_bytes)
		return; /* not even the gzip header was flushed: an empty file */
	put_le32(tail + 5, (uint32_t)w->gz_good_crc);
	put_le32(tail + 9, (uint32_t)w->gz_good_isize);
	if (write_all(w, tail, sizeof(tail), &done) && !ftruncate(w->fd, (off_t)w->gz_good_bytes))
		w->file_bytes = w->gz_good_bytes;
}

/*
 * Hands whole lines (buf, len) to the file; flush is a zlib flush mode (plain: any); buf's first
 * hdr bytes are a header line. A plain file takes them straight from the caller's buffer.
 */
static void push_lines(struct logw *w, const char *buf, size_t len, int flush, size_t hdr)
{
	if (w->failed) {
		w->errors += events_in(buf, len, 0, hdr);
		return;
	}
	if (!w->gz) {
		size_t done;

		if (len && write_all(w, buf, len, &done)) {
			/* cut a half-written line off, so the file replays cleanly to its end */
			const char *nl = done ? memrchr(buf, '\n', done) : NULL;
			size_t partial = nl ? done - (size_t)(nl + 1 - buf) : done;

			if (partial && !ftruncate(w->fd, (off_t)(w->file_bytes - partial)))
				w->file_bytes -= partial;
			w->errors += events_in(buf, len, done - partial, hdr);
		}
		return;
	}
	if (!len && flush == Z_NO_FLUSH)
		return;
	if (!len && flush == Z_SYNC_FLUSH && !w->zpending)
		return;
	w->gz_pending += events_in(buf, len, 0, hdr);
	w->gz_hdr_pending |= hdr > 0;
	w->zs.next_in = (unsigned char *)buf;
	w->zs.avail_in = (uInt)len;
	for (;;) {
		int z;

		w->zs.next_out = w->zout;
		w->zs.avail_out = ZOUT_CAP;
		z = deflate(&w->zs, flush);
		if (z == Z_STREAM_ERROR) {
			write_failed(w, EIO, "compressing");
			break;
		}
		size_t done;

		if (ZOUT_CAP - w->zs.avail_out &&
		    write_all(w, w->zout, ZOUT_CAP - w->zs.avail_out, &done))
			break;
		if (flush == Z_FINISH ? z == Z_STREAM_END : w->zs.avail_out != 0)
			break;
	}
	if (w->failed) {
		gz_cut(w);
		return;
	}
	w->zpending = flush == Z_NO_FLUSH;
	if (flush != Z_NO_FLUSH) {
		/* all of it written and decodable: the new point to cut back to */
		w->gz_good_bytes = w->file_bytes;
		w->gz_good_crc = w->zs.adler; /* the CRC-32 of the input, with a gzip wrapper */
		w->gz_good_isize = w->zs.total_in;
		w->gz_pending = 0;
		w->gz_hdr_pending = 0;
		w->gz_dict_len = 32768;
		if (deflateGetDictionary(&w->zs, w->gz_dict, &w->gz_dict_len) != Z_OK)
			w->gz_dict_len = 0;
	}
}

/* The lines pending in w->in. */
static void push(struct logw *w, int flush)
{
	push_lines(w, w->in, w->in_len, flush, w->in_hdr);
	w->in_len = 0;
	w->in_hdr = 0;
}

/* "key":[n,...] of a filter list; the lists are u16 (ports) or u32 (pids, netns). */
static void put_list(struct jsonw *j, const char *key, const void *v, size_t width, uint32_t n)
{
	if (!n)
		return;
	jw_key(j, key);
	jw_arr_begin(j);
	for (uint32_t i = 0; i < n; i++)
		jw_u64(j, width == sizeof(uint16_t) ? ((const uint16_t *)v)[i]
						    : ((const uint32_t *)v)[i]);
	jw_arr_end(j);
}

/* "key":["...",...] of n strings of at most maxlen bytes, stride bytes apart. */
static void put_strs(struct jsonw *j, const char *key, const char *first, size_t stride,
		     size_t maxlen, uint32_t n)
{
	if (!n)
		return;
	jw_key(j, key);
	jw_arr_begin(j);
	for (uint32_t i = 0; i < n; i++) {
		const char *s = first + i * stride;

		jw_str(j, s, strnlen(s, maxlen));
	}
	jw_arr_end(j);
}

/* "key":["name",...] of the bits 1 to nbits - 1 set in mask. */
static void put_names(struct jsonw *j, const char *key, uint32_t mask, unsigned int nbits,
		      const char *(*name)(unsigned int))
{
	if (!mask)
		return;
	jw_key(j, key);
	jw_arr_begin(j);
	for (unsigned int b = 1; b < nbits; b++)
		if (mask & (1u << b))
			jw_strz(j, name(b));
	jw_arr_end(j);
}

static const char *state_name(unsigned int state)
{
	return tt_state_name((int)state);
}

/* The filters as given: a reader of the file knows what it leaves out. */
static void put_filters(struct jsonw *j, const struct tt_filter *f)
{
	jw_obj_begin(j);
	if (f->family)
		jw_field_u64(j, "family", (uint64_t)f->family);
	put_names(j, "state", f->state_mask, TT_STATE_MAX, state_name);
	put_list(j, "pid", f->pids, sizeof(f->pids[0]), f->npids);
	put_strs(j, "comm", f->comms[0], sizeof(f->comms[0]), TT_COMM_LEN, f->ncomms);
	put_list(j, "port", f->ports, sizeof(f->ports[0]), f->nports);
	put_list(j, "lport", f->lports, sizeof(f->lports[0]), f->nlports);
	put_list(j, "rport", f->rports, sizeof(f->rports[0]), f->nrports);
	put_list(j, "netns", f->netns, sizeof(f->netns[0]), f->nnetns);
	/* --cgroup as paths relative to the v2 mount: the ids mean nothing on another boot */
	put_strs(j, "cgroup", f->cgroups[0], sizeof(f->cgroups[0]), sizeof(f->cgroups[0]),
		 f->ncgroups);
	put_strs(j, "container", f->containers[0], sizeof(f->containers[0]),
		 sizeof(f->containers[0]), f->ncontainers);
	put_names(j, "cause", f->cause_mask, TT_CAUSE_MAX, cause_name);
	jw_obj_end(j);
}

/* The self-description that starts every file. */
static void header(struct logw *w)
{
	uint64_t now = now_ns(CLOCK_REALTIME);
	uint64_t boot = now - now_ns(CLOCK_BOOTTIME);
	struct utsname u;
	struct outbuf ob;
	struct jsonw j;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	ob_init(&ob);
	jw_init(&j, &ob);
	jw_obj_begin(&j);
	jw_field_str(&j, "type", "header");
	jw_field_time(&j, "time", now);
	jw_field_str(&j, "version", TCPTRAIL_VERSION);
	jw_key(&j, "hostname");
	jw_str(&j, u.nodename, strnlen(u.nodename, sizeof(u.nodename)));
	jw_key(&j, "kernel");
	jw_str(&j, u.release, strnlen(u.release, sizeof(u.release)));
	jw_field_time(&j, "boot_time", boot);
	jw_field_time(&j, "start_time", w->start_ns);
	jw_field_u64(&j, "part", w->part);
	/* the "seq" of the first record after this header */
	jw_field_u64(&j, "seq", w->wseq);
	jw_key(&j, "filters");
	put_filters(&j, w->opts.filter);
	jw_key(&j, "stuck");
	jw_arr_begin(&j);
	for (int i = 0; i < w->opts.nstuck; i++) {
		jw_obj_begin(&j);
		jw_field_str(&j, "state", tt_state_name(w->opts.stuck[i].state));
		jw_key(&j, "ms");
		jw_fixed(&j, w->opts.stuck[i].ns / 1000, 3);
		jw_obj_end(&j);
	}
	jw_arr_end(&j);
	jw_obj_end(&j);
	ob_putc(&ob, '\n');
	/*
	 * Straight into the file (at open before the writer starts, at rotation on the writer),
	 * marked as no event: a header that cannot be written is not an event lost.
	 */
	push(w, Z_NO_FLUSH);
	if (!w->failed && ob.len <= IN_CAP && !ob.oom) {
		memcpy(w->in, ob.data, ob.len);
		w->in_len = w->in_hdr = ob.len;
	}
	ob_free(&ob);
}

/* A new file in w->fd: compression from scratch. 0, or -1 when zlib has no memory. */
static int start_file(struct logw *w)
{
	w->file_bytes = 0;
	w->rotate_at = w->rotate_bytes;
	w->gz_good_bytes = w->gz_good_crc = w->gz_good_isize = w->gz_pending = 0;
	w->gz_hdr_pending = 0;
	w->gz_dict_len = 0;
	if (!w->gz)
		return 0;
	memset(&w->zs, 0, sizeof(w->zs));
	if (deflateInit2(&w->zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	w->zinit = 1;
	w->zpending = 0;
	return 0;
}

static void close_file(struct logw *w)
{
	push(w, w->gz ? Z_FINISH : Z_NO_FLUSH);
	if (w->zinit)
		deflateEnd(&w->zs);
	w->zinit = 0;
	if (w->fd >= 0 && !w->to_stdout) {
		if (w->unsynced)
			fdatasync(w->fd);
		if (close(w->fd) && !w->failed)
			write_failed(w, errno, "closing");
	}
	w->unsynced = 0;
	w->fd = -1;
}

/* Finishes the current file and goes on in fd, a new empty one, with its own header. */
static void switch_file(struct logw *w, int fd, int resume)
{
	close_file(w);
	if (resume)
		w->failed = 0;
	w->fd = fd;
	w->part++;
	if (start_file(w)) {
		write_failed(w, ENOMEM, "compressing");
		return;
	}
	header(w);
}

static void rotation_problem(void *ctx, const char *msg)
{
	struct logw *w = ctx;

	w->problem = 1;
	report_once(w, msg);
}

/* logrotate style: FILE.(k) -> FILE.(k+1), FILE -> FILE.1, a fresh FILE with a header. */
static void rotate(struct logw *w)
{
	struct logfile_rotation r = {
		.path = w->path,
		.keep = w->opts.keep,
		.live_fd = w->fd,
		.problem = rotation_problem,
		.ctx = w,
	};
	int fd;

	push(w, Z_NO_FLUSH); /* what is pending belongs to this file */
	if (w->failed)
		return;
	w->problem = 0;
	fd = logfile_rotate(&r);
	w->rotations++;
	w->rotations_failed += w->problem;
	if (fd < 0) {
		/* the file goes on; try again when it has grown by another SIZE */
		w->rotate_at = w->file_bytes + w->rotate_bytes;
		return;
	}
	switch_file(w, fd, 0);
}

/*
 * SIGHUP, after logrotate (or anyone) moved FILE away: a new FILE from here on, the old one
 * finished (gzip trailer, fdatasync). Everything handed over before the signal is already in
 * the old file, so nothing is lost or written twice. A failed recording starts again.
 */
static void reopen(struct logw *w)
{
	struct stat live;
	char err[512], msg[600];
	int was_failed = w->failed, fd;

	if (w->to_stdout || w->stream || w->fd < 0)
		return;
	w->reopens++;
	if (fstat(w->fd, &live)) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		fd = -1;
	} else {
		fd = logfile_open(w->path, &live, err, sizeof(err));
	}
	if (fd == LOGFILE_SAME)
		return; /* not moved: it goes on as it was */
	if (fd < 0) {
		w->reopens_failed++;
		snprintf(msg, sizeof(msg),
			 "cannot reopen the log after SIGHUP: %s; it goes on in "
			 "the old file",
			 err);
		report_once(w, msg);
		return;
	}
	switch_file(w, fd, 1);
	if (was_failed)
		fprintf(stderr, "tcptrail: recording to %s again after SIGHUP\n", w->path);
}

static void logw_free(struct logw *w)
{
	free(w->in);
	free(w->zout);
	free(w->gz_dict);
	free(w);
}

/*
 * TCPTRAIL_QUEUE_MAX=BYTES lowers the bound on lines waiting for the writer, so that tests reach
 * it in a moment. Not an option: it can only lower the documented bound, never raise it.
 */
static uint64_t queue_max_env(void)
{
	return parse_env_bound("TCPTRAIL_QUEUE_MAX", 0, QUEUE_MAX, QUEUE_MAX);
}

static struct logw *logw_alloc(void)
{
	struct logw *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	if (!(w->in = malloc(IN_CAP)) || !(w->zout = malloc(ZOUT_CAP)) ||
	    !(w->gz_dict = malloc(32768))) {
		logw_free(w);
		return NULL;
	}
	w->fd = -1;
	w->queue_max = queue_max_env();
	w->seq = w->wseq = 1;
	return w;
}

static struct logw *logw_start(struct logw *w)
{
	ob_init(&w->front);
	ob_init(&w->queue);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	/* Without the thread the loop writes itself: slower under load, still correct. */
	w->writer_running = !pthread_create(&w->writer, NULL, writer_thread, w);
	return w;
}

struct logw *logw_open(const struct logw_opts *o, char *err, size_t errlen)
{
	struct logw *w = logw_alloc();
	size_t n;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->opts = *o;
	w->path = o->path;
	w->start_ns = now_ns(CLOCK_REALTIME);
	n = strlen(w->path);
	w->gz = n > 3 && !strcmp(w->path + n - 3, ".gz");
	if (!strcmp(w->path, "-")) {
		w->to_stdout = 1;
		w->fd = STDOUT_FILENO;
		w->path = "standard output";
	} else {
		w->rotate_bytes = o->rotate_bytes;
		w->fd = logfile_open(w->path, NULL, err, errlen);
		if (w->fd < 0) {
			logw_free(w);
			return NULL;
		}
	}
	if (start_file(w)) {
		snprintf(err, errlen, "%s: cannot set up gzip compression: out of memory", w->path);
		if (!w->to_stdout)
			close(w->fd);
		logw_free(w);
		return NULL;
	}
	header(w);
	return logw_start(w);
}

struct logw *logw_open_stream(int fd, const char *name)
{
	struct logw *w = logw_alloc();

	if (!w)
		return NULL;
	w->fd = fd;
	w->path = name;
	w->to_stdout = 1;
	w->stream = 1;
	return logw_start(w);
}

int logw_failed(const struct logw *w)
{
	return __atomic_load_n(&w->fail_errno, __ATOMIC_ACQUIRE);
}

/* Appends whole lines to the file (runs on the writer thread once tracing is under way). */
static void engine_write(struct logw *w, const char *buf, size_t len)
{
	uint64_t next = w->stream ? 0 : seq_after(buf, len);

	/* before a rotation below: the new file's header names the line after these */
	if (next)
		w->wseq = next;
	if (w->failed) {
		w->errors += count_lines(buf, len);
		return;
	}
	/*
	 * Plain and never rotated: nothing to cut or compress, so no copy into w->in. A stream
	 * (a pipe, maybe read live) gets its lines as soon as the loop hands them over.
	 */
	if (!w->gz && !w->rotate_bytes && (len >= IN_CAP || w->stream)) {
		push(w, Z_NO_FLUSH);
		push_lines(w, buf, len, Z_NO_FLUSH, 0);
		return;
	}
	if (w->in_len + len > IN_CAP) {
		push(w, Z_NO_FLUSH);
		if (len > IN_CAP) {
			/* bigger than the buffer: hand it on in pieces of whole lines */
			const char *end = buf + len;

			while (buf < end) {
				const char *cut =
					buf + (size_t)(end - buf > IN_CAP ? IN_CAP : end - buf);

				while (cut < end && cut > buf && cut[-1] != '\n')
					cut--;
				if (cut == buf)
					cut = end - buf > IN_CAP ? buf + IN_CAP : end;
				memcpy(w->in, buf, (size_t)(cut - buf));
				w->in_len = (size_t)(cut - buf);
				push(w, Z_NO_FLUSH);
				buf = cut;
			}
			len = 0;
		}
	}
	memcpy(w->in + w->in_len, buf, len);
	w->in_len += len;
	/*
	 * gzip: compress in smaller steps; with --rotate also end the deflate block, since one
	 * block can hold hundreds of KB of JSON and the file size would lag that far behind
	 */
	if (w->gz && w->in_len >= GZ_STEP)
		push(w, w->rotate_bytes ? Z_SYNC_FLUSH : Z_NO_FLUSH);
	if (w->rotate_bytes && w->file_bytes + (w->gz ? 0 : w->in_len) >= w->rotate_at)
		rotate(w);
}

static void engine_flush(struct logw *w)
{
	push(w, Z_SYNC_FLUSH);
	/* on disk, not just in the page cache: a power cut loses at most this second */
	if (w->unsynced && !w->to_stdout && !w->failed) {
		fdatasync(w->fd);
		w->unsynced = 0;
		posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
	}
}

/* With --rotate, line by line as the loop once wrote them, so files end where SIZE says. */
static void write_batch(struct logw *w, const char *buf, size_t len)
{
	const char *end = buf + len, *nl;

	if (!w->rotate_bytes) {
		engine_write(w, buf, len);
		return;
	}
	while (buf < end) {
		nl = memchr(buf, '\n', (size_t)(end - buf));
		nl = nl ? nl + 1 : end;
		engine_write(w, buf, (size_t)(nl - buf));
		buf = nl;
	}
}

static void *writer_thread(void *arg)
{
	struct logw *w = arg;
	struct outbuf batch;

	ob_init(&batch);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->queue.len && !w->flush_req && !w->reopen_req && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		struct outbuf taken = w->queue;
		int flush = w->flush_req, stop = w->stop, reopen_now = w->reopen_req;
		size_t at = reopen_now ? w->reopen_at : taken.len;

		/* Swap buffers: the loop fills an empty one while this one is written. */
		w->queue = batch;
		w->flush_req = 0;
		w->reopen_req = 0;
		pthread_mutex_unlock(&w->lock);
		/* the lines from before SIGHUP to the old file, the rest to the new one */
		if (at)
			write_batch(w, taken.data, at);
		if (reopen_now)
			reopen(w);
		if (taken.len > at)
			write_batch(w, taken.data + at, taken.len - at);
		if (flush)
			engine_flush(w);
		batch = taken;
		ob_reset(&batch);
		/* A stall's backlog made it big: give the memory back, RSS stays flat. */
		if (batch.cap > SHRINK_BYTES)
			ob_free(&batch);
		pthread_mutex_lock(&w->lock);
		if (stop && !w->queue.len)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	ob_free(&batch);
	return NULL;
}

/*
 * Hands the loop's lines to the writer; past queue_max (a disk far too slow, a reader that
 * stopped) they are counted.
 */
static void handoff(struct logw *w, int flush, uint64_t now_mono_ns)
{
	if (!w->writer_running) {
		engine_write(w, w->front.data, w->front.len);
		if (flush)
			engine_flush(w);
		ob_reset(&w->front);
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->queue.len + w->front.len > w->queue_max) {
		w->dropped += count_lines(w->front.data, w->front.len);
	} else if (!w->queue.len) {
		/* The writer took everything: hand the buffer itself over, keep its spare. */
		struct outbuf spare = w->queue;

		w->queue = w->front;
		w->front = spare;
	} else {
		ob_put(&w->queue, w->front.data, w->front.len);
	}
	w->flush_req |= flush;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	ob_reset(&w->front);
	w->front_handoff = now_mono_ns;
}

struct outbuf *logw_buffer(struct logw *w)
{
	return &w->front;
}

void logw_commit(struct logw *w, size_t start)
{
	/* a recording's line gets its number: also one that is dropped, which leaves a gap */
	if (!w->stream && (w->front.oom || w->front.len > start)) {
		if (!w->front.oom)
			jw_line_seq(&w->front, w->seq);
		w->seq++;
	}
	if (w->front.oom) {
		w->front.len = start;
		w->front.oom = 0;
		w->dropped++;
	}
	if (w->front.len >= HANDOFF_BYTES)
		handoff(w, 0, w->front_handoff);
}

/* Each whole line of buf, numbered. */
static void put_numbered(struct logw *w, const char *buf, size_t len)
{
	const char *end = buf + len, *nl;

	while (buf < end) {
		size_t start = w->front.len;

		nl = memchr(buf, '\n', (size_t)(end - buf));
		nl = nl ? nl + 1 : end;
		ob_put(&w->front, buf, (size_t)(nl - buf));
		jw_line_seq(&w->front, w->seq++);
		if (w->front.oom) {
			w->front.len = start;
			w->front.oom = 0;
			w->dropped++;
		}
		buf = nl;
	}
}

void logw_write(struct logw *w, const char *buf, size_t len)
{
	if (!w->stream) {
		put_numbered(w, buf, len);
	} else {
		ob_put(&w->front, buf, len);
		if (w->front.oom) {
			w->dropped += count_lines(buf, len);
			ob_reset(&w->front);
		}
	}
	if (w->front.len >= HANDOFF_BYTES)
		handoff(w, 0, w->front_handoff);
}

void logw_reopen(struct logw *w)
{
	if (w->to_stdout || w->stream)
		return;
	if (!w->writer_running) {
		handoff(w, 0, w->front_handoff);
		reopen(w);
		return;
	}
	/* Everything the loop has is from before the signal: it goes to the old file. */
	handoff(w, 0, w->front_handoff);
	pthread_mutex_lock(&w->lock);
	if (!w->reopen_req) {
		w->reopen_req = 1;
		w->reopen_at = w->queue.len;
	}
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void logw_tick(struct logw *w, uint64_t now_mono_ns)
{
	if (now_mono_ns - w->last_flush >= FLUSH_NS) {
		w->last_flush = now_mono_ns;
		handoff(w, 1, now_mono_ns);
	} else if (w->front.len && now_mono_ns - w->front_handoff >= HANDOFF_NS) {
		handoff(w, 0, now_mono_ns);
	}
}

int logw_close(struct logw *w, struct logw_report *rep)
{
	int ret;

	if (rep)
		memset(rep, 0, sizeof(*rep));
	if (!w)
		return 0;
	handoff(w, 0, 0);
	if (w->writer_running) {
		pthread_mutex_lock(&w->lock);
		w->stop = 1;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->writer, NULL);
		w->writer_running = 0;
	}
	w->errors += w->dropped;
	ob_free(&w->front);
	ob_free(&w->queue);
	close_file(w);
	/* After a closed pipe nobody is left to miss the lines; any other loss is reported. */
	if (w->errors && !(w->stream && w->fail_errno == EPIPE))
		fprintf(stderr, "tcptrail: %llu events could not be written to %s\n",
			(unsigned long long)w->errors, w->path);
	if (w->rotations_failed)
		fprintf(stderr, "tcptrail: %llu of %llu rotations of %s went wrong (see above)\n",
			(unsigned long long)w->rotations_failed, (unsigned long long)w->rotations,
			w->path);
	if (w->reopens_failed)
		fprintf(stderr,
			"tcptrail: %llu of %llu reopens of %s after SIGHUP failed (see above)\n",
			(unsigned long long)w->reopens_failed, (unsigned long long)w->reopens,
			w->path);
	ret = w->failed || w->errors || w->rotations_failed || w->reopens_failed ? -1 : 0;
	if (rep) {
		rep->unwritten = w->errors;
		rep->rotations = w->rotations;
		rep->rotations_failed = w->rotations_failed;
		rep->reopens = w->reopens;
		rep->reopens_failed = w->reopens_failed;
		rep->parts = w->part + 1;
		rep->fail_errno = w->fail_errno;
	}
	logw_free(w);
	return ret;
}

uint64_t logw_dropped(const struct logw *w)
{
	return w->dropped;
}
