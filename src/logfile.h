/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_LOGFILE_H
#define TT_LOGFILE_H

/*
 * Where a log may be written. tcptrail runs as root and logs often go to shared directories
 * (/tmp), so a name another user could have planted is never followed, moved or written into:
 * only regular files owned by the effective uid with a single link are ours.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* logfile_open(): path still names the file being written (nothing to reopen). */
#define LOGFILE_SAME (-2)

/* Whether st (from lstat or fstat) is a file tcptrail may write, rotate or replace. */
int logfile_ours(const struct stat *st, uid_t euid);

/* What st is, for messages: "a symbolic link", "a file owned by uid 1000", ... */
const char *logfile_kind(const struct stat *st, uid_t euid, char *buf, size_t len);

/*
 * Opens path to start a log in it, mode 0600: a new file (O_EXCL), or an existing file of ours
 * emptied. Refuses a final symbolic link and any existing file that is not ours. With live
 * (the file being written), LOGFILE_SAME when path is that file. The fd, or -1 with a one-line
 * reason and remedy in err.
 */
int logfile_open(const char *path, const struct stat *live, char *err, size_t errlen);

/*
 * dir/PREFIX BASE SUFFIX for path = dir/BASE, in buf (n bytes: strlen(path) + the affixes + 1
 * is enough): BASE is cut at its end when the whole would pass NAME_MAX, so a name derived
 * from any valid name (a temporary one, FILE.1) is valid too.
 */
void logfile_sibling(char *buf, size_t n, const char *path, const char *prefix, const char *suffix);

struct logfile_rotation {
	const char *path;
	uint32_t keep; /* rotated files to keep, at least 1 */
	int live_fd;   /* the file being written, which path names */
	/* Called once for each thing that went wrong, with a line for the user. */
	void (*problem)(void *ctx, const char *msg);
	void *ctx;
};

/*
 * logrotate style: path.(k) -> path.(k+1), path -> path.1, and a new empty path (made under a
 * hidden temporary name with O_EXCL, then renamed). With a name too long for .k, path.k is cut
 * at its end to fit (logfile_sibling). Names that are not ours are left alone: a foreign
 * path.1 stops the rotation, one further up makes the file below it the oldest kept. Returns
 * the new file's fd, or -1 when path was not rotated (the caller goes on writing live_fd).
 */
int logfile_rotate(const struct logfile_rotation *r);

#endif
