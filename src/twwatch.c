// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The TIME_WAIT watch (twwatch.h): /proc/PID/net/netstat's TCPTimeWaitOverflow per netns. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include "procnet.h"
#include "twwatch.h"

/* TCPTimeWaitOverflow of the netns of `pid` (0: our own), if that netns is `netns`. */
static int read_tw_overflow(uint32_t pid, uint32_t netns, uint64_t *value)
{
	char path[64], buf[16384];
	struct stat st;
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	if (stat(path, &st) || st.st_ino != netns)
		return -1;
	snprintf(path, sizeof(path), pid ? "/proc/%u/net/netstat" : "/proc/self/net/netstat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return -1;
	return procnet_counter(buf, (size_t)n, "TcpExt", "TCPTimeWaitOverflow", value);
}

/*
 * Starts watching the overflow counter of an event's netns at its first active close, before
 * any timewait handoff there: when tcp_max_tw_buckets is full the kernel makes no timewait
 * socket, and the tracepoint cannot tell.
 */
void twwatch_event(struct twwatch *t, const struct tt_event *e)
{
	struct tw_watch *w;

	for (int i = 0; i < t->n; i++) {
		w = &t->w[i];
		if (w->netns != e->netns)
			continue;
		/* The process we read through is gone: read through this owner instead. */
		if (w->stale && (e->flags & TT_F_OWNER_KNOWN)) {
			w->pid = e->pid;
			w->stale = 0;
		}
		return;
	}
	if (t->n >= TW_NETNS_MAX || !(e->flags & TT_F_OWNER_KNOWN))
		return;
	w = &t->w[t->n];
	w->netns = e->netns;
	w->pid = e->pid;
	if (read_tw_overflow(w->pid, w->netns, &w->last)) {
		if (read_tw_overflow(0, w->netns, &w->last))
			return; /* owner gone or elsewhere: try again at the next close */
		w->pid = 0;
	}
	t->n++;
}

void twwatch_check(struct twwatch *t)
{
	for (int i = 0; i < t->n; i++) {
		struct tw_watch *w = &t->w[i];
		uint64_t now;

		if (read_tw_overflow(w->pid, w->netns, &now)) {
			w->stale = 1;
			continue;
		}
		if (now <= w->last)
			continue;
		if (!t->skipped)
			fprintf(stderr,
				"tcptrail: warning: %llu connections skipped TIME_WAIT: "
				"tcp_max_tw_buckets full (netns %u); TIME_WAIT events there "
				"may not be real\n",
				(unsigned long long)(now - w->last), w->netns);
		t->skipped += now - w->last;
		w->last = now;
	}
}

void twwatch_seed(struct twwatch *t, uint32_t netns, uint32_t pid)
{
	if (t->n < TW_NETNS_MAX && !read_tw_overflow(0, netns, &t->w[t->n].last)) {
		t->w[t->n].netns = netns;
		t->w[t->n].pid = pid;
		t->n++;
	}
}
