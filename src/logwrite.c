// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Recording (-w FILE): JSON lines buffered in memory and written in large chunks, gzip-compressed
 * at a fast level when FILE ends in .gz. Flushed (gzip: Z_SYNC_FLUSH) and fdatasync'ed at least
 * once a second, so a crash loses at most the last second; rotated like logrotate, and reopened
 * on SIGHUP after logrotate moved it. Which names may be opened or moved: logfile.c. This file is
 * the event loop's side: it numbers the lines and hands them to the writer thread
 * (logwrite_file.c) in batches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "jsonw.h"
#include "logfile.h"
#include "parse.h"
#include "thread.h"
#include "logwrite_priv.h"

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
	w->writer_running = !pthread_create(&w->writer, NULL, lw_writer_thread, w);
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
	w->start_ns = lw_now_ns(CLOCK_REALTIME);
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
	if (lw_start_file(w)) {
		snprintf(err, errlen, "%s: cannot set up gzip compression: out of memory", w->path);
		if (!w->to_stdout)
			close(w->fd);
		logw_free(w);
		return NULL;
	}
	lw_header(w);
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

/*
 * Hands the loop's lines to the writer; past queue_max (a disk far too slow, a reader that
 * stopped) they are counted.
 */
static void handoff(struct logw *w, int flush, uint64_t now_mono_ns)
{
	if (!w->writer_running) {
		lw_engine_write(w, w->front.data, w->front.len);
		if (flush)
			lw_engine_flush(w);
		ob_reset(&w->front);
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->queue.len + w->front.len > w->queue_max) {
		w->dropped += lw_count_lines(w->front.data, w->front.len);
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
			w->dropped += lw_count_lines(buf, len);
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
		lw_reopen(w);
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
		tt_thread_stop(w->writer, &w->lock, &w->cond, &w->stop);
		w->writer_running = 0;
	}
	w->errors += w->dropped;
	ob_free(&w->front);
	ob_free(&w->queue);
	lw_close_file(w);
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
