// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/logwrite.[ch]: on a full disk (RLIMIT_FSIZE) exactly the events missing
 * from the file are counted, plain or gzip, the header never; SIGHUP's reopen puts every event
 * in exactly one file; failed rotations and reopens keep every event and are counted; --rotate
 * SIZE and --keep N give files of SIZE, named FILE.1 to FILE.N; a line cut by a full disk (at a
 * rotation too) or by lack of memory is never left half-written. Each
 * recording runs in a child process (the file size limit is per process; its stderr is kept
 * for the checks).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>
#include <cmocka.h>
#include "tt_test.h"
#include "causes.h"
#include "filter.h"
#include "logwrite.h"
#include "outbuf.h"
#include "stuck_rule.h"

#define SEC 1000000000ULL

static char errtext[8192]; /* the last child's stderr */

/* Event n: a state line with noise that compresses about as badly as real addresses do. */
static size_t event(char *buf, size_t cap, int n)
{
	uint32_t x = (uint32_t)n * 2654435761u + 12345;
	size_t len = (size_t)snprintf(buf, cap, "{\"type\":\"state\",\"n\":%d,\"pad\":\"", n);

	for (int i = 0; i < 120; i++) {
		x = x * 1103515245u + 12345;
		buf[len++] = "0123456789abcdef"[(x >> 16) & 15];
	}
	len += (size_t)snprintf(buf + len, cap - len, "\"}\n");
	return len;
}

struct job {
	const char *file;
	uint64_t rotate;
	uint32_t keep;
	rlim_t fsize; /* RLIM_INFINITY: no full disk */
	int events;
	/* before event i: rename the file to move_to and send SIGHUP (i < 0: never) */
	int hup_at;
	const char *move_to;
	const char *plant_link; /* then plant a symlink to this at the file, before the HUP */
	int hup_again_at;	/* a SIGHUP without moving the file */
	int cut_at;		/* > 0: before event cut_at, a line cut short by lack of memory */
};

struct outcome {
	int ret;
	struct logw_report rep;
};

static struct outcome record(const struct job *j)
{
	static const struct tt_filter no_filter;
	struct logw_opts lo = {
		.path = j->file,
		.rotate_bytes = j->rotate,
		.keep = j->keep ? j->keep : 10,
		.filter = &no_filter,
	};
	struct outcome o = {0};
	char err[512], line[512];
	uint64_t now = SEC;
	struct logw *w;

	w = logw_open(&lo, err, sizeof(err));
	if (!w) {
		fprintf(stderr, "tcptrail: %s\n", err);
		o.ret = -100;
		return o;
	}
	if (j->fsize != RLIM_INFINITY) {
		struct rlimit rl = {j->fsize, j->fsize};

		signal(SIGXFSZ, SIG_IGN); /* EFBIG instead, as ENOSPC would be */
		setrlimit(RLIMIT_FSIZE, &rl);
	}
	for (int i = 0; i < j->events; i++) {
		if (i == j->hup_at) {
			rename(j->file, j->move_to);
			if (j->plant_link)
				symlink(j->plant_link, j->file);
			logw_reopen(w);
		}
		if (i == j->hup_again_at) {
			usleep(50000); /* most likely a reopen of its own, not merged with the last */
			logw_reopen(w);
		}
		if (i == j->cut_at && i > 0) {
			/* what a formatter leaves when an append fails halfway: see ob_reserve() */
			struct outbuf *ob = logw_buffer(w);
			size_t start = ob->len;

			ob_put(ob, line, event(line, sizeof(line), i) / 2);
			ob->oom = 1;
			logw_commit(w, start);
		}
		logw_write(w, line, event(line, sizeof(line), i));
		/* a flush every 100 events, handoffs in between */
		now += i % 100 == 99 ? SEC : SEC / 40;
		logw_tick(w, now);
		/* time for the writer to flush: else the batches, and their flushes, merge */
		if (i % 100 == 99)
			usleep(2000);
	}
	o.ret = logw_close(w, &o.rep);
	return o;
}

/* record() in a child; its stderr ends up in errtext. */
static struct outcome run(const struct job *j)
{
	struct outcome o = {0};
	int res[2], errp[2];
	pid_t pid;
	ssize_t n;
	size_t got = 0;
	int status;

	assert_int_equal(pipe(res), 0);
	assert_int_equal(pipe(errp), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(res[0]);
		close(errp[0]);
		dup2(errp[1], STDERR_FILENO);
		o = record(j);
		if (write(res[1], &o, sizeof(o)) != sizeof(o))
			_exit(3);
		_exit(0);
	}
	close(res[1]);
	close(errp[1]);
	while (got < sizeof(errtext) - 1 &&
	       (n = read(errp[0], errtext + got, sizeof(errtext) - 1 - got)) > 0)
		got += (size_t)n;
	errtext[got] = 0;
	assert_int_equal(read(res[0], &o, sizeof(o)), sizeof(o));
	close(res[0]);
	close(errp[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return o;
}

struct decoded {
	char *text;
	size_t len;
	int whole; /* plain, or gzip up to its trailer */
	int bad;   /* bytes that are not gzip */
};

static struct decoded decode(const char *path)
{
	struct decoded d = {0};
	unsigned char *raw;
	struct stat st;
	z_stream zs;
	FILE *f;

	assert_int_equal(stat(path, &st), 0);
	raw = malloc((size_t)st.st_size + 1);
	f = fopen(path, "rb");
	assert_non_null(raw);
	assert_non_null(f);
	assert_int_equal(fread(raw, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	if (st.st_size < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
		d.text = (char *)raw;
		d.len = (size_t)st.st_size;
		d.whole = 1;
		return d;
	}
	d.text = malloc(64 << 20);
	assert_non_null(d.text);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 31), Z_OK);
	zs.next_in = raw;
	zs.avail_in = (uInt)st.st_size;
	zs.next_out = (unsigned char *)d.text;
	zs.avail_out = 64 << 20;
	for (;;) {
		int z = inflate(&zs, Z_NO_FLUSH);

		if (z == Z_STREAM_END) {
			d.whole = 1;
			if (!zs.avail_in)
				break;
			inflateReset(&zs); /* another member */
			d.whole = 0;
			continue;
		}
		if (z == Z_DATA_ERROR || z == Z_NEED_DICT || z == Z_MEM_ERROR)
			d.bad = 1;
		break; /* Z_BUF_ERROR: the input ends without a trailer */
	}
	d.len = (64 << 20) - zs.avail_out;
	inflateEnd(&zs);
	free(raw);
	return d;
}

/* The job's line cut by lack of memory (> 0): it took a "seq" of its own. */
static int seq_cut;

/* The "seq" of event n: the records are numbered from 1, the cut line among them. */
static int seq_of(int n)
{
	return n + 1 + (seq_cut > 0 && n >= seq_cut);
}

/*
 * The events of a file: it is whole lines, one header first (part `part`, "seq" its first
 * event's), then events *next, *next + 1, ... (updated), each ending in its "seq". An empty
 * file has none.
 */
static int events_of(const char *path, int part, int *next)
{
	struct decoded d = decode(path);
	char want[64], tail[64];
	int n = 0, line = 0;

	assert_false(d.bad);
	if (d.len && d.text[d.len - 1] != '\n')
		fail_msg("%s ends in a partial line", path);
	for (char *p = d.text, *end = d.text + d.len; p < end; line++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		*nl = 0;
		if (!line) {
			snprintf(want, sizeof(want), ",\"part\":%d,", part);
			if (strncmp(p, "{\"type\":\"header\",", 17) || !strstr(p, want))
				fail_msg("%s: no header of part %d first: %.80s", path, part, p);
			snprintf(want, sizeof(want), ",\"seq\":%d,", seq_of(*next));
			if (!strstr(p, want))
				fail_msg("%s: header without %s: %.200s", path, want, p);
		} else {
			size_t tl =
				(size_t)snprintf(tail, sizeof(tail), ",\"seq\":%d}", seq_of(*next));
			size_t pl = strlen(p);

			snprintf(want, sizeof(want), "{\"type\":\"state\",\"n\":%d,", *next);
			if (strncmp(p, want, strlen(want)))
				fail_msg("%s:%d: want event %d: %.60s", path, line + 1, *next, p);
			if (pl < tl || strcmp(p + pl - tl, tail))
				fail_msg("%s:%d: want %s at the end: %s", path, line + 1, tail, p);
			(*next)++;
			n++;
		}
		p = nl + 1;
	}
	free(d.text);
	return n;
}

/* The file is plain, or gzip with its trailer. */
static int whole(const char *path)
{
	struct decoded d = decode(path);

	free(d.text);
	return d.whole;
}

static unsigned long long count_after(const char *text, const char *what)
{
	const char *p = strstr(text, what);

	while (p && p > text && p[-1] != ' ')
		p--;
	return p ? strtoull(p, NULL, 10) : 0;
}

/*
 * Full disk at `limit` bytes (RLIM_INFINITY: none): the file replays up to a point, and the
 * rest is the count.
 */
static void full_disk(const char *name, rlim_t limit, uint64_t rotate)
{
	struct job j = {.file = at(name),
			.fsize = limit,
			.events = 3000,
			.hup_at = -1,
			.hup_again_at = -1,
			.rotate = rotate,
			.keep = 1000};
	struct outcome o = run(&j);
	int next = 0, in_files = 0;
	char rotated[300];

	if (rotate) {
		/* oldest first */
		int k = 1;

		while (snprintf(rotated, sizeof(rotated), "%s.%d", j.file, k),
		       !access(rotated, F_OK))
			k++;
		while (--k >= 1) {
			snprintf(rotated, sizeof(rotated), "%s.%d", j.file, k);
			in_files += events_of(rotated, (int)o.rep.parts - 1 - k, &next);
		}
	}
	in_files += events_of(j.file, (int)o.rep.parts - 1, &next);
	/* cut back to its last flush, a gzip file gets its end again where that fits */
	struct stat st;

	assert_int_equal(stat(j.file, &st), 0);
	if (!whole(j.file) && (uint64_t)st.st_size + 13 <= (uint64_t)limit)
		fail_msg("%s limit %lu: %lu bytes and no gzip trailer", name, (unsigned long)limit,
			 (unsigned long)st.st_size);
	if ((uint64_t)(j.events - in_files) != o.rep.unwritten)
		fail_msg("%s limit %lu: %d of %d events in the file, %llu counted as not written",
			 name, (unsigned long)limit, in_files, j.events,
			 (unsigned long long)o.rep.unwritten);
	assert_int_equal(o.ret, o.rep.unwritten ? -1 : 0);
	if (o.rep.unwritten) {
		assert_int_equal(count_after(errtext, " events could not be written to "),
				 o.rep.unwritten);
		/* the failure said once, then the count */
		assert_non_null(strstr(errtext, "events are no longer recorded"));
	}
	unlink(j.file);
	for (int k = 1; k < 1000; k++) {
		snprintf(rotated, sizeof(rotated), "%s.%d", j.file, k);
		unlink(rotated);
	}
}

static void test_full_disk_plain(void **state)
{
	static const rlim_t limits[] = {0, 1, 100, 5000, 65536, 300000, RLIM_INFINITY};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		full_disk("full.jsonl", limits[i], 0);
}

static void test_full_disk_gzip(void **state)
{
	/* 5000: not even the first flush fits; from 12000 on, some do */
	static const rlim_t limits[] = {0, 1, 20, 100, 5000, 12000, 30000, 200000, RLIM_INFINITY};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		full_disk("full.jsonl.gz", limits[i], 0);
}

/* --rotate: every event in exactly one file, in order, each file with its part's header. */
static void test_rotation_keeps_all(void **state)
{
	full_disk("rot.jsonl", RLIM_INFINITY, 16384);
	full_disk("rot.jsonl.gz", RLIM_INFINITY, 4096);
}

/* Nothing at all fits: every event is counted, the header line is not. */
static void test_header_not_counted(void **state)
{
	struct job j = {.file = at("none.jsonl.gz"),
			.fsize = 0,
			.events = 10,
			.hup_at = -1,
			.hup_again_at = -1};
	struct outcome o = run(&j);

	assert_int_equal(o.rep.unwritten, 10);
	assert_int_equal(count_after(errtext, " events could not be written to "), 10);
	j.file = at("none.jsonl");
	o = run(&j);
	assert_int_equal(o.rep.unwritten, 10);
	/* no event at all: the file could not be written, but no event is missing */
	j.events = 0;
	o = run(&j);
	assert_int_equal(o.ret, -1);
	assert_int_equal(o.rep.unwritten, 0);
	assert_non_null(strstr(errtext, "events are no longer recorded"));
	assert_null(strstr(errtext, "could not be written"));
}

/* The header records the filters; --cgroup as paths, --container as the prefixes given. */
static void test_header_filters(void **state)
{
	static struct tt_filter filter;
	struct logw_opts lo = {.path = at("filters.jsonl"), .keep = 10, .filter = &filter};
	struct logw_report rep;
	struct decoded d;
	char err[512];
	struct logw *w;

	memset(&filter, 0, sizeof(filter));
	filter.nports = 1;
	filter.ports[0] = 80;
	assert_int_equal(filter_add_cgroups(&filter, "/tt-test-A,/,/a\"b", err, sizeof(err)), 0);
	assert_int_equal(filter_add_containers(&filter, "4C6B", err, sizeof(err)), 0);
	w = logw_open(&lo, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(logw_close(w, &rep), 0);
	d = decode(lo.path);
	assert_non_null(
		memmem(d.text, d.len,
		       ",\"filters\":{\"port\":[80],\"cgroup\":[\"/tt-test-A\",\"/\","
		       "\"/a\\\"b\"],\"container\":[\"4c6b\"]},",
		       strlen(",\"filters\":{\"port\":[80],\"cgroup\":[\"/tt-test-A\",\"/\","
			      "\"/a\\\"b\"],\"container\":[\"4c6b\"]},")));
	free(d.text);
	/* alone, first in the object */
	memset(&filter, 0, sizeof(filter));
	assert_int_equal(filter_add_containers(&filter, "ab", err, sizeof(err)), 0);
	w = logw_open(&lo, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(logw_close(w, &rep), 0);
	d = decode(lo.path);
	assert_non_null(memmem(d.text, d.len, ",\"filters\":{\"container\":[\"ab\"]},", 32));
	free(d.text);
	/* --cause by name, in the enum's order, last; and alone */
	assert_int_equal(cause_add_list(&filter.cause_mask, "reset-in,REFUSED", err, sizeof(err)),
			 0);
	w = logw_open(&lo, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(logw_close(w, &rep), 0);
	d = decode(lo.path);
	assert_non_null(memmem(d.text, d.len,
			       ",\"filters\":{\"container\":[\"ab\"],\"cause\":[\"refused\","
			       "\"reset_in\"]},",
			       63));
	free(d.text);
	memset(&filter, 0, sizeof(filter));
	filter.cause_mask = 1u << TT_CAUSE_LISTENER_CLOSED;
	w = logw_open(&lo, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(logw_close(w, &rep), 0);
	d = decode(lo.path);
	assert_non_null(
		memmem(d.text, d.len, ",\"filters\":{\"cause\":[\"listener_closed\"]},", 41));
	free(d.text);
}

/* The header records the stuck rules in the order given, durations in milliseconds. */
static void test_header_stuck(void **state)
{
	static const struct tt_filter filter;
	static const struct stuck_rule rules[] = {
		{.state = TT_CLOSE_WAIT, .ns = 30 * SEC},
		{.state = TT_SYN_SENT, .ns = 1500000},
	};
	struct logw_opts lo = {.path = at("stuck.jsonl"),
			       .keep = 10,
			       .filter = &filter,
			       .stuck = rules,
			       .nstuck = 2};
	static const char want[] = ",\"filters\":{},\"stuck\":[{\"state\":\"CLOSE_WAIT\",\"ms\":"
				   "30000.000},{\"state\":\"SYN_SENT\",\"ms\":1.500}]}\n";
	struct logw_report rep;
	struct decoded d;
	char err[512];
	struct logw *w;

	w = logw_open(&lo, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(logw_close(w, &rep), 0);
	d = decode(lo.path);
	assert_non_null(memmem(d.text, d.len, want, strlen(want)));
	free(d.text);
}

/* logrotate: move, SIGHUP; every event in exactly one of the two files, both complete. */
static void reopen_after_move(const char *name)
{
	char moved[300];
	struct job j = {.file = at(name),
			.fsize = RLIM_INFINITY,
			.events = 1500,
			.hup_at = 700,
			.move_to = moved,
			.hup_again_at = 1100};
	struct outcome o;
	int next = 0;

	snprintf(moved, sizeof(moved), "%s.1", j.file);
	o = run(&j);
	assert_int_equal(o.ret, 0);
	assert_in_range(o.rep.reopens, 1, 2); /* the second one finds the file in place */
	assert_int_equal(o.rep.reopens_failed, 0);
	assert_int_equal(o.rep.parts, 2);
	assert_string_equal(errtext, "");
	assert_int_equal(events_of(moved, 0, &next), 700);
	assert_true(whole(moved)); /* gzip finished before close */
	assert_int_equal(events_of(j.file, 1, &next), 800);
	assert_true(whole(j.file));

	struct stat st;

	assert_int_equal(stat(j.file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_reopen_plain(void **state)
{
	reopen_after_move("hup.jsonl");
}

static void test_reopen_gzip(void **state)
{
	reopen_after_move("hup.jsonl.gz");
}

/* A symlink planted where the new file would go: refused, the log goes on in the old file. */
static void test_reopen_refused(void **state)
{
	char moved[300], victim[300];
	struct job j = {.file = at("hup.jsonl.gz"),
			.fsize = RLIM_INFINITY,
			.events = 500,
			.hup_at = 200,
			.move_to = moved,
			.plant_link = victim,
			.hup_again_at = 300};
	struct outcome o;
	int next = 0;
	FILE *f;

	snprintf(moved, sizeof(moved), "%s.1", j.file);
	snprintf(victim, sizeof(victim), "%s", at("victim"));
	f = fopen(victim, "w");
	fputs("precious\n", f);
	fclose(f);
	o = run(&j);
	assert_int_equal(o.ret, -1);
	assert_in_range(o.rep.reopens, 1, 2);
	assert_int_equal(o.rep.reopens_failed, o.rep.reopens);
	assert_int_equal(o.rep.unwritten, 0);
	assert_int_equal(events_of(moved, 0, &next), 500);
	assert_true(whole(moved));
	struct decoded v = decode(victim);

	assert_int_equal(v.len, 9);
	free(v.text);
	/* said once, with the reason, then counted at the end */
	const char *first = strstr(errtext, "cannot reopen the log after SIGHUP");

	assert_non_null(first);
	assert_null(strstr(first + 1, "cannot reopen the log after SIGHUP"));
	assert_non_null(strstr(errtext, "symbolic link"));
	assert_non_null(
		strstr(errtext, o.rep.reopens == 2 ? "2 of 2 reopens of" : "1 of 1 reopens"));
}

/* A directory planted at FILE.1: no rotation, every event in FILE, reported once, counted. */
static void test_rotation_blocked(void **state)
{
	struct job j = {.file = at("blocked.jsonl"),
			.fsize = RLIM_INFINITY,
			.events = 400,
			.hup_at = -1,
			.hup_again_at = -1,
			.rotate = 4096,
			.keep = 3};
	struct outcome o;
	char sub[300];
	int next = 0;

	assert_int_equal(mkdir(at("blocked.jsonl.1"), 0755), 0);
	o = run(&j);
	rmdir(at("blocked.jsonl.1"));
	assert_int_equal(o.ret, -1);
	assert_true(o.rep.rotations >= 2);
	assert_int_equal(o.rep.rotations_failed, o.rep.rotations);
	assert_int_equal(o.rep.parts, 1);
	assert_int_equal(events_of(j.file, 0, &next), 400);
	snprintf(sub, sizeof(sub), "%s.2", j.file);
	assert_int_equal(access(sub, F_OK), -1);
	const char *first = strstr(errtext, "is a directory");

	assert_non_null(first);
	assert_null(strstr(first + 1, "is a directory"));
	snprintf(sub, sizeof(sub), "%llu of %llu rotations of", (unsigned long long)o.rep.rotations,
		 (unsigned long long)o.rep.rotations);
	assert_non_null(strstr(errtext, sub));
}

/* Size of a file, -1 when there is none. */
static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* Event number of the first event line of a file (after its header). */
static int first_event(const char *path)
{
	struct decoded d = decode(path);
	char *nl = memchr(d.text, '\n', d.len);
	int n = -1;

	assert_non_null(nl);
	assert_int_equal(sscanf(nl + 1, "{\"type\":\"state\",\"n\":%d,", &n), 1);
	free(d.text);
	return n;
}

/*
 * --rotate SIZE: a file is rotated by the line that takes it to SIZE, so every rotated file
 * holds at least SIZE bytes and less than SIZE plus one line, and the live one less than SIZE.
 */
static void test_rotation_size(void **state)
{
	const uint64_t size = 4096;
	struct job j = {.file = at("size.jsonl"),
			.fsize = RLIM_INFINITY,
			.events = 400,
			.hup_at = -1,
			.hup_again_at = -1,
			.rotate = size,
			.keep = 1000};
	char line[512], name[300];
	size_t longest = event(line, sizeof(line), j.events - 1);
	struct outcome o = run(&j);
	int next = 0;

	assert_int_equal(o.ret, 0);
	assert_string_equal(errtext, "");
	assert_true(o.rep.parts > 10);
	assert_int_equal(o.rep.rotations, o.rep.parts - 1);
	assert_int_equal(o.rep.rotations_failed, 0);
	for (uint32_t k = o.rep.parts - 1; k >= 1; k--) {
		snprintf(name, sizeof(name), "%s.%u", j.file, k);
		assert_in_range(file_size(name), size, size + longest - 1);
		events_of(name, (int)(o.rep.parts - 1 - k), &next);
	}
	assert_in_range(file_size(j.file), 1, size - 1);
	events_of(j.file, (int)o.rep.parts - 1, &next);
	assert_int_equal(next, j.events);

	/* gzip counts compressed bytes: at least SIZE each, every file a whole gzip file */
	j.file = at("size.jsonl.gz");
	j.events = 3000;
	o = run(&j);
	next = 0;
	assert_int_equal(o.ret, 0);
	assert_true(o.rep.parts > 3); /* a file grows at each flush or 64 KiB of JSON */
	for (uint32_t k = o.rep.parts - 1; k >= 1; k--) {
		snprintf(name, sizeof(name), "%s.%u", j.file, k);
		assert_true(file_size(name) >= (long long)size);
		assert_true(whole(name));
		events_of(name, (int)(o.rep.parts - 1 - k), &next);
	}
	assert_true(whole(j.file));
	events_of(j.file, (int)o.rep.parts - 1, &next);
	assert_int_equal(next, j.events);
}

/*
 * --keep N: FILE and FILE.1 (the newest) to FILE.N (the oldest) hold the last events in order,
 * the older files are gone and no temporary file is left. A .gz name keeps its suffix first
 * (FILE.gz.1), as logrotate's do, and each of them is gzip.
 */
static void keep_files(const char *name)
{
	const uint32_t keep = 3;
	struct job j = {.file = at(name),
			.fsize = RLIM_INFINITY,
			.events = 2000,
			.hup_at = -1,
			.hup_again_at = -1,
			.rotate = 4096,
			.keep = keep};
	struct outcome o = run(&j);
	char path[300];
	struct dirent *e;
	int next, files = 0;
	DIR *d;

	assert_int_equal(o.ret, 0);
	assert_string_equal(errtext, "");
	assert_true(o.rep.parts > keep + 2);
	assert_int_equal(o.rep.rotations, o.rep.parts - 1);
	snprintf(path, sizeof(path), "%s.%u", j.file, keep + 1);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s.%u", j.file, keep);
	next = first_event(path);
	assert_true(next > 0);
	for (uint32_t k = keep; k >= 1; k--) {
		snprintf(path, sizeof(path), "%s.%u", j.file, k);
		assert_true(whole(path));
		events_of(path, (int)(o.rep.parts - 1 - k), &next);
	}
	events_of(j.file, (int)o.rep.parts - 1, &next);
	assert_int_equal(next, j.events);
	d = opendir(scratch_dir());
	assert_non_null(d);
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, keep + 1);
}

static void test_rotation_keep_plain(void **state)
{
	keep_files("keep.jsonl");
}

static void test_rotation_keep_gzip(void **state)
{
	keep_files("keep.jsonl.gz");
}

/*
 * The disk fills up at the write that a rotation makes: the line it cuts is taken off again,
 * so the file ends in a whole line (gzip: at its last flush, with a trailer) and the count is
 * exact. A limit just past SIZE is crossed by some rotation's last line.
 */
static void test_full_disk_at_rotation(void **state)
{
	static const rlim_t over[] = {1, 60, 150};

	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++)
		full_disk("rotfull.jsonl", 4096 + over[i], 4096);
	full_disk("rotfull.jsonl.gz", 20000, 4096);
	full_disk("rotfull.jsonl.gz", 50000, 16384);
}

/*
 * A line that runs out of memory while it is formatted (logw_buffer + logw_commit) is taken
 * back whole and counted; the lines around it are written.
 */
static void test_line_cut_by_memory(void **state)
{
	static const char *const names[] = {"oom.jsonl", "oom.jsonl.gz"};

	for (size_t i = 0; i < 2; i++) {
		struct job j = {.file = at(names[i]),
				.fsize = RLIM_INFINITY,
				.events = 300,
				.hup_at = -1,
				.hup_again_at = -1,
				.cut_at = 150};
		struct outcome o = run(&j);
		int next = 0;

		seq_cut = j.cut_at;
		assert_int_equal(o.ret, -1);
		assert_int_equal(o.rep.unwritten, 1);
		assert_int_equal(count_after(errtext, " events could not be written to "), 1);
		assert_int_equal(events_of(j.file, 0, &next), j.events);
		assert_true(whole(j.file));
		seq_cut = 0;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		scratch_test(test_full_disk_plain),    scratch_test(test_full_disk_gzip),
		scratch_test(test_rotation_keeps_all), scratch_test(test_header_not_counted),
		scratch_test(test_header_filters),     scratch_test(test_header_stuck),
		scratch_test(test_reopen_plain),       scratch_test(test_reopen_gzip),
		scratch_test(test_reopen_refused),     scratch_test(test_rotation_blocked),
		scratch_test(test_rotation_size),      scratch_test(test_rotation_keep_plain),
		scratch_test(test_rotation_keep_gzip), scratch_test(test_full_disk_at_rotation),
		scratch_test(test_line_cut_by_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
