/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_NETNS_H
#define TT_NETNS_H

#include <stdint.h>

/*
 * Network namespaces a walk found, each way, and could not visit and why (the first error of each
 * kind, and where).
 */
struct tt_netns_walk {
	int by_process;	      /* found through a process's /proc/PID/ns/net (ours included) */
	int by_thread;	      /* only through a thread's (it called setns or unshare) */
	int by_mount;	      /* only through an nsfs bind mount (ip netns add): no task there */
	int unreadable;	      /* no /proc/PID/ns/net of theirs could be read (CAP_SYS_PTRACE) */
	int unreadable_err;   /* errno */
	int mount_unreadable; /* an nsfs bind mount could not be opened */
	int mount_unreadable_err;   /* errno */
	char unreadable_where[128]; /* the first such mount */
	int unentered;		    /* setns() refused (CAP_SYS_ADMIN) */
	int unentered_err;
	char unentered_where[128]; /* the path of the first one refused */
	const char *failed; /* the step of the walk's own that failed, NULL if none or fn did */
};

/*
 * Calls fn inside each distinct network namespace, the caller's own first, and returns to the
 * caller's namespace: those of processes (/proc/PID/ns/net), then those only a thread lives in
 * (/proc/PID/task/TID/ns/net: a thread that called setns or unshare), then those no task lives
 * in, held by an nsfs bind mount (ip netns add: /run/netns/NAME, found in our mountinfo and in
 * PID 1's). fn also gets a task living there (0 for the caller's own and for bind mounts). BPF
 * iterators walk the namespace of whoever creates the iterator fd, so this is how they see every
 * namespace. A non-zero return from fn stops the walk and is returned; *walk counts the
 * namespaces found each way and those that could not be visited. Returns 0 or -errno;
 * walk->failed names the step when the error is not fn's. Prints nothing.
 */
int tt_for_each_netns(int (*fn)(void *ctx, uint64_t netns_ino, uint32_t pid), void *ctx,
		      struct tt_netns_walk *walk);

/* "; needs CAP_..." for an errno that a capability would have avoided, else "". */
const char *tt_netns_need_cap(int err, int entering);

/*
 * One line on stderr per kind of skip, if any: "tcptrail: WHO: N network namespaces could not
 * be read (WHY): CONSEQUENCE".
 */
void tt_netns_report_skips(const char *who, const struct tt_netns_walk *walk,
			   const char *consequence);

/* For -v: "tcptrail: WHO: N network namespaces walked: P through processes, T only through
 * threads, M only through bind mounts (ip netns)". */
void tt_netns_report_found(const char *who, const struct tt_netns_walk *walk);

/*
 * Opens each namespace of inos[0..n) not yet held (fds[i] < 0) and puts the fd in fds[i]: an
 * open nsfs file keeps its namespace, and so its inode number, from being freed and given to a
 * new namespace. Looks in nsfs bind mounts (ip netns), /proc/PID/ns/net and
 * /proc/PID/task/TID/ns/net. Returns how many of the n are held after the call; *first_err gets the first error other than "gone" met on the way
 * (EACCES without CAP_SYS_PTRACE: a namespace may have gone unseen), or 0.
 */
int tt_netns_hold(const uint32_t *inos, int *fds, int n, int *first_err);

/* The --netns namespaces, held open from the moment each is found (tt_netns_keep()). */
#define TT_NETNS_HELD_MAX 16
struct netns_held {
	int fd[TT_NETNS_HELD_MAX]; /* -1: not found (yet) */
	uint64_t searched;	   /* CLOCK_MONOTONIC of the last search */
};

void tt_netns_held_init(struct netns_held *h);
/*
 * Holds each of netns[0..n) (n <= TT_NETNS_HELD_MAX) once found, looking again for the others
 * every few seconds; says once which are missing and when one appears.
 */
void tt_netns_keep(struct netns_held *h, const uint32_t *netns, uint32_t n, uint64_t now);
void tt_netns_held_close(struct netns_held *h);

#endif
