// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Pure helpers of `tcptrail snapshot`: selection, netstat-style text and JSON. */
#include <stdlib.h>
#include <string.h>
#include "filter.h"
#include "format.h"
#include "jsonw.h"
#include "owners.h"
#include "snapfmt.h"
#include "states.h"
#include "stuck_rule.h"

/*
 * The widths of snapshot's columns (this file's table only: format.c's and summary.c's COL_
 * names are theirs), netstat's first: "%-4s  %6ld %6ld %-23s %-23s %-11s".
 */
#define COL_ADDR  23
#define COL_STATE 11
#define COL_NETNS 11
#define COL_UID	  10
#define COL_INODE 10
#define COL_SOCK  12
#define COL_TIMER 22
#define COL_RTT	  16
#define COL_LAST  9
#define COL_CG	  14

const char *snap_state_name(int state)
{
	if (state == TT_FIN_WAIT2_TW)
		return "FIN_WAIT2";
	if (state == TT_NEW_SYN_RECV)
		return "SYN_RECV";
	return tt_state_name(state);
}

const char *snap_timer_name(int timer)
{
	static const char *const names[] = {"off", "on", "keepalive", "timewait", "probe"};

	if (timer < 0 || timer > 4)
		return "unknown";
	return names[timer];
}

int64_t snap_idle_ns(const struct tt_sock_rec *r)
{
	if (r->state == TT_TIME_WAIT || r->state == TT_FIN_WAIT2_TW) {
		int64_t left = r->timer_ns < 0 ? 0 : r->timer_ns;

		if ((uint64_t)left > SNAP_TIMEWAIT_NS)
			return 0;
		return (int64_t)SNAP_TIMEWAIT_NS - left;
	}
	if (r->lastrcv_ns >= 0 && r->lastsnd_ns >= 0)
		return r->lastrcv_ns < r->lastsnd_ns ? r->lastrcv_ns : r->lastsnd_ns;
	if (r->lastrcv_ns >= 0)
		return r->lastrcv_ns;
	return r->lastsnd_ns >= 0 ? r->lastsnd_ns : -1;
}

/* A stuck rule for this socket's state; FIN_WAIT2 rules cover FIN_WAIT2 timewait sockets. */
static const struct stuck_rule *stuck_rule_for(const struct snap_selection *sel, int state)
{
	for (int i = 0; i < sel->nstuck; i++) {
		int s = sel->stuck[i].state;

		if (s == state || (s == TT_FIN_WAIT2 && state == TT_FIN_WAIT2_TW) ||
		    (s == TT_FIN_WAIT2_TW && state == TT_FIN_WAIT2))
			return &sel->stuck[i];
	}
	return NULL;
}

int snap_select(const struct snap_selection *sel, const struct tt_sock_rec *r)
{
	const struct tt_filter *f = sel->filter;
	int st = r->state;

	if (st <= 0 || st >= TT_STATE_MAX)
		return 0;
	if (sel->listening && st != TT_LISTEN)
		return 0;
	if (f->state_mask) {
		if (!(f->state_mask & (1u << st)))
			return 0;
	} else if (!sel->all && !sel->listening && !sel->nstuck && st == TT_LISTEN) {
		return 0; /* netstat -t: servers only with -a or -l */
	}
	if (!filter_match_endpoints(f, r->family, r->saddr, r->daddr, r->sport, r->dport, r->netns))
		return 0;
	if (sel->nstuck) {
		const struct stuck_rule *rule = stuck_rule_for(sel, st);
		int64_t idle;

		if (!rule)
			return 0;
		idle = snap_idle_ns(r);
		if (idle < 0 || (uint64_t)idle < rule->ns)
			return 0;
	}
	return 1;
}

void snapfmt_title(struct outbuf *ob, int all, int listening)
{
	ob_puts(ob, "Active Internet connections ");
	if (all)
		ob_puts(ob, "(servers and established)\n");
	else if (listening)
		ob_puts(ob, "(only servers)\n");
	else
		ob_puts(ob, "(w/o servers)\n");
}

void snapfmt_header(struct outbuf *ob, const struct snapfmt_opts *o)
{
	ob_puts(ob, "Proto Recv-Q Send-Q ");
	ob_col(ob, "Local Address", 13, COL_ADDR + 1);
	ob_col(ob, "Foreign Address", 15, COL_ADDR + 1);
	if (!o->netns && !o->extended && !o->programs) {
		ob_puts(ob, "State\n");
		return;
	}
	ob_col(ob, "State", 5, COL_STATE + 1);
	if (o->netns)
		ob_col(ob, "Netns", 5, COL_NETNS);
	if (o->extended) {
		ob_col(ob, "User", 4, COL_UID);
		ob_col(ob, "Inode", 5, COL_INODE);
		ob_col(ob, "Sock", 4, COL_SOCK);
		ob_col(ob, "Timer", 5, COL_TIMER);
		ob_col(ob, "Rtt/Var(ms)", 11, COL_RTT);
		ob_col(ob, "Lastrcv", 7, COL_LAST);
		ob_col(ob, "Lastsnd", 7, COL_LAST);
		ob_col(ob, "Cgroup", 6, COL_CG);
	}
	if (o->programs)
		ob_puts(ob, "PID/Program name");
	/* Strip the trailing padding of the last column. */
	while (ob->len && ob->data[ob->len - 1] == ' ')
		ob->len--;
	ob_putc(ob, '\n');
}

static void right(struct outbuf *ob, uint64_t v, int w)
{
	char buf[20];
	size_t n = u64_to_dec(buf, v);

	ob_pad(ob, w - (long)n);
	ob_put(ob, buf, n);
}

/* "addr:port" padded to the address column, never truncated. */
static void endpoint_col(struct outbuf *ob, const struct snapfmt_opts *o, int family,
			 const uint8_t addr[16], uint16_t port, const char *host)
{
	size_t start = ob->len, w;
	const char *svc = o->numeric || !port ? NULL : services_name(o->svc, port);

	if (host) {
		/* a PTR record is whatever the remote's DNS says: no escape sequences */
		ob_put_printable(ob, host, strlen(host));
		ob_putc(ob, ':');
		if (!port)
			ob_putc(ob, '*');
		else if (svc)
			ob_put_printable(ob, svc, strlen(svc));
		else
			ob_u64(ob, port);
	} else {
		fmt_endpoint(ob, family, addr, port, svc);
	}
	w = ob->len - start;
	ob_pad(ob, w < COL_ADDR ? (long)(COL_ADDR - w) + 1 : 1);
}

/* Fixed-point with two decimals of a ns value in seconds, netstat -o's "%2.2f". */
static void secs2(struct outbuf *ob, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	ob_fixed(ob, (uint64_t)ns / 10000000ULL, 2);
}

void snapfmt_text(struct outbuf *ob, const struct snapfmt_opts *o, const struct tt_sock_rec *r,
		  const struct tt_owner_rec *owners, size_t nown, const char *lhost,
		  const char *rhost, const struct cg_desc *cg)
{
	const char *s = fmt_proto(r->family);
	size_t start;

	ob_puts(ob, s);
	ob_pad(ob, 4 - (long)strlen(s) + 2);
	right(ob, r->recvq, 6);
	ob_putc(ob, ' ');
	right(ob, r->sendq, 6);
	ob_putc(ob, ' ');
	endpoint_col(ob, o, r->family, r->saddr, r->sport, lhost);
	endpoint_col(ob, o, r->family, r->daddr, r->dport, rhost);
	s = snap_state_name(r->state);
	if (!o->netns && !o->extended && !o->programs) {
		ob_puts(ob, s);
		ob_putc(ob, '\n');
		return;
	}
	ob_col(ob, s, strlen(s), COL_STATE + 1);
	if (o->netns)
		ob_u64_col(ob, r->netns, COL_NETNS);
	if (o->extended) {
		int full = r->lastsnd_ns >= 0;

		ob_u64_col(ob, r->uid, COL_UID);
		ob_u64_col(ob, r->ino, COL_INODE);
		ob_u64_col(ob, r->sock_cookie, COL_SOCK);
		start = ob->len;
		ob_puts(ob, snap_timer_name(r->timer));
		ob_puts(ob, " (");
		secs2(ob, r->timer ? r->timer_ns : 0);
		ob_putc(ob, '/');
		ob_u64(ob, r->retrans);
		ob_putc(ob, '/');
		ob_u64(ob, r->probes);
		ob_putc(ob, ')');
		ob_col_end(ob, start, COL_TIMER);
		start = ob->len;
		if (full) {
			ob_fixed(ob, r->rtt_us, 3);
			ob_putc(ob, '/');
			ob_fixed(ob, r->rttvar_us, 3);
		} else {
			ob_putc(ob, '-');
		}
		ob_col_end(ob, start, COL_RTT);
		start = ob->len;
		snapfmt_duration(ob, r->lastrcv_ns);
		ob_col_end(ob, start, COL_LAST);
		start = ob->len;
		snapfmt_duration(ob, r->lastsnd_ns);
		ob_col_end(ob, start, COL_LAST);
		start = ob->len;
		fmt_cgroup_text(ob, cg);
		ob_col_end(ob, start, COL_CG);
	}
	if (o->programs)
		owners_text(ob, owners, nown);
	while (ob->len && ob->data[ob->len - 1] == ' ')
		ob->len--;
	ob_putc(ob, '\n');
}

/* Milliseconds of a time in ns, null when the kernel kept none (< 0). */
static void json_ms_or_null(struct jsonw *j, const char *k, int64_t ns)
{
	jw_key(j, k);
	if (ns < 0)
		jw_null(j);
	else
		jw_u64(j, (uint64_t)ns / 1000000ULL);
}

void snapfmt_json(struct outbuf *ob, const struct snapfmt_opts *o, const struct tt_sock_rec *r,
		  const struct tt_owner_rec *owners, size_t nown, const char *lhost,
		  const char *rhost, const struct cg_desc *cg)
{
	struct jsonw j;

	jw_init(&j, ob);
	jw_obj_begin(&j);
	jw_field_str(&j, "proto", fmt_proto(r->family));
	jw_key(&j, "laddr");
	fmt_json_addr(&j, r->family, r->saddr);
	jw_field_u64(&j, "lport", r->sport);
	jw_key(&j, "raddr");
	fmt_json_addr(&j, r->family, r->daddr);
	jw_field_u64(&j, "rport", r->dport);
	jw_field_str_or_null(&j, "lservice", services_name(o->svc, r->sport));
	jw_field_str_or_null(&j, "rservice", r->dport ? services_name(o->svc, r->dport) : NULL);
	if (o->resolve) {
		jw_field_str_or_null(&j, "lhost", lhost);
		jw_field_str_or_null(&j, "rhost", rhost);
	}
	jw_field_str(&j, "state", snap_state_name(r->state));
	jw_field_u64(&j, "recvq", r->recvq);
	jw_field_u64(&j, "sendq", r->sendq);
	jw_field_u64(&j, "uid", r->uid);
	jw_field_u64(&j, "inode", r->ino);
	jw_field_u64(&j, "sock", r->sock_cookie);
	jw_field_u64(&j, "netns", r->netns);
	jw_field_str(&j, "timer", snap_timer_name(r->timer));
	jw_field_u64(&j, "timer_ms",
		     r->timer && r->timer_ns > 0 ? (uint64_t)r->timer_ns / 1000000ULL : 0);
	jw_field_u64(&j, "retrans", r->retrans);
	jw_field_u64(&j, "probes", r->probes);
	jw_key(&j, "rtt_us");
	if (r->lastsnd_ns >= 0)
		jw_u64(&j, r->rtt_us);
	else
		jw_null(&j);
	jw_key(&j, "rttvar_us");
	if (r->lastsnd_ns >= 0)
		jw_u64(&j, r->rttvar_us);
	else
		jw_null(&j);
	json_ms_or_null(&j, "lastrcv_ms", r->lastrcv_ns);
	json_ms_or_null(&j, "lastsnd_ms", r->lastsnd_ns);
	/* every row has the keys: null when the kernel kept no cgroup (timewait sockets) */
	if (!cg)
		cg = &cg_none;
	if (o->fmt) {
		fmt_cgroup_json(jw_members_ob(&j), o->fmt, cg);
	} else {
		struct fmt_ctx one;

		fmt_ctx_init(&one, 0);
		fmt_cgroup_json(jw_members_ob(&j), &one, cg);
	}
	if (o->programs) {
		/* pid/comm: the first owner; owners: all of them, once per process. */
		fmt_json_owner(&j, nown > 0, nown ? owners[0].pid : 0, nown ? owners[0].comm : "");
		jw_key(&j, "owners");
		owners_json(jw_value_ob(&j), owners, nown);
	}
	jw_obj_end(&j);
	ob_putc(ob, '\n');
}

void snapfmt_duration(struct outbuf *ob, int64_t ns)
{
	uint64_t ms, s;

	if (ns < 0) {
		ob_putc(ob, '-');
		return;
	}
	ms = (uint64_t)ns / 1000000ULL;
	s = ms / 1000;
	if (ms < 1000) {
		ob_u64(ob, ms);
		ob_puts(ob, "ms");
	} else if (s < 60) {
		ob_fixed(ob, ms / 100, 1);
		ob_putc(ob, 's');
	} else if (s < 3600) {
		ob_u64(ob, s / 60);
		ob_putc(ob, 'm');
		if (s % 60 < 10)
			ob_putc(ob, '0');
		ob_u64(ob, s % 60);
		ob_putc(ob, 's');
	} else {
		ob_u64(ob, s / 3600);
		ob_putc(ob, 'h');
		if (s / 60 % 60 < 10)
			ob_putc(ob, '0');
		ob_u64(ob, s / 60 % 60);
		ob_putc(ob, 'm');
	}
}
