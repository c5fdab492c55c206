// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reading recordings: a plain/gzip line reader, and seq checking. Pure, no libbpf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "logread.h"

/* ---- the records of a run, in sequence ---- */

void lr_seq_init(struct lr_seq *s)
{
	memset(s, 0, sizeof(*s));
}

int lr_seq_check(struct lr_seq *s, const struct lr_record *r, struct lr_gap *g)
{
	int gap = 0;

	memset(g, 0, sizeof(*g));
	if (r->type == LR_HEADER) {
		/* another run (or one not known) starts afresh; the same run goes on */
		int same = r->start_ns && r->start_ns == s->run_ns;

		if (same && s->known && r->has_seq && r->seq != s->next) {
			g->at_header = 1;
			gap = 1;
		}
		s->run_ns = r->start_ns;
	} else if (s->known && r->has_seq && r->seq != s->next) {
		gap = 1;
	}
	if (gap) {
		g->back = r->seq < s->next;
		g->from = g->back ? s->next - 1 : s->next;
		g->to = g->back ? r->seq : r->seq - 1;
	}
	/* a record without a number (an older version's) leaves the next one unchecked */
	s->known = r->has_seq;
	s->next = r->has_seq && r->type != LR_HEADER ? r->seq + 1 : r->seq;
	return gap;
}

/* ---- the line reader ---- */

#define IN_CHUNK (64 * 1024)
#define BUF_CAP	 (2 * LR_MAX_LINE + IN_CHUNK)

struct lr_reader {
	int fd;
	const unsigned char *mem;
	size_t mem_len, mem_pos;

	int started;
	int gz;
	int zinit;
	int in_eof;    /* the source is exhausted */
	int done;      /* no more decoded data will come */
	char why[160]; /* set when done because of an error */
	z_stream zs;
	unsigned char in[IN_CHUNK];
	size_t in_len, in_pos; /* plain mode: bytes of in[] not yet moved to buf */

	char buf[BUF_CAP];
	size_t start, end;
	uint64_t lineno;
};

static struct lr_reader *lr_new(void)
{
	struct lr_reader *r = calloc(1, sizeof(*r));

	if (r)
		r->fd = -1;
	return r;
}

struct lr_reader *lr_open_fd(int fd)
{
	struct lr_reader *r = lr_new();

	if (r)
		r->fd = fd;
	return r;
}

struct lr_reader *lr_open_mem(const void *buf, size_t len)
{
	struct lr_reader *r = lr_new();

	if (r) {
		r->mem = buf;
		r->mem_len = len;
	}
	return r;
}

void lr_free(struct lr_reader *r)
{
	if (!r)
		return;
	if (r->zinit)
		inflateEnd(&r->zs);
	free(r);
}

uint64_t lr_lineno(const struct lr_reader *r)
{
	return r->lineno;
}

int lr_is_gzip(const struct lr_reader *r)
{
	return r->gz;
}

/* Raw bytes from the source: >0, 0 at its end, -1 with why set. */
static ssize_t src_read(struct lr_reader *r, void *dst, size_t n)
{
	if (r->fd < 0) {
		size_t k = r->mem_len - r->mem_pos;

		if (k > n)
			k = n;
		memcpy(dst, r->mem + r->mem_pos, k);
		r->mem_pos += k;
		return (ssize_t)k;
	}
	for (;;) {
		ssize_t k = read(r->fd, dst, n);

		if (k >= 0)
			return k;
		if (errno != EINTR) {
			snprintf(r->why, sizeof(r->why), "read error: %s", strerror(errno));
			return -1;
		}
	}
}

static void finish(struct lr_reader *r, const char *why)
{
	r->done = 1;
	if (why && !r->why[0])
		snprintf(r->why, sizeof(r->why), "%s", why);
}

/* Fills in[] from the source; 0 when something was read, -1 at the end or on error. */
static int refill_in(struct lr_reader *r)
{
	ssize_t k;

	if (r->in_eof)
		return -1;
	k = src_read(r, r->in, sizeof(r->in));
	if (k <= 0) {
		r->in_eof = 1;
		if (k < 0)
			r->done = 1;
		return -1;
	}
	r->in_len = (size_t)k;
	r->in_pos = 0;
	return 0;
}

static int start(struct lr_reader *r)
{
	r->started = 1;
	/* a pipe may deliver the magic bytes one at a time */
	while (r->in_len < 2 && !r->in_eof) {
		ssize_t k = src_read(r, r->in + r->in_len, sizeof(r->in) - r->in_len);

		if (k < 0) {
			r->done = 1;
			return -1;
		}
		if (k == 0)
			r->in_eof = 1;
		r->in_len += (size_t)k;
	}
	if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
		r->gz = 1;
		if (inflateInit2(&r->zs, 15 + 16) != Z_OK) {
			finish(r, "out of memory");
			return -1;
		}
		r->zinit = 1;
		r->zs.next_in = r->in;
		r->zs.avail_in = (uInt)r->in_len;
	}
	return 0;
}

/* Decoded bytes into buf[end..]; sets done at the end or on error. */
static void fill(struct lr_reader *r)
{
	size_t room = sizeof(r->buf) - r->end;

	if (!r->gz) {
		if (r->in_pos == r->in_len) {
			ssize_t k = r->in_eof ? 0 : src_read(r, r->buf + r->end, room);

			if (k <= 0)
				finish(r, NULL);
			else
				r->end += (size_t)k;
			return;
		}
		size_t k = r->in_len - r->in_pos;

		if (k > room)
			k = room;
		memcpy(r->buf + r->end, r->in + r->in_pos, k);
		r->in_pos += k;
		r->end += k;
		return;
	}
	for (;;) {
		int z;

		if (r->zs.avail_in == 0) {
			if (refill_in(r)) {
				finish(r, r->why[0] ? NULL
						    : "gzip stream is truncated (the recording was "
						      "cut off)");
				return;
			}
			r->zs.next_in = r->in;
			r->zs.avail_in = (uInt)r->in_len;
		}
		r->zs.next_out = (unsigned char *)r->buf + r->end;
		r->zs.avail_out = (uInt)room;
		z = inflate(&r->zs, Z_NO_FLUSH);
		r->end += room - r->zs.avail_out;
		if (z == Z_STREAM_END) {
			/* another member may follow (cat a.gz b.gz), nothing else may */
			if (r->zs.avail_in == 0 && refill_in(r)) {
				if (!r->why[0])
					finish(r, NULL);
				r->done = 1;
				return;
			}
			if (r->zs.avail_in == 0) {
				r->zs.next_in = r->in;
				r->zs.avail_in = (uInt)r->in_len;
			}
			if (r->zs.next_in[0] != 0x1f) {
				finish(r, "garbage after the end of the gzip stream");
				return;
			}
			inflateReset(&r->zs);
		} else if (z == Z_DATA_ERROR || z == Z_NEED_DICT) {
			char why[128];

			snprintf(why, sizeof(why), "corrupt gzip data (%s)",
				 r->zs.msg ? r->zs.msg : "bad data");
			finish(r, why);
			return;
		} else if (z == Z_MEM_ERROR) {
			finish(r, "out of memory");
			return;
		}
		if (room - r->zs.avail_out > 0)
			return;
	}
}

int lr_next(struct lr_reader *r, const char **line, size_t *len, char *err, size_t errlen)
{
	if (!r->started && start(r)) {
		snprintf(err, errlen, "%s", r->why);
		return -1;
	}
	for (;;) {
		char *p = r->buf + r->start;
		char *nl = memchr(p, '\n', r->end - r->start);

		if (nl && nl - p > LR_MAX_LINE) {
			snprintf(err, errlen, "line is longer than %d bytes", LR_MAX_LINE);
			return -1;
		}
		if (nl) {
			r->start = (size_t)(nl + 1 - r->buf);
			r->lineno++;
			if (nl == p)
				continue;
			*line = p;
			*len = (size_t)(nl - p);
			return 1;
		}
		if (r->end - r->start > LR_MAX_LINE) {
			snprintf(err, errlen, "line is longer than %d bytes", LR_MAX_LINE);
			return -1;
		}
		if (r->done) {
			if (r->why[0]) {
				snprintf(err, errlen, "%s", r->why);
				return -1;
			}
			if (r->end > r->start) {
				snprintf(err, errlen,
					 "last line is incomplete (the recording was cut "
					 "off)");
				return -1;
			}
			return 0;
		}
		if (r->start) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		fill(r);
	}
}
