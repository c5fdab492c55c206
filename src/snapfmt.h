/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SNAPFMT_H
#define TT_SNAPFMT_H

/*
 * The pure half of `tcptrail snapshot`: which sockets to show, how long they have been idle,
 * and netstat-style text / JSON lines (the owner join is owners.h). No libbpf, no system calls.
 */
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cgroup.h"
#include "outbuf.h"
#include "services.h"
#include "tcptrail.h"

struct fmt_ctx;
struct stuck_rule;
struct tt_filter;

/* TIME_WAIT lasts TCP_TIMEWAIT_LEN; the time spent so far is that minus the timer left. */
#define SNAP_TIMEWAIT_NS (60ULL * 1000000000ULL)

struct snapfmt_opts {
	int numeric;  /* -n: port numbers */
	int extended; /* -e: uid, inode, cookie, timer, rtt, lastrcv, lastsnd */
	int programs; /* -p: owners */
	int netns;    /* --all-netns: a netns column */
	int resolve;  /* --resolve: JSON gets lhost/rhost */
	const struct services *svc;
	struct fmt_ctx *fmt; /* remembers the JSON of cgroups from row to row; NULL: no memo */
};

/* netstat's spelling of a record's state: FIN_WAIT2 for a FIN_WAIT2 timewait socket. */
const char *snap_state_name(int state);
/* "off", "on", "keepalive", "timewait", "probe" (netstat -o's names). */
const char *snap_timer_name(int timer);

/*
 * How long the socket has been idle: since the last packet either way (full sockets), or the
 * time spent in TIME_WAIT so far; -1 when unknown (listeners, SYN_RECV).
 */
int64_t snap_idle_ns(const struct tt_sock_rec *r);

/* Which sockets to show: -a, -l, the address and state filters, --stuck. */
struct snap_selection {
	int all;       /* -a */
	int listening; /* -l */
	const struct tt_filter *filter;
	const struct stuck_rule *stuck; /* only sockets idle in a state of these this long */
	int nstuck;
};

/* Whether -a/-l/--state/-4/-6/--port/--netns/--stuck let this socket through. */
int snap_select(const struct snap_selection *sel, const struct tt_sock_rec *r);
/* "Active Internet connections (servers and established)" and friends, with '\n'. */
void snapfmt_title(struct outbuf *ob, int all, int listening);
/* The column header line. */
void snapfmt_header(struct outbuf *ob, const struct snapfmt_opts *o);

/*
 * One socket as a text line (netstat -at layout) or a JSON object line. lhost/rhost replace the
 * numeric addresses when not NULL (--resolve). owners are the socket's holders from
 * owners_find(); NULL with nown 0 for none. cg: the socket's cgroup (NULL: not known), the
 * Cgroup column with -e and the cgroup keys of every JSON row.
 */
void snapfmt_text(struct outbuf *ob, const struct snapfmt_opts *o, const struct tt_sock_rec *r,
		  const struct tt_owner_rec *owners, size_t nown, const char *lhost,
		  const char *rhost, const struct cg_desc *cg);
void snapfmt_json(struct outbuf *ob, const struct snapfmt_opts *o, const struct tt_sock_rec *r,
		  const struct tt_owner_rec *owners, size_t nown, const char *lhost,
		  const char *rhost, const struct cg_desc *cg);

/* A duration for humans: "850ms", "12.3s", "5m03s", "2h05m"; "-" when ns < 0. */
void snapfmt_duration(struct outbuf *ob, int64_t ns);

#endif
