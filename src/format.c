// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "causes.h"
#include "format.h"
#include "jsonw.h"
#include "owners.h"
#include "states.h"

/*
 * The widths of the trace's event columns (this file's table only: snapfmt.c and summary.c
 * have COL_ names of their own, for their tables, some of other widths).
 */
#define COL_TIME  14
#define COL_PID	  8
#define COL_COMM  16
#define COL_PROTO 6
#define COL_ADDR  22
#define COL_OLD	  12
#define COL_NEW	  13
#define COL_MS	  10
#define COL_SOCK  12
#define COL_NETNS 12
#define COL_CG	  14
#define COL_CAUSE 16 /* "listener_closed" */
#define COL_TXRX  12 /* "1023K/1023K" */

void fmt_ctx_init(struct fmt_ctx *c, int extended)
{
	memset(c, 0, sizeof(*c));
	c->extended = extended;
	c->local_sec = -1;
	c->utc_sec = -1;
}

static size_t fmt_ipv4(char *buf, const uint8_t a[4])
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		n += u64_to_dec(buf + n, a[i]);
		if (i < 3)
			buf[n++] = '.';
	}
	buf[n] = '\0';
	return n;
}

size_t fmt_addr(char *buf, int family, const uint8_t addr[16])
{
	if (family == AF_INET)
		return fmt_ipv4(buf, addr);
	if (addr_is_v4_mapped(addr))
		return fmt_ipv4(buf, addr + 12);
	if (!inet_ntop(AF_INET6, addr, buf, TT_ADDRSTRLEN)) {
		strcpy(buf, "?");
		return 1;
	}
	return strlen(buf);
}

void fmt_json_addr(struct jsonw *w, int family, const uint8_t addr[16])
{
	char buf[TT_ADDRSTRLEN];

	jw_str(w, buf, fmt_addr(buf, family, addr));
}

void fmt_json_owner(struct jsonw *w, int known, uint32_t pid, const char *comm)
{
	jw_key(w, "pid");
	if (known)
		jw_u64(w, pid);
	else
		jw_null(w);
	jw_key(w, "comm");
	if (known)
		jw_str(w, comm, strnlen(comm, TT_COMM_LEN));
	else
		jw_null(w);
}

const char *fmt_proto(int family)
{
	return family == AF_INET6 ? "tcp6" : "tcp";
}

static void two_digits(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void fmt_time_local(struct fmt_ctx *c, uint64_t wall_ns, char out[12])
{
	int64_t sec = (int64_t)(wall_ns / 1000000000ULL);
	unsigned ms = (unsigned)(wall_ns % 1000000000ULL / 1000000);

	if (sec != c->local_sec) {
		time_t t = (time_t)sec;
		struct tm tm;

		localtime_r(&t, &tm);
		two_digits(c->local_hms, tm.tm_hour);
		c->local_hms[2] = ':';
		two_digits(c->local_hms + 3, tm.tm_min);
		c->local_hms[5] = ':';
		two_digits(c->local_hms + 6, tm.tm_sec);
		c->local_sec = sec;
	}
	memcpy(out, c->local_hms, 8);
	out[8] = '.';
	out[9] = (char)('0' + ms / 100);
	out[10] = (char)('0' + ms / 10 % 10);
	out[11] = (char)('0' + ms % 10);
}

void fmt_time_rfc3339(struct fmt_ctx *c, uint64_t wall_ns, char out[27])
{
	int64_t sec = (int64_t)(wall_ns / 1000000000ULL);
	unsigned us = (unsigned)(wall_ns % 1000000000ULL / 1000);

	if (sec != c->utc_sec) {
		utc_seconds_text(sec, c->utc_stamp);
		c->utc_sec = sec;
	}
	memcpy(out, c->utc_stamp, 19);
	rfc3339_fraction(out, us);
}

void fmt_lost_json(struct outbuf *ob, uint64_t wall_ns, uint64_t count, uint64_t total)
{
	struct jsonw j;

	jw_init(&j, ob);
	jw_obj_begin(&j);
	jw_field_str(&j, "type", "lost");
	jw_field_time(&j, "time", wall_ns);
	jw_field_u64(&j, "count", count);
	jw_field_u64(&j, "total", total);
	jw_obj_end(&j);
	ob_putc(ob, '\n');
}

void fmt_text_header(struct outbuf *ob, const struct fmt_ctx *c)
{
	ob_col(ob, "TIME", 4, COL_TIME);
	ob_col(ob, "PID", 3, COL_PID);
	ob_col(ob, "COMM", 4, COL_COMM);
	ob_col(ob, "PROTO", 5, COL_PROTO);
	ob_col(ob, "LOCAL ADDRESS", 13, COL_ADDR);
	ob_col(ob, "FOREIGN ADDRESS", 15, COL_ADDR);
	ob_col(ob, "OLD", 3, COL_OLD + 3);
	ob_col(ob, "NEW", 3, COL_NEW);
	if (c->extended) {
		ob_col(ob, "MS", 2, COL_MS);
		ob_col(ob, "CAUSE", 5, COL_CAUSE);
		ob_col(ob, "TX/RX", 5, COL_TXRX);
		ob_col(ob, "SOCK", 4, COL_SOCK);
		ob_col(ob, "NETNS", 5, COL_NETNS);
		ob_puts(ob, "CGROUP");
	} else {
		ob_puts(ob, "MS");
	}
	ob_putc(ob, '\n');
}

/*
 * svc may come from a log (replay), which anyone can write: printed through the same filter
 * as process names, so a service name cannot carry escape sequences to the terminal.
 */
static void put_port(struct outbuf *ob, uint16_t port, const char *svc)
{
	ob_putc(ob, ':');
	if (port == 0)
		ob_putc(ob, '*');
	else if (svc)
		ob_put_printable(ob, svc, strlen(svc));
	else
		ob_u64(ob, port);
}

void fmt_endpoint(struct outbuf *ob, int family, const uint8_t addr[16], uint16_t port,
		  const char *svc)
{
	char buf[TT_ADDRSTRLEN];

	ob_put(ob, buf, fmt_addr(buf, family, addr));
	put_port(ob, port, svc);
}

/* fmt_endpoint() with the address from the context's memo. */
static void event_endpoint(struct outbuf *ob, struct fmt_ctx *c, int family, const uint8_t addr[16],
			   uint16_t port, const char *svc)
{
	size_t len;
	const char *a = fmt_addr_text(c, family, addr, &len);

	ob_put(ob, a, len);
	put_port(ob, port, svc);
}

static void comm_of(const struct tt_event *e, const char **s, size_t *n)
{
	if (!(e->flags & TT_F_OWNER_KNOWN)) {
		/* Named no one because the holder known last let the socket go: say so. */
		*s = (e->flags & TT_F_OWNER_MOVED) ? "(moved)" : "-";
		*n = strlen(*s);
		return;
	}
	*s = e->comm;
	*n = strnlen(e->comm, TT_COMM_LEN);
}

void fmt_cgroup_text(struct outbuf *ob, const struct cg_desc *cg)
{
	const char *s;
	size_t n;

	/* Directory names are anyone's with a delegated cgroup: no escape sequences. */
	cg_label(cg, &s, &n);
	ob_put_printable(ob, s, n);
}

void fmt_event_text(struct outbuf *ob, struct fmt_ctx *c, const struct tt_event *e,
		    uint64_t wall_ns, const char *lsvc, const char *rsvc,
		    const struct owners_list *holders, const struct cg_desc *cg)
{
	char tbuf[12];
	const char *comm, *name;
	size_t comm_len, start;

	fmt_time_local(c, wall_ns, tbuf);
	ob_col(ob, tbuf, sizeof(tbuf), COL_TIME);
	if (e->flags & TT_F_OWNER_KNOWN) {
		char pbuf[24];
		size_t n = u64_to_dec(pbuf, e->pid);

		/* "+": it happened in the accept queue, before this process accepted it. */
		if (e->flags & TT_F_PRE_ACCEPT)
			pbuf[n++] = '+';
		ob_col(ob, pbuf, n, COL_PID);
	} else {
		ob_col(ob, "-", 1, COL_PID);
	}
	comm_of(e, &comm, &comm_len);
	start = ob->len;
	ob_put_printable(ob, comm, comm_len);
	ob_col_end(ob, start, COL_COMM);
	name = fmt_proto(e->family);
	ob_col(ob, name, strlen(name), COL_PROTO);

	start = ob->len;
	event_endpoint(ob, c, e->family, e->saddr, e->sport, lsvc);
	ob_col_end(ob, start, COL_ADDR);
	start = ob->len;
	event_endpoint(ob, c, e->family, e->daddr, e->dport, rsvc);
	ob_col_end(ob, start, COL_ADDR);

	name = tt_state_name(e->oldstate);
	ob_col(ob, name, strlen(name), COL_OLD);
	ob_puts(ob, e->type == TT_EV_STUCK ? ">> " : "-> ");
	name = e->type == TT_EV_STUCK ? "STUCK" : tt_state_name(e->newstate);
	ob_col(ob, name, strlen(name), COL_NEW);

	start = ob->len;
	if (e->flags & TT_F_DELTA_KNOWN) {
		if (e->flags & TT_F_DELTA_MIN)
			ob_putc(ob, '>');
		fmt_ns_as_ms(ob, e->delta_ns);
	} else {
		ob_putc(ob, '-');
	}
	if (c->extended) {
		ob_col_end(ob, start, COL_MS);
		/* How a connection ended, on its final transition only: "reset_out 1.2K/340". */
		if (e->flags & TT_F_TOTALS) {
			name = totals_cause_text(e);
			ob_col(ob, name, strlen(name), COL_CAUSE);
			start = ob->len;
			totals_bytes_text(ob, e);
			ob_col_end(ob, start, COL_TXRX);
		} else {
			ob_col(ob, "-", 1, COL_CAUSE);
			ob_col(ob, "-", 1, COL_TXRX);
		}
		ob_u64_col(ob, e->sock_cookie, COL_SOCK);
		ob_u64_col(ob, e->netns, COL_NETNS);
		start = ob->len;
		fmt_cgroup_text(ob, cg);
		if (holders)
			ob_col_end(ob, start, COL_CG);
	} else if (holders) {
		ob_col_end(ob, start, COL_MS);
	}
	if (holders) {
		owners_text(ob, holders->recs, holders->n);
		if (holders->more) {
			ob_puts(ob, " (+");
			ob_u64(ob, holders->more);
			ob_puts(ob, " more)");
		}
	}
	ob_putc(ob, '\n');
}
