// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/logfile.[ch]: -w never follows, moves or writes into a name it does not own
 * (planted symlinks, directories, hard links, other users' files), and rotation shifts only its
 * own files. Runs in a fresh temporary directory; the other-owner cases need root.
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
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "tt_test.h"
#include "logfile.h"

static void put(const char *name, const char *text)
{
	FILE *f = fopen(at(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The file's content ("" when empty), or NULL when it is missing or not a regular file. */
static const char *get(const char *name)
{
	static char buf[256];
	struct stat st;
	FILE *f;
	size_t n;

	if (lstat(at(name), &st) || !S_ISREG(st.st_mode))
		return NULL;
	f = fopen(at(name), "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Entries in the directory (temporary files left behind show up here). */
static int entries(void)
{
	DIR *d = opendir(scratch_dir());
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_open_new(void **state)
{
	char err[512];
	struct stat st;
	mode_t old = umask(0);
	int fd = logfile_open(at("new.jsonl"), NULL, err, sizeof(err));

	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600); /* whatever the umask */
	assert_true(logfile_ours(&st, geteuid()));
	close(fd);
}

static void test_open_existing_own(void **state)
{
	char err[512];
	struct stat st;
	int fd;

	put("own.jsonl", "old content\n");
	chmod(at("own.jsonl"), 0644);
	fd = logfile_open(at("own.jsonl"), NULL, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
	assert_string_equal(get("own.jsonl"), "x\n");
	assert_int_equal(stat(at("own.jsonl"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

/* err names the file, says why and what to do, in one line. */
static void assert_refused(int fd, const char *err, const char *name, const char *why)
{
	assert_int_equal(fd, -1);
	if (!strstr(err, at(name)) || !strstr(err, why) || strchr(err, '\n'))
		fail_msg("unexpected error for %s: %s", name, err);
}

static void test_open_refuses_symlinks(void **state)
{
	char err[512];
	int fd;

	put("victim", "precious\n");
	assert_int_equal(symlink(at("victim"), at("evil.jsonl")), 0);
	fd = logfile_open(at("evil.jsonl"), NULL, err, sizeof(err));
	assert_refused(fd, err, "evil.jsonl", "symbolic link");
	assert_non_null(strstr(err, "remove it"));
	assert_string_equal(get("victim"), "precious\n");
	/* dangling: the target is not created either */
	assert_int_equal(symlink(at("nothing"), at("dangling.jsonl")), 0);
	fd = logfile_open(at("dangling.jsonl"), NULL, err, sizeof(err));
	assert_refused(fd, err, "dangling.jsonl", "symbolic link");
	assert_null(get("nothing"));
}

static void test_open_refuses_others(void **state)
{
	char err[512];
	int fd;

	/* a second name of a file we must not touch */
	put("victim", "precious\n");
	assert_int_equal(link(at("victim"), at("hard.jsonl")), 0);
	fd = logfile_open(at("hard.jsonl"), NULL, err, sizeof(err));
	assert_refused(fd, err, "hard.jsonl", "2 hard links");
	assert_string_equal(get("victim"), "precious\n");

	assert_int_equal(mkdir(at("dir.jsonl"), 0700), 0);
	fd = logfile_open(at("dir.jsonl"), NULL, err, sizeof(err));
	assert_refused(fd, err, "dir.jsonl", "a directory");

	/* a FIFO with no reader would block a plain open: refused at once */
	assert_int_equal(mkfifo(at("fifo.jsonl"), 0600), 0);
	fd = logfile_open(at("fifo.jsonl"), NULL, err, sizeof(err));
	assert_refused(fd, err, "fifo.jsonl", "a FIFO");
}

/* Created by another user (mode 666, so they could read what is written): refused. */
static void test_open_refuses_other_owner(void **state)
{
	char err[512];
	int fd;

	if (geteuid() != 0) {
		skip(); /* another owner needs chown */
		return;
	}
	put("theirs.jsonl", "theirs\n");
	assert_int_equal(chown(at("theirs.jsonl"), 65534, 65534), 0);
	chmod(at("theirs.jsonl"), 0666);
	fd = logfile_open(at("theirs.jsonl"), NULL, err, sizeof(err));
	assert_refused(fd, err, "theirs.jsonl", "belongs to uid 65534");
	assert_string_equal(get("theirs.jsonl"), "theirs\n");
}

static void test_open_same(void **state)
{
	char err[512];
	struct stat live;
	int fd = logfile_open(at("live.jsonl"), NULL, err, sizeof(err));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "kept\n", 5), 5);
	assert_int_equal(fstat(fd, &live), 0);
	/* SIGHUP without a move: the live file is not emptied */
	assert_int_equal(logfile_open(at("live.jsonl"), &live, err, sizeof(err)), LOGFILE_SAME);
	assert_string_equal(get("live.jsonl"), "kept\n");
	/* moved away: a new file */
	assert_int_equal(rename(at("live.jsonl"), at("live.jsonl.1")), 0);
	int fd2 = logfile_open(at("live.jsonl"), &live, err, sizeof(err));

	assert_true(fd2 >= 0);
	assert_string_equal(get("live.jsonl"), "");
	assert_string_equal(get("live.jsonl.1"), "kept\n");
	close(fd);
	close(fd2);
}

struct problems {
	int n;
	char last[1024];
};

static void note_problem(void *ctx, const char *msg)
{
	struct problems *p = ctx;

	p->n++;
	snprintf(p->last, sizeof(p->last), "%s", msg);
	assert_null(strchr(msg, '\n'));
}

/* Rotates log.jsonl (open as *fd); returns the new fd or -1. */
static int rotate(int *fd, uint32_t keep, struct problems *p)
{
	struct logfile_rotation r = {
		.path = at("log.jsonl"),
		.keep = keep,
		.live_fd = *fd,
		.problem = note_problem,
		.ctx = p,
	};
	int nfd = logfile_rotate(&r);

	if (nfd >= 0) {
		close(*fd);
		*fd = nfd;
	}
	return nfd;
}

/* log.jsonl, open and holding text. */
static int live(const char *text)
{
	char err[512];
	int fd = logfile_open(at("log.jsonl"), NULL, err, sizeof(err));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void test_rotate_chain(void **state)
{
	struct problems p = {0};
	int fd = live("A\n");

	assert_true(rotate(&fd, 3, &p) >= 0);
	assert_int_equal(write(fd, "B\n", 2), 2);
	assert_true(rotate(&fd, 3, &p) >= 0);
	assert_int_equal(write(fd, "C\n", 2), 2);
	assert_true(rotate(&fd, 3, &p) >= 0);
	assert_int_equal(write(fd, "D\n", 2), 2);
	assert_string_equal(get("log.jsonl"), "D\n");
	assert_string_equal(get("log.jsonl.1"), "C\n");
	assert_string_equal(get("log.jsonl.2"), "B\n");
	assert_string_equal(get("log.jsonl.3"), "A\n");
	/* keep 3: the oldest goes */
	assert_true(rotate(&fd, 3, &p) >= 0);
	assert_string_equal(get("log.jsonl"), "");
	assert_string_equal(get("log.jsonl.1"), "D\n");
	assert_string_equal(get("log.jsonl.3"), "B\n");
	assert_null(get("log.jsonl.4"));
	assert_int_equal(p.n, 0);
	assert_int_equal(entries(), 4); /* no temporary file left */

	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
}

/* A gap in the chain is filled; the files above it stay where they are. */
static void test_rotate_gap(void **state)
{
	struct problems p = {0};
	int fd = live("new\n");

	put("log.jsonl.1", "one\n");
	put("log.jsonl.3", "three\n");
	assert_true(rotate(&fd, 10, &p) >= 0);
	assert_string_equal(get("log.jsonl.1"), "new\n");
	assert_string_equal(get("log.jsonl.2"), "one\n");
	assert_string_equal(get("log.jsonl.3"), "three\n");
	assert_int_equal(p.n, 0);
	close(fd);
}

/* Planted at FILE.1: nothing moves, the log goes on in FILE, one problem. */
static void planted_first(const char *what)
{
	struct problems p = {0};
	int fd = live("data\n");
	struct stat st;

	put("log.jsonl.2", "two\n");
	int n = entries();

	assert_int_equal(rotate(&fd, 5, &p), -1);
	assert_int_equal(p.n, 1);
	if (!strstr(p.last, at("log.jsonl.1")) || !strstr(p.last, what) ||
	    !strstr(p.last, "left alone"))
		fail_msg("unexpected problem: %s", p.last);
	assert_string_equal(get("log.jsonl"), "data\n");
	assert_string_equal(get("log.jsonl.2"), "two\n");
	assert_null(get("log.jsonl.3"));
	assert_int_equal(lstat(at("log.jsonl.1"), &st), 0);
	assert_false(logfile_ours(&st, geteuid()));
	assert_int_equal(entries(), n); /* no temporary file left */
	/* still the live file: writing on is safe, and a later rotation fails the same way */
	assert_int_equal(write(fd, "more\n", 5), 5);
	assert_int_equal(rotate(&fd, 5, &p), -1);
	assert_int_equal(p.n, 2);
	assert_string_equal(get("log.jsonl"), "data\nmore\n");
	close(fd);
}

static void test_rotate_planted_dir(void **state)
{
	assert_int_equal(mkdir(at("log.jsonl.1"), 0755), 0);
	put("log.jsonl.1/inside", "theirs\n");
	planted_first("a directory");
	assert_string_equal(get("log.jsonl.1/inside"), "theirs\n");
}

static void test_rotate_planted_symlink(void **state)
{
	assert_int_equal(symlink("victim", at("log.jsonl.1")), 0);
	put("victim", "precious\n");
	planted_first("a symbolic link");
	assert_string_equal(get("victim"), "precious\n");
	char target[64];
	ssize_t n = readlink(at("log.jsonl.1"), target, sizeof(target) - 1);

	assert_int_equal(n, 6);
	target[n] = 0;
	assert_string_equal(target, "victim");
}

static void test_rotate_planted_hardlink(void **state)
{
	put("victim", "precious\n");
	assert_int_equal(link(at("victim"), at("log.jsonl.1")), 0);
	planted_first("2 hard links");
	assert_string_equal(get("victim"), "precious\n");
}

/* Planted further up: the rotation happens, the file below the planted name is the oldest. */
static void test_rotate_planted_higher(void **state)
{
	struct problems p = {0};
	int fd = live("new\n");

	put("log.jsonl.1", "one\n");
	put("log.jsonl.2", "two\n");
	assert_int_equal(mkdir(at("log.jsonl.3"), 0755), 0);
	put("log.jsonl.4", "four\n");
	assert_true(rotate(&fd, 10, &p) >= 0);
	assert_int_equal(p.n, 1);
	if (!strstr(p.last, at("log.jsonl.3")) || !strstr(p.last, "a directory") ||
	    !strstr(p.last, "overwritten"))
		fail_msg("unexpected problem: %s", p.last);
	assert_string_equal(get("log.jsonl"), "");
	assert_string_equal(get("log.jsonl.1"), "new\n");
	assert_string_equal(get("log.jsonl.2"), "one\n"); /* "two" dropped */
	assert_null(get("log.jsonl.3"));
	assert_string_equal(get("log.jsonl.4"), "four\n");
	close(fd);
}

/* FILE moved away (logrotate without SIGHUP yet): not rotated, the moved file is not moved. */
static void test_rotate_moved_away(void **state)
{
	struct problems p = {0};
	int fd = live("x\n");

	assert_int_equal(rename(at("log.jsonl"), at("log.jsonl.old")), 0);
	put("log.jsonl", "someone else\n");
	assert_int_equal(rotate(&fd, 3, &p), -1);
	assert_int_equal(p.n, 1);
	assert_non_null(strstr(p.last, "SIGHUP"));
	assert_string_equal(get("log.jsonl"), "someone else\n");
	assert_string_equal(get("log.jsonl.old"), "x\n");
	assert_null(get("log.jsonl.1"));
	close(fd);
}

static void test_kind(void **state)
{
	struct stat st = {0};
	char buf[64];

	st.st_mode = S_IFREG | 0600;
	st.st_uid = 7;
	st.st_nlink = 1;
	assert_true(logfile_ours(&st, 7));
	assert_false(logfile_ours(&st, 0));
	assert_string_equal(logfile_kind(&st, 0, buf, sizeof(buf)), "a file owned by uid 7");
	st.st_nlink = 3;
	assert_false(logfile_ours(&st, 7));
	assert_string_equal(logfile_kind(&st, 7, buf, sizeof(buf)), "a file with 3 hard links");
	st.st_mode = S_IFLNK | 0777;
	st.st_nlink = 1;
	assert_false(logfile_ours(&st, 7));
	assert_string_equal(logfile_kind(&st, 7, buf, sizeof(buf)), "a symbolic link");
}

/* Derived names of a valid name are valid: its end gives way to the affixes. */
static void test_sibling(void **state)
{
	char name[300], buf[600], want[600];

	logfile_sibling(buf, sizeof(buf), "/var/log/t.jsonl", ".", ".XXXXXX");
	assert_string_equal(buf, "/var/log/.t.jsonl.XXXXXX");
	logfile_sibling(buf, sizeof(buf), "t.jsonl", "", ".12");
	assert_string_equal(buf, "t.jsonl.12");
	memset(name, 'a', 255);
	name[255] = 0;
	snprintf(want, sizeof(want), "d/%.252s.12", name);
	snprintf(buf, sizeof(buf), "d/%s", name);
	logfile_sibling(buf, sizeof(buf), strdupa(buf), "", ".12");
	assert_string_equal(buf, want);
	snprintf(want, sizeof(want), ".%.247s.XXXXXX", name);
	logfile_sibling(buf, sizeof(buf), name, ".", ".XXXXXX");
	assert_string_equal(buf, want);
	assert_int_equal(strlen(buf), 255);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		scratch_test(test_open_new),
		scratch_test(test_open_existing_own),
		scratch_test(test_open_refuses_symlinks),
		scratch_test(test_open_refuses_others),
		scratch_test(test_open_refuses_other_owner),
		scratch_test(test_open_same),
		scratch_test(test_rotate_chain),
		scratch_test(test_rotate_gap),
		scratch_test(test_rotate_planted_dir),
		scratch_test(test_rotate_planted_symlink),
		scratch_test(test_rotate_planted_hardlink),
		scratch_test(test_rotate_planted_higher),
		scratch_test(test_rotate_moved_away),
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_sibling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
