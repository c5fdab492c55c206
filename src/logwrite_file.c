// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A recording's writer thread: it compresses, writes and fdatasyncs the lines handed over,
 * cuts a gzip file back to its last flush when a write fails, rotates and reopens the files, and
 * starts each with its header record. Pure (no libbpf).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/utsname.h>
#include "record.h"
#include "logfile.h"
#include "logwrite_priv.h"

uint64_t lw_count_lines(const char *buf, size_t len)
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
	uint64_t n = lw_count_lines(buf + off, len - off);

	return n && off < hdr ? n - 1 : n;
}

uint64_t lw_now_ns(clockid_t clk)
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
			lines += lw_count_lines((char *)out, sizeof(out) - zs.avail_out);
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

/* The self-description that starts every file. */
void lw_header(struct logw *w)
{
	uint64_t now = lw_now_ns(CLOCK_REALTIME);
	struct record_header h = {
		.now_ns = now,
		.boot_ns = now - lw_now_ns(CLOCK_BOOTTIME),
		.start_ns = w->start_ns,
		.part = w->part,
		.seq = w->wseq,
		.filter = w->opts.filter,
		.stuck = w->opts.stuck,
		.nstuck = w->opts.nstuck,
	};
	struct utsname u;
	struct outbuf ob;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	h.hostname = u.nodename;
	h.hostname_len = strnlen(u.nodename, sizeof(u.nodename));
	h.kernel = u.release;
	h.kernel_len = strnlen(u.release, sizeof(u.release));
	ob_init(&ob);
	record_header_json(&ob, &h);
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
int lw_start_file(struct logw *w)
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

void lw_close_file(struct logw *w)
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
	lw_close_file(w);
	if (resume)
		w->failed = 0;
	w->fd = fd;
	w->part++;
	if (lw_start_file(w)) {
		write_failed(w, ENOMEM, "compressing");
		return;
	}
	lw_header(w);
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
void lw_reopen(struct logw *w)
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
/* Appends whole lines to the file (runs on the writer thread once tracing is under way). */
void lw_engine_write(struct logw *w, const char *buf, size_t len)
{
	uint64_t next = w->stream ? 0 : seq_after(buf, len);

	/* before a rotation below: the new file's header names the line after these */
	if (next)
		w->wseq = next;
	if (w->failed) {
		w->errors += lw_count_lines(buf, len);
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

void lw_engine_flush(struct logw *w)
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
		lw_engine_write(w, buf, len);
		return;
	}
	while (buf < end) {
		nl = memchr(buf, '\n', (size_t)(end - buf));
		nl = nl ? nl + 1 : end;
		lw_engine_write(w, buf, (size_t)(nl - buf));
		buf = nl;
	}
}

void *lw_writer_thread(void *arg)
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
			lw_reopen(w);
		if (taken.len > at)
			write_batch(w, taken.data + at, taken.len - at);
		if (flush)
			lw_engine_flush(w);
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
