// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "netns.h"

/* A small set of numbers (namespaces: a handful, rarely hundreds), searched linearly. */
struct u64set {
	uint64_t *v;
	size_t n, cap;
};

static int u64set_has(const struct u64set *s, uint64_t x)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i] == x)
			return 1;
	}
	return 0;
}

/* Adds x unless present; 0 or -ENOMEM. */
static int u64set_add(struct u64set *s, uint64_t x)
{
	uint64_t *grown;

	if (u64set_has(s, x))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;

		grown = realloc(s->v, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->v = grown;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

/*
 * A number that tells network namespaces apart without the ptrace access /proc/PID/ns/net
 * needs: /proc/PID/net is readable by anyone, and each namespace has its own entries there,
 * each with an inode number of its own. Counts the namespaces of processes we may not look at.
 */
static int proc_net_key(const char *pid, uint64_t *key)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/net/dev", pid);
	if (stat(path, &st))
		return -1;
	*key = st.st_ino;
	return 0;
}

static int gone(int err)
{
	return err == ENOENT || err == ESRCH;
}

int tt_for_each_netns(int (*fn)(void *ctx, uint64_t netns_ino, uint32_t pid), void *ctx,
		      struct tt_netns_walk *walk)
{
	/* seen: namespaces visited or refused; known/unknown: proc_net_key()s of readable ones and
	 * of processes whose namespace could not be read. */
	struct u64set seen = {0}, known = {0}, unknown = {0};
	struct stat st;
	struct dirent *de;
	uint64_t key;
	int self, err;
	DIR *d = NULL;

	memset(walk, 0, sizeof(*walk));
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || fstat(self, &st)) {
		err = -errno;
		walk->failed = "opening /proc/self/ns/net";
		if (self >= 0)
			close(self);
		return err;
	}
	err = fn(ctx, st.st_ino, 0);
	if (err)
		goto out;
	err = -ENOMEM;
	walk->failed = "allocating memory";
	if (u64set_add(&seen, st.st_ino) ||
	    (!proc_net_key("self", &key) && u64set_add(&known, key)))
		goto out;
	d = opendir("/proc");
	if (!d) {
		err = -errno;
		walk->failed = "reading /proc";
		goto out;
	}
	err = 0;
	walk->failed = NULL;
	while ((de = readdir(d)) != NULL) {
		char path[300];
		struct stat nst;
		int fd, e;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &nst) == 0 && u64set_has(&seen, nst.st_ino))
			continue; /* a namespace already walked */
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			e = errno;
			if (gone(e) || proc_net_key(de->d_name, &key))
				continue; /* the process is gone */
			if (!walk->unreadable_err)
				walk->unreadable_err = e;
			if (u64set_add(&unknown, key))
				goto nomem;
			continue;
		}
		if (fstat(fd, &nst) || u64set_has(&seen, nst.st_ino)) {
			close(fd); /* the pid was reused by a process of a walked namespace */
			continue;
		}
		if (u64set_add(&seen, nst.st_ino) ||
		    (!proc_net_key(de->d_name, &key) && u64set_add(&known, key))) {
			close(fd);
			goto nomem;
		}
		if (setns(fd, CLONE_NEWNET)) {
			if (!walk->unentered++)
				walk->unentered_err = errno;
			close(fd);
			continue;
		}
		err = fn(ctx, nst.st_ino, (uint32_t)strtoul(de->d_name, NULL, 10));
		close(fd);
		if (setns(self, CLONE_NEWNET)) {
			err = -errno;
			walk->failed = "returning to our own network namespace";
			break;
		}
		if (err)
			break;
	}
	/* Namespaces only seen through processes we may not read, never through another. */
	for (size_t i = 0; i < unknown.n; i++)
		walk->unreadable += !u64set_has(&known, unknown.v[i]);
	goto out;
nomem:
	err = -ENOMEM;
	walk->failed = "allocating memory";
out:
	if (d)
		closedir(d);
	close(self);
	free(seen.v);
	free(known.v);
	free(unknown.v);
	return err;
}

/* Why a namespace could not be visited, and which capability would let us. */
const char *tt_netns_need_cap(int err, int entering)
{
	if (err != EACCES && err != EPERM)
		return "";
	return entering ? "; needs CAP_SYS_ADMIN" : "; needs CAP_SYS_PTRACE";
}

/* One line per kind of skip: how many, the error, the capability that would have helped. */
static void report_skip(const char *who, int n, int err, int entering, const char *consequence)
{
	if (!n)
		return;
	fprintf(stderr, "tcptrail: %s: %d network namespace%s could not be %s (%s: %s%s): %s\n",
		who, n, n == 1 ? "" : "s", entering ? "entered" : "read",
		entering ? "setns" : "/proc/PID/ns/net", strerror(err),
		tt_netns_need_cap(err, entering), consequence);
}

void tt_netns_report_skips(const char *who, const struct tt_netns_walk *walk,
			   const char *consequence)
{
	report_skip(who, walk->unreadable, walk->unreadable_err, 0, consequence);
	report_skip(who, walk->unentered, walk->unentered_err, 1, consequence);
}

/* Holds ns (an fd open on it) in the slot of inos[] that wants it; 1 if it was wanted. */
static int hold_one(int ns, const uint32_t *inos, int *fds, int n)
{
	struct stat st;

	if (fstat(ns, &st))
		return 0;
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0 && inos[i] == st.st_ino) {
			fds[i] = ns;
			return 1;
		}
	}
	return 0;
}

/* Opens path if it names a namespace of inos[] not yet held. */
static void try_hold(const char *path, const uint32_t *inos, int *fds, int n, int *first_err)
{
	struct stat st;
	int i, fd;

	if (stat(path, &st)) {
		if (!gone(errno) && !*first_err)
			*first_err = errno;
		return;
	}
	for (i = 0; i < n && !(fds[i] < 0 && inos[i] == st.st_ino); i++)
		;
	if (i == n)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (!gone(errno) && !*first_err)
			*first_err = errno;
		return;
	}
	/* Checked again on the open file: the process may have moved or the pid been reused. */
	if (!hold_one(fd, inos, fds, n))
		close(fd);
}

int tt_netns_hold(const uint32_t *inos, int *fds, int n, int *first_err)
{
	static const char *const dirs[] = {"/run/netns", "/proc"};
	struct dirent *de;
	int held = 0;

	*first_err = 0;
	for (int i = 0; i < n; i++)
		held += fds[i] >= 0;
	for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]) && held < n; k++) {
		int is_proc = k == 1;
		DIR *d = opendir(dirs[k]);

		if (!d)
			continue;
		while (held < n && (de = readdir(d)) != NULL) {
			char path[300];

			if (is_proc ? de->d_name[0] < '1' || de->d_name[0] > '9'
				    : de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), is_proc ? "/proc/%s/ns/net" : "/run/netns/%s",
				 de->d_name);
			try_hold(path, inos, fds, n, first_err);
			held = 0;
			for (int i = 0; i < n; i++)
				held += fds[i] >= 0;
		}
		closedir(d);
	}
	return held;
}
