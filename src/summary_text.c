// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* replay --summary as text: a function per section. Pure. */
#include "causes.h"
#include "format.h"
#include "states.h"
#include "summary_priv.h"

/*
 * The summary's text columns (this file's tables only: format.c's and snapfmt.c's COL_ names
 * are theirs, some of other widths). A number is right-aligned in its width and followed by two
 * spaces; a name is left-aligned and padded to its width (at least one space after it).
 */
#define COL_COUNT   10 /* counts of transitions, ends, connections, events */
#define COL_BYTES   12 /* bytes sent or received */
#define COL_HIST_N  8  /* how many values a percentile row stands for */
#define COL_HIST_MS 10 /* a percentile or maximum, ms */
#define COL_STATE   13 /* "NEW_SYN_RECV" */
#define COL_CAUSE   17 /* "listener_closed" */
#define COL_PID	    10
#define COL_COMM    17
#define COL_KIND    11 /* "container" */
#define COL_FOR	    14 /* "86400000.000" ms, or " ms" after it */
#define COL_ADDR    23 /* "[ffff:...]:65535" */

/* us as ms with 3 decimals: "1500.250". */
static void put_us_as_ms(struct outbuf *ob, uint64_t us)
{
	ob_fixed(ob, us, 3);
}

/* s right-aligned in a column of width w, nothing after it (a row's last column). */
static void put_right(struct outbuf *ob, const char *s, size_t n, int w)
{
	ob_pad(ob, w - (long)n);
	ob_put(ob, s, n);
}

/* A right-aligned number in a column of width w followed by two spaces. */
static void put_num(struct outbuf *ob, uint64_t v, int w)
{
	char buf[24];
	size_t n = u64_to_dec(buf, v);

	put_right(ob, buf, n, w);
	ob_puts(ob, "  ");
}

/* us as ms right-aligned in a column of width w, nothing after it. */
static void put_ms_right(struct outbuf *ob, uint64_t us, int w)
{
	struct outbuf tmp;

	ob_init(&tmp);
	ob_fixed(&tmp, us, 3);
	put_right(ob, tmp.data, tmp.len, w);
	ob_free(&tmp);
}

/* us as ms right-aligned in a column of width w followed by two spaces. */
static void put_msnum(struct outbuf *ob, uint64_t us, int w)
{
	put_ms_right(ob, us, w);
	ob_puts(ob, "  ");
}

static const char *state_hint(int st)
{
	switch (st) {
	case TT_SYN_SENT:
		return "connect latency";
	case TT_SYN_RECV:
		return "handshake, server side";
	case TT_ESTABLISHED:
		return "connection lifetime";
	case TT_CLOSE_WAIT:
		return "peer closed, app has not";
	case TT_FIN_WAIT1:
	case TT_FIN_WAIT2:
	case TT_LAST_ACK:
		return "closing";
	case TT_LISTEN:
		return "listener lifetime";
	default:
		return "";
	}
}

static void put_comm(struct outbuf *ob, const struct tt_event *e)
{
	if (e->flags & TT_F_OWNER_KNOWN)
		ob_put_printable(ob, e->comm, strnlen(e->comm, TT_COMM_LEN));
	else
		ob_putc(ob, '-');
}

/* A byte count as the bound is usually given: "256 MiB". */
static void put_bytes(struct outbuf *ob, uint64_t n)
{
	if (n && !(n % (1 << 20))) {
		ob_u64(ob, n >> 20);
		ob_puts(ob, " MiB");
	} else if (n && !(n % 1024)) {
		ob_u64(ob, n >> 10);
		ob_puts(ob, " KiB");
	} else {
		ob_u64(ob, n);
		ob_puts(ob, " bytes");
	}
}

static const char *cause_hint(unsigned int c)
{
	switch (c) {
	case TT_CAUSE_CLOSED:
		return "both ends closed";
	case TT_CAUSE_TIMEWAIT:
		return "this end closed first (TIME_WAIT)";
	case TT_CAUSE_REFUSED:
		return "connect refused (a reset answered the SYN)";
	case TT_CAUSE_TIMEOUT:
		return "connect or retransmission timeout";
	case TT_CAUSE_RESET_IN:
		return "reset by the peer";
	case TT_CAUSE_RESET_OUT:
		return "reset by this end";
	case TT_CAUSE_ABORT:
		return "another socket error";
	case TT_CAUSE_LISTENER_CLOSED:
		return "a listener closed";
	default:
		return "the kernel did not say";
	}
}

/* ---- text, a function per section ---- */

/* text[0], v[0], text[1], ... v[n - 1], text[n]: a line of counts. */
static void put_counts(struct outbuf *ob, const char *const *text, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ob_puts(ob, text[i]);
		ob_u64(ob, v[i]);
	}
	ob_puts(ob, text[n]);
}

/* The span, the totals, and whether the numbers below are complete. */
static void text_header(const struct summary *s, struct outbuf *ob)
{
	static const char *const counts_text[] = {
		"\nEvents: ",	      " transitions, ", " stuck alerts, ", " lost\nConnections: ",
		" opened (",	      " active, ",	" passive), ",	   " closed, ",
		" failed connects, ", " resets\n",
	};
	const uint64_t counts[] = {
		s->state_events,  s->stuck_events,
		s->lost_count,	  s->opened_active + s->opened_passive,
		s->opened_active, s->opened_passive,
		s->closed,	  s->failed,
		s->resets,
	};

	ob_puts(ob, "Recording: ");
	if (s->have_time) {
		ob_rfc3339(ob, s->first_ns);
		ob_puts(ob, " to ");
		ob_rfc3339(ob, s->last_ns);
		ob_puts(ob, " (");
		ob_fixed(ob, (s->last_ns - s->first_ns) / 1000000, 3); /* ms as s */
		ob_puts(ob, " s)");
	} else {
		ob_puts(ob, "no events");
	}
	put_counts(ob, counts_text, counts, sizeof(counts) / sizeof(counts[0]));
	if (s->oom)
		ob_puts(ob, "WARNING: out of memory, the numbers below are incomplete\n");
	if (s->socks.refused || s->procs.refused || s->remotes.refused || s->svcs.refused ||
	    s->cgroups.refused) {
		ob_puts(ob, "NOTE: the memory bound (");
		put_bytes(ob, s->budget.max);
		ob_puts(ob, ") was reached: the counts are exact, the lists below say what they "
			    "could not track\n");
	}
}

static void text_transitions(const struct summary *s, struct outbuf *ob)
{
	struct trans t[TT_STATE_MAX * TT_STATE_MAX];
	size_t nt = sm_list_trans(s, t);

	if (!nt)
		return;
	ob_puts(ob, "\nTransitions:\n");
	for (size_t i = 0; i < nt; i++) {
		ob_puts(ob, "  ");
		put_num(ob, t[i].count, COL_COUNT);
		ob_puts(ob, tt_state_name(t[i].o));
		ob_puts(ob, " -> ");
		ob_puts(ob, tt_state_name(t[i].n));
		ob_putc(ob, '\n');
	}
}

/* A column title right-aligned over numbers of width w (put_num's, put_msnum's). */
static void put_num_title(struct outbuf *ob, const char *title, int w)
{
	put_right(ob, title, strlen(title), w);
	ob_puts(ob, "  ");
}

/* The titles of a percentile table, placed by the widths text_hist_row() writes with. */
static void text_hist_header(struct outbuf *ob, const char *name_title, size_t name_w)
{
	ob_puts(ob, "  ");
	ob_col(ob, name_title, strlen(name_title), name_w);
	put_num_title(ob, "COUNT", COL_HIST_N);
	put_num_title(ob, "P50", COL_HIST_MS);
	put_num_title(ob, "P90", COL_HIST_MS);
	put_num_title(ob, "P99", COL_HIST_MS);
	put_right(ob, "MAX", 3, COL_HIST_MS);
	ob_putc(ob, '\n');
}

/*
 * A row of a percentile table: name, count, p50/p90/p99 and max in ms, then the hint (NULL:
 * none, and no separator after the last column either).
 */
static void text_hist_row(struct outbuf *ob, const char *name, size_t name_w, const struct hist *h,
			  const char *hint)
{
	ob_puts(ob, "  ");
	ob_col(ob, name, strlen(name), name_w);
	put_num(ob, h->n, COL_HIST_N);
	put_msnum(ob, hist_pct(h, 50), COL_HIST_MS);
	put_msnum(ob, hist_pct(h, 90), COL_HIST_MS);
	put_msnum(ob, hist_pct(h, 99), COL_HIST_MS);
	put_ms_right(ob, h->max, COL_HIST_MS);
	if (hint) {
		ob_puts(ob, "  ");
		ob_puts(ob, hint);
	}
	ob_putc(ob, '\n');
}

static void text_durations(const struct summary *s, struct outbuf *ob)
{
	int any = 0;

	for (int st = 0; st < TT_STATE_MAX; st++) {
		if (!s->dur[st].n)
			continue;
		if (!any++) {
			ob_puts(ob, "\nTime in state (ms):\n");
			text_hist_header(ob, "STATE", COL_STATE);
		}
		text_hist_row(ob, tt_state_name(st), COL_STATE, &s->dur[st], state_hint(st));
	}
}

/* Why connections ended and their totals (final transitions only). */
static void text_ends(const struct summary *s, struct outbuf *ob, const unsigned int *order,
		      size_t n)
{
	static const char *const totals_text[] = {
		"  Totals: ",
		" ended; ",
		" bytes sent, ",
		" received; ",
		" segments retransmitted by ",
		" of them; ",
		" SYN retransmits\n",
	};
	const uint64_t totals[] = {
		s->ended,   s->bytes_sent,    s->bytes_received,
		s->retrans, s->retrans_conns, s->syn_retrans,
	};

	if (!s->ended)
		return;
	ob_puts(ob, "\nWhy connections ended:\n  ");
	put_num_title(ob, "COUNT", COL_COUNT);
	ob_puts(ob, "CAUSE\n");
	for (size_t i = 0; i < n; i++) {
		ob_puts(ob, "  ");
		const char *cause = cause_name(order[i]);

		put_num(ob, s->ends[order[i]], COL_COUNT);
		ob_col(ob, cause, strlen(cause), COL_CAUSE);
		ob_puts(ob, cause_hint(order[i]));
		ob_putc(ob, '\n');
	}
	/* data bytes: acknowledged by the peer / received */
	put_counts(ob, totals_text, totals, sizeof(totals) / sizeof(totals[0]));
}

/* How long connections lived: all of them, then per cause in the order of text_ends. */
static void text_lifetimes(const struct summary *s, struct outbuf *ob, const unsigned int *order,
			   size_t n)
{
	if (!s->life[TT_CAUSE_NONE].n)
		return;
	ob_puts(ob, "\nConnection lifetime (ms):\n");
	text_hist_header(ob, "CAUSE", COL_CAUSE);
	text_hist_row(ob, "all", COL_CAUSE, &s->life[TT_CAUSE_NONE], NULL);
	for (size_t i = 0; i < n; i++) {
		if (s->life[order[i]].n)
			text_hist_row(ob, cause_name(order[i]), COL_CAUSE, &s->life[order[i]],
				      NULL);
	}
	if (s->life_min_only) {
		ob_puts(ob, "  (not counted: ");
		ob_u64(ob, s->life_min_only);
		ob_puts(ob, " lower bounds, of sockets older than the recording)\n");
	}
}

void sm_text_proc_titles(struct outbuf *ob)
{
	put_num_title(ob, "SENT", COL_BYTES);
	put_num_title(ob, "RECEIVED", COL_BYTES);
	ob_col(ob, "PID", strlen("PID"), COL_PID);
	ob_puts(ob, "COMM");
}

void sm_text_proc_row(const struct summary *s, struct outbuf *ob, const void *entry, int numeric)
{
	const struct proc_ent *p = entry;
	size_t start;

	put_num(ob, p->t.bytes_sent, COL_BYTES);
	put_num(ob, p->t.bytes_received, COL_BYTES);
	start = ob->len;
	if (p->k.known)
		ob_u64(ob, p->k.pid);
	else
		ob_putc(ob, '-');
	ob_col_end(ob, start, COL_PID);
	if (p->k.known)
		ob_put_printable(ob, p->k.comm, strnlen(p->k.comm, TT_COMM_LEN));
	else
		ob_putc(ob, '-');
}

void sm_text_cgrp_titles(struct outbuf *ob)
{
	ob_col(ob, "KIND", strlen("KIND"), COL_KIND);
	ob_puts(ob, "NAME");
}

void sm_text_cgrp_row(const struct summary *s, struct outbuf *ob, const void *entry, int numeric)
{
	const struct cgrp_ent *p = entry;
	const char *kind = sm_cgrp_kind_name(p->k.kind);
	const char *kind_col = kind ? kind : "-";
	size_t n = strlen(p->name);

	ob_col(ob, kind_col, strlen(kind_col), COL_KIND);
	/* names come from the log: printable only */
	if (p->k.kind == CGRP_CONTAINER && n > CG_SHORT_LEN)
		n = CG_SHORT_LEN;
	if (kind)
		ob_put_printable(ob, p->name, n);
	else
		ob_putc(ob, '-');
	if (p->k.kind == CGRP_PATH && p->k.len > n)
		ob_puts(ob, "...");
	if (p->pod[0]) {
		ob_puts(ob, "  pod ");
		ob_put_printable(ob, p->pod, strlen(p->pod));
	}
}

void sm_text_remote_titles(struct outbuf *ob)
{
	put_num_title(ob, "SENT", COL_BYTES);
	put_num_title(ob, "RECEIVED", COL_BYTES);
	ob_puts(ob, "ENDPOINT");
}

void sm_text_remote_row(const struct summary *s, struct outbuf *ob, const void *entry, int numeric)
{
	const struct remote_ent *p = entry;

	put_num(ob, p->t.bytes_sent, COL_BYTES);
	put_num(ob, p->t.bytes_received, COL_BYTES);
	fmt_endpoint(ob, p->k.family, p->k.addr, p->k.port,
		     numeric ? NULL : sm_svc_of(s, p->k.port));
}

static void text_top(const struct summary *s, struct outbuf *ob, const struct top_list *l,
		     int numeric)
{
	const void *top[TOP_N];
	size_t ntop;

	if (!l->shown)
		return;
	ntop = table_top(l->t, TOP_N, l->cmp, top);
	if (ntop || l->untracked) {
		ob_putc(ob, '\n');
		ob_puts(ob, l->title);
		ob_puts(ob, ":\n  ");
		put_num_title(ob, "CONNS", COL_COUNT);
		put_num_title(ob, "EVENTS", COL_COUNT);
		l->text_titles(ob);
		ob_putc(ob, '\n');
	}
	for (size_t i = 0; i < ntop; i++) {
		const struct top_counts *n =
			(const void *)((const unsigned char *)top[i] + l->counts_at);

		ob_puts(ob, "  ");
		put_num(ob, n->conns, COL_COUNT);
		put_num(ob, n->events, COL_COUNT);
		l->text_row(s, ob, top[i], numeric);
		ob_putc(ob, '\n');
	}
	if (l->untracked) {
		ob_puts(ob, "  (and ");
		ob_u64(ob, l->untracked);
		ob_puts(ob, " events of ");
		ob_puts(ob, l->untracked_what);
		ob_puts(ob, " first seen past the memory bound, not counted here)\n");
	}
}

/* Sockets open at the end, longest open first. */
static void text_open(const struct summary *s, struct outbuf *ob)
{
	const void *open[MAX_OPEN];
	size_t nopen = table_top(&s->socks, MAX_OPEN, sm_cmp_sock, open), start;

	ob_puts(ob, "\nOpen at end of log: ");
	if (s->untracked.sockets) {
		ob_puts(ob, "at least ");
		ob_u64(ob, s->socks.n);
		ob_puts(ob, "; ");
		ob_u64(ob, s->untracked.sockets);
		ob_puts(ob, " sockets not tracked (memory bound)\n");
	} else {
		ob_u64(ob, s->socks.n);
		ob_putc(ob, '\n');
	}
	if (!nopen)
		return;
	ob_puts(ob, "  ");
	ob_col(ob, "STATE", strlen("STATE"), COL_STATE);
	ob_col(ob, "FOR(ms)", strlen("FOR(ms)"), COL_FOR);
	ob_col(ob, "PID", strlen("PID"), COL_PID);
	ob_col(ob, "COMM", strlen("COMM"), COL_COMM);
	ob_col(ob, "LOCAL ADDRESS", strlen("LOCAL ADDRESS"), COL_ADDR);
	ob_col(ob, "FOREIGN ADDRESS", strlen("FOREIGN ADDRESS"), COL_ADDR);
	ob_puts(ob, "SOCK\n");
	for (size_t i = 0; i < nopen; i++) {
		const struct sock_ent *se = open[i];
		const char *state;
		struct tt_event e;

		sm_sock_event(se, &e);
		state = tt_state_name(e.newstate);
		ob_puts(ob, "  ");
		ob_col(ob, state, strlen(state), COL_STATE);
		start = ob->len;
		put_us_as_ms(ob, (s->last_ns - se->since_ns) / 1000);
		ob_col_end(ob, start, COL_FOR);
		start = ob->len;
		if (e.flags & TT_F_OWNER_KNOWN)
			ob_u64(ob, e.pid);
		else
			ob_putc(ob, '-');
		ob_col_end(ob, start, COL_PID);
		start = ob->len;
		put_comm(ob, &e);
		ob_col_end(ob, start, COL_COMM);
		start = ob->len;
		fmt_endpoint(ob, e.family, e.saddr, e.sport, NULL);
		ob_col_end(ob, start, COL_ADDR);
		start = ob->len;
		fmt_endpoint(ob, e.family, e.daddr, e.dport, NULL);
		ob_col_end(ob, start, COL_ADDR);
		ob_u64(ob, se->cookie);
		ob_putc(ob, '\n');
	}
	if (s->socks.n > MAX_OPEN)
		ob_puts(ob, "  ... (-o json lists more)\n");
}

/* The first MAX_STUCK alerts, in the log's order. */
static void text_stuck(const struct summary *s, struct outbuf *ob)
{
	size_t start;

	ob_puts(ob, "\nStuck alerts: ");
	ob_u64(ob, s->stuck_events);
	ob_putc(ob, '\n');
	for (int i = 0; i < s->nstuck; i++) {
		const struct tt_event *e = &s->stuck[i].ev;
		const char *state = tt_state_name(e->oldstate);

		ob_puts(ob, "  ");
		ob_rfc3339(ob, s->stuck[i].wall_ns);
		ob_puts(ob, "  ");
		ob_col(ob, state, strlen(state), COL_STATE);
		start = ob->len;
		if (e->flags & TT_F_DELTA_KNOWN) {
			put_us_as_ms(ob, e->delta_ns / 1000);
			ob_puts(ob, " ms");
		} else {
			ob_putc(ob, '-'); /* a log that does not say: as the event lines show it */
		}
		ob_col_end(ob, start, COL_FOR);
		start = ob->len;
		put_comm(ob, e);
		ob_col_end(ob, start, COL_COMM);
		fmt_endpoint(ob, e->family, e->saddr, e->sport, NULL);
		ob_puts(ob, " -> ");
		fmt_endpoint(ob, e->family, e->daddr, e->dport, NULL);
		ob_putc(ob, '\n');
	}
	if (s->stuck_events > (uint64_t)s->nstuck)
		ob_puts(ob, "  ... (first 20 shown)\n");
}

void summary_text(struct summary *s, struct outbuf *ob, int numeric)
{
	unsigned int order[TT_CAUSE_MAX];
	size_t nends = sm_list_ends(s, order);
	struct top_list tops[TOP_LISTS];

	sm_top_lists(s, tops);
	text_header(s, ob);
	text_transitions(s, ob);
	text_durations(s, ob);
	text_ends(s, ob, order, nends);
	text_lifetimes(s, ob, order, nends);
	for (int i = 0; i < TOP_LISTS; i++)
		text_top(s, ob, &tops[i], numeric);
	text_open(s, ob);
	text_stuck(s, ob);
}
