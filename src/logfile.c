// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Opening and rotating log files without trusting the names around them. With
 * fs.protected_symlinks=0 (containers, some distributions) a symlink another user plants in
 * /tmp is followed even by root, and a file they create there stays readable by them: so
 * nothing is opened through a final symlink, nothing existing is written unless it is ours,
 * and rotation only ever renames files that are ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "logfile.h"

int logfile_ours(const struct stat *st, uid_t euid)
{
	/* A second link could be a name for a file we must not overwrite (/etc/shadow). */
	return S_ISREG(st->st_mode) && st->st_uid == euid && st->st_nlink == 1;
}

const char *logfile_kind(const struct stat *st, uid_t euid, char *buf, size_t len)
{
	if (S_ISLNK(st->st_mode))
		return "a symbolic link";
	if (S_ISDIR(st->st_mode))
		return "a directory";
	if (S_ISFIFO(st->st_mode))
		return "a FIFO";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return "a device";
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != euid)
		snprintf(buf, len, "a file owned by uid %u", (unsigned)st->st_uid);
	else if (st->st_nlink != 1)
		snprintf(buf, len, "a file with %lu hard links", (unsigned long)st->st_nlink);
	else
		snprintf(buf, len, "a log file");
	return buf;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* err for an existing path that is not ours (st from lstat or fstat). */
static void refuse(const char *path, const struct stat *st, char *err, size_t errlen)
{
	char kind[64];

	if (S_ISLNK(st->st_mode))
		snprintf(err, errlen,
			 "%s is a symbolic link: refusing to follow it (anyone could have planted "
			 "it); remove it or choose another file",
			 path);
	else if (!S_ISREG(st->st_mode))
		snprintf(err, errlen,
			 "%s is %s, not a regular file: choose another file (-w - writes to "
			 "standard output)",
			 path, logfile_kind(st, geteuid(), kind, sizeof(kind)));
	else if (st->st_uid != geteuid())
		snprintf(err, errlen,
			 "%s belongs to uid %u: refusing to write into it (its owner could read "
			 "the log); remove it or choose another file",
			 path, (unsigned)st->st_uid);
	else
		snprintf(err, errlen,
			 "%s has %lu hard links: refusing to write into it (another name of it "
			 "could be any file); remove it or choose another file",
			 path, (unsigned long)st->st_nlink);
}

/* Only the bits we set: the umask cannot loosen them, an old file's mode does not survive. */
static int own_mode(int fd)
{
	return fchmod(fd, 0600);
}

int logfile_open(const char *path, const struct stat *live, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	/*
	 * Create or open existing, again if the name changes in between. Read too: after a
	 * failed write the writer reads back what a reader would get (logwrite.c).
	 */
	for (int tries = 0; tries < 16; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (own_mode(fd)) {
				snprintf(err, errlen, "%s: %s", path, strerror(errno));
				close(fd);
				unlink(path);
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		/* O_NONBLOCK: a planted FIFO must not hang us before it can be refused. */
		fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;

			if (e == ENOENT)
				continue;
			if (!lstat(path, &st) && !logfile_ours(&st, geteuid()))
				refuse(path, &st, err, errlen);
			else
				snprintf(err, errlen, "%s: %s", path, strerror(e));
			return -1;
		}
		/* The checks are on what was opened: a swap after them changes nothing. */
		if (fstat(fd, &st)) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (live && same_file(&st, live)) {
			close(fd);
			return LOGFILE_SAME;
		}
		if (!logfile_ours(&st, geteuid())) {
			refuse(path, &st, err, errlen);
			close(fd);
			return -1;
		}
		if (own_mode(fd) || ftruncate(fd, 0) || fcntl(fd, F_SETFL, 0)) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	snprintf(err, errlen, "%s keeps appearing and disappearing: choose another file", path);
	return -1;
}

void logfile_sibling(char *buf, size_t n, const char *path, const char *prefix, const char *suffix)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dir = (size_t)(base - path), blen = strlen(base);
	size_t extra = strlen(prefix) + strlen(suffix);

	/* A name that was valid stays valid: the end of its last part gives way, not the suffix. */
	if (blen + extra > NAME_MAX)
		blen = extra < NAME_MAX ? NAME_MAX - extra : 0;
	snprintf(buf, n, "%.*s%s%.*s%s", (int)dir, path, prefix, (int)blen, base, suffix);
}

/* path, or path.k (cut to fit in NAME_MAX) */
static void rot_name(char *buf, size_t n, const char *path, uint32_t k)
{
	char suffix[16];

	if (!k) {
		snprintf(buf, n, "%s", path);
		return;
	}
	snprintf(suffix, sizeof(suffix), ".%u", k);
	logfile_sibling(buf, n, path, "", suffix);
}

static void problem(const struct logfile_rotation *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(const struct logfile_rotation *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->problem(r->ctx, msg);
}

/*
 * rename() that does not replace what someone may have put at `to` since it was seen free
 * (rename(2) never follows a link, but it would remove their entry).
 */
static int rename_new(const char *from, const char *to)
{
	if (!renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* a file system without RENAME_NOREPLACE */
	return rename(from, to);
}

/*
 * Moves path.(k-1) to path.k for k = top..1, each checked again just before: the source must
 * be ours (path itself the live file), the target free (k == top: free or ours).
 */
static int shift(const struct logfile_rotation *r, uint32_t top, const struct stat *live,
		 char *from, char *to, size_t n)
{
	uid_t euid = geteuid();
	struct stat st;
	char kind[64];

	for (uint32_t k = top; k >= 1; k--) {
		int replace = 0;

		rot_name(from, n, r->path, k - 1);
		rot_name(to, n, r->path, k);
		if (lstat(from, &st) || !logfile_ours(&st, euid) ||
		    (k == 1) != same_file(&st, live)) {
			problem(r,
				"cannot rotate %s: %s changed while rotating; the log goes on in "
				"%s",
				r->path, from, r->path);
			return -1;
		}
		if (!lstat(to, &st)) {
			if (k != top || !logfile_ours(&st, euid) || same_file(&st, live)) {
				problem(r,
					"cannot rotate %s: %s is %s and was not there a moment "
					"ago; left alone, the log goes on: remove %s",
					r->path, to, logfile_kind(&st, euid, kind, sizeof(kind)),
					to);
				return -1;
			}
			replace = 1;
		}
		if (replace ? rename(from, to) : rename_new(from, to)) {
			problem(r, "cannot rotate %s: renaming %s to %s: %s; the log goes on",
				r->path, from, to, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int logfile_rotate(const struct logfile_rotation *r)
{
	size_t n = strlen(r->path) + 32;
	char *from = malloc(n), *to = malloc(n), *tmp = malloc(n);
	uid_t euid = geteuid();
	struct stat live, st;
	char kind[64];
	uint32_t top;
	int fd = -1;

	if (!from || !to || !tmp) {
		problem(r, "cannot rotate %s: out of memory; the log goes on in it", r->path);
		goto out;
	}
	if (fstat(r->live_fd, &live)) {
		problem(r, "cannot rotate %s: %s; the log goes on in it", r->path, strerror(errno));
		goto out;
	}
	/* The new file first: when it cannot be made, nothing has moved. */
	logfile_sibling(tmp, n, r->path, ".", ".XXXXXX");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		problem(r,
			"cannot rotate %s: creating a file next to it: %s; the log goes on in %s",
			r->path, strerror(errno), r->path);
		goto out;
	}
	if (own_mode(fd)) {
		problem(r, "cannot rotate %s: %s; the log goes on in %s", r->path, strerror(errno),
			r->path);
		goto fail;
	}
	if (lstat(r->path, &st) || !same_file(&st, &live)) {
		problem(r,
			"cannot rotate %s: it is no longer the file being written (moved away? "
			"send SIGHUP after moving it); the log goes on in the moved file",
			r->path);
		goto fail;
	}
	/*
	 * How far the shift reaches: the first free name, else the oldest kept (dropped). A name
	 * that is not ours is never moved or replaced, so the shift stops below it.
	 */
	for (top = 1;; top++) {
		rot_name(to, n, r->path, top);
		if (lstat(to, &st)) {
			if (errno == ENOENT)
				break;
			problem(r, "cannot rotate %s: %s: %s; the log goes on in %s", r->path, to,
				strerror(errno), r->path);
			goto fail;
		}
		if (!logfile_ours(&st, euid) || same_file(&st, &live)) {
			const char *what = logfile_kind(&st, euid, kind, sizeof(kind));

			if (top == 1) {
				problem(r,
					"cannot rotate %s: %s is %s, not one of its rotated logs: "
					"left alone, the log goes on in %s: remove %s",
					r->path, to, what, r->path, to);
				goto fail;
			}
			rot_name(from, n, r->path, top - 1);
			problem(r,
				"rotating %s: %s is %s, not one of its rotated logs: left alone, "
				"%s is overwritten instead: remove %s to keep %u files",
				r->path, to, what, from, to, r->keep);
			top--;
			break;
		}
		if (top >= r->keep)
			break;
	}
	if (shift(r, top, &live, from, to, n))
		goto fail;
	/*
	 * path was ours a moment ago: whatever appeared there since is replaced, never
	 * followed (only a directory stops it).
	 */
	if (rename(tmp, r->path)) {
		problem(r,
			"cannot rotate %s: putting a new file in its place: %s; the log goes on in "
			"%s.1: remove what is at %s",
			r->path, strerror(errno), r->path, r->path);
		goto fail;
	}
	goto out;
fail:
	unlink(tmp);
	close(fd);
	fd = -1;
out:
	free(from);
	free(to);
	free(tmp);
	return fd;
}
