// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "netns.h"
#include "procnet.h"

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
	char path[340];
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

/*
 * Calls fn(ctx, path, ino) for each nsfs bind mount of a network namespace (ip netns add) in our
 * mount namespace and, when it is another, in PID 1's (the host's, seen from a container),
 * through /proc/1/root. Stops at fn's first non-zero return and returns it; 0 otherwise, also
 * when a mountinfo cannot be read (its mounts are simply not found).
 */
static int for_each_nsfs_mount(int (*fn)(void *ctx, const char *path, uint64_t ino), void *ctx)
{
	static const char *const tables[] = {"/proc/self/mountinfo", "/proc/1/mountinfo"};
	static const char *const roots[] = {"", "/proc/1/root"};
	struct stat self_mnt, init_mnt;
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	for (size_t k = 0; k < 2 && !err; k++) {
		FILE *f;
		ssize_t n;

		/* PID 1's table is the same as ours unless we run in another mount namespace. */
		if (k == 1 &&
		    (stat("/proc/self/ns/mnt", &self_mnt) || stat("/proc/1/ns/mnt", &init_mnt) ||
		     self_mnt.st_ino == init_mnt.st_ino))
			break;
		f = fopen(tables[k], "re");
		if (!f)
			continue;
		while (!err && (n = getline(&line, &cap, f)) > 0) {
			char mnt[PATH_MAX], path[PATH_MAX + 16];
			uint64_t ino;

			if (procnet_nsfs_net_mount(line, (size_t)n - (line[n - 1] == '\n'), mnt,
						   sizeof(mnt), &ino) != 1)
				continue;
			snprintf(path, sizeof(path), "%s%s", roots[k], mnt);
			err = fn(ctx, path, ino);
		}
		fclose(f);
	}
	free(line);
	return err;
}

/* One walk: what was seen, where we came from, what to call. */
struct walker {
	struct u64set seen;    /* namespaces visited or refused */
	struct u64set known;   /* proc_net_key()s of the namespaces visited */
	struct u64set unknown; /* proc_net_key()s of tasks whose namespace could not be read */
	struct u64set threads; /* tids in another namespace than their process's, not yet seen */
	int self;	       /* our own namespace, to return to */
	int (*fn)(void *ctx, uint64_t netns_ino, uint32_t pid);
	void *ctx;
	struct tt_netns_walk *walk;
};

/*
 * Enters the namespace open on fd (inode ino, found at `where`, through task pid or 0), calls fn
 * there and comes back. A namespace that cannot be entered is counted, the first one named.
 * Returns fn's result, or -errno with walk->failed set when the walk itself failed.
 */
static int visit(struct walker *w, int fd, uint64_t ino, uint32_t pid, const char *where)
{
	struct tt_netns_walk *walk = w->walk;
	uint64_t key;
	int err = 0;

	if (u64set_add(&w->seen, ino))
		goto nomem;
	if (setns(fd, CLONE_NEWNET)) {
		if (!walk->unentered++) {
			walk->unentered_err = errno;
			snprintf(walk->unentered_where, sizeof(walk->unentered_where), "%s", where);
		}
		return 0;
	}
	/* Keyed from inside, so that a task of it we may not read counts it as visited. */
	if (proc_net_key("thread-self", &key) || !u64set_add(&w->known, key))
		err = w->fn(w->ctx, ino, pid);
	else
		walk->failed = "allocating memory", err = -ENOMEM;
	if (setns(w->self, CLONE_NEWNET)) {
		walk->failed = "returning to our own network namespace";
		return -errno;
	}
	return err;
nomem:
	walk->failed = "allocating memory";
	return -ENOMEM;
}

/*
 * Opens the namespace at path, expected to be ino (0: any), and visits it unless seen, counting
 * it in *found. *open_err gets the errno if it could not be opened (then returns 0), else 0.
 */
static int visit_path(struct walker *w, const char *path, uint64_t ino, uint32_t pid, int *found,
		      int *open_err)
{
	struct stat st;
	int fd, err;

	*open_err = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*open_err = errno;
		return 0;
	}
	/* Checked on the open file: the task may have moved, its pid been reused, or the mount
	 * been replaced. */
	if (fstat(fd, &st) || (ino && st.st_ino != ino) || u64set_has(&w->seen, st.st_ino)) {
		close(fd);
		return 0;
	}
	(*found)++;
	err = visit(w, fd, st.st_ino, pid, path);
	close(fd);
	return err;
}

/*
 * Calls fn with each thread of process pid but its main one (the process's own entry covers
 * that), and the path of the thread's /proc/PID/task/TID/ns/net, until fn returns nonzero;
 * returns that, or 0. A process gone meanwhile has no threads.
 */
static int each_other_thread(const char *pid,
			     int (*fn)(void *ctx, const char *tid, const char *ns_path), void *ctx)
{
	char path[300];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!ret && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || !strcmp(de->d_name, pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/ns/net", pid, de->d_name);
		ret = fn(ctx, de->d_name, path);
	}
	closedir(d);
	return ret;
}

struct thread_note {
	struct walker *w;
	const char *pid;
	uint64_t ino; /* the process's namespace, 0 if unreadable */
};

static int note_thread(void *ctx, const char *tid, const char *ns_path)
{
	struct thread_note *n = ctx;
	struct walker *w = n->w;
	char path[300];
	struct stat st;
	uint64_t key;

	if (stat(ns_path, &st) == 0) {
		if (st.st_ino != n->ino && !u64set_has(&w->seen, st.st_ino))
			return u64set_add(&w->threads, strtoull(tid, NULL, 10));
		return 0;
	}
	if (gone(errno))
		return 0;
	if (!w->walk->unreadable_err)
		w->walk->unreadable_err = errno;
	snprintf(path, sizeof(path), "%s/task/%s", n->pid, tid);
	if (!proc_net_key(path, &key))
		return u64set_add(&w->unknown, key);
	return 0;
}

/*
 * Notes the threads of process pid (in namespace ino, 0 if unreadable) that live in another
 * namespace, for a later pass: a thread that called setns() or unshare(CLONE_NEWNET) may be the
 * only task in its namespace. Returns 0 or -ENOMEM.
 */
static int note_threads(struct walker *w, const char *pid, uint64_t ino)
{
	struct thread_note n = {.w = w, .pid = pid, .ino = ino};

	return each_other_thread(pid, note_thread, &n);
}

static int visit_mount(void *ctx, const char *path, uint64_t ino)
{
	struct walker *w = ctx;
	struct tt_netns_walk *walk = w->walk;
	int err, oerr;

	if (u64set_has(&w->seen, ino))
		return 0;
	err = visit_path(w, path, ino, 0, &walk->by_mount, &oerr);
	if (oerr && !gone(oerr) && !walk->mount_unreadable++) {
		walk->mount_unreadable_err = oerr;
		snprintf(walk->unreadable_where, sizeof(walk->unreadable_where), "%s", path);
	}
	return err;
}

/*
 * The process pass: each process's namespace, and the threads in another one noted for later.
 * Returns fn's result or -errno (walk->failed set).
 */
static int walk_processes(struct walker *w)
{
	struct tt_netns_walk *walk = w->walk;
	struct dirent *de;
	uint64_t key;
	int err = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d) {
		walk->failed = "reading /proc";
		return -errno;
	}
	while (!err && (de = readdir(d)) != NULL) {
		char path[300];
		struct stat st;
		int e;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &st)) {
			e = errno;
			if (gone(e) || proc_net_key(de->d_name, &key))
				continue; /* the process is gone */
			if (!walk->unreadable_err)
				walk->unreadable_err = e;
			if (u64set_add(&w->unknown, key) || note_threads(w, de->d_name, 0))
				goto nomem;
			continue;
		}
		if (note_threads(w, de->d_name, st.st_ino))
			goto nomem;
		if (u64set_has(&w->seen, st.st_ino))
			continue; /* a namespace already walked */
		err = visit_path(w, path, st.st_ino, (uint32_t)strtoul(de->d_name, NULL, 10),
				 &walk->by_process, &e);
		if (gone(e) || proc_net_key(de->d_name, &key))
			continue;
		if (e && !walk->unreadable_err)
			walk->unreadable_err = e;
		if (u64set_add(e ? &w->unknown : &w->known, key))
			goto nomem;
	}
	closedir(d);
	return err;
nomem:
	closedir(d);
	walk->failed = "allocating memory";
	return -ENOMEM;
}

int tt_for_each_netns(int (*fn)(void *ctx, uint64_t netns_ino, uint32_t pid), void *ctx,
		      struct tt_netns_walk *walk)
{
	struct walker w = {.fn = fn, .ctx = ctx, .walk = walk};
	struct stat st;
	uint64_t key;
	int err, oerr;

	memset(walk, 0, sizeof(*walk));
	w.self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (w.self < 0 || fstat(w.self, &st)) {
		err = -errno;
		walk->failed = "opening /proc/self/ns/net";
		if (w.self >= 0)
			close(w.self);
		return err;
	}
	walk->by_process++;
	err = fn(ctx, st.st_ino, 0);
	if (err)
		goto out;
	err = -ENOMEM;
	walk->failed = "allocating memory";
	if (u64set_add(&w.seen, st.st_ino) ||
	    (!proc_net_key("self", &key) && u64set_add(&w.known, key)))
		goto out;
	walk->failed = NULL;
	err = walk_processes(&w);
	/* Threads alone in their namespace, through /proc/TID (which works for any thread). */
	for (size_t i = 0; !err && i < w.threads.n; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%llu/ns/net",
			 (unsigned long long)w.threads.v[i]);
		err = visit_path(&w, path, 0, (uint32_t)w.threads.v[i], &walk->by_thread, &oerr);
	}
	/* Namespaces no task lives in, held by a bind mount (ip netns add). */
	if (!err)
		err = for_each_nsfs_mount(visit_mount, &w);
	/* Namespaces only seen through tasks we may not read, never through another. */
	for (size_t i = 0; i < w.unknown.n; i++)
		walk->unreadable += !u64set_has(&w.known, w.unknown.v[i]);
out:
	close(w.self);
	free(w.seen.v);
	free(w.known.v);
	free(w.unknown.v);
	free(w.threads.v);
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
static void report_skip(const char *who, int n, int err, int entering, const char *how,
			const char *first, const char *consequence)
{
	if (!n)
		return;
	fprintf(stderr, "tcptrail: %s: %d network namespace%s could not be %s (%s: %s%s%s%s): %s\n",
		who, n, n == 1 ? "" : "s", entering ? "entered" : "read", how, strerror(err),
		tt_netns_need_cap(err, entering), *first ? "; first " : "", first, consequence);
}

void tt_netns_report_skips(const char *who, const struct tt_netns_walk *walk,
			   const char *consequence)
{
	report_skip(who, walk->unreadable, walk->unreadable_err, 0, "/proc/PID/ns/net", "",
		    consequence);
	report_skip(who, walk->mount_unreadable, walk->mount_unreadable_err, 0, "nsfs bind mount",
		    walk->unreadable_where, consequence);
	report_skip(who, walk->unentered, walk->unentered_err, 1, "setns", walk->unentered_where,
		    consequence);
}

void tt_netns_report_found(const char *who, const struct tt_netns_walk *walk)
{
	int n = walk->by_process + walk->by_thread + walk->by_mount;

	fprintf(stderr,
		"tcptrail: %s: %d network namespace%s found: %d through processes, %d only "
		"through threads, %d only through bind mounts (ip netns)\n",
		who, n, n == 1 ? "" : "s", walk->by_process, walk->by_thread, walk->by_mount);
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

struct hold_ctx {
	const uint32_t *inos;
	int *fds;
	int n, held, *first_err;
};

static int count_held(struct hold_ctx *h)
{
	h->held = 0;
	for (int i = 0; i < h->n; i++)
		h->held += h->fds[i] >= 0;
	return h->held;
}

static int hold_path(struct hold_ctx *h, const char *path)
{
	try_hold(path, h->inos, h->fds, h->n, h->first_err);
	return count_held(h) == h->n; /* all held: stop looking */
}

static int hold_mount(void *ctx, const char *path, uint64_t ino)
{
	return hold_path(ctx, path);
}

/* Threads in another namespace than their process's: one may be the only task in it. */
static int hold_thread(void *ctx, const char *tid, const char *ns_path)
{
	return hold_path(ctx, ns_path);
}

static int hold_threads(struct hold_ctx *h, const char *pid)
{
	return each_other_thread(pid, hold_thread, h);
}

int tt_netns_hold(const uint32_t *inos, int *fds, int n, int *first_err)
{
	struct hold_ctx h = {.inos = inos, .fds = fds, .n = n, .first_err = first_err};
	struct dirent *de;
	int done;
	DIR *d;

	*first_err = 0;
	/* Bind mounts first (a read of mountinfo), then a stat per process and per thread. */
	done = count_held(&h) == n || for_each_nsfs_mount(hold_mount, &h);
	d = done ? NULL : opendir("/proc");
	while (d && !done && (de = readdir(d)) != NULL) {
		char path[300];

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		done = hold_path(&h, path) || hold_threads(&h, de->d_name);
	}
	if (d)
		closedir(d);
	return count_held(&h);
}

#define NETNS_SEARCH_NS 5000000000ULL

/*
 * --netns matches a namespace's inode number, which the kernel gives to a new namespace (or
 * another nsfs or proc inode) once the namespace is freed, so the filter would start to follow a
 * stranger. An open fd keeps the namespace, and so its number, ours: every --netns namespace is
 * held from the moment it is found. The ones not found are looked for again every few seconds
 * (one stat per process), and said to be missing once.
 */
void tt_netns_keep(struct netns_held *h, const uint32_t *netns, uint32_t n, uint64_t now)
{
	int was[TT_NETNS_HELD_MAX], first = !h->searched, err;
	char why[128] = "";

	if (!n || (!first && now - h->searched < NETNS_SEARCH_NS))
		return;
	h->searched = now;
	memcpy(was, h->fd, sizeof(was));
	if (tt_netns_hold(netns, h->fd, (int)n, &err) == (int)n && first)
		return;
	if (err)
		snprintf(why, sizeof(why), " (some could not be read: %s%s)", strerror(err),
			 tt_netns_need_cap(err, 0));
	for (uint32_t i = 0; i < n; i++) {
		if (first && h->fd[i] < 0)
			fprintf(stderr,
				"tcptrail: warning: --netns %u: no network namespace has this "
				"number now%s: one that gets it later is traced (and held)\n",
				netns[i], why);
		else if (!first && was[i] < 0 && h->fd[i] >= 0)
			fprintf(stderr, "tcptrail: --netns %u: the namespace exists now\n",
				netns[i]);
	}
}

void tt_netns_held_init(struct netns_held *h)
{
	h->searched = 0;
	for (int i = 0; i < TT_NETNS_HELD_MAX; i++)
		h->fd[i] = -1;
}

void tt_netns_held_close(struct netns_held *h)
{
	for (int i = 0; i < TT_NETNS_HELD_MAX; i++) {
		if (h->fd[i] >= 0)
			close(h->fd[i]);
		h->fd[i] = -1;
	}
}
